"""Periodic wavelets along the orientation axis, for roto-translation scattering.

The first scattering layer ``|x * psi_{j, theta}|`` of a real image is periodic in ``theta`` with
period ``pi`` (``psi_{theta + pi}`` is the complex conjugate of ``psi_theta`` for Morlet
wavelets), sampled at ``L`` angles. The filters here act on that periodic axis of ``L`` samples.

Design (ours, after the angular Morlet wavelets of Sifre & Mallat, CVPR 2013, and L. Sifre's
thesis, 2014): for ``k = 0 .. K-1`` a complex Morlet wavelet on the cyclic frequency grid
``m in Z / L Z`` (``m`` cycles per period ``pi``), centred at ``xi_k = L / 2**(k + 2)`` with a
Gaussian width ``xi_k / 2``, periodised over the neighbouring copies of the grid and made zero
mean by subtracting its Gaussian envelope times ``beta``:

    psi_k(m) = sum_p  g(m + p L - xi_k) - beta_k g(m + p L),   g(f) = exp(-f**2 / (2 s_k**2)),

normalised to a peak of 1. The low-pass of the bank is the plain mean over the ``L`` angles
(``m = 0`` only): what remains after it is invariant to rotations, which is the purpose. Only
positive frequencies are kept (an analytic wavelet); the conjugate wavelet ``conj(psi_k)`` covers
the negative ones.
"""
from __future__ import annotations

import numpy as np

from ._validation import check_int


def max_angular_scales(L: int) -> int:
    """The largest ``K`` for ``L`` angles: the coarsest wavelet is centred at 1 cycle per ``pi``."""
    return max(0, int(np.floor(np.log2(L))) - 1)


def angular_morlet(L: int, K: int) -> np.ndarray:
    """Fourier transforms of the ``K`` angular Morlet wavelets on ``L`` periodic samples.

    Parameters
    ----------
    L : int >= 2
        Number of angles in one period (``pi``).
    K : int, 0 <= K <= max_angular_scales(L)
        Number of wavelets (dyadic centre frequencies ``L / 4, L / 8, ...``).

    Returns
    -------
    ndarray, float64, shape (K, L)
        ``psi_hat[k, m]`` on the unshifted DFT grid (``m = 0 .. L-1``); real in frequency, so
        the wavelets are complex (Hermitian-free, analytic) in angle.
    """
    L = check_int("L", L, minimum=2)
    K = check_int("K", K, minimum=0, maximum=max_angular_scales(L))
    m = np.arange(L, dtype=np.float64)
    m = np.where(m > L / 2, m - L, m)               # signed frequencies, Nyquist counted positive
    out = np.empty((K, L))
    for k in range(K):
        xi = L / 2.0 ** (k + 2)
        s = xi / 2.0
        shifts = m[None, :] + L * np.arange(-3, 4)[:, None]

        def g(f):
            return np.exp(-f ** 2 / (2 * s ** 2))

        wave, envelope = g(shifts - xi).sum(0), g(shifts).sum(0)
        beta = wave[0] / envelope[0]                # zero mean: psi(m = 0) = 0
        psi = wave - beta * envelope
        out[k] = psi / np.abs(psi).max()
    return out


def circulant(psi_hat: np.ndarray) -> np.ndarray:
    """Matrices ``C[k]`` (L, L), complex128, with ``(C[k] @ u)[t] = sum_s psi_k(t - s) u[s]``:
    the cyclic convolution along angles of ``u`` with the wavelet whose DFT is ``psi_hat[k]``."""
    L = psi_hat.shape[-1]
    h = np.fft.ifft(psi_hat, axis=-1)                              # (K, L): the wavelets in angle
    t = np.arange(L)
    return h[:, (t[:, None] - t[None, :]) % L]
