"""Kymatio 0.3's 1D Morlet filter bank (first and second scattering order) as one FilterBank.

The design follows Andén & Mallat, "Deep scattering spectrum" (IEEE TSP 2014), in the
parametrisation of Kymatio 0.3 (Andreux et al., JMLR 2020; ``kymatio.scattering1d.filter_bank``)
which takes its constant-Q / constant-bandwidth layout from V. Lostanlen, "Convolutional operators
in the time-frequency domain", PhD thesis, 2017. Frequencies are in cycles per sample, as in
Kymatio 1D; the code is our own, vectorised over the grid.
"""
from __future__ import annotations

import math
import numbers
import warnings
from typing import NamedTuple

import numpy as np

from .._validation import ParameterTypeError, UnsupportedValueError, check_float, check_int, check_scales_fit
from .bank import FilterBank

__all__ = ["morlet_1d", "kymatio_padding_1d", "morlet_1d_params", "Morlet1DParams"]

# Defaults of Kymatio 0.3 (ScatteringBase1D.build, morlet_1d, adaptive_choice_P).
R_PSI = math.sqrt(0.5)
SIGMA0 = 0.1
ALPHA = 5.0
P_MAX = 5
EPS = 1e-7

# Amplitude below which exp(-x) is exactly 0.0 in float64 (exp(-746) underflows): Gaussian
# samples further than sqrt(2 * 746) widths from their centre are not evaluated, which changes
# nothing in the result but saves most of the work for narrow (low-frequency) filters.
_GAUSS_CUTOFF = math.sqrt(2.0 * 746.0)


class Morlet1DParams(NamedTuple):
    """Spectral parameters of one order of the 1D Morlet bank (Kymatio's order of filters).

    Attributes
    ----------
    xi : ndarray, float64, shape (K,)
        Centre frequencies in cycles per sample, decreasing.
    sigma : ndarray, float64, shape (K,)
        Frequency widths (standard deviation of the Gaussian in cycles per sample).
    j : ndarray, int64, shape (K,)
        Largest dyadic subsampling ``2**j`` the filter's output tolerates without aliasing.
    """

    xi: np.ndarray
    sigma: np.ndarray
    j: np.ndarray


# ------------------------------------------------------------------------------ validation
def _check_Q(Q) -> tuple[int, int]:
    """Kymatio's Q: an int (second order gets 1) or a tuple ``(Q1,)`` / ``(Q1, Q2)``."""
    if isinstance(Q, (tuple, list)):
        if len(Q) not in (1, 2):
            raise UnsupportedValueError(f"Q must be an integer or a tuple (Q1,) or (Q1, Q2), got {Q!r}")
        Q1 = check_int("Q[0]", Q[0], minimum=1)
        Q2 = check_int("Q[1]", Q[1], minimum=1) if len(Q) == 2 else 1
        return Q1, Q2
    if isinstance(Q, (bool, np.bool_)) or not isinstance(Q, numbers.Integral):
        raise ParameterTypeError(f"Q must be an integer >= 1 or a tuple (Q1, Q2) of them, got {Q!r} "
                        f"({type(Q).__name__})")
    return check_int("Q", Q, minimum=1), 1


def _check_T(T, J: int, N: int) -> tuple[float, bool]:
    """Kymatio's rules for T: ``None`` -> ``2**J``; ``0`` -> no averaging (the low-pass is still
    built at ``2**J``); otherwise ``1 <= T <= N``. Returns ``(T used for the low-pass, average)``."""
    if T is None:
        return float(2 ** J), True
    T = check_float("T", T, nonnegative=True)
    if T == 0:
        return float(2 ** J), False
    if T < 1:
        raise ValueError(f"T must be None, 0 (no averaging) or >= 1, got {T}")
    if T > N:
        raise ValueError(f"T={T} exceeds the signal length {N}: T must be <= {N}")
    return T, True


def _check_design(r_psi, sigma0, alpha, P_max, eps) -> tuple[float, float, float, int, float]:
    r_psi = check_float("r_psi", r_psi, positive=True)
    if r_psi >= 1:
        raise ValueError(f"r_psi must be in (0, 1), got {r_psi}")
    sigma0 = check_float("sigma0", sigma0, positive=True)
    alpha = check_float("alpha", alpha, positive=True)
    P_max = check_int("P_max", P_max, minimum=1)
    eps = check_float("eps", eps, positive=True)
    if eps > 1:
        raise ValueError(f"eps must be in (0, 1], got {eps}")
    return r_psi, sigma0, alpha, P_max, eps


