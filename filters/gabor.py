"""Classic 2D Gabor filter bank (skimage / Daugman parametrisation) in the Fourier domain."""
from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np

from .._validation import check_float, check_int, check_shape
from .bank import FilterBank

# Aliases of a periodised Gaussian beyond this many of its standard deviations (in frequency)
# contribute less than exp(-60) of its peak: no float64 digit.
_ALIAS_REACH = math.sqrt(120.0)


def gabor_2d(shape, frequencies: float | Sequence[float], L: int | None = None,
             bandwidth: float = 1.0, sigma: float | Sequence[float] | None = None,
             remove_dc: bool = False, lowpass_sigma: float | None = None, *,
             thetas: Sequence[float] | None = None) -> FilterBank:
    """A bank of 2D Gabor filters and a Gaussian low-pass, periodised on the grid.

    Each filter is the kernel of :func:`skimage.filters.gabor_kernel`,
    ``g(x, y) = exp(-(x^2 + y^2) / (2 sigma^2)) exp(2 i pi f (x cos(theta) + y sin(theta)))
    / (2 pi sigma^2)``, with ``x`` the column (axis 1) and ``y`` the row (axis 0, downward)
    coordinate, periodised on the grid: its Fourier transform on the DFT grid is the sum of the
    aliases ``sum_m exp(-sigma^2 |w + 2 pi m - 2 pi f (cos(theta), sin(theta))|^2 / 2)``, real and
    separable, so the bank costs a few 1D exponentials per filter. The envelope width follows the
    half-amplitude bandwidth ``b`` in octaves (Daugman, JOSA A 2(7), 1985; the rule of
    skimage.filters.gabor_kernel and http://www.cs.rug.nl/~imaging/simplecell.html)::

        sigma = sqrt(ln 2 / 2) / pi * (2**b + 1) / (2**b - 1) / f

    A Gabor filter has a non-zero mean (its Fourier transform at 0 is ``exp(-2 (pi sigma f)^2)``,
    3e-3 for ``b = 1``); ``remove_dc=True`` subtracts ``beta`` times the envelope (the Morlet
    correction) so that every band-pass has zero mean on the grid. The leakage is reported in
    ``meta['dc_leakage'] = |psi(0)| / max |psi|`` either way.

    Parameters
    ----------
    shape : tuple of int (M, N)
        Grid the filters are sampled on.
    frequencies : float or sequence of float in (0, 0.5]
        Carrier frequencies in cycles/pixel. They are sorted from high to low: scale ``j = 0`` is
        the highest frequency.
    L : int >= 1, optional
        Number of orientations, at the angles ``pi * l / L``, ``l = 0..L-1`` (as ``L`` of
        :func:`morlet_2d` and :class:`scatter.Scattering2D`). Default 8 when ``thetas`` is not
        given.
    bandwidth : float > 0
        Half-amplitude bandwidth in octaves (ignored when ``sigma`` is given).
    sigma : float or sequence of float > 0, optional
        Envelope width in pixels, one for all frequencies or one per frequency (in the order
        given), instead of the bandwidth rule.
    remove_dc : bool
        Subtract the Morlet correction so each band-pass has zero mean.
    lowpass_sigma : float > 0, optional
        Width in pixels of the Gaussian low-pass ``phi``. By default its Fourier transform falls
        to one half at the lower half-amplitude frequency ``2 f_min / (1 + 2**b)`` of the lowest
        band (with ``b`` the bandwidth of that band), so ``phi`` fills the hole at low
        frequencies.
    thetas : sequence of float, optional (keyword only)
        Explicit orientations in radians (the wave vector's direction, from the ``+x`` column
        axis towards the ``+y`` row axis, as in skimage), instead of ``L``. A bare number is
        refused (``thetas=8`` would be ambiguous: eight angles or one at 8 rad): use ``L=8`` or
        ``thetas=[8.0]``.

    Returns
    -------
    FilterBank
        ``psi`` float64 of shape ``(J * L, M, N)`` (``L = len(thetas)`` for explicit angles;
        the Fourier transforms are real), ordered by ``(j, theta)``; ``phi`` float64 ``(M, N)``
        with ``phi(0) = 1``; meta ``'j'`` (frequency index, 0 is the highest), ``'theta'``
        (angle index), ``'angle'`` (radians), ``'xi'`` (= frequency, cycles/sample),
        ``'sigma'`` (pixels), ``'bandwidth'`` (octaves), ``'dc_leakage'``.

    Notes
    -----
    The periodised kernel's DFT equals the DFT of skimage's kernel placed at the origin of the
    grid (wrapped around), when skimage's truncation at ``n_stds`` deviations is negligible and
    the kernel fits in the grid. Anisotropic envelopes (skimage's ``sigma_x != sigma_y``) are not
    offered.

    Raises
    ------
    TypeError, ValueError
        For a parameter of the wrong type or outside the accepted values (the message names it);
        ``ValueError`` when both ``L`` and ``thetas`` are given.

    Examples
    --------
    >>> import math
    >>> from scatter.filters import gabor_2d
    >>> bank = gabor_2d((64, 64), [0.25, 0.125], L=4, remove_dc=True)
    >>> bank.psi.shape, bank.meta["angle"][:4].round(4).tolist()
    ((8, 64, 64), [0.0, 0.7854, 1.5708, 2.3562])
    >>> gabor_2d((64, 64), 0.25, thetas=[0.0, math.pi / 2]).meta["angle"].tolist()
    [0.0, 1.5707963267948966]
    >>> gabor_2d((64, 64), 0.25, thetas=8.0)
    Traceback (most recent call last):
        ...
    TypeError: thetas takes explicit angles in radians (a sequence), got the number 8.0: pass L=8 for 8 orientations pi * l / 8, or thetas=[8.0] for one filter at 8.0 rad
    """
    shape = check_shape("shape", shape, 2)
    freqs = _float_array("frequencies", frequencies)
    if np.any(freqs <= 0) or np.any(freqs > 0.5):
        raise ValueError(f"frequencies must lie in (0, 0.5] cycles/pixel, got {freqs.tolist()}")
    if np.unique(freqs).size != freqs.size:
        raise ValueError(f"frequencies must be distinct, got {freqs.tolist()}")
    angles = _angles(L, thetas)
    bandwidth = check_float("bandwidth", bandwidth, positive=True)
    if sigma is None:
        sigmas = _sigma_prefactor(bandwidth) / freqs
    else:
        sigmas = _float_array("sigma", sigma)
        if sigmas.size not in (1, freqs.size):
            raise ValueError(f"sigma must be one number or one per frequency ({freqs.size}), "
                             f"got {sigmas.size} values")
        if np.any(sigmas <= 0):
            raise ValueError(f"sigma must be > 0, got {sigmas.tolist()}")
        sigmas = np.broadcast_to(sigmas, freqs.shape).copy()
    bandwidths = _bandwidth_of(sigmas * freqs)
    order = np.argsort(-freqs, kind="stable")
    freqs, sigmas, bandwidths = freqs[order], sigmas[order], bandwidths[order]
    J, L = freqs.size, angles.size

    js = np.repeat(np.arange(J), L)
    theta_idx = np.tile(np.arange(L), J)
    xi = freqs[js]
    ang = angles[theta_idx]
    sig = sigmas[js]
    # separable: the row factor carries f sin(theta), the column factor f cos(theta)
    rows = periodized_gaussian_1d(shape[0], 2 * math.pi * xi * np.sin(ang), sig)
    cols = periodized_gaussian_1d(shape[1], 2 * math.pi * xi * np.cos(ang), sig)
    psi = rows[:, :, None] * cols[:, None, :]
    if remove_dc:
        # Morlet correction psi - beta * envelope with beta = psi(0) / envelope(0): zero mean.
        env_rows = periodized_gaussian_1d(shape[0], np.zeros(J), sigmas)
        env_cols = periodized_gaussian_1d(shape[1], np.zeros(J), sigmas)
        envelope = env_rows[:, :, None] * env_cols[:, None, :]
        beta = psi[:, 0, 0] / envelope[js, 0, 0]
        psi -= beta[:, None, None] * envelope[js]
        psi[:, 0, 0] = 0.0  # exactly zero rather than a rounding residue of psi(0)
    dc_leakage = np.abs(psi[:, 0, 0]) / np.abs(psi).reshape(len(psi), -1).max(axis=1)

    if lowpass_sigma is None:
        # lower half-amplitude frequency of the lowest band, 2 f / (1 + 2^b) (Daugman's rule)
        f_low = freqs[-1] - math.sqrt(2 * math.log(2)) / (2 * math.pi * sigmas[-1])
        lowpass_sigma = (math.sqrt(2 * math.log(2)) / (2 * math.pi * f_low) if f_low > 0
                         else float(sigmas[-1]))  # that band reaches DC: phi gets its envelope
    else:
        lowpass_sigma = check_float("lowpass_sigma", lowpass_sigma, positive=True)
    phi = gaussian_lowpass(shape, lowpass_sigma)

    meta = {"j": js, "theta": theta_idx, "angle": ang, "xi": xi, "sigma": sig,
            "bandwidth": bandwidths[js], "dc_leakage": dc_leakage}
    params = {"shape": shape, "frequencies": freqs.tolist(),
              "L": None if thetas is not None else L, "thetas": angles.tolist(),
              "bandwidth": bandwidth, "sigma": None if sigma is None else sigmas.tolist(),
              "remove_dc": bool(remove_dc), "lowpass_sigma": lowpass_sigma}
    return FilterBank(psi, phi, meta, name="gabor", params=params,
                      phi_meta={"j": J, "sigma": lowpass_sigma, "xi": 0.0})


