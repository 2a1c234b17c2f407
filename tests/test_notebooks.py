"""The notebooks run top to bottom without error, and are stored in git without outputs.

Each notebook runs in a fresh kernel of the test's own interpreter (see
``notebooks/export_figures.py``: a temporary kernel spec pointing at ``sys.executable``, nothing
registered with Jupyter). Budget: each notebook about a minute or less on 2 shared cores (03-05
train small models: 25-60 s each under load).
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 150  # seconds per cell: generous for a loaded machine; notebooks take ~10-60 s


def _runner():
    """``notebooks/export_figures.py`` as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("_notebook_runner", NOTEBOOK_DIR / "export_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ids(paths):
    return [p.stem for p in paths]


def test_notebooks_exist():
    names = {p.name for p in NOTEBOOKS}
    assert {"01_filter_banks.ipynb", "02_scattering.ipynb", "03_learned_vs_analytic.ipynb",
            "04_sparse_coding.ipynb", "05_transfer.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_stripped(path):
    """Committed notebooks carry no outputs and no execution counts (read as plain JSON, so
    this runs without nbformat)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {index}: {len(cell['outputs'])} output(s)")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {index}: execution_count {cell['execution_count']}")
    assert not problems, f"{path.name} is not stripped: " + "; ".join(problems)


def test_unstripped_cells_reports_outputs():
    """The stripping check of the runner finds outputs and execution counts."""
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (pip install .[test])")
    runner = _runner()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# title"),
                                         nbformat.v4.new_code_cell("1 + 1")])
    assert runner.unstripped_cells(nb) == []
    nb.cells[1].execution_count = 3
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=3)]
    assert runner.unstripped_cells(nb) == ["cell 1 has 1 output(s)", "cell 1 has execution_count 3"]


def test_failing_cell_fails(tmp_path):
    """A notebook whose cell raises makes execution fail (the test below would catch it)."""
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (pip install .[test])")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (pip install .[test])")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed (pip install .[test])")
    path = tmp_path / "broken.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_code_cell("raise RuntimeError('boom')")])
    nbformat.write(nb, path)
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="boom"):
        _runner().execute_notebook(path, timeout=60)


def test_kernel_is_this_interpreter(tmp_path):
    """Notebooks run in this interpreter (the project's venv), not a globally registered kernel."""
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (pip install .[test])")
    pytest.importorskip("nbclient", reason="nbclient is not installed (pip install .[test])")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed (pip install .[test])")
    path = tmp_path / "which.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os, sys; print(sys.executable); print(os.getcwd())")]), path)
    nb = _runner().execute_notebook(path, timeout=60)
    executable, cwd = nb.cells[0].outputs[0]["text"].split()
    assert Path(executable).resolve() == Path(sys.executable).resolve()
    assert Path(cwd).resolve() == tmp_path.resolve()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs(path):
    """Every cell runs without error; every figure-tagged cell displays a PNG."""
    pytest.importorskip("nbformat", reason="nbformat is not installed (pip install .[test])")
    pytest.importorskip("nbclient", reason="nbclient is not installed (pip install .[test])")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed (pip install .[test])")
    runner = _runner()
    nb = runner.execute_notebook(path, timeout=CELL_TIMEOUT)
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
              if o.output_type == "error"]
    assert not errors
    tagged = sum(1 for cell in nb.cells
                 if cell.cell_type == "code" and runner._FIGURE_TAG.match(cell.source.splitlines()[0]))
    names = [name for name, png in runner.figures(nb, path.stem) if png.startswith(b"\x89PNG")]
    assert tagged > 0 and len(names) == tagged, (tagged, names)