# ------------------------------------------------------------------------ spectral layout
def _xi_max(Q: int) -> float:
    """Highest centre frequency: one octave-and-a-half below Nyquist for small Q, at least 0.35."""
    return max(1.0 / (1.0 + math.pow(2.0, 3.0 / Q)), 0.35)


def _sigma_psi(xi: float, Q: int, r: float) -> float:
    """Width making adjacent wavelets (ratio 2**(1/Q)) cross at amplitude ``r`` (Lostanlen 2017)."""
    factor = 1.0 / math.pow(2.0, 1.0 / Q)
    # Same order of operations as Kymatio, so that xi and sigma agree to the last bit.
    return xi * ((1.0 - factor) / (1.0 + factor)) * (1.0 / math.sqrt(2.0 * math.log(1.0 / r)))


def _max_subsampling(xi: float, sigma: float, alpha: float) -> int:
    """Largest ``j`` with ``xi + alpha * sigma <= 2**-(j + 1)`` (capped at Nyquist)."""
    return int(math.floor(-math.log2(min(xi + alpha * sigma, 0.5)))) - 1


def morlet_1d_params(J: int, Q: int, r_psi: float = R_PSI, sigma0: float = SIGMA0,
                     alpha: float = ALPHA) -> Morlet1DParams:
    """Centre frequencies, widths and subsampling of one order of Kymatio's 1D Morlet bank.

    Constant-Q region: ``xi`` starts at ``max(1 / (1 + 2**(3/Q)), 0.35)`` and divides by
    ``2**(1/Q)`` (and so does ``sigma``) while ``sigma > sigma_min * 2**(1/Q)``, with
    ``sigma_min = sigma0 / 2**J``; then ``Q - 1`` filters of width ``sigma_min`` share the
    remaining band with centres in arithmetic progression down to 0 (Kymatio 0.3,
    ``compute_params_filterbank``).

    Parameters
    ----------
    J : int
        Scale: the widest wavelet has ``sigma = sigma0 / 2**J``.
    Q : int
        Wavelets per octave.
    r_psi, sigma0, alpha : float
        See :func:`morlet_1d`.

    Returns
    -------
    Morlet1DParams
        ``(xi, sigma, j)`` arrays, one entry per filter, highest frequency first.

    Examples
    --------
    >>> from scatter import filters
    >>> p = filters.morlet_1d_params(J=4, Q=2)
    >>> p.xi.round(3).tolist()                     # cycles per sample, highest first
    [0.35, 0.247, 0.175, 0.124, 0.087, 0.062, 0.044, 0.031, 0.015]
    >>> p.j.tolist()
    [0, 0, 0, 0, 1, 1, 2, 2, 3]
    """
    sigma_min = sigma0 / math.pow(2.0, J)
    ratio = math.pow(2.0, 1.0 / Q)
    xi_top = _xi_max(Q)
    sigma_top = _sigma_psi(xi_top, Q, r_psi)
    xis: list[float] = []
    sigmas: list[float] = []
    if sigma_top > sigma_min:
        xis.append(xi_top)
        sigmas.append(sigma_top)
        while sigmas[-1] > sigma_min * ratio:
            xis.append(xis[-1] / ratio)
            sigmas.append(sigmas[-1] / ratio)
        elbow = xis[-1]
    else:
        # Even the top wavelet would be narrower than sigma_min: Kymatio then keeps only the
        # constant-bandwidth filters, below sigma_top.
        elbow = sigma_top
    for q in range(1, Q):
        xis.append(elbow - q / Q * elbow)
        sigmas.append(sigma_min)
    js = [_max_subsampling(x, s, alpha) for x, s in zip(xis, sigmas)]
    return Morlet1DParams(np.asarray(xis, dtype=np.float64), np.asarray(sigmas, dtype=np.float64),
                          np.asarray(js, dtype=np.int64))


# --------------------------------------------------------------------------- sampling
def _n_periods(sigma: float, P_max: int, eps: float) -> int:
    """Kymatio's adaptive P: the Gaussian is sampled on ``[1 - P, P)`` so that it is below
    ``eps`` at the ends, at most ``P_max``."""
    return min(int(math.ceil(math.sqrt(-2.0 * sigma ** 2 * math.log(eps)) + 1.0)), P_max)


