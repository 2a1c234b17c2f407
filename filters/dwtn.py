"""The n-dimensional separable DWT over chosen axes (3D volumes and beyond): torch equivalents of
``pywt.wavedecn`` and ``pywt.waverecn`` in every PyWavelets boundary mode.

Coefficients come in PyWavelets' layout, ``[cA_n, {key: D}, ..., {key: D}]`` with keys of
``'a'``/``'d'`` per transformed axis (``'aad'``, ``'ada'``, ...), as tensors on the input's
device and in its dtype (float32 or float64); differentiable.
"""
from __future__ import annotations

import itertools
import math

import torch

from .._validation import check_shape
from ._input import check_finite
from .dwt import (DEFAULT_MODE, _check_coeffs, _check_input, _check_level, _DWTBase,
                  _match_length, _max_level)


def _check_axes(axes) -> tuple[int, ...]:
    if isinstance(axes, int) and not isinstance(axes, bool):
        axes = (axes,)
    if (not isinstance(axes, (tuple, list)) or not axes
            or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes)):
        raise TypeError(f"axes must be an int or a non-empty tuple of ints, got {axes!r}")
    return tuple(axes)


def _resolve_axes(axes: tuple[int, ...], ndim: int, name: str) -> tuple[int, ...]:
    """Non-negative, unique axes of a tensor of ``ndim`` dimensions."""
    resolved = tuple(a + ndim if a < 0 else a for a in axes)
    if any(not 0 <= a < ndim for a in resolved):
        raise ValueError(f"axes={axes} do not fit {name} with {ndim} dimension(s)")
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"axes must be unique, got {axes}")
    return resolved


def band_keys(ndim: int) -> list[str]:
    """PyWavelets' detail keys for ``ndim`` axes in the order of the bands' flat index ``f``:
    character ``i`` is ``'d'`` where bit ``i`` of ``f`` is set (index 0, ``'a' * ndim``, is the
    approximation)."""
    return ["".join("d" if f >> i & 1 else "a" for i in range(ndim)) for f in range(2 ** ndim)]


class _NdBase(_DWTBase):
    def __init__(self, wavelet, mode: str, axes, check_input: bool) -> None:
        super().__init__(wavelet, mode, check_input)
        self.axes = _check_axes(axes)
        self._keys = band_keys(len(self.axes))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", axes={self.axes}"


class DWTnd(_NdBase):
    """Multi-level separable DWT over ``axes``, equal to
    ``pywt.wavedecn(x, wavelet, mode, level, axes=axes)``.

    Input: a ``torch.Tensor`` of float32 or float64 (coefficients in its dtype; other dtypes
    raise a ``TypeError``, NaN or inf a ``ValueError`` unless ``check_input=False``); the axes
    not transformed are batch axes.

    Parameters
    ----------
    wavelet : str or pywt.Wavelet
        A discrete wavelet (see :func:`~scatter.filters.dwt_bank`).
    level : int >= 1 or None
        Number of levels; ``None``: ``pywt.dwt_max_level`` of the shortest transformed axis.
    mode : str
        A PyWavelets signal extension mode (see :class:`~scatter.filters.DWT1d`), default
        ``'symmetric'``.
    axes : int or tuple of int
        The transformed axes, default the last three (a batch of volumes). Key character ``i``
        of the output refers to ``axes[i]``.
    check_input : bool
        Check ``x`` for NaN/inf; ``False`` skips it.

    Forward
    -------
    x : Tensor, float32/float64, at least ``max(-axes)`` dimensions
    returns : list
        ``[cA_level, {key: D_level}, ..., {key: D_1}]``, ``2 ** len(axes) - 1`` keys per level
        (``'aad'``, ``'ada'``, ... as pywt), each tensor shaped like ``x`` with the transformed
        axes shortened.

    Examples
    --------
    >>> import torch
    >>> from scatter import filters
    >>> x = torch.randn(2, 16, 16, 16, dtype=torch.float64)
    >>> coeffs = filters.DWTnd("haar", level=2)(x)
    >>> tuple(coeffs[0].shape), sorted(coeffs[1]), tuple(coeffs[1]["dda"].shape)
    ((2, 4, 4, 4), ['aad', 'ada', 'add', 'daa', 'dad', 'dda', 'ddd'], (2, 4, 4, 4))
    >>> torch.allclose(filters.IDWTnd("haar")(coeffs), x)
    True
    """

    def __init__(self, wavelet, level: int | None = 1, mode: str = DEFAULT_MODE,
                 axes=(-3, -2, -1), check_input: bool = True) -> None:
        super().__init__(wavelet, mode, axes, check_input)
        self.level = _check_level(level)

    def forward(self, x: torch.Tensor) -> list:
        _check_input(x, 1)
        axes = _resolve_axes(self.axes, x.dim(), "x")
        if self.check_input:
            check_finite([("x", x)])
        k = len(axes)
        # the transformed axes last, in the order of ``axes``: (B, *S)
        moved = x.movedim(axes, tuple(range(x.dim() - k, x.dim())))
        lead = moved.shape[:-k]
        batch = math.prod(lead)
        level = self.level or _max_level(moved.shape[-k:], self.wavelet)
        a = moved.reshape(batch, *moved.shape[-k:])
        details = []
        for _ in range(level):
            y, rows = a, batch
            for dim in range(-1, -k - 1, -1):  # last axis first: its band bit is the highest
                y = self._axis.analysis(y, dim)
                rows *= 2
                y = y.reshape(rows, *y.shape[-k:])
            y = y.reshape(batch, 2 ** k, *y.shape[-k:])
            a = y[:, 0]
            details.append({key: self._restore(y[:, f], lead, axes, x.dim())
                            for f, key in enumerate(self._keys) if f})
        return [self._restore(a, lead, axes, x.dim())] + details[::-1]

    @staticmethod
    def _restore(t: torch.Tensor, lead, axes, ndim: int) -> torch.Tensor:
        k = len(axes)
        t = t.reshape(*lead, *t.shape[-k:])
        return t.movedim(tuple(range(ndim - k, ndim)), axes)


