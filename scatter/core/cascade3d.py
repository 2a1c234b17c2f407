"""The 3D solid harmonic scattering cascade (integral invariants), in plain torch operations.

For a density ``x`` on an ``(M, N, O)`` grid (Eickenberg, Exarchakis, Hirn, Mallat & Thiry,
J. Chem. Phys. 148, 241732, 2018; Kymatio 0.3's ``scattering3d`` core)::

    U1[j1, l](x)     = sqrt(sum_m |x * psi_{j1,l,m}|**2)                  (rotation covariant)
    U2[j1, j2, l](x) = sqrt(sum_m |U1[j1, l](x) * psi_{j2,l,m}|**2)         (j2 > j1, same l)
    S[., l, q]       = sum over the grid of U**q        for every q in integral_powers

(``rotation_covariant=False`` keeps only ``m = -l``: ``|x * psi_{j,l,-l}|``). Convolutions are
circular, products in the Fourier domain. Batches are cut into chunks whose intermediate maps
stay under a bound (``max_elements`` complex values), and the ``2l + 1`` orders ``m`` into groups
when one density alone would exceed it; the result does not depend on the chunking.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

_DIMS = (-3, -2, -1)


@dataclass(frozen=True)
class Filters3D:
    """What the 3D cascade reads.

    Attributes
    ----------
    psi : tuple of Tensor
        ``psi[l]``, complex, shape ``(J + 1, n_m, M, N, O)``: the Fourier filters of degree ``l``
        at every scale, ``n_m = 2l + 1`` (or 1: ``m = -l`` only, without rotation covariance).
    powers : tuple of float
        The exponents ``q`` of the integrals.
    max_order : int
        1 or 2.
    """

    psi: tuple
    powers: tuple
    max_order: int


def _integrals(u: torch.Tensor, powers: tuple) -> torch.Tensor:
    """``sum_x u(x)**q`` for each ``q``: ``(b, M, N, O)`` -> ``(b, P)``."""
    flat = u.reshape(u.shape[0], -1)
    out = []
    for q in powers:
        # exact shortcuts for the usual powers (cheaper than pow, the same to rounding)
        v = flat if q == 1 else flat.sqrt() if q == 0.5 else flat * flat if q == 2 else flat.pow(q)
        out.append(v.sum(1))
    return torch.stack(out, 1)


def _modulus(spectrum: torch.Tensor, psi_j: torch.Tensor, group: int) -> torch.Tensor:
    """``sqrt(sum_m |ifft(spectrum * psi_j[m])|**2)`` for a chunk ``(b, M, N, O)``, the ``m`` taken
    ``group`` at a time."""
    energy = None
    for start in range(0, psi_j.shape[0], group):
        y = torch.fft.ifftn(spectrum[:, None] * psi_j[start:start + group], dim=_DIMS)
        y = torch.view_as_real(y)
        part = (y * y).sum((1, -1))
        energy = part if energy is None else energy + part
    return energy.sqrt()


def cascade3d(x: torch.Tensor, filters: Filters3D, max_elements: int = 1 << 23) -> torch.Tensor:
    """Integral solid harmonic scattering of a batch.

    Parameters
    ----------
    x : Tensor, shape (B, M, N, O), real
    filters : Filters3D
    max_elements : int
        Bound on the complex values of one intermediate product ``(b, n_m, M, N, O)``.

    Returns
    -------
    Tensor, shape (B, K, L + 1, P), the dtype of ``x``
        ``K = J + 1`` paths of order 1 (by ``j1``), then, for ``max_order = 2``, the pairs
        ``(j1, j2)``, ``j1 < j2``, in lexicographic order; ``P`` powers.
    """
    B = x.shape[0]
    voxels = x[0].numel()
    widest = max(p.shape[1] for p in filters.psi)
    chunk = max(1, min(B, max_elements // (widest * voxels)))
    group = max(1, min(widest, max_elements // voxels))
    parts = [_cascade_chunk(x[start:start + chunk], filters, group) for start in range(0, B, chunk)]
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def _cascade_chunk(x: torch.Tensor, filters: Filters3D, group: int) -> torch.Tensor:
    spectrum = torch.fft.fftn(x, dim=_DIMS)
    powers, per_l = filters.powers, []
    for psi in filters.psi:
        n_scales = psi.shape[0]
        first, second = [], []
        for j1 in range(n_scales):
            u1 = _modulus(spectrum, psi[j1], group)
            first.append(_integrals(u1, powers))
            if filters.max_order == 2 and j1 + 1 < n_scales:
                u1_hat = torch.fft.fftn(u1, dim=_DIMS)
                for j2 in range(j1 + 1, n_scales):
                    second.append(_integrals(_modulus(u1_hat, psi[j2], group), powers))
        per_l.append(torch.stack(first + second, 1))        # (b, K, P)
    return torch.stack(per_l, 2)                              # (b, K, L + 1, P)