def _periodised_gaussian(N: int, centre: float, sigma: float, P: int) -> np.ndarray:
    """``mean_p exp(-(k/N + p - centre)**2 / (2 sigma**2))`` over ``p = 1-P .. P-1``.

    The Gaussian is sampled on the frequencies ``[1 - P, P)`` (step ``1/N``) and folded onto
    ``[0, 1)``, the DFT grid: periodising in frequency is sampling in time. Only samples within
    ``_GAUSS_CUTOFF`` widths of the centre are evaluated (the others are exactly 0.0).
    """
    out = np.zeros(N, dtype=np.float64)
    lo = max((1 - P) * N, math.floor((centre - _GAUSS_CUTOFF * sigma) * N))
    hi = min(P * N, math.ceil((centre + _GAUSS_CUTOFF * sigma) * N) + 1)
    # Add the periods in increasing order, as a mean over a (2P - 1, N) array would.
    for start in range((1 - P) * N, P * N, N):
        a, b = max(lo, start), min(hi, start + N)
        if a < b:
            freqs = np.arange(a, b, dtype=np.float64) / N
            out[a - start:b - start] += np.exp(-(freqs - centre) ** 2 / (2.0 * sigma ** 2))
    return out / (2 * P - 1)


def _lowpass_unnormalised(N: int, sigma: float, P: int) -> np.ndarray:
    if P == 1:
        # One period: Kymatio samples [-1/2, 1/2) so the Gaussian is continuous around 0.
        return np.exp(-np.fft.fftfreq(N) ** 2 / (2.0 * sigma ** 2))
    return _periodised_gaussian(N, 0.0, sigma, P)


def _l1_normalise(filter_f: np.ndarray) -> np.ndarray:
    """Divide a real Fourier-domain filter by its l1 norm in time (Kymatio's normalisation).

    For a real spectrum ``X``, ``ifft(X)[t] = conj(rfft(X)[t]) / N`` and ``|ifft(X)[-t]| =
    |ifft(X)[t]|``: half a real FFT gives every ``|h(t)|`` (5x cheaper than a complex ifft).
    """
    N = filter_f.shape[-1]
    half = np.abs(np.fft.rfft(filter_f))
    if N % 2 == 0:  # t = 0 and t = N/2 appear once, the others twice
        l1 = half[0] + half[-1] + 2.0 * half[1:-1].sum()
    else:
        l1 = half[0] + 2.0 * half[1:].sum()
    return filter_f / (l1 / N)


def _morlet(N: int, xi: float, sigma: float, P_max: int, eps: float,
            lowpass_cache: dict | None = None) -> np.ndarray:
    """Fourier transform of a Morlet wavelet: a Gabor minus ``kappa`` times its Gaussian envelope,
    ``kappa`` chosen so that the DC sample is exactly zero; l1-normalised in time.

    ``lowpass_cache`` maps ``(sigma, P)`` to the envelope, shared by filters of equal width."""
    P = _n_periods(sigma, P_max, eps)
    cache = {} if lowpass_cache is None else lowpass_cache
    if (sigma, P) not in cache:
        cache[(sigma, P)] = _lowpass_unnormalised(N, sigma, P)
    low = cache[(sigma, P)]
    if P == 1:
        freqs = np.arange(N, dtype=np.float64) / N
        gabor = np.exp(-(freqs - xi) ** 2 / (2.0 * sigma ** 2))
    else:
        gabor = _periodised_gaussian(N, xi, sigma, P)
    psi = gabor - (gabor[0] / low[0]) * low
    return _l1_normalise(psi)


def _gauss(N: int, sigma: float, P_max: int, eps: float) -> np.ndarray:
    return _l1_normalise(_lowpass_unnormalised(N, sigma, _n_periods(sigma, P_max, eps)))


