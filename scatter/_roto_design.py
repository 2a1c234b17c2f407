"""Float64 designs of the roto-translation scattering filters, shared by the plain cascade
(:func:`scatter.core.roto_cascade2d`) and its CPU engine (:mod:`scatter.engine.roto2d`).

The grid is periodic and unpadded; Kymatio's Morlet bank supplies the spatial wavelets.
"""
from __future__ import annotations

import numpy as np

from ._design import crop_fourier, lowpass_matrix, separable_factors


def crop_symmetric(filters: np.ndarray, factor: int) -> np.ndarray:
    """The low-frequency block of Fourier filters for a grid ``factor`` times coarser, with the
    Nyquist bins symmetrised.

    As :func:`scatter._design.crop_fourier` (Kymatio's periodisation of Morlet filters), except
    that the Nyquist bin of each axis of the coarse grid, which stands for both frequencies
    ``-n / 2`` and ``+n / 2``, gets the mean of the filter at those two: a filter bank closed
    under rotations by ``pi / 2`` on the fine grid stays closed on the coarse one (a plain crop
    keeps ``-n / 2`` only, which breaks that symmetry).

    Parameters
    ----------
    filters : ndarray, shape (..., M, N)
    factor : int, a power of two dividing M and N

    Returns
    -------
    ndarray, shape (..., M // factor, N // factor)
    """
    if factor == 1:
        return filters
    out = filters
    for axis in (-2, -1):
        n = out.shape[axis]
        half = n // (2 * factor)
        nyquist = 0.5 * (np.take(out, [n - half], axis=axis) + np.take(out, [half], axis=axis))
        out = crop_fourier(out, factor, axes=(axis,))
        index = [slice(None)] * out.ndim
        index[axis] = slice(half, half + 1)
        out[tuple(index)] = nyquist
    return out


def mirror(psi: np.ndarray) -> np.ndarray:
    """Fourier filters of ``psi(-u)``: ``psi_hat(-w)`` on the unshifted DFT grid (for a Morlet
    wavelet, the wavelet of the opposite direction, ``theta + pi``)."""
    return np.roll(psi[..., ::-1, ::-1], 1, axis=(-2, -1))


def circle(psi: np.ndarray, factor: int) -> np.ndarray:
    """The ``L`` wavelets of one scale (angles in ``[0, pi)``) and their mirrors: the ``2 L``
    angles of the full circle, on the grid ``factor`` times coarser.

    Parameters
    ----------
    psi : ndarray, real, shape (L, M, N)
        Fourier filters of one scale, by increasing angle.
    factor : int

    Returns
    -------
    ndarray, shape (2L, M // factor, N // factor)
        ``out[t]`` is ``psi_{t mod L}``, mirrored for ``t >= L``.
    """
    cropped = crop_symmetric(psi, factor)
    return np.concatenate([cropped, mirror(cropped)])


def lowpass_matrices(phi: np.ndarray, J: int, r: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(P, Q)`` with ``P u Q`` the low-pass ``phi`` of a real map ``u`` at resolution ``2**r``
    subsampled to ``2**J``: the separable Gaussian's two factors as matrices
    (:func:`scatter._design.lowpass_matrix`), on the symmetrically cropped spectrum.

    Returns
    -------
    (ndarray (M / 2**J, M / 2**r), ndarray (N / 2**r, N / 2**J)), or None where ``phi`` is not
    separable.
    """
    factors = separable_factors(crop_symmetric(phi, 2 ** r))
    if factors is None:
        return None
    a, b = factors
    step = 2 ** (J - r)
    return (lowpass_matrix(a, step, 0, a.size // step).T.copy(), lowpass_matrix(b, step, 0, b.size // step))
