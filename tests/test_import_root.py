"""One import root: ``scatter``, ``scatter.filters``, ``scatter.models``, never a bare ``filters`` or
``models`` (a user's own ``filters.py`` or ``models/`` must not shadow ours, nor ours theirs).

Each check runs in a fresh interpreter started in a folder that holds its own ``filters.py`` and
``models/`` package, as most ML projects do: an editable install (the suite's), and a regular
(non-editable) install built from the repository, imported from that folder and from the
repository root (where the checkout's ``scatter/`` shadows the installed one).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _user_project(tmp_path: Path) -> Path:
    """A folder like a user's project: its own ``filters.py`` and ``models/``."""
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "filters.py").write_text("USER_FILTERS = True\n")
    (project / "models" / "__init__.py").write_text("USER_MODELS = True\n")
    return project


def _run(code: str, cwd: Path, env: dict | None = None, script: str = "check.py",
         flags: tuple = ()) -> str:
    """Run ``code`` as a script saved in ``cwd`` (so ``cwd`` is first on ``sys.path``)."""
    path = cwd / script
    path.write_text(code)
    run = subprocess.run([sys.executable, *flags, str(path)], cwd=cwd, capture_output=True,
                         text=True, timeout=600,
                         env={**os.environ, "MPLBACKEND": "Agg", **(env or {})})
    assert run.returncode == 0, f"{script} failed in {cwd}:\n{run.stderr[-4000:]}"
    return run.stdout


_CHECK = textwrap.dedent("""
    import importlib.util, os, sys
    import filters, models                       # the user's own
    assert filters.USER_FILTERS and models.USER_MODELS
    import scatter, scatter.filters, scatter.models
    from scatter import Scattering1D, Scattering2D, filters as ours
    from scatter.models import SparseCoding
    assert ours is scatter.filters and ours is not filters
    for mod in (scatter, scatter.filters, scatter.models):
        print(mod.__name__, os.path.dirname(os.path.abspath(mod.__file__)))
    assert not any(k.split(".")[0] == "filters" and k != "filters" for k in sys.modules)
""")


def test_user_filters_and_models_do_not_shadow_ours(tmp_path):
    out = _run(_CHECK, _user_project(tmp_path))
    dirs = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert Path(dirs["scatter.filters"]) == ROOT / "filters"
    assert Path(dirs["scatter.models"]) == ROOT / "models"


def test_nothing_of_ours_is_a_bare_filters_or_models(tmp_path):
    out = _run("import importlib.util\n"
               "print(importlib.util.find_spec('filters'), importlib.util.find_spec('models'))\n",
               tmp_path)
    assert out.strip() == "None None"


def _readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


@pytest.mark.slow
def test_readme_quick_starts_run_beside_user_filters_and_models(tmp_path):
    """Every ```python block of the README, as a script in a folder with its own ``filters.py``
    and ``models/`` (one interpreter for all: the blocks are independent)."""
    project = _user_project(tmp_path)
    blocks = _readme_blocks()
    assert len(blocks) >= 3
    code = "".join(f"\n# ---- README block {i}\nexec(compile({block!r}, 'README block {i}', 'exec'), "
                   f"{{'__name__': '__readme__'}})\n" for i, block in enumerate(blocks))
    _run("import matplotlib\nmatplotlib.use('Agg')\n" + code + "\nprint('ok')\n", project)


@pytest.fixture(scope="module")
def regular_install(tmp_path_factory) -> Path:
    """The project installed as a wheel would be (not editable), into a folder of its own."""
    target = tmp_path_factory.mktemp("site")
    # built from a copy: setuptools writes build/ and *.egg-info beside the sources it builds
    source = tmp_path_factory.mktemp("source") / "scatter-src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "out", "*.egg-info", "__pycache__", "notebooks", "benchmarks", "tests"))
    run = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                          "--no-index", "--quiet", "--target", str(target), str(source)],
                         capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        pytest.fail(f"pip install of the project failed:\n{run.stderr[-4000:]}")
    assert (target / "scatter" / "filters" / "__init__.py").is_file()
    assert not (target / "filters").exists() and not (target / "models").exists()
    return target


def _without_editable_install(target: Path) -> dict:
    """Environment for ``python -S``: the regular install and the dependencies, but not the
    editable install's import hook (a ``.pth`` file, which only ``site`` reads)."""
    return {"PYTHONPATH": os.pathsep.join([str(target), sysconfig.get_paths()["purelib"]])}


@pytest.mark.slow
def test_regular_install_from_a_user_project(tmp_path, regular_install):
    out = _run(_CHECK, _user_project(tmp_path), env=_without_editable_install(regular_install),
               flags=("-S",))
    dirs = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert Path(dirs["scatter.filters"]) == regular_install / "scatter" / "filters"


@pytest.mark.slow
def test_regular_install_from_the_repository_root(regular_install, tmp_path):
    """From the checkout's root its ``scatter/`` comes first on ``sys.path``: the subpackages
    must still resolve (to the checkout's ``filters/`` and ``models/``)."""
    code = ("import sys, os\nsys.path.insert(0, os.getcwd())\n"
            "import scatter.filters, scatter.models\nfrom scatter import Scattering2D\n"
            "assert not any('editable' in str(f) for f in sys.meta_path)\n"
            "print(scatter.filters.__file__)\nprint(scatter.models.__file__)\n")
    path = tmp_path / "check.py"
    path.write_text(code)
    run = subprocess.run([sys.executable, "-S", str(path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=600, env={**os.environ, **_without_editable_install(regular_install)})
    assert run.returncode == 0, run.stderr[-4000:]
    files = run.stdout.split()
    assert Path(files[0]) == ROOT / "filters" / "__init__.py"
    assert Path(files[1]) == ROOT / "models" / "__init__.py"
