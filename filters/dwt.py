"""Discrete wavelet transforms on PyWavelets' filters: batched, differentiable torch DWT/IDWT.

The filters always come from :class:`pywt.Wavelet` (never retyped). The transforms reproduce
``pywt.wavedec``, ``pywt.waverec``, ``pywt.wavedec2`` and ``pywt.waverec2`` in every
PyWavelets signal extension mode (default ``'symmetric'``, as PyWavelets);
:mod:`~scatter.filters.dwtn` adds the n-dimensional transform and :mod:`~scatter.filters.swt`
the stationary one. :func:`dwt_filter_bank`
views the transform as a :class:`~scatter.filters.FilterBank` of its equivalent Fourier filters.

The modules hold the filter taps as Python floats and no tensors: they run on the input's device
(CPU or CUDA) and dtype (float32 or float64), with any leading batch dimensions, and are
differentiable.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pywt
import torch
from torch import nn

from .._validation import check_choice, check_int, check_shape
from ._input import check_finite, check_tensor
from . import _dwt_gemm
from ._dwt_ops import MODES, AxisTransform
from .bank import FilterBank

DEFAULT_MODE = "symmetric"  # PyWavelets' default

# theta index of the three 2D detail bands, in PyWavelets' order (cH, cV, cD); the keys are those
# of pywt.dwtn: first letter for axis -2 (rows), second for axis -1 (columns), 'a' low-pass,
# 'd' high-pass.
DETAIL_KEYS_2D = ("da", "ad", "dd")


def as_wavelet(wavelet) -> pywt.Wavelet:
    """A :class:`pywt.Wavelet` from a name or a ``pywt.Wavelet``; errors list the accepted names."""
    if isinstance(wavelet, pywt.Wavelet):
        return wavelet
    accepted = pywt.wavelist(kind="discrete")
    if not isinstance(wavelet, str) or wavelet not in accepted:
        raise ValueError(f"wavelet must be a pywt.Wavelet or one of the discrete wavelets of "
                         f"PyWavelets, pywt.wavelist(kind='discrete') = {accepted}; "
                         f"got {wavelet!r}")
    return pywt.Wavelet(wavelet)


@dataclass(frozen=True)
class DWTFilters:
    """A wavelet's filters as torch convolution weights (see :func:`dwt_bank`).

    Attributes
    ----------
    wavelet : pywt.Wavelet
        The source of every coefficient.
    dec_lo, dec_hi, rec_lo, rec_hi : Tensor, shape (F,)
        PyWavelets' filters, in its order.
    analysis_1d : Tensor, shape (2, 1, F)
        ``torch.nn.functional.conv1d`` weights (cross-correlation, hence the reversed
        ``dec_lo``, ``dec_hi``): channel 0 low-pass, 1 high-pass.
    synthesis_1d : Tensor, shape (1, 2, F)
        ``conv1d`` weights (reversed ``rec_lo``, ``rec_hi``) mapping the zero-upsampled
        (low, high) pair back to one channel.
    analysis_2d : Tensor, shape (4, 1, F, F)
        Separable ``conv2d`` weights, outer products of the 1D ones, in the channel order
        ``('aa', 'da', 'ad', 'dd')`` = (approximation, pywt's cH, cV, cD).
    synthesis_2d : Tensor, shape (1, 4, F, F)
        The 2D synthesis weights in the same channel order.

    Notes
    -----
    One periodised level with these weights (``N`` even, ``x`` of shape (B, 1, N))::

        xp = x[..., (torch.arange(N + F - 2) - (F - 1 - F // 2)) % N]
        lo_hi = conv1d(xp, analysis_1d, stride=2)             # (B, 2, N / 2)
        u = zero-upsampled lo_hi (u[..., 2 o] = lo_hi[..., o])  # (B, 2, N)
        x = conv1d(u[..., (torch.arange(N + F - 1) - F // 2) % N], synthesis_1d)

    and likewise per axis with the 2D weights. :class:`DWT1d` and friends compute the same sums
    (in every mode) with a loop of multiply-adds over the taps, which is faster on a CPU.

    Examples
    --------
    >>> from scatter import filters
    >>> w = filters.dwt_bank("haar")
    >>> w.wavelet.name, w.length, tuple(w.synthesis_1d.shape)
    ('haar', 2, (1, 2, 2))
    """

    wavelet: pywt.Wavelet
    dec_lo: torch.Tensor
    dec_hi: torch.Tensor
    rec_lo: torch.Tensor
    rec_hi: torch.Tensor
    analysis_1d: torch.Tensor
    synthesis_1d: torch.Tensor
    analysis_2d: torch.Tensor
    synthesis_2d: torch.Tensor

    @property
    def length(self) -> int:
        """Filter length ``F``."""
        return int(self.dec_lo.shape[0])


def dwt_bank(wavelet, dtype: torch.dtype = torch.float64, device=None) -> DWTFilters:
    """Turn a PyWavelets wavelet's decomposition/reconstruction filters into torch conv weights.

    Parameters
    ----------
    wavelet : str or pywt.Wavelet
        A discrete wavelet, e.g. ``'haar'``, ``'db4'``, ``'sym8'``, ``'coif3'``, ``'bior4.4'``.
    dtype : torch.dtype
        Floating dtype of the weights (float64 by default: the design precision).
    device : str or torch.device, optional
        Defaults to the CPU.

    Returns
    -------
    DWTFilters
        Filters of length ``F`` as tensors of ``dtype`` on ``device`` (shapes in
        :class:`DWTFilters`).

    Examples
    --------
    >>> from scatter import filters
    >>> w = filters.dwt_bank("db2")
    >>> w.length, tuple(w.analysis_1d.shape), tuple(w.analysis_2d.shape), w.dec_lo.dtype
    (4, (2, 1, 4), (4, 1, 4, 4), torch.float64)

    Notes
    -----
    With these weights, one level of the periodised DWT along an axis of even length ``N`` is
    ``c[o] = sum_j h[j] x[(2 o + F // 2 - j) mod N]`` (``h`` = ``dec_lo`` or ``dec_hi``), the
    convention of PyWavelets' ``mode='periodization'``; odd lengths are first extended by
    repeating the last sample, as PyWavelets does.
    """
    w = as_wavelet(wavelet)
    if w.dec_len != w.rec_len:
        raise ValueError(f"wavelet {w.name!r} has decomposition and reconstruction filters of "
                         f"different lengths ({w.dec_len}, {w.rec_len})")
    dec_lo, dec_hi, rec_lo, rec_hi = (np.asarray(f, dtype=np.float64) for f in w.filter_bank)
    analysis = np.stack([dec_lo[::-1], dec_hi[::-1]])  # (2, F): [lo, hi]
    synthesis = np.stack([rec_lo[::-1], rec_hi[::-1]])
    # 2D channels (aa, da, ad, dd): (row filter, column filter) = (lo,lo), (hi,lo), (lo,hi), (hi,hi)
    pairs = ((0, 0), (1, 0), (0, 1), (1, 1))
    analysis_2d = np.stack([np.outer(analysis[r], analysis[c]) for r, c in pairs])
    synthesis_2d = np.stack([np.outer(synthesis[r], synthesis[c]) for r, c in pairs])

    def t(a):
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device)

    return DWTFilters(w, t(dec_lo), t(dec_hi), t(rec_lo), t(rec_hi), t(analysis[:, None]),
                      t(synthesis[None]), t(analysis_2d[:, None]), t(synthesis_2d[None]))


def _check_input(x, ndim: int, name: str = "x") -> None:
    check_tensor(x, name)  # float32 or float64: the computation follows the input's dtype
    if x.dim() < ndim:
        raise ValueError(f"{name} must have at least {ndim} dimension(s) (..., "
                         f"{'M, N' if ndim == 2 else 'N'}), got shape {tuple(x.shape)}")


# ----------------------------------------------------------------------------------- modules
def _check_coeffs(coeffs, check_finite_values: bool) -> None:
    """One dtype and device for all of an inverse's coefficients (no silent promotion), and
    no NaN/inf when ``check_finite_values``."""
    first = coeffs[0]
    for i, c in enumerate(coeffs[1:], start=1):
        if c.dtype != first.dtype:
            raise TypeError(f"coeffs[{i}] has dtype {c.dtype} but coeffs[0] has {first.dtype}: "
                            f"all coefficients must share one dtype (float32 or float64)")
        if c.device != first.device:
            raise ValueError(f"coeffs[{i}] is on {c.device} but coeffs[0] is on {first.device}")
    if check_finite_values:
        check_finite((f"coeffs[{i}]", c) for i, c in enumerate(coeffs))


def _check_level(level):
    """``None`` (PyWavelets' ``dwt_max_level`` of the input, as its default) or an int >= 1."""
    return None if level is None else check_int("level", level, minimum=1)


def _max_level(sizes, wavelet: pywt.Wavelet) -> int:
    """PyWavelets' default level: ``dwt_max_level`` of the shortest transformed axis, >= 1."""
    return max(1, pywt.dwt_max_level(min(sizes), wavelet.dec_len))


class _DWTBase(nn.Module):
    def __init__(self, wavelet, mode: str = DEFAULT_MODE, check_input: bool = True) -> None:
        super().__init__()
        check_choice("mode", mode, MODES)
        if not isinstance(check_input, (bool, np.bool_)):
            raise TypeError(f"check_input must be True or False, got {check_input!r}")
        self.check_input = bool(check_input)
        filters = dwt_bank(wavelet)
        self.wavelet = filters.wavelet
        self.mode = mode
        # design constants as Python floats: the transforms follow the input's device and dtype
        self._axis = AxisTransform(*(f.numpy() for f in (filters.dec_lo, filters.dec_hi,
                                                          filters.rec_lo, filters.rec_hi)), mode)

    def extra_repr(self) -> str:
        level = f", level={self.level}" if hasattr(self, "level") else ""
        return f"wavelet={self.wavelet.name!r}{level}, mode={self.mode!r}"


class DWT1d(_DWTBase):
    """Multi-level 1D DWT along the last axis, equal to ``pywt.wavedec(x, wavelet, mode, level)``.

    Input: ``x`` is a ``torch.Tensor`` of float32 or float64, and the coefficients come out in
    its dtype (the float64 filter taps are applied at that precision, never upcast from
    float32). Any other dtype (float16, bfloat16, integers, bool, complex) raises a
    ``TypeError``, NaN or inf a ``ValueError`` unless ``check_input=False``, and an empty batch
    (a leading dimension of 0) gives empty coefficients of the right shapes.

    Parameters
    ----------
    wavelet : str or pywt.Wavelet
        A discrete wavelet (see :func:`dwt_bank`).
    level : int >= 1 or None
        Number of levels; ``None`` is PyWavelets' default, ``pywt.dwt_max_level(N, F)`` (at
        least 1). Unlike PyWavelets there is no warning when ``level`` exceeds it.
    mode : str
        Boundary handling, one of PyWavelets' signal extension modes: ``'symmetric'`` (its
        default and ours), ``'zero'``, ``'constant'``, ``'periodic'``, ``'smooth'``,
        ``'periodization'``, ``'reflect'``, ``'antisymmetric'``, ``'antireflect'``. All but
        ``'periodization'`` give ``floor((N + F - 1) / 2)`` coefficients per level (``F`` the
        filter length); ``'periodization'`` gives ``ceil(N / 2)``.
    check_input : bool
        Check ``x`` for NaN/inf (one device-to-host synchronisation per call); ``False`` skips
        it.

    Forward
    -------
    x : Tensor, float32/float64, shape (..., N), any device
    returns : list of Tensor
        ``[cA_level, cD_level, ..., cD_1]`` of shapes (..., n_j), as pywt, in ``x``'s dtype.

    Examples
    --------
    >>> import torch
    >>> from scatter import filters
    >>> x = torch.randn(4, 32, dtype=torch.float64)
    >>> coeffs = filters.DWT1d("db2", level=2)(x)  # mode='symmetric', as pywt.wavedec
    >>> [tuple(c.shape) for c in coeffs]          # cA_2, cD_2, cD_1
    [(4, 10), (4, 10), (4, 17)]
    >>> torch.allclose(filters.IDWT1d("db2")(coeffs), x)
    True
    >>> [c.shape[-1] for c in filters.DWT1d("db2", 2, mode="periodization")(x)]
    [8, 8, 16]
    """

    def __init__(self, wavelet, level: int | None = 1, mode: str = DEFAULT_MODE,
                 check_input: bool = True) -> None:
        super().__init__(wavelet, mode, check_input)
        self.level = _check_level(level)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        _check_input(x, 1)
        if self.check_input:
            check_finite([("x", x)])
        lead = x.shape[:-1]
        level = self.level or _max_level(x.shape[-1:], self.wavelet)
        a = x.reshape(math.prod(lead), x.shape[-1])  # not -1: ambiguous for an empty batch
        details = []
        for _ in range(level):
            y = self._axis.analysis(a, -1)  # (B, 2, n)
            a, d = y[:, 0], y[:, 1]
            details.append(d.reshape(*lead, d.shape[-1]))
        return [a.reshape(*lead, a.shape[-1])] + details[::-1]


class IDWT1d(_DWTBase):
    """Inverse of :class:`DWT1d`, equal to ``pywt.waverec(coeffs, wavelet, mode)``.

    Input: ``coeffs`` are ``torch.Tensor`` s of one dtype, float32 or float64, and the signal
    comes out in it. Any other dtype (float16, bfloat16, integers, bool, complex) or a mix of
    dtypes raises a ``TypeError``, NaN or inf a ``ValueError`` unless ``check_input=False``, and
    an empty batch (a leading dimension of 0) gives an empty signal of the right shape.

    Parameters
    ----------
    wavelet, mode
        As in :class:`DWT1d` (the mode of the forward transform).
    check_input : bool
        Check ``coeffs`` for NaN/inf (one device-to-host synchronisation per call); ``False``
        skips it.

    Forward
    -------
    coeffs : list of Tensor
        ``[cA_n, cD_n, ..., cD_1]``, shapes (..., n_j), float32/float64.
    output_size : int, optional
        Length of the signal to return: what pywt returns (``2 * len(cD_1)`` in
        ``'periodization'``, ``2 * len(cD_1) - F + 2`` otherwise) or one less (to recover an
        odd-length input).
    returns : Tensor
        Shape (..., output_size).

    Examples
    --------
    >>> import torch
    >>> from scatter import filters
    >>> x = torch.randn(3, 31, dtype=torch.float64)               # odd length
    >>> coeffs = filters.DWT1d("sym4", level=2)(x)
    >>> y = filters.IDWT1d("sym4")(coeffs, output_size=31)
    >>> y.shape, torch.allclose(y, x)
    (torch.Size([3, 31]), True)
    """

    def forward(self, coeffs: list[torch.Tensor], output_size: int | None = None) -> torch.Tensor:
        if not isinstance(coeffs, (list, tuple)) or len(coeffs) < 2:
            raise ValueError("coeffs must be a list [cA_n, cD_n, ..., cD_1] of at least two "
                             "tensors")
        for i, c in enumerate(coeffs):
            _check_input(c, 1, f"coeffs[{i}]")
        _check_coeffs(coeffs, self.check_input)
        a = coeffs[0]
        lead = a.shape[:-1]
        batch = math.prod(lead)  # not -1 in reshapes: ambiguous for an empty batch
        a = a.reshape(batch, a.shape[-1])
        for i, d in enumerate(coeffs[1:], start=1):
            if d.shape[:-1] != lead:
                raise ValueError(f"coeffs[{i}] has leading shape {tuple(d.shape[:-1])}, "
                                 f"expected {tuple(lead)}")
            a = _match_length(a, d.shape[-1], -1, i)
            a = self._axis.synthesis(torch.stack([a, d.reshape(batch, d.shape[-1])], dim=1), -1)
        a = _trim(a, output_size, -1, "output_size")
        return a.reshape(*lead, a.shape[-1])


class DWT2d(_DWTBase):
    """Multi-level separable 2D DWT over the last two axes, equal to
    ``pywt.wavedec2(x, wavelet, mode, level)``.

    Input: as :class:`DWT1d` (a ``torch.Tensor`` of float32 or float64, coefficients in its
    dtype; other dtypes raise a ``TypeError``, NaN or inf a ``ValueError`` unless
    ``check_input=False``; an empty batch gives empty coefficients).

    Parameters
    ----------
    wavelet, level, mode, check_input
        As in :class:`DWT1d` (``level=None``: ``dwt_max_level`` of the shorter side).

    Forward
    -------
    x : Tensor, float32/float64, shape (..., M, N), any device
    returns : list of Tensor
        ``[cA_level, D_level, ..., D_1]``: ``cA`` of shape (..., m, n) and each ``D_j`` of shape
        (..., 3, m_j, n_j) stacking pywt's ``(cH, cV, cD)`` (theta 0, 1, 2 of
        :func:`dwt_filter_bank`).

    Examples
    --------
    >>> import torch
    >>> from scatter import filters
    >>> x = torch.randn(2, 16, 16, dtype=torch.float64)
    >>> coeffs = filters.DWT2d("haar", level=2)(x)
    >>> [tuple(c.shape) for c in coeffs]          # cA_2, D_2, D_1
    [(2, 4, 4), (2, 3, 4, 4), (2, 3, 8, 8)]
    >>> torch.allclose(filters.IDWT2d("haar")(coeffs), x)
    True
    """

    def __init__(self, wavelet, level: int | None = 1, mode: str = DEFAULT_MODE,
                 check_input: bool = True) -> None:
        super().__init__(wavelet, mode, check_input)
        self.level = _check_level(level)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        _check_input(x, 2)
        if self.check_input:
            check_finite([("x", x)])
        lead = x.shape[:-2]
        batch = math.prod(lead)  # not -1 in reshapes: ambiguous for an empty batch
        level = self.level or _max_level(x.shape[-2:], self.wavelet)
        a = x.reshape(batch, *x.shape[-2:])
        details = []
        for _ in range(level):
            y = self._axis.analysis(a, -1)  # (B, 2, M, n): column lo, hi
            y = self._axis.analysis(y.reshape(2 * batch, *y.shape[-2:]), -2)
            # (B, [column band], [row band], m, n): aa, da, ad, dd = (cA, cH, cV, cD)
            y = y.reshape(batch, 4, *y.shape[-2:])
            a = y[:, 0]
            details.append(y[:, 1:].reshape(*lead, 3, *y.shape[-2:]))
        return [a.reshape(*lead, *a.shape[-2:])] + details[::-1]


class IDWT2d(_DWTBase):
    """Inverse of :class:`DWT2d`, equal to ``pywt.waverec2(coeffs, wavelet, mode)``.

    Input: as :class:`IDWT1d` (``coeffs`` of one dtype, float32 or float64, and the image in
    it; other dtypes or a mix raise a ``TypeError``, NaN or inf a ``ValueError`` unless
    ``check_input=False``; an empty batch gives an empty image).

    Parameters
    ----------
    wavelet, mode, check_input
        As in :class:`IDWT1d`.

    Forward
    -------
    coeffs : list of Tensor
        ``[cA_n, D_n, ..., D_1]``, ``cA`` (..., m, n), ``D_j`` (..., 3, m_j, n_j).
    output_size : (int, int), optional
        Size to return: what pywt returns or one less on an axis (to recover an odd-sized
        input).
    returns : Tensor
        Shape (..., M, N).

    Notes
    -----
    On a CPU, where no coefficient requires grad (or under ``torch.no_grad()``), each level runs
    as blocked matrix products (element-wise passes for two-tap wavelets such as ``haar``; see
    ``filters/_dwt_gemm.py``); elsewhere (autograd, GPU) as the per-tap multiply-adds of the
    other transforms. Both give PyWavelets' numbers.

    Examples
    --------
    >>> import torch
    >>> from scatter import filters
    >>> x = torch.randn(2, 15, 16, dtype=torch.float64)
    >>> coeffs = filters.DWT2d("db2", level=1)(x)
    >>> y = filters.IDWT2d("db2")(coeffs, output_size=(15, 16))
    >>> y.shape, torch.allclose(y, x)
    (torch.Size([2, 15, 16]), True)
    """

    def forward(self, coeffs: list[torch.Tensor], output_size=None) -> torch.Tensor:
        if not isinstance(coeffs, (list, tuple)) or len(coeffs) < 2:
            raise ValueError("coeffs must be a list [cA_n, D_n, ..., D_1] of at least two tensors")
        for i, c in enumerate(coeffs):
            _check_input(c, 2 if i == 0 else 3, f"coeffs[{i}]")
        _check_coeffs(coeffs, self.check_input)
        a = coeffs[0]
        lead = a.shape[:-2]
        batch = math.prod(lead)  # not -1 in reshapes: ambiguous for an empty batch
        a = a.reshape(batch, *a.shape[-2:])
        # CPU without autograd: blocked matrix products on a rows-outer (M, B, N) image
        gemm = _dwt_gemm.usable(coeffs)
        outer = False
        if gemm:
            level = self._gemm_level()
            outer = level.rows_outer
            a = _dwt_gemm.rows_outer(a) if outer else a
        rows = 0 if outer else -2
        for i, d in enumerate(coeffs[1:], start=1):
            if d.shape[:-3] != lead or d.shape[-3] != 3:
                raise ValueError(f"coeffs[{i}] has shape {tuple(d.shape)}, expected "
                                 f"{tuple(lead)} + (3, m, n)")
            a = _match_length(a, d.shape[-2], rows, i, "-2")
            a = _match_length(a, d.shape[-1], -1, i)
            d = d.reshape(batch, 3, *d.shape[-2:])
            if gemm:  # the last level writes into a (B, M, N) result
                a = level(a, d, batch_outer=i == len(coeffs) - 1)
                continue
            # (B, [column band], [row band], m, n) as DWT2d makes them
            y = torch.cat([a[:, None], d], dim=1)
            y = self._axis.synthesis(y.reshape(2 * batch, 2, *y.shape[-2:]), -2)
            a = self._axis.synthesis(y.reshape(batch, 2, *y.shape[-2:]), -1)
        if output_size is not None:
            output_size = check_shape("output_size", output_size, 2)
            a = _trim(_trim(a, output_size[0], rows, "output_size[0]"), output_size[1], -1,
                      "output_size[1]")
        if outer:  # back to (B, M, N): the result itself unless output_size cut it
            a = a.transpose(0, 1).contiguous()
        return a.reshape(*lead, *a.shape[-2:])

    def _gemm_level(self):
        """The CPU level of this wavelet and mode (:func:`_dwt_gemm.level_2d`), built once."""
        if getattr(self, "_gemm", None) is None:
            self._gemm = _dwt_gemm.level_2d(self._axis)
        return self._gemm


def _match_length(a: torch.Tensor, n: int, dim: int, i, axis: str | None = None) -> torch.Tensor:
    """Drop the extra sample pywt's waverec drops when the approximation is one longer.

    ``axis`` names the axis in the error message (the user's axis where ``a`` is held in another
    layout); ``dim`` by default.
    """
    if a.shape[dim] == n + 1:
        return a.narrow(dim, 0, n)
    if a.shape[dim] != n:
        raise ValueError(f"coeffs[{i}] has length {n} along axis {axis or dim}, which does not "
                         f"match the approximation's length {a.shape[dim]} (equal or one less "
                         f"expected)")
    return a


def _trim(a: torch.Tensor, size, dim: int, name: str) -> torch.Tensor:
    if size is None:
        return a
    size = check_int(name, size, minimum=1)
    if size not in (a.shape[dim], a.shape[dim] - 1):
        raise ValueError(f"{name} must be {a.shape[dim]} or {a.shape[dim] - 1}, got {size}")
    return a.narrow(dim, 0, size)


# ------------------------------------------------------------------------------ FilterBank view
def dwt_filter_bank(wavelet, shape, level: int) -> FilterBank:
    """The DWT's equivalent (undecimated) Fourier-domain filters on a grid, as a FilterBank.

    The detail band of level ``j + 1`` (``j = 0`` finest) along an axis is
    ``G_hi(2^j w) prod_{i<j} G_lo(2^i w) / 2^((j+1)/2)`` (``/ 2^(j+1)`` in 2D) with
    ``G(w) = sum_k h[k] exp(-i w (k - F // 2))`` the transfer function of PyWavelets' filters
    aligned as :func:`dwt_bank` describes them; in 2D the three bands are products of such
    factors along rows and columns. Without the normalisation, the DWT coefficients
    (``mode='periodization'``) of a signal on a grid divisible by ``2**level`` are the samples at multiples of ``2^(j+1)`` of its
    circular convolution with these filters. With it, the bank is the undecimated (stationary)
    wavelet transform averaged over shifts: for an orthogonal wavelet its Littlewood-Paley sum is
    exactly 1 (a Parseval frame), for a biorthogonal one it is not.

    Parameters
    ----------
    wavelet : str or pywt.Wavelet
        A discrete wavelet, as in :func:`dwt_bank`.
    shape : int or tuple of 1 or 2 ints
        Grid: ``N`` (1D) or ``(M, N)`` (2D).
    level : int >= 1
        Number of levels.

    Returns
    -------
    FilterBank
        ``psi`` complex128 of shape ``(level, N)`` in 1D or ``(3 * level, M, N)`` in 2D, ordered by
        ``(j, theta)``; ``phi`` the approximation filter at ``level``; meta ``'j'``, ``'theta'``
        (2D: 0, 1, 2 for pywt's cH, cV, cD; 1D: 0), ``'kind'`` (pywt's dwtn keys ``'da'``,
        ``'ad'``, ``'dd'``, or ``'d'`` in 1D), ``'xi'`` (nominal centre frequency
        ``0.75 / 2^(j+1)`` cycles/sample of the ideal band along a high-pass axis),
        ``'decimation'`` (``2^(j+1)``).

    Examples
    --------
    >>> from scatter import filters
    >>> bank = filters.dwt_filter_bank("db2", (32, 32), level=2)
    >>> bank.psi.shape, bank.psi.dtype                # (3 * level, M, N)
    ((6, 32, 32), dtype('complex128'))
    >>> [round(b, 6) for b in bank.frame_bounds()]    # orthogonal wavelet: a Parseval frame
    [1.0, 1.0]
    """
    w = as_wavelet(wavelet)
    shape = check_shape("shape", shape, (1, 2))
    level = check_int("level", level, minimum=1)
    dec_lo, dec_hi = (np.asarray(f, dtype=np.float64) for f in (w.dec_lo, w.dec_hi))
    taps = np.arange(dec_lo.size) - dec_lo.size // 2

    def factors(n):
        """(lo, hi) of shape (level + 1, n): per-level cascade factors along an axis."""
        # G on the DFT grid is the FFT of the taps wrapped onto the grid; G(2^i w_k) = G(w_(2^i k))
        g_lo, g_hi = (np.fft.fft(np.bincount(taps % n, weights=h, minlength=n)) / math.sqrt(2)
                      for h in (dec_lo, dec_hi))
        index = (2 ** np.arange(level)[:, None] * np.arange(n)[None, :]) % n  # (level, n)
        g_lo, g_hi = g_lo[index], g_hi[index]
        lo_cum = np.cumprod(np.vstack([np.ones((1, n)), g_lo]), axis=0)  # prod_{i<j} G_lo(2^i w)
        return lo_cum, lo_cum[:-1] * g_hi  # lo_cum[j] for j = 0..level; band j = 0..level-1

    js = np.arange(level)
    if len(shape) == 1:
        lo, hi = factors(shape[0])
        psi, phi = hi, lo[level]
        meta = {"j": js, "theta": np.zeros(level, dtype=int), "kind": np.array(["d"] * level)}
        xi = 0.75 / 2.0 ** (js + 1)
    else:
        lo0, hi0 = factors(shape[0])
        lo1, hi1 = factors(shape[1])
        # a detail band of level j is high-pass at 2^j on one axis, low-pass at 2^j on the other
        rows = np.stack([hi0[js], lo0[js + 1], hi0[js]], axis=1)  # (level, 3, M): da, ad, dd
        cols = np.stack([lo1[js + 1], hi1[js], hi1[js]], axis=1)
        psi = (rows[..., :, None] * cols[..., None, :]).reshape((3 * level,) + shape)
        phi = np.outer(lo0[level], lo1[level])
        js = np.repeat(js, 3)
        meta = {"j": js, "theta": np.tile(np.arange(3), level),
                "kind": np.array(list(DETAIL_KEYS_2D) * level)}
        xi = 0.75 / 2.0 ** (js + 1)
    meta.update(xi=xi, decimation=2 ** (meta["j"] + 1))
    params = {"wavelet": w.name, "shape": shape, "level": level,
              "orthogonal": bool(w.orthogonal), "biorthogonal": bool(w.biorthogonal)}
    return FilterBank(psi, phi, meta, name="dwt", params=params,
                      phi_meta={"j": level, "decimation": 2 ** level})