# ------------------------------------------------------------------------------- public
def morlet_1d(N: int, J: int, Q=1, T=None, *, r_psi: float = R_PSI, sigma0: float = SIGMA0,
              alpha: float = ALPHA, P_max: int = P_MAX, eps: float = EPS) -> FilterBank:
    """Kymatio 0.3's 1D Morlet filter bank for both scattering orders, on a grid of ``N`` samples.

    First-order wavelets have ``Q1`` filters per octave, second-order ones ``Q2``; both cover
    scales up to ``2**J`` (``sigma >= sigma0 / 2**J``). Each band-pass is
    ``psi^(w) = g(w - xi) - kappa g(w)`` with ``g`` a Gaussian of width ``sigma`` (cycles per
    sample), periodised over ``2P - 1`` periods and ``kappa`` such that ``psi^(0) = 0``; the
    low-pass is ``g`` with width ``sigma0 / T``. Every filter is divided by its l1 norm in time.
    See :func:`morlet_1d_params` for the ``xi``/``sigma``/``j`` layout.

    References: J. Andén and S. Mallat, "Deep scattering spectrum", IEEE TSP 2014; M. Andreux et
    al., "Kymatio: scattering transforms in Python", JMLR 2020 (``scattering1d/filter_bank.py``);
    V. Lostanlen, PhD thesis 2017 (the filter layout).

    Parameters
    ----------
    N : int
        Length of the grid the filters are sampled on. To reproduce Kymatio's filters, pass its
        padded length ``kymatio_padding_1d(n_input, J, Q, T)`` (Kymatio designs on ``2**J_pad``,
        not on the signal length). A cascade that subsamples by ``2**k`` needs ``2**k`` to divide N.
    J : int
        Log2 of the largest scale, ``0 <= J`` and ``2**J <= N`` (``J = 0``, as in Kymatio: one
        wavelet per order, at the highest frequency, and ``T = 1``).
    Q : int or tuple
        Wavelets per octave: ``Q1`` (then ``Q2 = 1``) or ``(Q1,)`` or ``(Q1, Q2)``, each >= 1.
    T : float or None
        Averaging scale of the low-pass (Kymatio's rules): ``None`` means ``2**J``; ``0`` means no
        averaging (the low-pass is still built at ``2**J`` and ``phi_meta['average']`` is False);
        otherwise ``1 <= T <= N``.
    r_psi : float
        In (0, 1): amplitude at which adjacent wavelets cross (redundancy). Default ``sqrt(1/2)``.
    sigma0 : float
        Width constant: low-pass width is ``sigma0 / T``, smallest wavelet width
        ``sigma0 / 2**J``. Default 0.1.
    alpha : float
        Aliasing tolerance: filter ``j`` is the largest with ``xi + alpha sigma <= 2**-(j+1)``.
        Default 5.
    P_max : int
        Most periods ``P`` used on each side when periodising (Kymatio: 5).
    eps : float
        In (0, 1]: ``P`` is the smallest with the Gaussian below ``eps`` at ``1 - P`` (Kymatio: 1e-7).

    Returns
    -------
    FilterBank
        ``psi`` float64 of shape ``(K1 + K2, N)`` (first-order filters, then second-order ones,
        each highest frequency first, index 0 the zero frequency); ``phi`` float64 ``(N,)``.
        ``meta``: ``'order'`` (1 or 2), ``'n'`` (index within the order), ``'j'`` (Kymatio's
        largest dyadic subsampling), ``'xi'`` (cycles/sample), ``'sigma'``.
        ``phi_meta``: ``'j'`` (``floor(log2 T)``), ``'sigma'`` (``sigma0 / T``), ``'xi'`` (0),
        ``'T'`` and ``'average'``.

    Raises
    ------
    TypeError, ValueError
        For a parameter of the wrong type or outside the accepted values (the message names it).

    Examples
    --------
    >>> from scatter.filters import kymatio_padding_1d, morlet_1d
    >>> n_pad = kymatio_padding_1d(4096, J=6, Q=8)
    >>> bank = morlet_1d(n_pad, J=6, Q=8)
    >>> first = bank.select(bank.meta['order'] == 1)
    """
    N = check_int("N", N, minimum=2)
    J = check_int("J", J, minimum=0)
    check_scales_fit(J, (N,), name="J")
    Q1, Q2 = _check_Q(Q)
    T_used, average = _check_T(T, J, N)
    r_psi, sigma0, alpha, P_max, eps = _check_design(r_psi, sigma0, alpha, P_max, eps)

    orders = (morlet_1d_params(J, Q1, r_psi, sigma0, alpha),
              morlet_1d_params(J, Q2, r_psi, sigma0, alpha))
    for order, (p, q) in enumerate(zip(orders, (Q1, Q2)), start=1):
        if p.xi.size == 0:  # Q = 1 and sigma0 / 2**J wider than the top wavelet
            raise ValueError(f"sigma0={sigma0} with J={J} leaves no order-{order} wavelet for "
                             f"Q={q}: sigma0 / 2**J must be < {_sigma_psi(_xi_max(q), q, r_psi):.3g} "
                             "(lower sigma0, raise J, or use Q >= 2)")
    xi = np.concatenate([p.xi for p in orders])
    sigma = np.concatenate([p.sigma for p in orders])
    psi = np.empty((xi.size, N), dtype=np.float64)
    lowpass_cache: dict = {}
    for k in range(xi.size):  # one vectorised design per filter
        psi[k] = _morlet(N, float(xi[k]), float(sigma[k]), P_max, eps, lowpass_cache)
    sigma_low = sigma0 / T_used
    phi = _gauss(N, sigma_low, P_max, eps)

    meta = {
        "order": np.concatenate([np.full(p.xi.size, i + 1, dtype=np.int64)
                                 for i, p in enumerate(orders)]),
        "n": np.concatenate([np.arange(p.xi.size, dtype=np.int64) for p in orders]),
        "j": np.concatenate([p.j for p in orders]),
        "xi": xi,
        "sigma": sigma,
    }
    phi_meta = {"j": int(math.floor(math.log2(T_used))), "sigma": sigma_low, "xi": 0.0,
                "T": T_used, "average": average}
    params = {"N": N, "J": J, "Q": (Q1, Q2), "T": T, "r_psi": r_psi, "sigma0": sigma0,
              "alpha": alpha, "P_max": P_max, "eps": eps}
    return FilterBank(psi, phi, meta, name="morlet1d", params=params, phi_meta=phi_meta)


