"""Scattering transforms, analytic filter banks and sparse coding in PyTorch, under one root.

- :mod:`scatter` (this package): differentiable scattering networks (1D, 2D), feature
  extraction, a scikit-learn transformer and a command line.
- :mod:`scatter.filters`: analytic filter banks as one type, :class:`scatter.filters.FilterBank`.
- :mod:`scatter.models`: what scattering is compared with and completed by (CNNs, sparse coding,
  hybrids, dataset readers).
"""
import os as _os

__version__ = "0.1.0"

# In the repository, filters/ and models/ sit beside this folder (the project's layout) and an
# install maps them to scatter.filters and scatter.models. Run from a checkout that shadows the
# installed package (a wheel install, or no install), that mapping is not in effect: the
# checkout's top folder is then searched for this package's subpackages as well.
_here = _os.path.dirname(_os.path.abspath(__file__))
if not _os.path.isdir(_os.path.join(_here, "filters")):
    _top = _os.path.dirname(_here)
    if _os.path.isfile(_os.path.join(_top, "filters", "__init__.py")) and _top not in __path__:
        __path__.append(_top)

from ._base import ScatteringError, ScatteringShapeError, ScatteringTypeError  # noqa: E402
from .scattering1d import Scattering1D  # noqa: E402
from .scattering2d import Scattering2D, padded_shape_2d  # noqa: E402
from .transformer import ScatteringTransformer  # noqa: E402
from .features import extract_features  # noqa: E402

__all__ = [
    "extract_features",
    "padded_shape_2d",
    "Scattering1D",
    "Scattering2D",
    "ScatteringError",
    "ScatteringShapeError",
    "ScatteringTypeError",
    "ScatteringTransformer",
]
