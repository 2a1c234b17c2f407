"""3D solid harmonic wavelets (Gaussian-windowed solid harmonics), sampled in the Fourier domain."""
from __future__ import annotations

import math

import numpy as np

from .._validation import check_float, check_int, check_shape
from .bank import FilterBank


def solid_harmonics(x: np.ndarray, y: np.ndarray, z: np.ndarray, l: int) -> np.ndarray:
    """The regular solid harmonics ``r**l Y_l^m(x / r)`` for ``m = -l, ..., l``, in float64.

    Polynomials in ``(x, y, z)``, so no angle is computed (and the origin needs no special case).
    With ``t = cos(theta) = z / r``, the associated Legendre functions (Condon-Shortley phase
    included, as in SciPy and most physics texts) satisfy ``P_l^m(t) = (1 - t**2)**(m/2) q_l^m(t)``
    with ``q_l^m`` a polynomial; ``Q_l^m = r**(l-m) q_l^m(z / r)`` then follows the recurrence
    (the standard three-term recurrence of ``P_l^m`` in ``l``, multiplied by ``r**l / sin(theta)**m``)::

        Q_m^m     = (-1)**m (2m - 1)!!
        Q_{m+1}^m = (2m + 1) z Q_m^m
        (l - m) Q_l^m = (2l - 1) z Q_{l-1}^m - (l + m - 1) r**2 Q_{l-2}^m

    and, for ``m >= 0``, ``r**l Y_l^m = N_lm Q_l^m (x + i y)**m`` with
    ``N_lm = sqrt((2l + 1) / (4 pi) (l - m)! / (l + m)!)``, while
    ``Y_l^{-m} = (-1)**m conj(Y_l^m)`` (e.g. Abramowitz & Stegun 8.5.3, 8.1.2; Helgaker,
    Jorgensen & Olsen, *Molecular Electronic-Structure Theory*, 2000, section 6.4.2).

    Parameters
    ----------
    x, y, z : ndarray of float64, broadcastable
        Cartesian coordinates; ``theta`` is measured from ``+z``, ``phi = atan2(y, x)``.
    l : int >= 0
        Degree.

    Returns
    -------
    ndarray, complex128, shape (2l + 1, *broadcast shape)
        Row ``m + l`` holds ``r**l Y_l^m``.

    Examples
    --------
    >>> import numpy as np
    >>> from scatter.filters import solid_harmonics
    >>> Y = solid_harmonics(np.array(0.0), np.array(0.0), np.array(2.0), l=1)   # on the z axis
    >>> np.round(np.abs(Y), 6).tolist()                 # only m = 0: 2 * sqrt(3 / (4 pi))
    [0.0, 0.977205, 0.0]
    """
    l = check_int("l", l, minimum=0)
    x, y, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, y, z)))
    r2 = x * x + y * y + z * z
    out = np.empty((2 * l + 1,) + x.shape, dtype=np.complex128)
    xy = np.ones(x.shape, dtype=np.complex128)       # (x + i y)**m
    for m in range(l + 1):
        if m > 0:
            xy = xy * (x + 1j * y)
        q_prev = np.zeros(x.shape)
        q = np.full(x.shape, (-1.0) ** m * _double_factorial(2 * m - 1))
        for n in range(m + 1, l + 1):          # Q_n^m from Q_{n-1}^m, Q_{n-2}^m
            q, q_prev = ((2 * n - 1) * z * q - (n + m - 1) * r2 * q_prev) / (n - m), q
        norm = math.sqrt((2 * l + 1) / (4 * math.pi) * math.factorial(l - m) / math.factorial(l + m))
        out[l + m] = norm * q * xy
        if m > 0:
            out[l - m] = (-1) ** m * np.conj(out[l + m])
    return out


def _double_factorial(n: int) -> int:
    return math.prod(range(n, 0, -2)) if n > 0 else 1


