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

# The public names are imported at their first use (PEP 562), so that light uses of the package
# (``scatter --help``, reading a features file) do not pay for importing torch.
_EXPORTS = {
    "ScatteringError": "._base", "ScatteringShapeError": "._base", "ScatteringTypeError": "._base",
    "Scattering1D": ".scattering1d", "Scattering2D": ".scattering2d",
    "RotoTranslationScattering2D": ".rototranslation2d",
    "padded_shape_2d": ".scattering2d", "ScatteringTransformer": ".transformer",
    "HarmonicScattering3D": ".scattering3d",
    "extract_features": ".features", "ParametricMorlet2D": ".parametric_morlet",
    "plot_learned_wavelets": ".parametric_morlet",
}
_SUBPACKAGES = ("filters", "models")


def __getattr__(name: str):
    import importlib

    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    if name not in _EXPORTS:
        raise AttributeError(f"module 'scatter' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBPACKAGES))


__all__ = [
    "extract_features",
    "HarmonicScattering3D",
    "padded_shape_2d",
    "ParametricMorlet2D",
    "plot_learned_wavelets",
    "RotoTranslationScattering2D",
    "Scattering1D",
    "Scattering2D",
    "ScatteringError",
    "ScatteringShapeError",
    "ScatteringTypeError",
    "ScatteringTransformer",
]
