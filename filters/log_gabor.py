"""Field's 2D log-Gabor filter bank (Kovesi's parametrisation), defined in the Fourier domain."""
from __future__ import annotations

import math

import numpy as np

from .._validation import check_float, check_int, check_shape
from .bank import FilterBank
from .gabor import gaussian_lowpass


def log_gabor_2d(shape, n_scales: int = 4, n_orientations: int = 6, min_wavelength: float = 3.0,
                 mult: float = 2.1, sigma_on_f: float = 0.55, angular_sigma: float | None = None,
                 cutoff: float | None = 0.45, cutoff_order: int = 15,
                 lowpass_sigma: float | None = None) -> FilterBank:
    """A bank of 2D log-Gabor filters and a Gaussian low-pass, in the Fourier domain.

    Field's log-Gabor (D. J. Field, "Relations between the statistics of natural images and the
    response properties of cortical cells", JOSA A 4(12), 1987) is a Gaussian on a log frequency
    axis times a Gaussian in orientation; it is zero at the zero frequency by construction. With
    P. Kovesi's parametrisation (``gaborconvolve.m``, ``phasecong3.m``,
    https://www.peterkovesi.com/matlabfns/), for scale ``s`` and orientation ``o``::

        psi(f, a) = exp(-ln(|f| / f_s)^2 / (2 ln(sigma_on_f)^2)) * exp(-d(a, a_o)^2 / (2 sigma_a^2))
                    * B(|f|)

    with ``f_s = 1 / (min_wavelength * mult**s)`` cycles/pixel, ``a_o = o pi / n_orientations``,
    ``d`` the angular distance on the circle, ``sigma_a = pi / n_orientations / 1.5`` (Kovesi's
    ``dThetaOnSigma = 1.5``) and ``B(f) = 1 / (1 + (f / cutoff)^(2 cutoff_order))`` Kovesi's
    Butterworth low-pass, which tapers the filters off before the Nyquist frequency (where the
    radial Gaussian is cut). The angular window is one-sided: each filter covers one half-plane,
    so its Fourier transform is real and its spatial kernel complex, an even (real part) and odd
    (imaginary part) pair, as in Kovesi's code.

    Parameters
    ----------
    shape : tuple of int (M, N)
        Grid the filters are sampled on.
    n_scales : int >= 1
        Number of scales; ``j = 0`` is the finest (shortest wavelength).
    n_orientations : int >= 1
        Number of orientations in ``[0, pi)``, measured from the ``+x`` (column) axis towards
        the ``+y`` (row, downward) axis, as in :func:`scatter.filters.gabor_2d` (and :func:`scatter.filters.gabor_model`) and skimage. (Kovesi
        measures angles anticlockwise, towards ``-y``.)
    min_wavelength : float > 0
        Wavelength of the finest scale in pixels (>= 2 keeps it below Nyquist).
    mult : float > 1
        Ratio between the wavelengths of successive scales.
    sigma_on_f : float in (0, 1)
        Ratio of the log-Gaussian's width to its centre frequency: 0.75, 0.55, 0.41 give about
        1, 2, 3 octaves of bandwidth.
    angular_sigma : float > 0, optional
        Width of the angular Gaussian in radians (default ``pi / n_orientations / 1.5``).
    cutoff : float in (0, 0.5], optional
        Cut-off of the Butterworth taper in cycles/pixel; ``None`` disables it.
    cutoff_order : int >= 1
        Order of the Butterworth taper.
    lowpass_sigma : float > 0, optional
        Width in pixels of the Gaussian low-pass ``phi``. By default its Fourier transform falls
        to one half at the lower half-amplitude frequency of the coarsest scale,
        ``f_min * sigma_on_f ** sqrt(2 ln 2)``.

    Returns
    -------
    FilterBank
        ``psi`` float64 of shape ``(n_scales * n_orientations, M, N)``, ordered by
        ``(j, theta)``, with ``psi[:, 0, 0] == 0``; ``phi`` float64 ``(M, N)``; meta ``'j'``,
        ``'theta'`` (index), ``'angle'`` (radians), ``'xi'`` (centre frequency, cycles/sample),
        ``'wavelength'`` (pixels), ``'sigma'`` (pixels: ``1 / (2 pi f_s |ln sigma_on_f|)``, the
        width of the Gaussian envelope with the same linearised radial bandwidth, a guide only),
        ``'dc_leakage'`` (zero).

    Examples
    --------
    >>> from scatter.filters import log_gabor_2d
    >>> bank = log_gabor_2d((64, 64), n_scales=3, n_orientations=4)
    >>> bank.psi.shape, float(abs(bank.psi[:, 0, 0]).max())
    ((12, 64, 64), 0.0)
    """
    shape = check_shape("shape", shape, 2)
    n_scales = check_int("n_scales", n_scales, minimum=1)
    n_orientations = check_int("n_orientations", n_orientations, minimum=1)
    min_wavelength = check_float("min_wavelength", min_wavelength, positive=True)
    mult = check_float("mult", mult, positive=True)
    if mult <= 1:
        raise ValueError(f"mult must be > 1, got {mult}")
    sigma_on_f = check_float("sigma_on_f", sigma_on_f, positive=True)
    if sigma_on_f >= 1:
        raise ValueError(f"sigma_on_f must lie in (0, 1), got {sigma_on_f}")
    if angular_sigma is None:
        angular_sigma = math.pi / n_orientations / 1.5
    angular_sigma = check_float("angular_sigma", angular_sigma, positive=True)
    if cutoff is not None:
        cutoff = check_float("cutoff", cutoff, positive=True)
        if cutoff > 0.5:
            raise ValueError(f"cutoff must lie in (0, 0.5] cycles/pixel or be None, got {cutoff}")
    cutoff_order = check_int("cutoff_order", cutoff_order, minimum=1)

    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.fftfreq(shape[1])[None, :]
    radius = np.hypot(fx, fy)
    radius[0, 0] = 1.0  # log(0) avoided here, the DC value is set to 0 below
    log_radius = np.log(radius)
    polar = np.arctan2(fy, fx)

    wavelengths = min_wavelength * mult ** np.arange(n_scales)
    centres = 1.0 / wavelengths
    log_sigma = abs(math.log(sigma_on_f))
    radial = np.exp(-(log_radius[None] + np.log(wavelengths)[:, None, None]) ** 2
                    / (2 * log_sigma ** 2))
    if cutoff is not None:
        radial *= 1.0 / (1.0 + (radius / cutoff) ** (2 * cutoff_order))
    radial[:, 0, 0] = 0.0

    angles = np.arange(n_orientations) * math.pi / n_orientations
    # angular distance on the circle, in [0, pi]
    distance = np.abs((polar[None] - angles[:, None, None] + math.pi) % (2 * math.pi) - math.pi)
    spread = np.exp(-distance ** 2 / (2 * angular_sigma ** 2))
    psi = (radial[:, None] * spread[None]).reshape((n_scales * n_orientations,) + shape)

    js = np.repeat(np.arange(n_scales), n_orientations)
    theta_idx = np.tile(np.arange(n_orientations), n_scales)
    sigmas = 1.0 / (2 * math.pi * centres * log_sigma)
    dc_leakage = np.abs(psi[:, 0, 0]) / np.abs(psi).reshape(len(psi), -1).max(axis=1)

    if lowpass_sigma is None:
        f_low = centres[-1] * sigma_on_f ** math.sqrt(2 * math.log(2))
        lowpass_sigma = math.sqrt(2 * math.log(2)) / (2 * math.pi * f_low)
    else:
        lowpass_sigma = check_float("lowpass_sigma", lowpass_sigma, positive=True)
    phi = gaussian_lowpass(shape, lowpass_sigma)

    meta = {"j": js, "theta": theta_idx, "angle": angles[theta_idx], "xi": centres[js],
            "wavelength": wavelengths[js], "sigma": sigmas[js], "dc_leakage": dc_leakage}
    params = {"shape": shape, "n_scales": n_scales, "n_orientations": n_orientations,
              "min_wavelength": min_wavelength, "mult": mult, "sigma_on_f": sigma_on_f,
              "angular_sigma": angular_sigma, "cutoff": cutoff, "cutoff_order": cutoff_order,
              "lowpass_sigma": lowpass_sigma}
    return FilterBank(psi, phi, meta, name="log_gabor", params=params,
                      phi_meta={"j": n_scales, "sigma": lowpass_sigma, "xi": 0.0})
