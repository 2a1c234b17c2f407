"""Kymatio's 2D Morlet filter bank, designed in float64 and vectorised."""
from __future__ import annotations

import math

import numpy as np

from .._validation import check_float, check_int, check_scales_fit, check_shape
from .bank import FilterBank

# Kymatio 0.3 normalises its 2D Gabor envelope by 2 * 3.1415 * sigma^2 / slant, with 3.1415 and not
# pi. The default bank keeps that constant so that it gives Kymatio's numbers; ``exact_pi=True``
# uses pi instead (a global factor of 1.00003 on every filter).
_KYMATIO_PI = 3.1415

# Periodised copies whose envelope stays below this fraction of the peak are not summed: they
# change no float64 digit of the filter.
_ENVELOPE_FLOOR = 1e-20


def morlet_2d(shape, J: int, L: int = 8, sigma0: float = 0.8, xi0: float = 3 * math.pi / 4,
              slant: float | None = None, exact_pi: bool = False) -> FilterBank:
    """Kymatio's bank of 2D Morlet wavelets and its Gaussian low-pass, in the Fourier domain.

    For scale ``j`` in ``0..J-1`` and angle index ``theta`` in ``0..L-1`` the wavelet is
    ``psi(u) = g(u) (exp(i xi . u) - beta)`` with an elliptic Gaussian envelope ``g`` of width
    ``sigma = sigma0 * 2**j`` (and ``sigma / slant`` across), centre frequency
    ``|xi| = xi0 / 2**j`` rad/sample at orientation ``(floor(L/2) - 1 - theta) * pi / L`` (Kymatio's
    order), and ``beta`` chosen so that ``psi`` has zero mean. The low-pass is the isotropic
    Gaussian of width ``sigma0 * 2**(J-1)``. Every filter is periodised on the grid (summing the
    translated copies that matter), as in Kymatio 0.3's ``filter_bank(M, N, J, L)``; see
    Bruna & Mallat, "Invariant Scattering Convolution Networks", IEEE TPAMI 2013.

    Parameters
    ----------
    shape : tuple of int (M, N)
        Grid the filters are sampled on (a scattering network uses its padded size).
    J : int >= 1
        Number of scales; the low-pass averages over ``2**J`` pixels. ``2**J <= min(M, N)``.
    L : int >= 1
        Number of orientations in ``[0, pi)``.
    sigma0 : float > 0
        Envelope width at the finest scale, in pixels (Kymatio: 0.8).
    xi0 : float > 0
        Centre frequency at the finest scale, in radians/sample (Kymatio: 3 pi / 4).
    slant : float > 0, optional
        Aspect ratio of the envelope (Kymatio: ``4 / L``).
    exact_pi : bool
        Normalise with pi rather than Kymatio's 3.1415.

    Returns
    -------
    FilterBank
        ``psi`` float64 of shape ``(J * L, M, N)`` (the Fourier transforms are real), ordered by
        ``(j, theta)``; ``phi`` float64 ``(M, N)``; meta ``'j'``, ``'theta'`` (index), ``'angle'``
        (radians), ``'xi'`` (cycles/sample), ``'sigma'`` (pixels), ``'slant'``.

    Examples
    --------
    >>> from scatter.filters import morlet_2d
    >>> bank = morlet_2d((64, 64), J=3, L=8)
    >>> bank.psi.shape
    (24, 64, 64)
    """
    shape = check_shape("shape", shape, 2)
    J = check_int("J", J, minimum=1)
    L = check_int("L", L, minimum=1)
    check_scales_fit(J, shape)
    sigma0 = check_float("sigma0", sigma0, positive=True)
    xi0 = check_float("xi0", xi0, positive=True)
    slant = 4.0 / L if slant is None else check_float("slant", slant, positive=True)
    norm_pi = math.pi if exact_pi else _KYMATIO_PI

    js = np.repeat(np.arange(J), L)
    thetas = np.tile(np.arange(L), J)
    angles = (int(L - L / 2 - 1) - thetas) * math.pi / L
    sigmas = sigma0 * 2.0 ** js
    xis = xi0 / 2.0 ** js

    psi_space = np.empty((J * L,) + shape, dtype=np.complex128)
    for k in range(J * L):
        modulus, wave = _periodized_gabor(shape, sigmas[k], angles[k], xis[k], slant)
        # Morlet correction: subtract the envelope times the mean of the Gabor, so psi has zero mean.
        psi_space[k] = (wave - wave.sum() / modulus.sum() * modulus) / (2 * norm_pi * sigmas[k] ** 2 / slant)
    # The transforms are real up to rounding (even envelopes): keep the real part, as Kymatio does.
    psi = np.fft.fft2(psi_space).real

    sigma_phi = sigma0 * 2.0 ** (J - 1)
    envelope, _ = _periodized_gabor(shape, sigma_phi, 0.0, 0.0, 1.0)
    phi = np.fft.fft2(envelope / (2 * norm_pi * sigma_phi ** 2)).real

    meta = {"j": js, "theta": thetas, "angle": angles, "xi": xis / (2 * math.pi),
            "sigma": sigmas, "slant": np.full(J * L, slant)}
    params = {"shape": shape, "J": J, "L": L, "sigma0": sigma0, "xi0": xi0, "slant": slant,
              "exact_pi": exact_pi}
    return FilterBank(psi, phi, meta, name="morlet", params=params,
                      phi_meta={"j": J, "sigma": sigma_phi, "xi": 0.0})