def kymatio_padding_1d(N: int, J: int, Q=1, T=None, *, sigma0: float = SIGMA0,
                       criterion_amplitude: float = 1e-3) -> int:
    """Kymatio 0.3's padded length ``2**J_pad`` for signals of length ``N``.

    Kymatio pads each signal (reflect) to ``N_pad = 2**J_pad`` with
    ``J_pad = min(ceil(log2(N + 2 * 3 * t)), floor(log2(3 N - 2)))``, where ``t`` is the half
    support of the low-pass ``phi`` (width ``sigma0 / T``, designed on N samples): the smallest
    ``t`` with ``sum_{|n| >= t} |phi(n)| <= criterion_amplitude`` (``ScatteringBase1D.build``,
    ``compute_temporal_support``). The padding is ``pad_left = (N_pad - N) // 2`` on the left and
    ``N_pad - N - pad_left`` on the right; build the filters with ``morlet_1d(N_pad, J, Q, T)``.

    Parameters
    ----------
    N : int
        Length of the input signals (>= 2).
    J, Q, T :
        As in :func:`morlet_1d` (``T`` is checked against the signal length ``N``; ``Q`` only
        validated: the padding depends on ``T``, which defaults to ``2**J``).
    sigma0 : float
        As in :func:`morlet_1d`.
    criterion_amplitude : float
        In (0, 1): tolerated l1 mass of ``phi`` outside its support. Kymatio: 1e-3.

    Returns
    -------
    int
        The padded length, a power of two, ``N <= N_pad < 3 N``.

    Examples
    --------
    >>> from scatter import filters
    >>> filters.kymatio_padding_1d(1000, J=6)      # Kymatio 0.3 pads 1000 samples to 2048
    2048
    """
    N = check_int("N", N, minimum=2)
    J = check_int("J", J, minimum=0)
    _check_Q(Q)
    T_used, _ = _check_T(T, J, N)
    sigma0 = check_float("sigma0", sigma0, positive=True)
    criterion_amplitude = check_float("criterion_amplitude", criterion_amplitude, positive=True)
    if criterion_amplitude >= 1:
        raise ValueError(f"criterion_amplitude must be in (0, 1), got {criterion_amplitude}")
    half = N // 2
    # |phi(t)| for t = 0 .. N/2: phi^ is real, so |ifft(phi^)[t]| = |rfft(phi^)[t]| / N.
    phi = np.abs(np.fft.rfft(_gauss(N, sigma0 / T_used, P_MAX, EPS))) / N
    # l1 mass of phi at lags >= t, for t = 0 .. half - 1 (Kymatio looks at the causal half).
    tail = np.cumsum(phi[:half][::-1])[::-1]
    inside = np.flatnonzero(tail <= criterion_amplitude)
    # No lag satisfies the criterion: Kymatio takes half the support (and warns of border effects).
    if inside.size:
        support = int(inside[0]) + 1
    else:
        support = half
        warnings.warn(f"signal length N={N} is too short for the low-pass at T={T_used}: "
                      "padding by half the support, expect border effects", stacklevel=2)
    J_pad = min(int(math.ceil(math.log2(N + 6 * support))), int(math.floor(math.log2(3 * N - 2))))
    return 2 ** J_pad
