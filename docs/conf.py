"""Sphinx configuration: the API reference is built from the docstrings (numpy style), and the
notebooks (``docs/notebooks`` links to ``notebooks/``) are rendered by myst-nb.

Built offline (no intersphinx, the bundled alabaster theme) and with warnings as errors in the
test suite (``tests/test_docs.py``) and by ``make docs``. The notebooks are stored without
outputs: ``make docs`` executes them at build time (``nb_execution_mode=force``), so a reader
sees every figure; the suite renders them without executing (``-D nb_execution_mode=off``: it
runs them in ``tests/test_notebooks.py`` already).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the packages import from the checkout even when not installed

project = "scatter"
author = "the scatter developers"
copyright = "2026, the scatter developers"
release = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",  # only a <script> tag in the pages; nothing is fetched at build time
    "myst_nb",             # the notebooks, with their outputs
]

nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True    # a failing cell fails the build
nb_merge_streams = True

# numpy-style docstrings only
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
# "Attributes" rendered like "Parameters" (a field list): a dataclass's fields are then not
# documented twice (once by napoleon, once by autodoc), and their types stay text
napoleon_custom_sections = [("Attributes", "params_style"), ("Forward", "params_style")]
# parameter types stay text: "ndarray of shape (K, N)" must not link "shape" to some attribute
napoleon_use_param = False

autosummary_generate = False  # the api pages list their members explicitly; nothing generated
# (flag options are on when present, whatever their value: only "members" is listed)
autodoc_default_options = {"members": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"  # the docstrings describe the types; no second field list
# torch.nn.Module methods (forward hooks, buffers...) are torch's to document, not ours
autodoc_inherit_docstrings = False

exclude_patterns = ["_build", "images/*.md", "notebooks/.ipynb_checkpoints"]
html_theme = "alabaster"
html_static_path: list[str] = []
nitpicky = False


def _skip_sklearn_request_methods(app, what, name, obj, skip, options):
    """scikit-learn generates ``set_fit_request``-style methods on every estimator; they are
    scikit-learn's to document (their docstrings link into its own glossary)."""
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_request_methods)
