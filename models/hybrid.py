"""Hybrid networks: a frozen scattering front-end followed by a trainable head.

The scattering transform replaces the first layers of a CNN with fixed wavelet filters; only the
head is learned. With few training images this prior helps: Oyallon, Belilovsky & Zagoruyko,
"Scaling the Scattering Transform: Deep Hybrid Networks", ICCV 2017, report a scattering +
wide-ResNet beating the same ResNet on pixels with 100, 500 and 1000 CIFAR-10 images.

- :class:`Hybrid`: scattering (any bank) -> optional log -> per-channel standardisation
  (BatchNorm without affine parameters, as in Oyallon et al.) -> head (``'linear'``, ``'mlp'`` or
  ``'resnet'``).
- :func:`build_head`: the heads on their own, for a CNN that shares the hybrid's head (see
  ``benchmarks/transfer.py``).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from ..filters import FilterBank
from .. import Scattering2D
from ..features import LOG_EPS

__all__ = ["Hybrid", "build_head", "HEADS"]

HEADS = ("linear", "mlp", "resnet")


# ----------------------------------------------------------------------------------- heads
class _BasicBlock(nn.Module):
    """ResNet basic block (He et al. 2016): two 3x3 convolutions with BN and an identity (or 1x1
    projection) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels))
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def build_head(kind: str, in_channels: int, spatial: tuple[int, int], n_classes: int,
               width: int = 32, depth: int = 1, hidden: int = 256, dropout: float = 0.0
               ) -> nn.Sequential:
    """A classifier over feature maps ``(B, in_channels, h, w)`` -> logits ``(B, n_classes)``.

    Parameters
    ----------
    kind : {'linear', 'mlp', 'resnet'}
        ``'linear'``: flatten -> linear. ``'mlp'``: flatten -> linear(``hidden``) -> ReLU ->
        dropout -> linear. ``'resnet'``: 3x3 conv to ``width`` channels -> BN -> ReLU ->
        ``depth`` basic blocks at ``width`` -> ``depth`` basic blocks at ``2 * width`` (the first
        with stride 2) -> global average pool -> dropout -> linear; the shape of the
        scattering + ResNet of Oyallon et al. 2017 (their width is ``32 k``, ``depth`` ``n``).
    in_channels : int
    spatial : (int, int)
        ``(h, w)`` of the feature maps (used by the flattening heads).
    n_classes : int >= 2
    width, depth, hidden : int >= 1
    dropout : float in [0, 1)

    Returns
    -------
    nn.Sequential
    """
    kind = _check_head(kind)
    in_channels = _check_int("in_channels", in_channels, 1)
    n_classes = _check_int("n_classes", n_classes, 2)
    width = _check_int("width", width, 1)
    depth = _check_int("depth", depth, 1)
    hidden = _check_int("hidden", hidden, 1)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a float in [0, 1), got {dropout!r}")
    h, w = (_check_int("spatial", s, 1) for s in spatial)
    flat = in_channels * h * w
    if kind == "linear":
        return nn.Sequential(nn.Flatten(), nn.Linear(flat, n_classes))
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(inplace=True),
                             nn.Dropout(dropout), nn.Linear(hidden, n_classes))
    layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
                               nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
    layers += [_BasicBlock(width, width) for _ in range(depth)]
    layers += [_BasicBlock(width, 2 * width, stride=2)]
    layers += [_BasicBlock(2 * width, 2 * width) for _ in range(depth - 1)]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
               nn.Linear(2 * width, n_classes)]
    return nn.Sequential(*layers)


def _check_head(kind) -> str:
    if kind not in HEADS:
        raise ValueError(f"head must be one of {list(HEADS)}, got {kind!r}")
    return kind