class IDWTnd(_NdBase):
    """Inverse of :class:`DWTnd`, equal to ``pywt.waverecn(coeffs, wavelet, mode, axes=axes)``.

    Input: tensors of one dtype, float32 or float64 (the output in it; other dtypes or a mix
    raise a ``TypeError``, NaN or inf a ``ValueError`` unless ``check_input=False``).

    Parameters
    ----------
    wavelet, mode, axes, check_input
        As in :class:`DWTnd` (those of the forward transform).

    Forward
    -------
    coeffs : list
        ``[cA_n, {key: D_n}, ..., {key: D_1}]`` as :class:`DWTnd` returns them (every key).
    output_size : tuple of int, optional
        Sizes of the transformed axes to return: what pywt returns or one less on an axis (to
        recover odd sizes).
    returns : Tensor

    Examples
    --------
    >>> import torch
    >>> from scatter import filters
    >>> x = torch.randn(3, 9, 10, 11, dtype=torch.float64)
    >>> coeffs = filters.DWTnd("db2", level=1, mode="reflect")(x)
    >>> y = filters.IDWTnd("db2", mode="reflect")(coeffs, output_size=(9, 10, 11))
    >>> y.shape, torch.allclose(y, x)
    (torch.Size([3, 9, 10, 11]), True)
    """

    def __init__(self, wavelet, mode: str = DEFAULT_MODE, axes=(-3, -2, -1),
                 check_input: bool = True) -> None:
        super().__init__(wavelet, mode, axes, check_input)

    def forward(self, coeffs: list, output_size=None) -> torch.Tensor:
        if not isinstance(coeffs, (list, tuple)) or len(coeffs) < 2:
            raise ValueError("coeffs must be a list [cA_n, {key: D_n}, ..., {key: D_1}] of at "
                             "least two entries")
        a = coeffs[0]
        _check_input(a, 1, "coeffs[0]")
        axes = _resolve_axes(self.axes, a.dim(), "coeffs[0]")
        k = len(axes)
        tensors = [a]
        for i, d in enumerate(coeffs[1:], start=1):
            if not isinstance(d, dict) or set(d) != set(self._keys[1:]):
                raise ValueError(f"coeffs[{i}] must be a dict with the keys {self._keys[1:]} "
                                 f"(pywt.wavedecn's for {k} axes)")
            for key in self._keys[1:]:
                _check_input(d[key], 1, f"coeffs[{i}][{key!r}]")
                if d[key].dim() != a.dim():
                    raise ValueError(f"coeffs[{i}][{key!r}] has {d[key].dim()} dimensions, "
                                     f"coeffs[0] {a.dim()}")
                tensors.append(d[key])
        _check_coeffs(tensors, self.check_input)
        ndim = a.dim()
        last = tuple(range(ndim - k, ndim))

        def move(t):
            return t.movedim(axes, last)

        a = move(a)
        lead = a.shape[:-k]
        batch = math.prod(lead)
        a = a.reshape(batch, *a.shape[-k:])
        for i, d in enumerate(coeffs[1:], start=1):
            bands = [move(d[key]) for key in self._keys[1:]]
            shape = bands[0].shape
            if any(b.shape != shape for b in bands) or shape[:-k] != lead:
                raise ValueError(f"coeffs[{i}]: every band must have one shape, with leading "
                                 f"shape {tuple(lead)}; got {[tuple(b.shape) for b in bands]}")
            for j in range(k):
                a = _match_length(a, shape[ndim - k + j], j - k, i)
            y = torch.stack([a] + [b.reshape(batch, *shape[-k:]) for b in bands], dim=1)
            rows = batch * 2 ** k
            for dim in range(-k, 0):  # first axis first: its band bit is the lowest
                rows //= 2
                y = self._axis.synthesis(y.reshape(rows, 2, *y.shape[-k:]), dim)
            a = y
        if output_size is not None:
            output_size = check_shape("output_size", output_size, k)
            for j, size in enumerate(output_size):
                n = a.shape[j - k]
                if size not in (n, n - 1):
                    raise ValueError(f"output_size[{j}] must be {n} or {n - 1}, got {size}")
                a = a.narrow(j - k, 0, size)
        a = a.reshape(*lead, *a.shape[-k:])
        return a.movedim(last, axes)
