"""Negative orders ``m`` of the solid harmonic moduli from the positive ones, exactly.

The solid harmonics satisfy ``Y_l^{-m} = (-1)**m conj(Y_l^m)`` and ``Y_l^m(-w) = (-1)**l Y_l^m(w)``,
so the Fourier filters of :func:`scatter.filters.solid_harmonic_3d` satisfy
``psi_hat_{-m}(k) = (-1)**m conj(psi_hat_m(-k))``; for a real map ``u`` this gives
``u * psi_{-m} = (-1)**m conj(u * psi_m)``: the ``l`` negative orders of a modulus need no
inverse FFT of their own (``l + 1`` instead of ``2l + 1``).

On Kymatio's grid the relation is not exact: along an axis of even length ``n`` the index
``n / 2`` holds the frequency ``-n / 2``, its own mirror, so on those Nyquist planes
``D_m = psi_hat_{-m}(k) - (-1)**m conj(psi_hat_m(-k))`` is not zero (it is zero everywhere else,
to the last bit: the bank builds ``psi_{-m}`` from ``psi_m`` by conjugation). Then::

    u * psi_{-m} = (-1)**m conj(u * psi_m) + ifft(u_hat D_m)

and the inverse FFT of a spectrum held by the plane ``k_0 = n_0 / 2`` is
``(-1)**x_0 ifft2(plane)(x_1, x_2) / n_0``: one 2D inverse FFT. The support of ``D_m`` is cut into
disjoint parts (the plane ``k_0 = n_0 / 2``; ``k_1 = n_1 / 2`` without it; ``k_2 = n_2 / 2``
without both), whose three 2D transforms add up to ``ifft(u_hat D_m)`` exactly.

On an axis of odd length Kymatio's grid puts the frequency origin at index ``n - 1``
(:func:`scatter.filters.kymatio_grid_3d`), the filters are then not mirror-symmetric at all,
and the moduli keep every order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..filters import FilterBank
from ..filters.bank import _flip as _negate  # a(-k) on the DFT grid, every axis

# A plane of D_m is dropped where it stays below this fraction of the rounding (eps of the
# dtype) of the filter's peak: its part of any convolution value is then bounded by 1e-8 of the
# bound on the inverse FFT's own rounding error (for sigma_j >= 4 at L <= 3, |D_m| ~ 1e-31 of
# the peak: the Gaussian's tail on the Nyquist planes).
DROP = 1e-8


@dataclass(frozen=True)
class Mirror:
    """The Nyquist corrections of one degree ``l`` and scale ``j``.

    Attributes
    ----------
    rows : dict of int to int
        ``m -> k`` for the orders ``m > 0`` whose ``D_m`` is not negligible: ``k`` indexes the
        planes. The other orders ``m > 0`` stand for ``-m`` as they are (weight 2).
    planes : tuple of (Tensor or None)
        ``(-1)**m D_m`` of the rows, complex, on the planes ``k_0 = M / 2`` (shape
        ``(rows, N, O)``), ``k_1 = N / 2`` (``(rows, M, O)``, zero on ``k_0 = M / 2``) and
        ``k_2 = O / 2`` (``(rows, M, N)``, zero on ``k_0 = M / 2`` and ``k_1 = N / 2``): disjoint
        parts of the support. ``None`` for a plane negligible in every row.
    """

    rows: dict
    planes: tuple


def mirror_corrections(bank: FilterBank, J: int, L: int, dtype: torch.dtype,
                       device: torch.device | str = "cpu") -> tuple | None:
    """The Nyquist-plane corrections ``D_m`` of every degree, scale and order ``m > 0``.

    Parameters
    ----------
    bank : FilterBank
        :func:`scatter.filters.solid_harmonic_3d`'s bank (float64), on a grid ``(M, N, O)``.
    J, L : int
        Its largest scale and degree.
    dtype : torch.dtype
        Real dtype of the network (the planes are complex of that precision).
    device : torch.device or str

    Returns
    -------
    None
        Where an axis has odd length (no symmetry to use).
    tuple
        ``out[l][j]``, a :class:`Mirror`, for ``l = 1..L`` and ``j = 0..J``; ``out[0] = None``.
        A plane is dropped where ``D_m`` stays below ``DROP`` times the dtype's rounding of the
        filter's peak there.
    """
    shape = bank.shape
    if any(n % 2 for n in shape):
        return None
    h = [n // 2 for n in shape]
    index = _filter_index(bank)
    complex_dtype = {torch.float32: torch.complex64, torch.float64: torch.complex128}[dtype]
    eps = torch.finfo(dtype).eps
    out = [None]
    for l in range(1, L + 1):
        per_j = []
        for j in range(J + 1):
            kept = {}                              # m -> its three planes (or None)
            for m in range(1, l + 1):
                pos, neg = bank.psi[index[l, j, m]], bank.psi[index[l, j, -m]]
                sign = (-1) ** m
                # (-1)**m conj(psi_m(-k)) on each plane: -n/2 is n/2 modulo n, so the plane is
                # its own mirror and only the two other axes are negated
                planes = [neg[h[0]] - sign * np.conj(_negate(pos[h[0]])),
                          neg[:, h[1]] - sign * np.conj(_negate(pos[:, h[1]])),
                          neg[:, :, h[2]] - sign * np.conj(_negate(pos[:, :, h[2]]))]
                planes[1][h[0]] = 0              # held by the first plane
                planes[2][h[0]] = 0
                planes[2][:, h[1]] = 0           # held by the second
                floor = DROP * eps * np.abs(neg).max()
                planes = [sign * p if np.abs(p).max() > floor else None for p in planes]
                if any(p is not None for p in planes):
                    kept[m] = planes
            rows = {m: k for k, m in enumerate(kept)}
            stacked = []
            for axis in range(3):
                if all(kept[m][axis] is None for m in kept):
                    stacked.append(None)
                    continue
                plane_shape = tuple(n for a, n in enumerate(shape) if a != axis)
                stack = np.stack([np.zeros(plane_shape, complex) if kept[m][axis] is None
                                  else kept[m][axis] for m in kept])
                stacked.append(torch.from_numpy(stack).to(device, complex_dtype))
            per_j.append(Mirror(rows=rows, planes=tuple(stacked)))
        out.append(tuple(per_j))
    return tuple(out)


def hermitian_degrees(bank: FilterBank, J: int, L: int) -> tuple:
    """Whether each degree's order-0 filters are Hermitian to the last bit at every scale:
    ``psi_hat_{j,l,0}(k) == conj(psi_hat_{j,l,0}(-k))``, so that ``u * psi_{j,l,0}`` is real
    for a real ``u`` (even degrees on grids of even sizes: their ``Y_l^0`` is even in ``w``
    and ``(-i)**l`` real; odd degrees break it on the Nyquist planes, odd sizes everywhere).

    Returns
    -------
    tuple of bool, one per degree ``l = 0..L``
    """
    index = _filter_index(bank)
    out = []
    for l in range(L + 1):
        filters = (bank.psi[index[l, j, 0]] for j in range(J + 1))
        out.append(all(np.array_equal(f, np.conj(_negate(f))) for f in filters))
    return tuple(out)


def _filter_index(bank: FilterBank) -> dict:
    """Map ``(l, j, m)`` to the index of that filter in the bank."""
    ls, js, ms = (np.asarray(bank.meta[k]) for k in ("l", "j", "m"))
    return {(int(l), int(j), int(m)): i for i, (l, j, m) in enumerate(zip(ls, js, ms))}