# ---------------------------------------------------------------------------------- hybrid
class Hybrid(nn.Module):
    """Frozen scattering front-end + trainable head, for images ``(B, C, H, W)``.

    ``x -> S(x)`` (:class:`scatter.Scattering2D`, each input channel scattered separately, giving
    ``C * K`` maps of ``h x w``) ``-> log(|S| + 1e-6)`` (optional) ``-> BatchNorm2d(affine=False)``
    (optional per-channel standardisation, Oyallon et al. 2017) ``-> head``. The scattering
    filters are buffers: no gradient reaches them and optimisers never see them; only
    :attr:`head` holds parameters. Gradients still flow to the input when it requires them.

    Parameters
    ----------
    shape : (int, int)
        ``(H, W)`` of the input images.
    in_channels : int
        ``C``: 1 for grey, 3 for colour.
    n_classes : int >= 2
    J, L, max_order : int
        Scattering scales, orientations and order (ignored when ``scattering`` is given).
    bank : FilterBank or callable, optional
        Filters of the scattering network (see :class:`scatter.Scattering2D`): a bank on the
        padded grid or ``grid -> FilterBank``. Default: Kymatio's Morlet bank.
    scattering : scatter.Scattering2D, optional
        A pre-built network on ``shape`` (``out_type='array'``, ``pre_pad=False``) used as it is.
    log : bool
        Log-scattering, which compresses the coefficients' dynamic range.
    standardize : bool
        Per-channel standardisation by a BatchNorm without affine parameters (running statistics
        are learned in training mode, as for any BatchNorm).
    head : {'linear', 'mlp', 'resnet'}
        See :func:`build_head`.
    width, depth : int
        ResNet head: channels of the first stage (the second has ``2 * width``) and blocks per
        stage.
    hidden : int
        MLP head: hidden units.
    dropout : float in [0, 1)
        Before the last linear layer of the MLP and ResNet heads.

    Attributes
    ----------
    scattering : scatter.Scattering2D
        The frozen front-end.
    head : nn.Sequential
        Standardisation + classifier: maps :meth:`features` output to logits. Training it alone
        on precomputed features is the same as training the whole model (the front-end is fixed).
    n_features : int
        ``C * K``, the channels the head sees; ``feature_shape`` is ``(C * K, h, w)``.

    Shapes
    ------
    input ``(B, C, H, W)`` float (a float64 model takes float64) -> logits ``(B, n_classes)``;
    :meth:`features`: ``(B, C, H, W)`` -> ``(B, C * K, h, w)`` with ``K = 1 + J L + L^2 J (J-1) / 2``
    for the Morlet bank and ``h = H / 2**J`` for ``H`` a multiple of ``2**J``.

    Examples
    --------
    >>> import torch
    >>> from scatter.models import Hybrid, fit
    >>> model = Hybrid((32, 32), in_channels=3, n_classes=10, J=2, head="resnet", width=16)
    >>> model.feature_shape
    (243, 8, 8)
    >>> model(torch.rand(4, 3, 32, 32)).shape
    torch.Size([4, 10])
    >>> sum(p.numel() for p in model.scattering.parameters())
    0
    >>> history = fit(model, (torch.rand(8, 3, 32, 32), torch.arange(8) % 10), progress=False)
    """

    def __init__(self, shape, in_channels: int = 1, n_classes: int = 10, *, J: int = 2,
                 L: int = 8, max_order: int = 2, bank: FilterBank | Callable | None = None,
                 scattering: nn.Module | None = None, log: bool = True, standardize: bool = True,
                 head: str = "resnet", width: int = 32, depth: int = 1, hidden: int = 256,
                 dropout: float = 0.0) -> None:
        super().__init__()
        _check_head(head)
        self.in_channels = _check_int("in_channels", in_channels, 1)
        self.n_classes = _check_int("n_classes", n_classes, 2)
        if (not isinstance(shape, (tuple, list)) or len(shape) != 2
                or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0
                           for s in shape)):
            raise ValueError(f"shape must be an (H, W) pair of positive ints, got {shape!r}")
        self.shape = (int(shape[0]), int(shape[1]))
        if scattering is None:
            if bank is not None and not (isinstance(bank, FilterBank) or callable(bank)):
                raise TypeError(f"bank must be a filters.FilterBank, a callable grid -> FilterBank "
                                f"or None, got {type(bank).__name__}")
            scattering = Scattering2D(J=J, shape=self.shape, L=L, max_order=max_order, bank=bank)
        else:
            if not isinstance(scattering, Scattering2D):
                raise TypeError(f"scattering must be a scatter.Scattering2D or None, got "
                                f"{type(scattering).__name__}")
            if bank is not None:
                raise ValueError("give either scattering (a built network) or bank, not both")
            if tuple(scattering.shape) != self.shape:
                raise ValueError(f"scattering was built for shape {tuple(scattering.shape)}, but "
                                 f"shape={self.shape}")
            if scattering.out_type != "array" or scattering.pre_pad:
                raise ValueError("scattering must have out_type='array' and pre_pad=False")
        self.scattering = scattering
        self.log = bool(log)
        self.standardize = bool(standardize)
        K = len(scattering.meta()["order"])
        h, w = scattering.output_shape
        self.n_features = self.in_channels * K
        self.feature_shape = (self.n_features, h, w)
        norm = (nn.BatchNorm2d(self.n_features, affine=False) if self.standardize
                else nn.Identity())
        self.head = nn.Sequential(norm, build_head(head, self.n_features, (h, w), self.n_classes,
                                                   width=width, depth=depth, hidden=hidden,
                                                   dropout=dropout))

    def _check_input(self, x) -> None:
        if not torch.is_tensor(x):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim != 4 or x.shape[1] != self.in_channels or tuple(x.shape[-2:]) != self.shape:
            raise ValueError(f"x must have shape (B, {self.in_channels}, {self.shape[0]}, "
                             f"{self.shape[1]}), got {tuple(x.shape)}")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The frozen part: ``(B, C, H, W)`` -> (log-)scattering ``(B, C * K, h, w)``.

        Computed without autograd unless ``x`` requires a gradient (the filters never do).
        """
        self._check_input(x)
        with torch.set_grad_enabled(torch.is_grad_enabled() and x.requires_grad):
            s = self.scattering(x)                                   # (B, C, K, h, w)
            s = s.reshape(s.shape[0], self.n_features, *s.shape[-2:])
            if self.log:
                s = torch.log(s.abs() + LOG_EPS)
        return s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_classes)`` of images ``(B, C, H, W)``."""
        return self.head(self.features(x))
