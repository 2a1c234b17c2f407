"""Analytic filter banks (Morlet, Gabor, log-Gabor, curvelets, discrete wavelets, 3D solid
harmonic wavelets) as first-class objects: designed in float64 NumPy, sampled in the Fourier
domain, convertible to torch once.

Every constructor returns a :class:`FilterBank`.
"""
from .bank import FilterBank
from .morlet import morlet_2d
from .morlet1d import kymatio_padding_1d, morlet_1d, morlet_1d_params
from .gabor_fit import GaborFit, fit_gabor, gabor_model
from .plotting import plot_bank, plot_littlewood_paley
from .gabor import gabor_2d
from .log_gabor import log_gabor_2d
from .dwt import DWT1d, DWT2d, DWTFilters, IDWT1d, IDWT2d, dwt_bank, dwt_filter_bank
from .dwtn import DWTnd, IDWTnd
from .swt import ISWT1d, ISWT2d, SWT1d, SWT2d
from .curvelet import CurveletBank, CurveletWindows, curvelet_2d, curvelet_windows
from .curvelet_transform import CurveletTransform
from .solid_harmonic import kymatio_grid_3d, solid_harmonic_3d, solid_harmonic_norm, solid_harmonics

__all__ = [
    "curvelet_2d",
    "curvelet_windows",
    "CurveletBank",
    "CurveletTransform",
    "CurveletWindows",
    "DWT1d",
    "DWT2d",
    "DWTnd",
    "dwt_bank",
    "dwt_filter_bank",
    "DWTFilters",
    "FilterBank",
    "fit_gabor",
    "gabor_2d",
    "gabor_model",
    "GaborFit",
    "IDWT1d",
    "IDWT2d",
    "IDWTnd",
    "ISWT1d",
    "ISWT2d",
    "kymatio_grid_3d",
    "kymatio_padding_1d",
    "log_gabor_2d",
    "morlet_1d",
    "morlet_1d_params",
    "morlet_2d",
    "plot_bank",
    "plot_littlewood_paley",
    "SWT1d",
    "SWT2d",
    "solid_harmonic_3d",
    "solid_harmonic_norm",
    "solid_harmonics",
]
