"""The stationary (undecimated, a trous) wavelet transform: batched, differentiable torch
equivalents of ``pywt.swt``, ``pywt.iswt``, ``pywt.swt2`` and ``pywt.iswt2``.

Filters come from :class:`pywt.Wavelet` (see :func:`~scatter.filters.dwt_bank`); every level
keeps the input's length (periodic extension, PyWavelets' only mode for the SWT), with the
filters dilated by ``2**level``. The modules follow the input's device and dtype (float32 or
float64) and are differentiable.
"""
from __future__ import annotations

import math

import numpy as np
import pywt
import torch
from torch import nn

from .._validation import check_int
from ._dwt_ops import StationaryAxis
from ._input import check_finite
from .dwt import _check_coeffs, _check_input, dwt_bank


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


class _SWTBase(nn.Module):
    def __init__(self, wavelet, norm: bool = False, check_input: bool = True) -> None:
        super().__init__()
        self.check_input = _check_bool("check_input", check_input)
        self.norm = _check_bool("norm", norm)
        filters = dwt_bank(wavelet)
        self.wavelet = filters.wavelet
        self._axis = StationaryAxis(*(f.numpy() for f in (filters.dec_lo, filters.dec_hi,
                                                          filters.rec_lo, filters.rec_hi)),
                                    self.norm)

    def extra_repr(self) -> str:
        level = f", level={self.level}, start_level={self.start_level}" \
            if hasattr(self, "level") else ""
        return f"wavelet={self.wavelet.name!r}{level}, norm={self.norm}"


class _SWTForward(_SWTBase):
    def __init__(self, wavelet, level: int | None = 1, start_level: int = 0,
                 trim_approx: bool = False, norm: bool = False, check_input: bool = True) -> None:
        super().__init__(wavelet, norm, check_input)
        self.level = None if level is None else check_int("level", level, minimum=1)
        self.start_level = check_int("start_level", start_level, minimum=0)
        self.trim_approx = _check_bool("trim_approx", trim_approx)

    def _levels(self, sizes) -> int:
        """The number of levels, checked as PyWavelets does: each side divisible by
        ``2**(start_level + level)``."""
        most = min(pywt.swt_max_level(n) for n in sizes)
        if self.start_level >= most:
            raise ValueError(f"start_level={self.start_level} is too large for axes of sizes "
                             f"{tuple(sizes)}: every side must be divisible by "
                             f"2**(start_level + level), so start_level must be less than {most}"
                             f" (the number of times 2 divides every side)")
        level = most - self.start_level if self.level is None else self.level
        if level > most - self.start_level:
            raise ValueError(f"level={level} is too large for axes of sizes {tuple(sizes)} with "
                             f"start_level={self.start_level}: every side must be divisible by "
                             f"2**(start_level + level); the largest level is "
                             f"{most - self.start_level}")
        return level

    def _arrange(self, approx, details):
        """PyWavelets' list: deepest level first, with or without the intermediate cA."""
        if self.trim_approx:
            return [approx[-1]] + details[::-1]
        return list(zip(approx, details))[::-1]


class SWT1d(_SWTForward):
    """Stationary wavelet transform along the last axis, equal to
    ``pywt.swt(x, wavelet, level, start_level, trim_approx=trim_approx, norm=norm)``.

    Input: ``x`` is a ``torch.Tensor`` of float32 or float64 (coefficients in its dtype; other
    dtypes raise a ``TypeError``, NaN or inf a ``ValueError`` unless ``check_input=False``; an
    empty batch gives empty coefficients).

    Parameters
    ----------
    wavelet : str or pywt.Wavelet
        A discrete wavelet (see :func:`~scatter.filters.dwt_bank`).
    level : int >= 1 or None
        Number of levels; ``None``: as many as ``N`` allows (``pywt.swt_max_level(N)`` less
        ``start_level``). ``N`` must be divisible by ``2**(start_level + level)``.
    start_level : int >= 0
        Level of the first decomposition (filters dilated by ``2**start_level``), as pywt.
    trim_approx : bool
        Return only the coarsest approximation (pywt's ``trim_approx=True``).
    norm : bool
        Filters divided by ``sqrt(2)``: with an orthogonal wavelet and ``trim_approx=True`` the
        transform preserves energy (pywt's ``norm=True``).
    check_input : bool
        Check ``x`` for NaN/inf; ``False`` skips it.

    Forward
    -------
    x : Tensor, float32/float64, shape (..., N)
    returns : list
        ``[(cA_n, cD_n), ..., (cA_1, cD_1)]`` (level ``n`` deepest), or with ``trim_approx``
        ``[cA_n, cD_n, ..., cD_1]``; every tensor of shape (..., N).

    Examples
    --------
    >>> import torch
    >>> from scatter import filters
    >>> x = torch.randn(3, 32, dtype=torch.float64)
    >>> coeffs = filters.SWT1d("db2", level=2, trim_approx=True, norm=True)(x)
    >>> [tuple(c.shape) for c in coeffs]          # cA_2, cD_2, cD_1
    [(3, 32), (3, 32), (3, 32)]
    >>> energy = sum((c ** 2).sum() for c in coeffs)  # orthogonal wavelet, norm=True
    >>> bool(torch.isclose(energy, (x ** 2).sum()))
    True
    >>> torch.allclose(filters.ISWT1d("db2", norm=True)(coeffs), x)
    True
    """

    def forward(self, x: torch.Tensor) -> list:
        _check_input(x, 1)
        if self.check_input:
            check_finite([("x", x)])
        level = self._levels(x.shape[-1:])
        lead, n = x.shape[:-1], x.shape[-1]
        a = x.reshape(math.prod(lead), n)  # not -1: ambiguous for an empty batch
        approx, details = [], []
        for j in range(level):
            y = self._axis.analysis(a, -1, 2 ** (self.start_level + j))
            a = y[:, 0]
            approx.append(a.reshape(*lead, n))
            details.append(y[:, 1].reshape(*lead, n))
        return self._arrange(approx, details)


