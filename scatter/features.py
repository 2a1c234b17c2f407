"""Stream a dataset of images through a transform in batches: the library's feature-extraction API.

:func:`iter_feature_batches` yields one batch of features at a time (what the command line
checkpoints); :func:`extract_features` gathers them into an array in memory or on disk, with
optional log or per-channel standardisation.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch

from ._files import temporary_beside
from ._validation import check_choice, check_int

__all__ = ["extract_features", "iter_feature_batches", "channel_stats", "standardize_",
           "LOG_EPS", "NORMALIZATIONS"]

# Added before the logarithm of log-scattering (as :class:`ScatteringTransformer` does).
LOG_EPS = 1e-6
NORMALIZATIONS = (None, "log", "standardize")


# ----------------------------------------------------------------------------------- batching
def _is_pair(item) -> bool:
    return isinstance(item, (tuple, list)) and len(item) == 2


def _batches(data, batch_size: int) -> Iterator[list]:
    """Lists of at most ``batch_size`` items of ``data`` (array rows, Dataset items, iterable)."""
    if isinstance(data, (np.ndarray, torch.Tensor)):
        for start in range(0, data.shape[0], batch_size):
            yield [data[start:start + batch_size]]  # one block: stacked already
        return
    if hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        n = len(data)
        for start in range(0, n, batch_size):
            yield [data[i] for i in range(start, min(start + batch_size, n))]
        return
    if not isinstance(data, Iterable):
        raise TypeError(f"data must be an array, a torch Dataset or an iterable of images or "
                        f"(image, label) pairs, got {type(data).__name__}")
    block: list = []
    for item in data:
        block.append(item)
        if len(block) == batch_size:
            yield block
            block = []
    if block:
        yield block


def _as_tensor(x) -> torch.Tensor:
    x = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if x.is_complex() or x.dtype == torch.bool or not (x.is_floating_point() or x.dtype in (
            torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)):
        raise TypeError(f"images must hold real numbers, got dtype {x.dtype}")
    return x


def _collate(block: list, is_array: bool) -> tuple[torch.Tensor, np.ndarray | None]:
    if is_array:
        return _as_tensor(block[0]), None
    pairs = [_is_pair(item) for item in block]
    if any(pairs) and not all(pairs):
        raise ValueError("data mixes bare images and (image, label) pairs")
    images = [item[0] for item in block] if pairs[0] else block
    tensors = [_as_tensor(im) for im in images]
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"images differ in shape within a batch ({sorted(shapes)[:3]}): resize "
                         f"or crop them to one size first (e.g. load_image_folder(size=...))")
    labels = np.asarray([int(item[1]) for item in block], dtype=np.int64) if pairs[0] else None
    return torch.stack(tensors), labels


def iter_feature_batches(data, transform: Callable, batch_size: int = 256, device="cpu",
                         dtype: torch.dtype = torch.float32, log: bool = False,
                         ) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Features of ``data`` one batch at a time.

    Parameters
    ----------
    data, transform, batch_size, device
        As in :func:`extract_features`.
    dtype : torch.float32 or torch.float64
        Images are converted to it (values unchanged: ``uint8`` stays in 0..255) before the
        transform.
    log : bool
        Return ``log(|F| + LOG_EPS)``.

    Yields
    ------
    features : ndarray, shape (b, *feature_shape), the transform's output dtype
    labels : ndarray, int64, shape (b,), or None when ``data`` holds bare images
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    if not callable(transform):
        raise TypeError(f"transform must be a torch.nn.Module or a callable mapping a batch "
                        f"tensor to a tensor, got {type(transform).__name__}")
    device = torch.device(device)
    is_array = isinstance(data, (np.ndarray, torch.Tensor))
    with torch.no_grad():
        for block in _batches(data, batch_size):
            x, labels = _collate(block, is_array)
            x = x.to(device=device, dtype=dtype)
            y = transform(x)
            if isinstance(y, np.ndarray):
                y = torch.from_numpy(y)
            if not isinstance(y, torch.Tensor):
                raise TypeError(f"transform must return a Tensor or ndarray, got "
                                f"{type(y).__name__}; wrap transforms returning lists (DWT2d, "
                                f"CurveletTransform) in a module that flattens them")
            if y.ndim == 0 or y.shape[0] != x.shape[0]:
                raise ValueError(f"transform returned shape {tuple(y.shape)} for a batch of "
                                 f"{x.shape[0]} images: its first axis must be the batch")
            if log:
                y = torch.log(y.abs() + LOG_EPS)
            # the copy back to the host is the point of this function: one per batch
            yield y.cpu().numpy(), labels


def _n_items(data) -> int | None:
    if isinstance(data, (np.ndarray, torch.Tensor)):
        return int(data.shape[0])
    try:
        return len(data)
    except TypeError:
        return None


# ------------------------------------------------------------------------------ normalisation
def _reduce_axes(ndim: int) -> tuple[int, ...]:
    """Axes averaged by per-channel standardisation: samples, and the last two (spatial) axes
    of outputs shaped (N, ..., C, h, w); every feature of a flat (N, F) output on its own."""
    return (0,) + ((ndim - 2, ndim - 1) if ndim >= 4 else ())


def channel_stats(blocks: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation over a stream of feature blocks (float64 sums).

    Parameters
    ----------
    blocks : iterable of ndarray, shape (b, *feature_shape)

    Returns
    -------
    mean, std : ndarray, float64, broadcastable against one block (size-1 reduced axes)
    """
    count, total, squares = 0, None, None
    for block in blocks:
        b = np.asarray(block, dtype=np.float64)
        axes = _reduce_axes(b.ndim)
        s, q = b.sum(axis=axes, keepdims=True), (b * b).sum(axis=axes, keepdims=True)
        total, squares = (s, q) if total is None else (total + s, squares + q)
        count += int(np.prod([b.shape[a] for a in axes]))
    if total is None or count == 0:
        raise ValueError("cannot standardise an empty dataset")
    mean = total / count
    var = np.maximum(squares / count - mean * mean, 0.0)
    return mean, np.sqrt(var)


