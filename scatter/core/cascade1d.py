"""The 1D scattering cascade, written once in plain torch operations.

For a signal ``x`` reflection-padded to ``N_p`` samples (Andén & Mallat, IEEE TSP 2014; Kymatio
0.3's ``scattering1d`` core):

    S0 x          = x * phi
    S1 x [n1]     = |x * psi1_{n1}| * phi
    S2 x [n1, n2] = ||x * psi1_{n1}| * psi2_{n2}| * phi                   (j2 > j1)

Each wavelet modulus is kept at a resolution ``2**k`` its band allows and every averaged map
is subsampled to ``2**max(log2 T - oversampling, 0)``; without averaging (``T = 0``) the moduli
themselves are returned. Fourier subsampling is the mean of the aliases and filters used on
subsampled maps are periodised the same way. The filters come prepared in a :class:`Filters1D`;
this module decides nothing about devices, dtypes or speed.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .ops import fft, ifft, modulus, subsample_fourier


@dataclass(frozen=True)
class Scale1D:
    """A group of wavelets whose moduli share one subsampling, and what follows them.

    Attributes
    ----------
    k : int
        log2 of the subsampling of their moduli, relative to the maps they filter.
    psi : Tensor, shape (K, m), real or complex
        Fourier filters on the grid of the maps they filter.
    later : tuple of Scale1D
        Second-order groups applied to these moduli (their ``psi`` periodised to this group's
        resolution; each covers every ``n1`` of this group).
    """

    k: int
    psi: torch.Tensor
    later: tuple


@dataclass(frozen=True)
class Filters1D:
    """Everything the 1D cascade reads.

    Attributes
    ----------
    scales : tuple of Scale1D
        The first-order groups.
    phi : tuple of Tensor
        ``phi[r]``, shape ``(N_p / 2**r,)``: the low-pass for maps at resolution ``2**r``
        (empty without averaging).
    average_k : tuple of int
        ``average_k[r]``: log2 of the subsampling after the low-pass at resolution ``2**r``.
    bounds : tuple of (int, int)
        ``bounds[k]``: the samples of the unpadded signal in a map subsampled by ``2**k``.
    order : tuple of int
        Permutation from the cascade's order of the paths to Kymatio's (S0; S1 by n1;
        S2 by (n1, n2)).
    order_index : Tensor, int64
        The same permutation as a tensor (on the filters' device).
    """

    scales: tuple
    phi: tuple
    average_k: tuple
    bounds: tuple
    order: tuple
    order_index: torch.Tensor


def unpad(y: torch.Tensor, filters: Filters1D, k: int) -> torch.Tensor:
    """The samples of the unpadded signal in maps ``y`` subsampled by ``2**k``."""
    i0, i1 = filters.bounds[k]
    return y[..., i0:i1]


def lowpass(u_hat: torch.Tensor, filters: Filters1D, res: int) -> torch.Tensor:
    """``u * phi`` from the spectrum of maps at resolution ``2**res``, subsampled and unpadded."""
    k = filters.average_k[res]
    s = ifft(subsample_fourier(u_hat * filters.phi[res], 2 ** k, 1), 1).real
    return unpad(s, filters, res + k)


def cascade1d(x: torch.Tensor, x_padded: torch.Tensor, filters: Filters1D, average: bool):
    """Scattering coefficients of signals.

    Parameters
    ----------
    x : Tensor, real, shape (B, N)
        The signals (S0 without averaging).
    x_padded : Tensor, real, shape (B, N_p)
    filters : Filters1D
        In ``x``'s dtype (complex filters in the matching complex dtype) and on its device.
    average : bool
        Low-pass every path (``False``: the moduli, unpadded, as Kymatio's ``T=0``).

    Returns
    -------
    Tensor, shape (B, C, N_out), averaged; else a list of C tensors ``(B, n_c)``. Paths in
    Kymatio's order.
    """
    x_hat = fft(x_padded, 1)
    maps = [lowpass(x_hat, filters, 0)[:, None] if average else x[:, None]]
    for scale in filters.scales:
        u1 = modulus(ifft(subsample_fourier(x_hat[:, None] * scale.psi, 2 ** scale.k, 1), 1))
        u1_hat = fft(u1, 1)                                                     # (B, K1, m1)
        maps.append(lowpass(u1_hat, filters, scale.k) if average else unpad(u1, filters, scale.k))
        for later in scale.later:
            res = scale.k + later.k
            u2 = modulus(ifft(subsample_fourier(u1_hat[:, :, None] * later.psi, 2 ** later.k, 1), 1))
            s2 = lowpass(fft(u2, 1), filters, res) if average else unpad(u2, filters, res)
            maps.append(s2.flatten(1, 2))                                       # (B, K1 K2, n)
    if average:
        return torch.cat(maps, dim=1).index_select(1, filters.order_index)
    paths = [path for m in maps for path in m.unbind(1)]
    return [paths[i] for i in filters.order]