def periodized_gaussian_1d(n: int, centers: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """Periodised Gaussians ``sum_m exp(-sigma^2 (w + 2 pi m - c)^2 / 2)`` on the DFT grid.

    This is the DFT of the sampled, periodised ``exp(-x^2 / (2 sigma^2)) exp(i c x) /
    (sqrt(2 pi) sigma)`` (Poisson summation).

    Parameters
    ----------
    n : int
        Grid length; ``w = 2 pi k / n`` for ``k`` in numpy's FFT order.
    centers : ndarray, float64, shape (K,)
        Centre frequencies ``c`` in radians/sample.
    sigmas : ndarray, float64, shape (K,)
        Spatial widths in samples.

    Returns
    -------
    ndarray, float64, shape (K, n)
    """
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, 1, 1)
    sigmas = np.asarray(sigmas, dtype=np.float64).reshape(-1, 1, 1)
    # |w + 2 pi m - c| >= 2 pi (|m| - 1) for w, c in [-pi, pi]: beyond R the aliases vanish
    R = 1 + math.ceil(_ALIAS_REACH / (2 * math.pi * float(sigmas.min()))) if sigmas.size else 1
    w = 2 * math.pi * np.fft.fftfreq(n).reshape(1, 1, -1)
    m = np.arange(-R, R + 1, dtype=np.float64).reshape(1, -1, 1)
    c = (centers + math.pi) % (2 * math.pi) - math.pi  # fold c into [-pi, pi)
    return np.exp(-0.5 * (sigmas * (w + 2 * math.pi * m - c)) ** 2).sum(axis=1)