class SWT2d(_SWTForward):
    """Stationary wavelet transform over the last two axes, equal to
    ``pywt.swt2(x, wavelet, level, start_level, trim_approx=trim_approx, norm=norm)``.

    Input: as :class:`SWT1d`, a tensor of shape (..., M, N), both sides divisible by
    ``2**(start_level + level)``.

    Parameters
    ----------
    wavelet, level, start_level, trim_approx, norm, check_input
        As in :class:`SWT1d`.

    Forward
    -------
    x : Tensor, float32/float64, shape (..., M, N)
    returns : list
        ``[(cA_n, D_n), ..., (cA_1, D_1)]`` or with ``trim_approx`` ``[cA_n, D_n, ..., D_1]``:
        ``cA`` of shape (..., M, N), ``D`` of shape (..., 3, M, N) stacking pywt's
        ``(cH, cV, cD)``, as :class:`~scatter.filters.DWT2d`.

    Examples
    --------
    >>> import torch
    >>> from scatter import filters
    >>> x = torch.randn(2, 16, 16, dtype=torch.float64)
    >>> coeffs = filters.SWT2d("haar", level=2)(x)
    >>> [(tuple(a.shape), tuple(d.shape)) for a, d in coeffs]
    [((2, 16, 16), (2, 3, 16, 16)), ((2, 16, 16), (2, 3, 16, 16))]
    >>> torch.allclose(filters.ISWT2d("haar")(coeffs), x)
    True
    """

    def forward(self, x: torch.Tensor) -> list:
        _check_input(x, 2)
        if self.check_input:
            check_finite([("x", x)])
        level = self._levels(x.shape[-2:])
        lead, shape = x.shape[:-2], x.shape[-2:]
        batch = math.prod(lead)
        a = x.reshape(batch, *shape)
        approx, details = [], []
        for j in range(level):
            dilation = 2 ** (self.start_level + j)
            y = self._axis.analysis(a, -1, dilation)  # (B, 2, M, N): column lo, hi
            y = self._axis.analysis(y.reshape(2 * batch, *shape), -2, dilation)
            y = y.reshape(batch, 4, *shape)  # aa, da, ad, dd = (cA, cH, cV, cD)
            a = y[:, 0]
            approx.append(a.reshape(*lead, *shape))
            details.append(y[:, 1:].reshape(*lead, 3, *shape))
        return self._arrange(approx, details)


def _split_swt(coeffs):
    """``(cA_n, [D_n, ..., D_1])`` from either of PyWavelets' layouts (pywt's ``iswt`` uses only
    the deepest approximation of the untrimmed one)."""
    if not isinstance(coeffs, (list, tuple)) or len(coeffs) < 1:
        raise ValueError("coeffs must be a list [(cA_n, cD_n), ..., (cA_1, cD_1)] or "
                         "[cA_n, cD_n, ..., cD_1] as the forward transform returns")
    if all(isinstance(c, (list, tuple)) for c in coeffs):
        if any(len(c) != 2 for c in coeffs):
            raise ValueError("coeffs: each level must be a pair (cA_j, cD_j)")
        return coeffs[0][0], [c[1] for c in coeffs]
    if len(coeffs) < 2 or any(isinstance(c, (list, tuple)) for c in coeffs):
        raise ValueError("coeffs must be a list [(cA_n, cD_n), ..., (cA_1, cD_1)] or "
                         "[cA_n, cD_n, ..., cD_1] of at least two tensors")
    return coeffs[0], list(coeffs[1:])


