"""The oracles: other packages whose numbers the tests compare with (Kymatio, SPORCO).

They come with the ``test`` extra, not with the library. Where one is missing only the tests that
compare with it skip (``@needs_kymatio``, ``@needs_sporco``): a test module's gradient, threading,
compile and bad-input tests still run. ``tests/test_oracle_skips.py`` checks exactly that.
"""
from __future__ import annotations

import importlib
from types import ModuleType

import pytest

INSTALL = "pip install -e .[test]"
# every oracle skip reason contains this, so a run's skips can be told apart from others
REASON = "(the oracle) is not installed"


def optional(name: str) -> ModuleType | None:
    """The module ``name`` (a package or one of its submodules), or ``None`` where it cannot be imported."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _needs(package: str, module: ModuleType | None) -> pytest.MarkDecorator:
    return pytest.mark.skipif(module is None, reason=f"{package} {REASON}: {INSTALL}")


kymatio = optional("kymatio")
sporco = optional("sporco")

needs_kymatio = _needs("kymatio", kymatio)
needs_sporco = _needs("sporco", sporco)