def standardize_(block: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(block - mean) / std`` in place (channels of zero spread are only centred)."""
    safe = np.where(std > 0, std, 1.0)
    block -= mean.astype(block.dtype)
    block /= safe.astype(block.dtype)
    return block


# ---------------------------------------------------------------------------------- public API
def extract_features(data, transform: Callable, batch_size: int = 256, device="cpu",
                     normalize: str | None = None, out: str | os.PathLike | None = None,
                     progress: Any = "auto", return_labels: bool = False,
                     dtype: torch.dtype = torch.float32, client: Any = None):
    """Push a dataset of images through ``transform`` in batches and gather the features.

    Memory holds one batch of images and features at a time, plus the result (which, with
    ``out``, lives on disk as a memory-mapped ``.npy``). With ``client``, the batches are
    tasks on a Dask cluster, and the result is gathered here in order.

    Parameters
    ----------
    data : ndarray or Tensor of shape (N, ...), a torch ``Dataset``, or an iterable
        Images, or ``(image, label)`` pairs (as :class:`scatter.models.ImageArrayDataset` and torchvision
        datasets return). Images are given to the transform as they are (converted to ``dtype``
        only; no scaling).
    transform : torch.nn.Module or callable
        Maps a batch tensor of shape (b, ...) on ``device`` to a tensor ``(b, *feature_shape)``, e.g.
        :class:`scatter.Scattering2D`. It must already live on ``device``.
    batch_size : int
        Images per forward pass.
    device : str or torch.device
        Where the batches are computed, e.g. ``'cuda'``.
    normalize : {None, 'log', 'standardize'}
        ``'log'``: log-scattering ``log(|F| + 1e-6)``, per batch. ``'standardize'``: subtract the
        per-channel mean and divide by the per-channel standard deviation, computed over the whole
        dataset (channels are every index but the sample axis and, for outputs of shape
        (N, ..., C, h, w), the last two spatial axes).
    out : path ending in ``.npy``, optional
        Write the features there (atomically: a temporary file in the same folder renamed at the
        end) and return them memory-mapped read-only. ``None`` returns an in-memory array.
    progress : {'auto', True, False}
        tqdm progress bar; ``'auto'`` shows it when there are more than 10 batches.
    return_labels : bool
        Also return the labels of ``(image, label)`` items.
    dtype : torch.float32 or torch.float64
        Precision the images are converted to.
    client : dask.distributed.Client, optional
        Compute the batches on this Dask cluster (``pip install scatter[dask]``). ``data``
        needs a length (an array, a tensor or a Dataset) and, with ``transform``, must be
        picklable: each worker receives them once; a Dataset reading files reads its items on
        the workers (give paths, not pixels). A few batches per worker are in flight at a
        time. The features equal those computed here, bit for bit, when the workers use the
        same torch build and threads (floating-point sums depend on both). ``None``: this
        process.

    Returns
    -------
    features : ndarray, shape (N, *feature_shape)
    labels : ndarray, int64, shape (N,)
        Only with ``return_labels=True``.

    Examples
    --------
    >>> import torch
    >>> from scatter import Scattering2D, extract_features
    >>> S = Scattering2D(J=2, shape=(16, 16), L=4)
    >>> extract_features(torch.rand(10, 16, 16), S, batch_size=4).shape
    (10, 25, 4, 4)
    """
    check_choice("normalize", normalize, NORMALIZATIONS)
    check_choice("progress", progress, ("auto", True, False))
    check_choice("dtype", dtype, (torch.float32, torch.float64))
    if not isinstance(return_labels, bool):
        raise TypeError(f"return_labels must be a bool, got {return_labels!r}")
    if out is not None:
        out = Path(out)
        if out.suffix != ".npy":
            raise ValueError(f"out must be a path ending in '.npy' (or None), got {str(out)!r}; "
                             f"the `scatter features` command writes .h5 and .npz with provenance")
        if not out.parent.is_dir():
            raise FileNotFoundError(f"out: folder {out.parent} does not exist")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    n = _n_items(data)
    if client is None:
        stream = iter_feature_batches(data, transform, batch_size, device, dtype,
                                      log=normalize == "log")
    else:
        if n is None:
            raise TypeError(f"with client, data must have a length (an array, a tensor or a "
                            f"Dataset), got {type(data).__name__}")
        if not callable(transform):
            raise TypeError(f"transform must be a torch.nn.Module or a callable mapping a batch "
                            f"tensor to a tensor, got {type(transform).__name__}")
        from .distributed import iter_batches_on_client

        stream = iter_batches_on_client(client, data, transform, n, batch_size, device, dtype,
                                        log=normalize == "log")
    n_batches = None if n is None else -(-n // batch_size)
    if progress is True or (progress == "auto" and (n_batches or 0) > 10):
        from tqdm.auto import tqdm

        stream = tqdm(stream, total=n_batches, desc="features", unit="batch")

    blocks, labels = _Sink(n, out), []
    try:
        for features, lab in stream:
            blocks.append(features)
            if lab is not None:
                labels.append(lab)
        result = blocks.finish()
        if normalize == "standardize":
            parts = range(0, len(result), batch_size)
            mean, std = channel_stats(result[i:i + batch_size] for i in parts)
            for i in parts:
                standardize_(result[i:i + batch_size], mean, std)
        if out is not None:
            result = blocks.commit()
    except BaseException:
        blocks.discard()  # never leave a half-written temporary file behind
        raise
    if not return_labels:
        return result
    if not labels or sum(map(len, labels)) != len(result):
        raise ValueError("return_labels=True but data holds bare images, not (image, label) pairs")
    return result, np.concatenate(labels)


class _Sink:
    """Receives feature blocks: a list in memory, or a ``.npy`` written through a memory map
    when the length is known (through a raw temporary file when it is not)."""

    def __init__(self, n: int | None, out: Path | None) -> None:
        self.n, self.out, self.count = n, out, 0
        self.blocks: list[np.ndarray] = []
        self.map = None
        self.tmp = None

    def _temp(self, suffix: str) -> str:
        return temporary_beside(self.out, suffix)

    def append(self, block: np.ndarray) -> None:
        if self.out is None or self.n is None:
            self.blocks.append(block)
        else:
            if self.map is None:
                self.tmp = self._temp(".npy")
                self.map = np.lib.format.open_memmap(self.tmp, mode="w+", dtype=block.dtype,
                                                     shape=(self.n,) + block.shape[1:])
            self.map[self.count:self.count + len(block)] = block
        self.count += len(block)

    def finish(self) -> np.ndarray:
        if self.map is not None:
            return self.map
        if not self.blocks:
            raise ValueError("data holds no images")
        result = np.concatenate(self.blocks)
        self.blocks = []
        if self.out is not None:  # unknown length: the whole result fitted in memory anyway
            self.tmp = self._temp(".npy")
            self.map = np.lib.format.open_memmap(self.tmp, mode="w+", dtype=result.dtype,
                                                 shape=result.shape)
            self.map[:] = result
            return self.map
        return result

    def discard(self) -> None:
        self.map = None
        if self.tmp is not None and os.path.exists(self.tmp):
            os.remove(self.tmp)

    def commit(self) -> np.ndarray:
        self.map.flush()
        del self.map
        os.replace(self.tmp, self.out)
        self.tmp = None
        return np.load(self.out, mmap_mode="r")


class FlattenCoefficients(torch.nn.Module):
    """Wraps a transform returning a list of tensors (e.g. :class:`scatter.filters.DWT2d`) into one
    returning a tensor: each coefficient tensor keeps its first ``lead`` axes (batch, channel),
    the rest is flattened, and the pieces are concatenated along the last axis."""

    def __init__(self, transform: torch.nn.Module, lead: int) -> None:
        super().__init__()
        self.transform, self.lead = transform, lead

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        coeffs = self.transform(x)
        lead = x.shape[:self.lead]
        return torch.cat([c.reshape(*lead, -1) for c in coeffs], dim=-1)
