"""Small reference CNNs and their training loop: the learned models the scattering transform is
compared with.

- :class:`LeNet`: a LeNet-5-style net for 28x28 grey images (MNIST, Fashion-MNIST).
- :class:`CifarNet`: a net for 32x32 colour images whose first layer has large kernels with
  stride 2 (as AlexNet's 11x11 stride-4 layer), so that its learned filters are worth looking at.
- :func:`fit` trains any classifier (deterministic for a given ``seed``) and returns its history;
  :func:`evaluate` measures loss and accuracy.
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

__all__ = ["LeNet", "CifarNet", "fit", "evaluate"]


class LeNet(nn.Module):
    """LeNet-5-style classifier for 28x28 images (LeCun et al., 1998, "Gradient-based learning
    applied to document recognition"), with ReLU and max pooling.

    conv 5x5 (padding 2) -> ReLU -> pool 2 -> conv 5x5 -> ReLU -> pool 2 -> 120 -> 84 -> classes.

    Parameters
    ----------
    in_channels : int
        1 for grey images.
    n_classes : int
    channels : (int, int)
        Feature maps of the two convolutions (LeNet-5: 6 and 16).

    Input ``(B, in_channels, 28, 28)`` float; output ``(B, n_classes)`` logits.

    Examples
    --------
    >>> import torch
    >>> from scatter import models
    >>> net = models.LeNet()
    >>> net(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 10,
                 channels: tuple[int, int] = (6, 16)):
        super().__init__()
        _check_positive_ints(in_channels=in_channels, n_classes=n_classes,
                             channels_0=channels[0], channels_1=channels[1])
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c2 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[-2:] != (28, 28):
            raise ValueError(f"LeNet expects input of shape (B, C, 28, 28), got {tuple(x.shape)}")
        return self.classifier(self.features(x))


class CifarNet(nn.Module):
    """A small net for 32x32 colour images with an AlexNet-like first layer.

    conv k x k stride ``stride`` (``first_channels`` maps) -> BN -> ReLU -> pool 2 -> conv 3x3
    -> BN -> ReLU -> pool 2 -> conv 3x3 -> BN -> ReLU -> global average pool -> linear.

    The first layer is the one studied by :func:`scatter.models.compare_filters`: large kernels (7x7 by
    default; 11x11 as in AlexNet, Krizhevsky et al. 2012, is allowed) and a stride of 2 leave the
    later layers the fine detail, which favours smooth, oriented first-layer filters.

    Parameters
    ----------
    in_channels : int
    n_classes : int
    kernel_size : int
        First-layer kernel size (odd, >= 3).
    stride : int
        First-layer stride.
    first_channels : int
        Number of first-layer filters.
    width : int
        Channels of the later convolutions (``width`` and ``2 * width``).
    first_init_std : float, optional
        Draw the first-layer weights from ``N(0, first_init_std**2)`` (AlexNet used 0.01)
        instead of PyTorch's default Kaiming-uniform (std ``1 / sqrt(3 * fan_in)``, 0.048 for
        7x7x3). With batch normalisation after it the layer's output does not depend on this
        scale, but small initial weights are overwritten by training sooner: on CIFAR-10 the
        learned filters are then much cleaner Gabors (see ``benchmarks/learned_filters.py``).

    Input ``(B, in_channels, H, W)`` float (32x32 for CIFAR-10); output ``(B, n_classes)`` logits.

    Examples
    --------
    >>> import torch
    >>> from scatter import models
    >>> net = models.CifarNet(first_channels=16, width=32)
    >>> net(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    >>> models.first_layer_filters(net).shape          # the layer compare_filters studies
    (16, 3, 7, 7)
    """

    def __init__(self, in_channels: int = 3, n_classes: int = 10, kernel_size: int = 7,
                 stride: int = 2, first_channels: int = 32, width: int = 64,
                 first_init_std: float | None = None):
        super().__init__()
        _check_positive_ints(in_channels=in_channels, n_classes=n_classes, kernel_size=kernel_size,
                             stride=stride, first_channels=first_channels, width=width)
        if kernel_size % 2 == 0 or kernel_size < 3:
            raise ValueError(f"kernel_size must be an odd int >= 3, got {kernel_size}")
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, first_channels, kernel_size, stride=stride,
                      padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(first_channels), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(first_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
            nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1, bias=False), nn.BatchNorm2d(2 * width),
            nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(2 * width, n_classes))
        if first_init_std is not None:
            if isinstance(first_init_std, bool) or not isinstance(first_init_std, (int, float)) \
                    or not first_init_std > 0:
                raise ValueError(f"first_init_std must be a float > 0 or None, got "
                                 f"{first_init_std!r}")
            with torch.no_grad():
                self.features[0].weight.normal_(0.0, float(first_init_std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"CifarNet expects input of shape (B, C, H, W), got {tuple(x.shape)}")
        return self.classifier(self.features(x))


def _check_positive_ints(**values) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be a positive int, got {value!r}")
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


# ------------------------------------------------------------------------------ training loop
def _as_dataset(data, name: str):
    """A Dataset from a Dataset or an ``(x, y)`` pair of arrays/tensors."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = (torch.as_tensor(np.asarray(a)) if not torch.is_tensor(a) else a for a in data)
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{name}: x has {x.shape[0]} samples but y has {y.shape[0]}")
        return torch.utils.data.TensorDataset(x.float() if not x.is_floating_point() else x,
                                              y.long())
    raise TypeError(f"{name} must be a torch Dataset or an (x, y) pair, got {type(data).__name__}")


def _batches(dataset, batch_size: int, shuffle: bool, generator: torch.Generator | None):
    """Mini-batches. In-memory tensor datasets are sliced directly (much faster than collating
    items one by one); other datasets go through a DataLoader."""
    tensors = getattr(dataset, "tensors", None)
    if tensors is not None:
        n = tensors[0].shape[0]
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for start in range(0, n, batch_size):
            index = order[start:start + batch_size]
            yield tuple(t[index] for t in tensors)
    else:
        yield from DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


def _n_batches(dataset, batch_size: int) -> int:
    return -(-len(dataset) // batch_size)


def fit(model: nn.Module, data, epochs: int = 1, batch_size: int = 64,
        optimizer: str | Callable = "sgd", lr: float = 0.05, momentum: float = 0.9,
        weight_decay: float = 5e-4, device=None, seed: int | None = 0, val_data=None,
        progress: bool = True, loss_fn: nn.Module | None = None) -> dict:
    """Train a classifier with cross-entropy; deterministic for a given ``seed`` on the CPU.

    Parameters
    ----------
    model : nn.Module
        Maps a batch ``(B, ...)`` to logits ``(B, n_classes)``; trained in place and moved to
        ``device``.
    data : Dataset or (x, y)
        Training data; items are ``(image tensor, int label)``. An ``(x, y)`` pair of arrays or
        tensors is used as it is (``x`` cast to float, not rescaled): wrap ``uint8`` images in
        :class:`scatter.models.ImageArrayDataset` first.
    epochs, batch_size : int
    optimizer : {'sgd', 'adam'} or callable
        ``'sgd'`` (with ``momentum``) or ``'adam'``, or a callable ``params -> Optimizer``
        (then ``lr``, ``momentum`` and ``weight_decay`` are ignored).
    lr, momentum, weight_decay : float
    device : str or torch.device, optional
        Default: the device of the model's parameters.
    seed : int or None
        Seeds the shuffling and every other random draw during training (torch's global RNG is
        restored afterwards). Weights are initialised by the model's constructor: seed it with
        ``torch.manual_seed`` before building the model. ``None``: not reproducible.
    val_data : Dataset or (x, y), optional
        Evaluated after every epoch.
    progress : bool
        Show a tqdm progress bar over batches.
    loss_fn : nn.Module, optional
        Default ``nn.CrossEntropyLoss()``.

    Returns
    -------
    dict of lists, one entry per epoch
        ``'loss'`` and ``'accuracy'`` (training, averaged over the epoch's batches as they were
        seen), ``'time'`` (seconds), and ``'val_loss'``, ``'val_accuracy'`` when ``val_data`` is
        given.

    Examples
    --------
    >>> import torch
    >>> from scatter import models
    >>> _ = torch.manual_seed(0)
    >>> net = models.LeNet()
    >>> x, y = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
    >>> history = models.fit(net, (x, y), epochs=2, batch_size=8, progress=False)
    >>> sorted(history), len(history["loss"])
    (['accuracy', 'loss', 'time'], 2)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_positive_ints(epochs=epochs, batch_size=batch_size)
    dataset = _as_dataset(data, "data")
    if len(dataset) == 0:
        raise ValueError("data is empty")
    val_dataset = None if val_data is None else _as_dataset(val_data, "val_data")
    device = _model_device(model) if device is None else torch.device(device)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if callable(optimizer):
        opt = optimizer(params)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    elif optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be one of ['sgd', 'adam'] or a callable params -> "
                         f"Optimizer, got {optimizer!r}")
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    history = {"loss": [], "accuracy": [], "time": []}
    if val_dataset is not None:
        history.update(val_loss=[], val_accuracy=[])

    # fork_rng takes CUDA device indices; the CPU generator is always forked.
    fork_devices = ([device.index if device.index is not None else torch.cuda.current_device()]
                    if device.type == "cuda" else [])
    with torch.random.fork_rng(devices=fork_devices, enabled=seed is not None):
        generator = None
        if seed is not None:
            torch.manual_seed(seed)
            generator = torch.Generator().manual_seed(seed)
        for epoch in range(epochs):
            start = time.perf_counter()
            model.train()
            # Sums stay on the device: no host synchronisation inside the loop.
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            seen = 0
            bar = _batches(dataset, batch_size, True, generator)
            if progress:  # tqdm imported only when shown (tqdm.auto warns in bare notebooks)
                from tqdm.auto import tqdm

                bar = tqdm(bar, total=_n_batches(dataset, batch_size), desc=f"epoch {epoch + 1}/{epochs}",
                           leave=False)
            for x, y in bar:
                x = x.to(device, non_blocking=True)
                y = y.to(device, non_blocking=True)
                opt.zero_grad(set_to_none=True)
                logits = model(x)
                loss = loss_fn(logits, y)
                loss.backward()
                opt.step()
                loss_sum += loss.detach() * y.shape[0]
                correct += (logits.detach().argmax(1) == y).sum()
                seen += y.shape[0]
            bar.close()
            history["loss"].append(loss_sum.item() / seen)
            history["accuracy"].append(correct.item() / seen)
            history["time"].append(time.perf_counter() - start)
            if val_dataset is not None:
                scores = evaluate(model, val_dataset, device=device, loss_fn=loss_fn)
                history["val_loss"].append(scores["loss"])
                history["val_accuracy"].append(scores["accuracy"])
    return history