def gaussian_lowpass(shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Fourier transform (``1`` at 0) of the periodised isotropic Gaussian of width ``sigma``."""
    factors = [periodized_gaussian_1d(n, np.zeros(1), np.array([sigma]))[0] for n in shape]
    out = factors[0]
    for f in factors[1:]:
        out = np.multiply.outer(out, f)
    return out


def _sigma_prefactor(bandwidth: float) -> float:
    """``sigma * f`` for a half-amplitude bandwidth in octaves (Daugman's rule, as in skimage)."""
    return math.sqrt(math.log(2) / 2) / math.pi * (2 ** bandwidth + 1) / (2 ** bandwidth - 1)


def _bandwidth_of(sigma_f: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_sigma_prefactor`: the bandwidth in octaves of ``sigma * f``."""
    k = math.sqrt(math.log(2) / 2) / math.pi
    # (2^b + 1) / (2^b - 1) = s / k  =>  2^b = (s + k) / (s - k); no finite b when s <= k
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sigma_f > k, np.log2((sigma_f + k) / (sigma_f - k)), np.inf)


def _float_array(name: str, value) -> np.ndarray:
    """1D float64 array of finite numbers from a number or a sequence, else an error naming it."""
    values = [value] if isinstance(value, numbers.Number) else value
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or a sequence of numbers, "
                        f"got {value!r}") from None
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a number or a non-empty 1D sequence, got {value!r}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {array.tolist()}")
    return array


def _angles(L, thetas) -> np.ndarray:
    """Angles in radians from a count ``L`` (``pi l / L``) or an explicit sequence ``thetas``.

    The two are separate parameters: one that took both would read ``8`` as eight angles and
    ``8.0`` as one angle of 8 rad.
    """
    if thetas is None:
        if L is None:
            L = 8
        elif isinstance(L, (list, tuple, np.ndarray)):
            raise TypeError(f"L is the number of orientations (an int), got {L!r}; pass explicit "
                            f"angles in radians as thetas={np.ravel(L).tolist()!r}")
        L = check_int("L", L, minimum=1)
        return np.arange(L) * math.pi / L
    if L is not None:
        raise ValueError(f"give either L (the number of orientations) or thetas (explicit angles "
                         f"in radians), not both; got L={L!r} and thetas={thetas!r}")
    if isinstance(thetas, (str, bytes, bool, np.bool_)):
        raise TypeError(f"thetas must be a sequence of angles in radians, got {thetas!r}")
    if isinstance(thetas, (numbers.Number, np.generic)) or (
            isinstance(thetas, np.ndarray) and thetas.ndim == 0):
        value = np.asarray(thetas).item()
        count = (f"L={int(value)} for {int(value)} orientations pi * l / {int(value)}"
                 if isinstance(value, (int, float)) and float(value).is_integer() and value >= 1
                 else "L=<int> for a number of orientations")
        raise TypeError(f"thetas takes explicit angles in radians (a sequence), got the number "
                        f"{value!r}: pass {count}, or thetas=[{value!r}] for one filter at "
                        f"{value!r} rad")
    try:
        angles = np.asarray(thetas, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"thetas must be a sequence of angles in radians, got {thetas!r}") from None
    if angles.ndim != 1 or angles.size == 0:
        raise ValueError(f"thetas must be a non-empty 1D sequence of angles in radians, "
                         f"got {thetas!r}")
    if not np.all(np.isfinite(angles)):
        raise ValueError(f"thetas must be finite, got {angles.tolist()}")
    if np.unique(angles).size != angles.size:
        raise ValueError(f"thetas must be distinct, got {angles.tolist()}")
    return angles
