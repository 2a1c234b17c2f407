"""The roto-translation scattering cascade, in plain torch operations.

For an image ``x`` on a periodic ``(M, N)`` grid (Sifre & Mallat, CVPR 2013; L. Sifre, PhD thesis,
Ecole polytechnique, 2014; Oyallon & Mallat, CVPR 2015), with ``A`` the spatial average (the
low-pass ``phi_J`` subsampled by ``2**J``, or the mean over the whole grid):

    U1 [j1](u, t)             = |x * psi_{j1, t}|(u)                       t in [0, L): angles in [0, pi)
    S0                        = A x
    S1 [j1](t)                = A U1[j1](., t)
    Sa [j1, k](t)             = |(A U1[j1]) ~*~ pbar_k|(t)                 (angular wavelet, no spatial one)

and for ``j2 > j1``, with ``~*~`` the cyclic convolution along the angle axis:

- joint (modulus after the spatial and the angular convolutions, Sifre & Mallat):

      S2 [j1, j2, mean](p)        = A |mean_t U1(., t) * psi_{j2, p}|                 p in [0, L)
      S2 [j1, j2, t2, none](t)    = A |U1(., t) * psi_{j2, t + t2}|                   t in [0, L)
      S2 [j1, j2, t2, k](t)       = A |(U1 ~*~ pbar_k)(., t) * psi_{j2, t + t2}|     t in [0, 2L)

  (the angular filters: the identity and the wavelets ``pbar_k``) where, for the wavelets, ``t``
  runs over the full circle ``[0, 2 pi)`` (``U1`` and the angular wavelets are
  ``pi``-periodic, the spatial wavelet ``psi_{j2, t + t2}`` is not: ``psi_{t + L}`` is the
  conjugate of ``psi_t``);

- separable (a spatial then an angular wavelet modulus, Oyallon & Mallat's separable design as
  we read it):

      S2 [j1, j2, t2, mean](t)    = A |U1(., t) * psi_{j2, t + t2}|                 t in [0, L)
      S2 [j1, j2, t2, k](t)       = |S2[j1, j2, t2, mean] ~*~ pbar_k|(t).

Rotating ``x`` by a multiple of ``pi / 2`` shifts every angle axis ``t`` cyclically (by ``L / 4``
per ``pi / 4`` step of the grid); averaging over ``t`` gives the invariants (the frontend does).
Relative angles ``t2`` and angular wavelets keep what varies together in space and angle.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .ops import fft, ifft


@dataclass(frozen=True)
class RotoScale2D:
    """The first-layer wavelets of one scale ``j1`` and the second-layer ones after them.

    Attributes
    ----------
    res : int
        log2 of the subsampling of ``U1[j1]`` (0 with a global average).
    psi : Tensor, shape (L, M, N)
        Fourier filters on the grid.
    later : tuple of (int, Tensor)
        For each ``j2 > j1``: the subsampling ``res2`` of the second-layer moduli and the wavelets
        of scale ``j2`` on ``U1``'s grid, ``psi2[t2, t] = psi_{j2, t + t2}`` for the ``2 L``
        angles ``t`` of the circle, shape ``(L, 2L, M / 2**res, N / 2**res)`` (``psi_{t + L}`` is
        ``psi_t`` mirrored).
    """

    res: int
    psi: torch.Tensor
    later: tuple


@dataclass(frozen=True)
class RotoFilters2D:
    """Everything :func:`roto_cascade2d` reads.

    Attributes
    ----------
    J, L : int
    max_order : {1, 2}
        Without order 2, neither ``Sa`` nor ``S2`` is computed.
    joint : bool
        The joint (Sifre-Mallat) or the separable (Oyallon-Mallat) second layer.
    global_average : bool
        Average over the whole grid instead of ``phi_J``.
    scales : tuple of RotoScale2D
        By increasing ``j1``.
    phi : tuple of (Tensor, Tensor)
        ``phi[r]``: real matrices ``(P, Q)`` of shapes ``(M / 2**J, M / 2**r)`` and
        ``(N / 2**r, N / 2**J)`` with ``P u Q`` the low-pass ``phi_J`` of a map ``u`` at resolution
        ``2**r``, subsampled to ``2**J`` (empty with a global average).
    angular : Tensor, complex, shape (K, L, L)
        Cyclic convolutions along angles with the angular wavelets (``scatter._angular``).
    """

    J: int
    L: int
    max_order: int
    joint: bool
    global_average: bool
    scales: tuple
    phi: tuple
    angular: torch.Tensor


def modulus(z: torch.Tensor) -> torch.Tensor:
    """``|z|`` as the norm of ``(re, im)``: on the CPU many times faster than ``z.abs()``, and its
    gradient at ``z = 0`` is 0 as well."""
    return torch.linalg.vector_norm(torch.view_as_real(z), dim=-1)


def fold(z: torch.Tensor, factor: int) -> torch.Tensor:
    """The spectrum of ``ifft(z)`` subsampled by ``factor`` on the last two axes: the mean of the
    ``factor**2`` alias blocks (as :func:`scatter.core.ops.subsample_fourier`), as sums of block
    views of the real pairs: on the CPU, torch's complex reductions over strided axes are tens of
    times slower."""
    if factor == 1:
        return z
    pairs = torch.view_as_real(z)
    m, n = z.shape[-2:]
    h, w = m // factor, n // factor
    out = None
    for a in range(factor):
        rows = pairs[..., a * h:(a + 1) * h, :, :]
        for b in range(factor):
            block = rows[..., b * w:(b + 1) * w, :]
            out = block if out is None else out + block
    return torch.view_as_complex(out * (1.0 / factor ** 2))


def product(z: torch.Tensor, filt: torch.Tensor) -> torch.Tensor:
    """``z * filt`` for complex spectra ``z`` and Fourier filters ``filt`` (broadcast): a real
    filter multiplies the real pairs of ``z`` (on the CPU, torch's broadcast complex-by-real
    products are several times slower)."""
    if filt.is_complex():
        return z * filt
    # the filter duplicated over the pair axis: a broadcast along that innermost axis of 2 is slow
    pairs = filt.unsqueeze(-1).expand(*filt.shape, 2).contiguous()
    return torch.view_as_complex(torch.view_as_real(z) * pairs)


def _average(u: torch.Tensor, filters: RotoFilters2D, res: int) -> torch.Tensor:
    """``A u`` for real maps ``u`` (..., m, n) at resolution ``2**res``: the mean over the grid
    (shape (...)), or the low-pass subsampled to ``2**J`` (shape (..., M / 2**J, N / 2**J)) as
    two matrix products (the Gaussian low-pass is separable)."""
    if filters.global_average:
        return u.mean((-2, -1))
    rows, cols = filters.phi[res]          # (h, m), (n, w)
    lead, (m, n) = u.shape[:-2], u.shape[-2:]
    v = (u.reshape(-1, n) @ cols).reshape(-1, m, cols.shape[1]).transpose(1, 2)     # (X, w, m)
    v = (v.reshape(-1, m) @ rows.T).reshape(-1, cols.shape[1], rows.shape[0])       # (X, w, h)
    return v.transpose(1, 2).reshape(*lead, rows.shape[0], cols.shape[1])


def _angular(u: torch.Tensor, filters: RotoFilters2D, dim: int) -> torch.Tensor:
    """Cyclic convolutions of ``u`` along its axis ``dim`` (of length L) with every angular
    wavelet: a new axis of length K just before ``dim``."""
    u = u.movedim(dim, -1).to(filters.angular.dtype)
    out = torch.einsum("kts,...s->...kt", filters.angular, u)
    return out.movedim(-1, dim).movedim(-1, dim)


def roto_cascade2d(x: torch.Tensor, filters: RotoFilters2D) -> torch.Tensor:
    """Roto-translation scattering coefficients of images on a periodic grid, angles not averaged.

    Parameters
    ----------
    x : Tensor, real, shape (B, M, N)
    filters : RotoFilters2D
        In ``x``'s dtype (complex ones in the matching complex dtype), on its device.

    Returns
    -------
    Tensor, shape (B, C) with a global average, else (B, C, M / 2**J, N / 2**J)
        Channels in the order of the module docstring: S0; S1 by (j1, t); Sa by (j1, k, t);
        S2 by (j1, j2, then [joint] the mean path by p and (t2, k, t), [both] (t2, k, t) with
        ``k = none`` first). The frontend averages over each run of ``t``.
    """
    x_hat = fft(x, 2)
    zeroth, first, angular, second = [_average(x, filters, 0)[:, None]], [], [], []
    for scale in filters.scales:
        u1 = modulus(ifft(fold(product(x_hat[:, None], scale.psi), 2 ** scale.res), 2))
        u1_hat = fft(u1, 2)                                               # (B, L, m1, n1)
        s1 = _average(u1, filters, scale.res)                             # (B, L[, h, w])
        first.append(s1)
        if filters.max_order == 2 and filters.angular.shape[0]:
            if filters.global_average:       # |U1 ~*~ pbar_k| averaged over the grid
                angular.append(modulus(_angular(u1, filters, 1)).mean((-2, -1)).flatten(1, 2))
            else:                            # |(A U1) ~*~ pbar_k|
                angular.append(modulus(_angular(s1, filters, 1)).flatten(1, 2))
        L = u1.shape[1]
        for res2, psi2 in scale.later:
            step = 2 ** (res2 - scale.res)
            if filters.joint:
                # the angular mean path: p indexes the absolute angle of psi_{j2}
                w = modulus(ifft(fold(product(u1_hat.mean(1, keepdim=True), psi2[0, :L]), step), 2))
                second.append(_average(w, filters, res2))                  # (B, L[, h, w])
                a_hat = _angular(u1_hat, filters, 1)                       # (B, K, L, m1, n1)
                a_hat = torch.cat([a_hat, a_hat], dim=2)                   # pi-periodic: 2L angles
                for t2 in range(L):
                    v = modulus(ifft(fold(product(u1_hat, psi2[t2, :L]), step), 2))   # no angular filter
                    second.append(_average(v, filters, res2))                  # (B, L[, h, w])
                    if filters.angular.shape[0]:
                        w = modulus(ifft(fold(product(a_hat, psi2[t2]), step), 2))
                        second.append(_average(w, filters, res2).flatten(1, 2))  # (B, K*2L[, h, w])
            else:
                for t2 in range(L):
                    v = modulus(ifft(fold(product(u1_hat, psi2[t2, :L]), step), 2))
                    p = _average(v, filters, res2)                         # (B, L[, h, w])
                    second.append(p)
                    if filters.angular.shape[0]:
                        second.append(modulus(_angular(p, filters, 1)).flatten(1, 2))
    return torch.cat(zeroth + first + angular + second, dim=1)
