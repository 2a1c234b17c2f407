"""Differentiable scattering transforms in PyTorch, fed by any filter bank from :mod:`filters`."""

__version__ = "0.1.0"

from .scattering1d import Scattering1D
from .scattering2d import Scattering2D, padded_shape_2d
from .transformer import ScatteringTransformer
from .features import extract_features

__all__ = [
    "extract_features",
    "padded_shape_2d",
    "Scattering1D",
    "Scattering2D",
    "ScatteringTransformer",
]
