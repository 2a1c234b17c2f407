"""Run the notebooks top to bottom and save their figures as PNG (for the README and the docs).

Usage (from the repository root)::

    python notebooks/export_figures.py                 # every notebooks/*.ipynb -> out/docs/
    python notebooks/export_figures.py --out DIR notebooks/02_scattering.ipynb
    python notebooks/export_figures.py --gallery       # also refresh the README's docs/images/

Each notebook runs in a fresh kernel of *this* interpreter (a kernel spec pointing at
``sys.executable`` is written to a temporary folder: nothing is registered with Jupyter), with
the working directory set to the notebook's folder and the repository root first on
``PYTHONPATH``. A code cell that displays figures names them with a first line
``# figure: NAME``; its images are saved as ``<notebook stem>_<NAME>.png`` (``_<k>`` appended
when the cell shows more than one). Figures of unnamed cells are saved as
``<stem>_cell<index>.png``. The notebooks in git stay without outputs: executed copies are never
written back.

The functions here are also what ``tests/test_notebooks.py`` runs.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Sequence

NOTEBOOK_DIR = Path(__file__).resolve().parent
REPO_ROOT = NOTEBOOK_DIR.parent
KERNEL_NAME = "scatter-notebook-python"
_FIGURE_TAG = re.compile(r"^#\s*figure:\s*([A-Za-z0-9_.-]+)\s*$")


def notebook_paths(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The notebooks of ``folder`` (``*.ipynb``, sorted by name; checkpoints excluded)."""
    return sorted(p for p in Path(folder).glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def unstripped_cells(nb) -> list[str]:
    """Why ``nb`` (a notebook node) is not stored stripped: one line per offending cell.

    A stripped notebook has no outputs and ``execution_count`` ``None`` in every code cell.
    Returns an empty list when it is stripped.
    """
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {index} has {len(cell.outputs)} output(s)")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {index} has execution_count {cell.execution_count}")
    return problems


def _kernel_manager(kernel_dir: Path):
    """A kernel manager for this interpreter, from a kernel spec written under ``kernel_dir``."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    spec_dir = kernel_dir / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "scatter (this interpreter)", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(kernel_dir)], ensure_native_kernel=False)
    # the connection file goes in the temporary folder too: nothing written under ~/.local
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs,
                         connection_file=str(kernel_dir / "connection.json"))


def _kernel_env(kernel_dir: Path) -> dict[str, str]:
    """The kernel's environment: the checkout importable first; one BLAS thread (the machine's
    cores are better spent by torch); IPython's profile in the temporary folder (the user's
    startup files do not run, and a read-only home is fine); no debugger warnings about frozen
    modules."""
    env = dict(os.environ)
    env["IPYTHONDIR"] = str(kernel_dir / "ipython")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    env.pop("MPLBACKEND", None)  # let ipykernel pick its inline backend
    return env


def execute_notebook(path: Path, timeout: int = 120):
    """Run the notebook at ``path`` top to bottom in a fresh kernel of this interpreter.

    Parameters
    ----------
    path : Path
        The ``.ipynb`` file (not modified).
    timeout : int
        Seconds allowed per cell.

    Returns
    -------
    nbformat.NotebookNode
        The executed notebook, with outputs.

    Raises
    ------
    nbclient.exceptions.CellExecutionError
        When a cell raises (the message holds the traceback).
    nbclient.exceptions.CellTimeoutError
        When a cell runs longer than ``timeout``.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="scatter-kernel-") as kernel_dir:
        km = _kernel_manager(Path(kernel_dir))
        client = NotebookClient(nb, km=km, timeout=timeout, allow_errors=False,
                                resources={"metadata": {"path": str(path.parent)}})
        client.execute(env=_kernel_env(Path(kernel_dir)))
    return nb


def figures(nb, stem: str) -> list[tuple[str, bytes]]:
    """The PNG images an executed notebook displays, as ``(file name, PNG bytes)`` in cell order."""
    out = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        images = [base64.b64decode(o["data"]["image/png"]) for o in cell.get("outputs", [])
                  if o.get("output_type") in ("display_data", "execute_result")
                  and "image/png" in o.get("data", {})]
        if not images:
            continue
        first_line = cell.source.splitlines()[0] if cell.source else ""
        match = _FIGURE_TAG.match(first_line)
        name = f"{stem}_{match.group(1)}" if match else f"{stem}_cell{index:02d}"
        for k, png in enumerate(images):
            out.append((f"{name}.png" if len(images) == 1 else f"{name}_{k}.png", png))
    return out


def export_figures(paths: Sequence[Path] | None = None, out: Path = REPO_ROOT / "out" / "docs",
                   timeout: int = 120) -> list[Path]:
    """Execute each notebook and write its figures under ``out``; returns the files written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebook_paths() if paths is None else [Path(p) for p in paths]:
        nb = execute_notebook(path, timeout=timeout)
        for name, png in figures(nb, path.stem):
            target = out / name
            target.write_bytes(png)
            written.append(target)
            print(f"wrote {target}")
    return written


# The README's gallery (docs/images/NAME) and the exported figure each is a copy of; the camera
# figure is the one ``make demo`` writes (scatter.demo.scatter_image).
GALLERY = {
    "morlet_bank.png": "01_filter_banks_morlet_bank.png",
    "littlewood_paley.png": "01_filter_banks_littlewood_paley_all.png",
    "scattering_disk.png": "02_scattering_scattering_disk_order1.png",
    "stability.png": "02_scattering_stability.png",
    "learned_vs_morlet.png": "03_learned_vs_analytic_vs_morlet.png",
    "sparse_coding_dictionary.png": "04_sparse_coding_dictionary.png",
}


def refresh_gallery(exported: Path, images: Path = REPO_ROOT / "docs" / "images") -> list[Path]:
    """Copy the gallery's figures from the exported ones (``exported``) into ``images``, and
    draw the camera figure as ``make demo`` does; returns the files written."""
    import shutil

    sys.path.insert(0, str(REPO_ROOT))
    from scatter.demo import scatter_image

    written = []
    for name, source in GALLERY.items():
        shutil.copyfile(Path(exported) / source, images / name)
        written.append(images / name)
    written.append(scatter_image(images))
    for path in written:
        print(f"wrote {path}")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "docs")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    parser.add_argument("--gallery", action="store_true",
                        help="then copy the README's gallery figures into docs/images")
    args = parser.parse_args(argv)
    export_figures(args.notebooks or None, out=args.out, timeout=args.timeout)
    if args.gallery:
        refresh_gallery(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
