"""Filter design helpers shared by the networks' plain cascades and their CPU engine.

Everything here works on float64 NumPy designs (the filters of a :class:`scatter.filters.FilterBank`)
and returns float64 NumPy: conversion to torch happens once, afterwards.
"""
from __future__ import annotations

import numpy as np


def crop_fourier(filters: np.ndarray, factor: int, axes: tuple[int, ...] = (-2, -1)) -> np.ndarray:
    """The low-frequency block of Fourier filters, for use at a resolution ``factor`` times lower.

    Keeps frequencies ``|k| < n / (2 factor)`` on each of the last two axes, as Kymatio's
    ``periodize_filter_fft`` does (its mask zeroes every other alias before summing).

    Parameters
    ----------
    filters : ndarray, shape (..., M, N)
    factor : int, a power of two dividing M and N
    axes : tuple of int
        The axes cropped (default: the last two).

    Returns
    -------
    ndarray, shape (..., M // factor, N // factor)
    """
    if factor == 1:
        return filters
    out = filters
    for axis in axes:
        n = filters.shape[axis]
        half = n // (2 * factor)
        keep = np.concatenate([np.arange(half), np.arange(n - half, n)])
        out = np.take(out, keep, axis=axis)
    return out


def lowpass_matrix(phi: np.ndarray, factor: int, i0: int, n_out: int) -> np.ndarray:
    """Real matrix ``P`` (m, n_out) with ``u @ P`` the low-pass of real signals ``u`` (..., m).

    ``Re(ifft(fold_factor(fft(u) phi)))[i0 : i0 + n_out]``, i.e. the circular convolution of ``u``
    with ``g = Re(ifft(phi))`` sampled every ``factor`` samples from sample ``factor * i0``:
    ``P[t, s] = g[(factor (i0 + s) - t) mod m]``. One matrix product replaces a forward FFT, a
    product, a fold and an inverse FFT when few outputs are kept.

    Parameters
    ----------
    phi : ndarray, shape (m,)
        Fourier filter of a real filter (Hermitian; only ``Re(ifft(phi))`` is used).
    factor : int
        Subsampling after the filter.
    i0, n_out : int
        First kept output sample (at the subsampled rate) and the number kept.
    """
    m = phi.shape[-1]
    g = np.fft.ifft(phi).real
    t = np.arange(m)[:, None]
    s = np.arange(n_out)[None, :]
    return g[(factor * (i0 + s) - t) % m]


def separable_factors(phi: np.ndarray, rtol: float = 1e-12) -> tuple[np.ndarray, np.ndarray] | None:
    """Fourier factors ``(a, b)`` with ``phi = a[:, None] * b[None, :]``, each of a real filter.

    Gaussian low-passes (Morlet banks: a periodised isotropic Gaussian) are separable, so their
    2D low-pass is two 1D low-passes (:func:`lowpass_matrix` on each axis). Returns ``None`` when
    ``phi`` is not rank one to ``rtol`` of its peak or a factor is not Hermitian (its filter
    would be complex in space).

    Parameters
    ----------
    phi : ndarray, shape (M, N), real or complex
    """
    peak = np.abs(phi).max()
    if peak == 0:
        return None
    i, j = np.unravel_index(np.argmax(np.abs(phi)), phi.shape)
    a, b = phi[:, j], phi[i, :] / phi[i, j]
    if np.abs(np.outer(a, b) - phi).max() > rtol * peak:
        return None
    # the factors are defined up to a constant: make a(0) real so both are Hermitian if phi is
    if abs(a[0]) <= rtol * np.abs(a).max():
        return None
    c = a[0] / abs(a[0])
    a, b = a / c, b * c

    def hermitian(v):
        return np.abs(v - np.conj(np.roll(v[::-1], 1))).max() <= rtol * np.abs(v).max()

    if not (hermitian(a) and hermitian(b)):
        return None
    return a, b


def periodise(h: np.ndarray, k: int) -> np.ndarray:
    """A 1D Fourier filter for a signal subsampled by ``2**k``: the mean of its ``2**k`` aliases.

    Parameters
    ----------
    h : ndarray, shape (..., M), ``M`` divisible by ``2**k``

    Returns
    -------
    ndarray, shape (..., M // 2**k)
    """
    return h.reshape(*h.shape[:-1], 2 ** k, -1).mean(axis=-2)