class ISWT1d(_SWTBase):
    """Inverse of :class:`SWT1d`, equal to ``pywt.iswt(coeffs, wavelet, norm=norm)``.

    Input: tensors of one dtype, float32 or float64 (the signal comes out in it; other dtypes or
    a mix raise a ``TypeError``, NaN or inf a ``ValueError`` unless ``check_input=False``).
    Coefficients made with ``start_level > 0`` are inverted as if it were 0, as by pywt.

    Parameters
    ----------
    wavelet, norm, check_input
        As in :class:`SWT1d` (``norm`` as the forward transform's).

    Forward
    -------
    coeffs : list
        ``[(cA_n, cD_n), ..., (cA_1, cD_1)]`` (only ``cA_n`` is used, as pywt) or
        ``[cA_n, cD_n, ..., cD_1]``, tensors of shape (..., N).
    returns : Tensor
        Shape (..., N).

    Examples
    --------
    >>> import torch
    >>> from scatter import filters
    >>> x = torch.randn(4, 24, dtype=torch.float32)
    >>> y = filters.ISWT1d("sym4")(filters.SWT1d("sym4", level=3)(x))
    >>> y.dtype, torch.allclose(y, x, atol=1e-5)
    (torch.float32, True)
    """

    def forward(self, coeffs) -> torch.Tensor:
        a, details = _split_swt(coeffs)
        tensors = [a] + details
        for i, c in enumerate(tensors):
            _check_input(c, 1, f"coeffs[{i}]")
            if c.shape != a.shape:
                raise ValueError(f"every coefficient must have the shape of cA_n, "
                                 f"{tuple(a.shape)}; got {tuple(c.shape)}")
        _check_coeffs(tensors, self.check_input)
        lead, n = a.shape[:-1], a.shape[-1]
        batch = math.prod(lead)
        a = a.reshape(batch, n)
        for j, d in zip(range(len(details), 0, -1), details):
            pair = torch.stack([a, d.reshape(batch, n)], dim=1)
            a = self._axis.synthesis(pair, -1, 2 ** (j - 1))
        return a.reshape(*lead, n)


class ISWT2d(_SWTBase):
    """Inverse of :class:`SWT2d`, equal to ``pywt.iswt2(coeffs, wavelet, norm=norm)``.

    Input: as :class:`ISWT1d`.

    Parameters
    ----------
    wavelet, norm, check_input
        As in :class:`SWT2d`.

    Forward
    -------
    coeffs : list
        ``[(cA_n, D_n), ..., (cA_1, D_1)]`` or ``[cA_n, D_n, ..., D_1]``: ``cA`` (..., M, N),
        ``D`` (..., 3, M, N) stacking pywt's ``(cH, cV, cD)``.
    returns : Tensor
        Shape (..., M, N).

    Examples
    --------
    >>> import torch
    >>> from scatter import filters
    >>> x = torch.randn(2, 3, 8, 16, dtype=torch.float64)
    >>> coeffs = filters.SWT2d("bior2.2", level=2, trim_approx=True)(x)
    >>> torch.allclose(filters.ISWT2d("bior2.2")(coeffs), x)
    True
    """

    def forward(self, coeffs) -> torch.Tensor:
        a, details = _split_swt(coeffs)
        tensors = [a] + details
        for i, c in enumerate(tensors):
            _check_input(c, 2 if i == 0 else 3, f"coeffs[{i}]")
            if i and c.shape != a.shape[:-2] + (3,) + a.shape[-2:]:
                raise ValueError(f"coeffs[{i}] has shape {tuple(c.shape)}, expected "
                                 f"{tuple(a.shape[:-2] + (3,) + a.shape[-2:])}")
        _check_coeffs(tensors, self.check_input)
        lead, shape = a.shape[:-2], a.shape[-2:]
        batch = math.prod(lead)
        a = a.reshape(batch, *shape)
        for j, d in zip(range(len(details), 0, -1), details):
            dilation = 2 ** (j - 1)
            y = torch.cat([a[:, None], d.reshape(batch, 3, *shape)], dim=1)
            y = self._axis.synthesis(y.reshape(2 * batch, 2, *shape), -2, dilation)
            a = self._axis.synthesis(y.reshape(batch, 2, *shape), -1, dilation)
        return a.reshape(*lead, *shape)