def kymatio_grid_3d(shape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kymatio 0.3's integer frequency (or space) coordinates of an ``(M, N, O)`` grid.

    Along an axis of length ``n``, ``ifftshift(arange(-n // 2, -n // 2 + n))``: the DFT's order
    (index 0 is the origin) for even ``n``. For odd ``n`` this puts the origin at index ``n - 1``
    rather than 0, a quirk of Kymatio's 3D filters that the bank keeps so that networks match
    Kymatio's numbers on odd grids too.

    Parameters
    ----------
    shape : (int, int, int)

    Returns
    -------
    k0, k1, k2 : ndarray of float64, broadcastable to ``shape`` (shapes ``(M,1,1)``, ``(1,N,1)``,
        ``(1,1,O)``)

    Examples
    --------
    >>> from scatter.filters import kymatio_grid_3d
    >>> k0, k1, k2 = kymatio_grid_3d((4, 4, 5))
    >>> k0.ravel().tolist(), k2.ravel().tolist()
    ([0.0, 1.0, -2.0, -1.0], [-1.0, 0.0, 1.0, -3.0, -2.0])
    """
    shape = check_shape("shape", shape, 3)
    axes = []
    for axis, n in enumerate(shape):
        k = np.fft.ifftshift(np.arange(-n // 2, -n // 2 + n, dtype=np.float64))
        view = [1, 1, 1]
        view[axis] = n
        axes.append(k.reshape(view))
    return tuple(axes)


def solid_harmonic_norm(l: int) -> float:
    """Kymatio 0.3's normalisation constant of the degree-``l`` solid harmonic wavelets.

    ``1 / (2 pi sqrt(l + 1/2) (l + 1)!!)`` for even ``l``, ``1 / (2**((l + 3)/2) sqrt(pi (2l + 1))
    ((l + 1)/2)!)`` for odd ``l`` (``l = 0`` is not normalised: it is the plain Gaussian).

    Parameters
    ----------
    l : int >= 0

    Returns
    -------
    float

    Examples
    --------
    >>> from scatter.filters import solid_harmonic_norm
    >>> round(solid_harmonic_norm(1), 6)
    0.081434
    """
    l = check_int("l", l, minimum=0)
    if l % 2 == 0:
        return 1.0 / (2 * math.pi * math.sqrt(l + 0.5) * _double_factorial(l + 1))
    return 1.0 / (2 ** (0.5 * (l + 3)) * math.sqrt(math.pi * (2 * l + 1)) * math.factorial((l + 1) // 2))


def solid_harmonic_3d(shape, J: int, L: int = 3, sigma_0: float = 1.0) -> FilterBank:
    r"""Solid harmonic wavelets at dyadic scales, sampled in the Fourier domain.

    The wavelets of Eickenberg, Exarchakis, Hirn, Mallat & Thiry ("Solid harmonic wavelet
    scattering for predictions of molecule properties", J. Chem. Phys. 148, 241732, 2018): a
    Gaussian times a regular solid harmonic,
    ``psi_{l,m}(x) ~ |x|**l Y_l^m(x / |x|) exp(-|x|**2 / 2)``, dilated to
    ``sigma_j = sigma_0 * 2**j``. The Fourier transform of such a function is a function of the
    same form (Hecke's identity), so the bank is sampled directly in frequency as Kymatio 0.3
    does, for ``l > 0``::

        psi_hat_{j,l,m}(w) = (2 pi)**1.5 (-i)**l c_l sigma_j**l |w|**l Y_l^m(w / |w|)
                             exp(-sigma_j**2 |w|**2 / 2)

    with ``c_l`` :func:`solid_harmonic_norm`, and ``psi_hat_{j,0,0}(w) = exp(-sigma_j**2 |w|**2 / 2)``
    (the ``l = 0`` "wavelets" are Gaussian low-passes). ``w = 2 pi k / n`` per axis on the grid of
    :func:`kymatio_grid_3d`; the angles are Kymatio's (axis 0 is ``-z``, axis 1 ``y``, axis 2
    ``x``: its polar angle is measured from ``-w_0``). The solid harmonics are polynomials
    (:func:`solid_harmonics`), independent of SciPy's spherical harmonics.

    The sum over ``m`` of ``|psi_hat_{j,l,m}|**2`` is radial (the addition theorem
    ``sum_m |Y_l^m|**2 = (2l + 1) / (4 pi)``), so the modulus
    ``sqrt(sum_m |x * psi_{j,l,m}|**2)`` is covariant to rotations.

    Parameters
    ----------
    shape : (int, int, int)
        Grid ``(M, N, O)``.
    J : int >= 0
        Largest scale index: scales ``j = 0, ..., J`` (``J + 1`` of them, as Kymatio).
    L : int >= 0
        Largest degree: ``l = 0, ..., L``.
    sigma_0 : float > 0
        Width in samples of the finest wavelet.

    Returns
    -------
    FilterBank
        ``psi`` complex128 of shape ``((J + 1) (L + 1)**2, M, N, O)`` ordered by ``l``, then
        ``j``, then ``m = -l..l`` (Kymatio's ``filters[l][j][m]``); ``meta``: ``'l'``, ``'m'``,
        ``'j'``, ``'sigma'``; ``phi`` is ``None`` (the ``l = 0`` filters are the low-passes).

    Examples
    --------
    >>> from scatter import filters
    >>> bank = filters.solid_harmonic_3d((16, 16, 16), J=2, L=2)
    >>> bank.psi.shape, bank.psi.dtype, bank.ndim
    ((27, 16, 16, 16), dtype('complex128'), 3)
    >>> bank.meta["l"][:6].tolist(), bank.meta["m"][3:6].tolist()
    ([0, 0, 0, 1, 1, 1], [-1, 0, 1])
    """
    shape = check_shape("shape", shape, 3)
    J = check_int("J", J, minimum=0)
    L = check_int("L", L, minimum=0)
    sigma_0 = check_float("sigma_0", sigma_0, positive=True)
    k0, k1, k2 = kymatio_grid_3d(shape)
    w0, w1, w2 = (2 * np.pi * k / n for k, n in zip((k0, k1, k2), shape))
    r2 = w0 ** 2 + w1 ** 2 + w2 ** 2
    harmonics = [solid_harmonics(w2, w1, -w0, l) for l in range(L + 1)]
    psi, meta = [], {"l": [], "m": [], "j": [], "sigma": []}
    for l in range(L + 1):
        for j in range(J + 1):
            sigma = sigma_0 * 2 ** j
            gaussian = np.exp(-0.5 * sigma ** 2 * r2)
            if l == 0:
                filters_lj = np.broadcast_to(gaussian, (1,) + shape).astype(np.complex128)
            else:
                scale = (2 * np.pi) ** 1.5 * (-1j) ** l * solid_harmonic_norm(l) * sigma ** l
                filters_lj = scale * harmonics[l] * gaussian
            psi.append(np.broadcast_to(filters_lj, (2 * l + 1,) + shape))
            meta["l"] += [l] * (2 * l + 1)
            meta["m"] += list(range(-l, l + 1))
            meta["j"] += [j] * (2 * l + 1)
            meta["sigma"] += [sigma] * (2 * l + 1)
    return FilterBank(np.concatenate(psi), None, meta, name="solid_harmonic",
                      params={"shape": shape, "J": J, "L": L, "sigma_0": sigma_0})
