"""The 2D scattering cascade, written once in plain torch operations.

For an image ``x`` reflection-padded to ``(M_p, N_p)`` (Bruna & Mallat, IEEE TPAMI 2013;
Kymatio 0.3's ``scattering2d`` core):

    S0 x                  = x * phi_J
    S1 x [j1, t1]         = |x * psi_{j1,t1}| * phi_J
    S2 x [j1, t1, j2, t2] = ||x * psi_{j1,t1}| * psi_{j2,t2}| * phi_J          (j2 > j1)

each subsampled by ``2**J`` and unpadded by one sample on every side. Convolutions are products
in the Fourier domain; the modulus of a wavelet of scale ``j`` is kept at the resolution
``2**res[j]`` its band allows (``res[j] = j`` for Morlet wavelets). The filters come prepared in a
:class:`Filters2D`; this module decides nothing about devices, dtypes or speed.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .ops import fft, ifft, modulus, subsample_fourier


@dataclass(frozen=True)
class Scale2D:
    """The wavelets of one scale ``j`` and what follows them.

    Attributes
    ----------
    res : int
        log2 of the subsampling of their moduli.
    psi : Tensor, shape (K, M_p, N_p), real or complex
        Fourier filters on the padded grid.
    later : tuple of (int, Tensor)
        For each later scale ``j2 > j``: ``res[j2]`` and its wavelets at this scale's resolution,
        shape ``(K2, M_p / 2**res, N_p / 2**res)`` (empty when ``max_order == 1``).
    """

    res: int
    psi: torch.Tensor
    later: tuple


@dataclass(frozen=True)
class Filters2D:
    """Everything the 2D cascade reads: the scales in order and the low-pass at each resolution.

    Attributes
    ----------
    J : int
        The output is averaged over and subsampled by ``2**J``.
    scales : tuple of Scale2D
        By increasing ``j``.
    phi : tuple of Tensor
        ``phi[r]``, shape ``(M_p / 2**r, N_p / 2**r)``: the low-pass for maps at resolution
        ``2**r``, ``r = 0 .. J - 1``.
    """

    J: int
    scales: tuple
    phi: tuple


def lowpass(u_hat: torch.Tensor, filters: Filters2D, res: int) -> torch.Tensor:
    """``u * phi_J`` from the spectrum of a map at resolution ``2**res``, subsampled to ``2**J``
    and unpadded: shape ``(..., M_p / 2**J - 2, N_p / 2**J - 2)``, real."""
    s = ifft(subsample_fourier(u_hat * filters.phi[res], 2 ** (filters.J - res), 2), 2).real
    return s[..., 1:-1, 1:-1]


def cascade2d(x: torch.Tensor, filters: Filters2D) -> torch.Tensor:
    """Scattering coefficients of padded images.

    Parameters
    ----------
    x : Tensor, real, shape (B, M_p, N_p)
    filters : Filters2D
        In ``x``'s dtype (complex filters in the matching complex dtype) and on its device.

    Returns
    -------
    Tensor, shape (B, C, M_p / 2**J - 2, N_p / 2**J - 2)
        Channels in Kymatio's order: S0; S1 by (j1, t1); S2 by (j1, t1, j2, t2).
    """
    x_hat = fft(x, 2)
    first, second = [lowpass(x_hat, filters, 0)[:, None]], []
    for scale in filters.scales:
        u1 = modulus(ifft(subsample_fourier(x_hat[:, None] * scale.psi, 2 ** scale.res, 2), 2))
        u1_hat = fft(u1, 2)                                                    # (B, K1, m, n)
        first.append(lowpass(u1_hat, filters, scale.res))
        s2 = []
        for res2, psi2 in scale.later:
            u2 = modulus(ifft(subsample_fourier(u1_hat[:, :, None] * psi2, 2 ** (res2 - scale.res), 2), 2))
            s2.append(lowpass(fft(u2, 2), filters, res2))                      # (B, K1, K2, h, w)
        if s2:
            second.append(torch.cat(s2, dim=2).flatten(1, 2))
    return torch.cat(first + second, dim=1)
