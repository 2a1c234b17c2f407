"""The documentation cannot rot: the API reference builds with warnings as errors, every public
name carries a numpy-style docstring with an example, every example runs (doctest), and every
Python block of the README runs.

Budget: about a minute in all (Sphinx build ~15 s, doctests and README a few seconds each).
"""
from __future__ import annotations

import doctest
import importlib
import importlib.util
import inspect
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from scatter import filters
from scatter import models
import scatter

ROOT = Path(__file__).resolve().parents[1]
HAVE_SPHINX = importlib.util.find_spec("sphinx") is not None
PACKAGES = (filters, scatter, models)
PUBLIC = [(pkg.__name__, name) for pkg in PACKAGES for name in pkg.__all__]


def _public_object(pkg_name: str, name: str):
    return getattr(importlib.import_module(pkg_name), name)


def _public_modules() -> list[str]:
    """Every module that defines a public name."""
    names = set()
    for pkg_name, name in PUBLIC:
        names.add(inspect.getmodule(_public_object(pkg_name, name)).__name__)
    return sorted(names)


# ---------------------------------------------------------------------------------------------
# every public name documented: summary, parameters/returns where it has them, an example


@pytest.mark.parametrize("pkg_name,name", PUBLIC, ids=[f"{p}.{n}" for p, n in PUBLIC])
def test_public_docstring_has_sections(pkg_name, name):
    obj = _public_object(pkg_name, name)
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{pkg_name}.{name} has no docstring"
    assert re.search(r"^Examples\n-{8}$", doc, re.M), f"{pkg_name}.{name}: no 'Examples' section"
    assert ">>> " in doc, f"{pkg_name}.{name}: the Examples section has no doctest"
    if inspect.isfunction(obj):
        takes = [p for p in inspect.signature(obj).parameters.values()
                 if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if takes:
            assert re.search(r"^Parameters\n-{10}$", doc, re.M), f"{pkg_name}.{name}: no Parameters"
        assert re.search(r"^(Returns|Yields)\n-{7}$", doc, re.M), f"{pkg_name}.{name}: no Returns"
    elif inspect.isclass(obj) and list(inspect.signature(obj).parameters):
        # the constructor's arguments: in the class docstring (numpy style) or in __init__'s
        init_doc = inspect.getdoc(obj.__init__) if "__init__" in vars(obj) else ""
        assert (re.search(r"^(Parameters|Attributes)\n-{10}$", doc, re.M)
                or re.search(r"^Parameters\n-{10}$", init_doc or "", re.M)), \
            f"{pkg_name}.{name}: the constructor's parameters are not documented"


def test_api_pages_list_every_public_name():
    """A name added to ``__all__`` also appears in the reference."""
    missing = []
    for pkg in PACKAGES:
        page = (ROOT / "docs" / "api" / f"{pkg.__name__.rsplit('.', 1)[-1]}.rst").read_text(encoding="utf-8")
        for name in pkg.__all__:
            if not re.search(rf"^\.\. auto(function|class):: {name}$", page, re.M):
                missing.append(f"{pkg.__name__}.{name}")
    assert not missing, f"not in docs/api/*.rst: {missing}"


# ---------------------------------------------------------------------------------------------
# the reference builds


@pytest.mark.skipif(not HAVE_SPHINX, reason="sphinx is not installed (pip install -e .[test])")
def test_sphinx_builds_without_warnings(tmp_path):
    """``sphinx-build -W --keep-going -b html docs <tmp>``: any warning (a broken docstring, a
    name autodoc cannot import, a notebook that does not render) fails the build; the message
    lists every warning. The notebooks render without being executed here (tests/test_notebooks.py
    runs them; ``make docs`` executes them into the pages)."""
    run = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                          "-D", "nb_execution_mode=off", str(ROOT / "docs"), str(tmp_path / "html")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "MPLBACKEND": "Agg"})
    assert run.returncode == 0, f"sphinx-build failed:\n{run.stderr}{run.stdout}"
    assert "WARNING" not in run.stderr, run.stderr
    for page in ("index", "api/filters", "api/scatter", "api/models", "gallery",
                 "coming_from_kymatio", *(f"notebooks/{p.stem}" for p in
                                          sorted((ROOT / "notebooks").glob("*.ipynb")))):
        assert (tmp_path / "html" / f"{page}.html").is_file(), page
    # autodoc really rendered the docstrings (not empty pages): a known example is in the page
    assert "morlet_2d" in (tmp_path / "html" / "api" / "filters.html").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# every example runs


@pytest.mark.parametrize("module_name", _public_modules())
def test_doctests(module_name):
    """The examples of every docstring of the module (public names, their methods, private
    helpers alike) give the output they show."""
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    # an empty namespace: every example imports what it uses, so a reader can copy it as it is
    tests = [t for t in finder.find(module, module_name, globs={}) if t.examples]
    assert tests, f"{module_name} defines public names but has no examples"
    report: list[str] = []
    for test in tests:
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    import matplotlib.pyplot as plt
    plt.close("all")
    assert result.failed == 0, "".join(report)


# ---------------------------------------------------------------------------------------------
# the README's code runs


def _readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


def test_readme_has_python_blocks():
    assert len(_readme_blocks()) >= 3


@pytest.mark.parametrize("index", range(len(_readme_blocks())))
def test_readme_python_block_runs(index, tmp_path, monkeypatch):
    """Each ```python block of README.md runs as it is, in a fresh namespace, in an empty
    folder (files it saves land there)."""
    monkeypatch.chdir(tmp_path)
    code = _readme_blocks()[index]
    try:
        exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})
    finally:
        import matplotlib.pyplot as plt
        plt.close("all")


def _readme_commands() -> list[str]:
    """The ``scatter ...`` command lines of the README's ```sh blocks (continuations joined)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip().startswith("scatter "):
                commands.append(" ".join(line.split()))
    return commands


def test_readme_has_commands():
    commands = _readme_commands()
    assert any(c.startswith("scatter features") for c in commands)
    assert any(c.startswith("scatter filters") for c in commands)


@pytest.mark.parametrize("command", _readme_commands(), ids=lambda c: " ".join(c.split()[:2]))
def test_readme_command_runs(command, tmp_path, monkeypatch, request):
    """Each command line of the README runs (through ``scatter.cli.main``, the function the
    ``scatter`` entry point calls) in an empty folder where ``data/`` is the provided datasets
    folder, and writes the file it names."""
    from scatter.cli import main

    args = shlex.split(command)
    if any(a.startswith("data/") for a in args):
        shared_data = request.getfixturevalue("shared_data")  # skips when absent
        (tmp_path / "data").symlink_to(shared_data, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    extra = ["--no-progress"] if args[1] == "features" else []
    try:
        assert main(args[1:] + extra) == 0, command
    finally:
        import matplotlib.pyplot as plt
        plt.close("all")
    out = args[args.index("--out") + 1]
    out = tmp_path / out
    if out.suffix == ".zarr":                       # a Zarr store is a folder
        assert out.is_dir() and (out / "features").is_dir()
    else:
        assert out.is_file() and out.stat().st_size > 0
