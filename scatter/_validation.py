"""Argument checks shared by the filter constructors: clear errors naming the parameter."""
from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np


class ParameterTypeError(TypeError, ValueError):
    """A parameter of the wrong type.

    A ``TypeError``, and a ``ValueError`` too because Kymatio 0.3 raises ``ValueError`` for some
    of these (a float ``Q``, ``oversampling`` or 1D ``shape``): either ``except`` catches it.
    """


class UnsupportedValueError(ValueError, NotImplementedError):
    """A parameter value of a form we do not implement (Kymatio raises ``NotImplementedError``,
    e.g. ``Q`` a tuple of three); also a ``ValueError``."""


def _integral_scalar(value):
    """A 0-d integer NumPy array as its scalar (Kymatio accepts ``J=np.array(5)``)."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and np.issubdtype(value.dtype, np.integer):
        return value.item()
    return value


def check_int(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` (an int, a NumPy integer or a 0-d integer array) as ``int`` or raise
    naming ``name`` and the accepted range."""
    value = _integral_scalar(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ParameterTypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_float(name: str, value, positive: bool = False, nonnegative: bool = False) -> float:
    """Return ``value`` as a finite ``float`` or raise naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ParameterTypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if nonnegative and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def check_shape(name: str, shape, ndim: int | Sequence[int], minimum: int = 1) -> tuple[int, ...]:
    """Return ``shape`` as a tuple of ints with one of the accepted lengths ``ndim``."""
    accepted = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool) and 1 in accepted:
        shape = (int(shape),)
    try:
        shape = tuple(shape)
    except TypeError:
        raise ParameterTypeError(f"{name} must be a tuple of {' or '.join(map(str, accepted))} integers, "
                        f"got {shape!r}") from None
    if len(shape) not in accepted:
        raise ValueError(f"{name} must have {' or '.join(map(str, accepted))} dimension(s), "
                         f"got {len(shape)}: {shape!r}")
    return tuple(check_int(f"{name}[{i}]", s, minimum=minimum) for i, s in enumerate(shape))


def check_choice(name: str, value, choices: Sequence):
    """Raise unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_scales_fit(J: int, shape: tuple[int, ...], name: str = "J") -> None:
    """Raise unless every side of ``shape`` is at least ``2**J``."""
    if min(shape) < 2 ** J:
        raise ValueError(f"{name}={J} is too large for a grid of shape {shape}: every side must be "
                         f">= 2**{name} = {2 ** J} (use {name} <= {int(math.log2(min(shape)))})")