@torch.no_grad()
def evaluate(model: nn.Module, data, batch_size: int = 512, device=None,
             loss_fn: nn.Module | None = None) -> dict:
    """Loss and accuracy of a classifier on ``data`` (a Dataset or ``(x, y)``), in eval mode.

    Parameters
    ----------
    model : nn.Module
        Maps a batch ``(B, ...)`` to logits ``(B, n_classes)``.
    data : Dataset or (x, y)
        As in :func:`fit`.
    batch_size : int
    device : str or torch.device, optional
        Default: the device of the model's parameters.
    loss_fn : nn.Module, optional
        Default: cross-entropy. A loss with mean reduction is summed back per batch, so
        ``'loss'`` is the mean over all samples.

    Returns
    -------
    dict
        ``{'loss': float, 'accuracy': float, 'n': int}``.

    Examples
    --------
    >>> import torch
    >>> from scatter import models
    >>> net = models.LeNet()
    >>> x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    >>> scores = models.evaluate(net, (x, y))
    >>> sorted(scores), scores["n"]
    (['accuracy', 'loss', 'n'], 8)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_positive_ints(batch_size=batch_size)
    dataset = _as_dataset(data, "data")
    if len(dataset) == 0:
        raise ValueError("data is empty")
    device = _model_device(model) if device is None else torch.device(device)
    model.to(device)
    loss_fn = nn.CrossEntropyLoss(reduction="sum") if loss_fn is None else loss_fn
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    n = 0
    for x, y in _batches(dataset, batch_size, False, None):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        logits = model(x)
        loss = loss_fn(logits, y)
        # A loss with mean reduction is turned back into a sum over the batch.
        loss_sum += loss if getattr(loss_fn, "reduction", "mean") == "sum" else loss * y.shape[0]
        correct += (logits.argmax(1) == y).sum()
        n += y.shape[0]
    model.train(was_training)
    return {"loss": loss_sum.item() / n, "accuracy": correct.item() / n, "n": n}


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")