def _periodized_gabor(shape, sigma: float, angle: float, xi: float, slant: float):
    """Envelope and Gabor wave of a periodised Gabor, folded onto the grid.

    Kymatio sums the 5 x 5 translated copies ``u + (a M, b N)``, ``a, b in -2..2``, of the
    unnormalised Gabor ``exp(-u^T C u + i xi (u0 cos(angle) + u1 sin(angle)))`` with
    ``C = R diag(1, slant^2) R^T / (2 sigma^2)``. Only the window of those coordinates where the
    envelope exceeds ``_ENVELOPE_FLOOR`` is evaluated (a few sigma wide for small scales), which
    changes no float64 digit and makes the design independent of the grid size for small sigma.

    Returns
    -------
    envelope : ndarray, float64, shape (M, N)
        The periodised Gaussian envelope.
    wave : ndarray, complex128, shape (M, N)
        The periodised envelope times the carrier ``exp(i xi . u)``.
    """
    M, N = shape
    c, s = math.cos(angle), math.sin(angle)
    rotation = np.array([[c, -s], [s, c]])
    curvature = rotation @ np.diag([1.0, slant ** 2]) @ rotation.T / (2 * sigma ** 2)
    smallest = min(1.0, slant ** 2) / (2 * sigma ** 2)
    reach = math.sqrt(-math.log(_ENVELOPE_FLOOR) / smallest)  # beyond it the envelope is negligible

    # Kymatio's copies span coordinates [-2 M, 3 M); only the window within `reach` of the origin
    # is evaluated, placed on whole copies, and folded onto the grid.
    lo0, hi0 = max(-2 * M, -math.ceil(reach)), min(3 * M, math.ceil(reach) + 1)
    lo1, hi1 = max(-2 * N, -math.ceil(reach)), min(3 * N, math.ceil(reach) + 1)
    u0 = np.arange(lo0, hi0, dtype=np.float64)[:, None]
    u1 = np.arange(lo1, hi1, dtype=np.float64)[None, :]
    quad = (curvature[0, 0] * u0 ** 2 + (curvature[0, 1] + curvature[1, 0]) * (u0 * u1)
            + curvature[1, 1] * u1 ** 2)
    envelope = np.exp(-quad)
    # the carrier is separable: two 1D exponentials instead of a 2D one
    wave = envelope * (np.exp(1j * xi * c * u0) * np.exp(1j * xi * s * u1))
    return _fold(envelope, (lo0, lo1), shape), _fold(wave, (lo0, lo1), shape)


def _fold(window: np.ndarray, origin: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """Sum a window of the plane, whose first sample sits at ``origin``, onto the periodic grid."""
    M, N = shape
    start0, start1 = (origin[0] // M) * M, (origin[1] // N) * N
    stop0 = -(-(origin[0] + window.shape[0]) // M) * M
    stop1 = -(-(origin[1] + window.shape[1]) // N) * N
    plane = np.zeros((stop0 - start0, stop1 - start1), dtype=window.dtype)
    plane[origin[0] - start0:origin[0] - start0 + window.shape[0],
          origin[1] - start1:origin[1] - start1 + window.shape[1]] = window
    return plane.reshape(plane.shape[0] // M, M, plane.shape[1] // N, N).sum(axis=(0, 2))
