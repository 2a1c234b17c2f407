"""The library's demonstration, run by ``make demo`` as ``python -m scatter.demo --out out``.

Steps, one function each, called in order by :func:`main`:

1. :func:`build_banks` builds the default filter banks that :mod:`scatter.filters` provides (families that
   are not importable are skipped with a message);
2. :func:`frame_bounds_table` prints each bank's Littlewood-Paley frame bounds;
3. :func:`save_gallery` saves one PNG per bank and a combined Fourier-tiling gallery under the
   output folder, each written atomically.

4. :func:`scatter_image` computes the 2D scattering of a bundled image (scikit-image's
   ``camera``), prints its shape, energy per order and run time, and saves its first-order maps.

5. :func:`classify_digits` computes scattering features of MNIST (from ``../shared/data/mnist``
   when present, else scikit-learn's bundled 8x8 digits) with :func:`scatter.extract_features` and
   prints a linear classifier's test accuracy.
"""
from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from . import filters
from ._files import atomic_output
from .filters import FilterBank, plot_bank
from .filters.plotting import order_groups


@dataclass(frozen=True)
class BankRecipe:
    """How the demo builds one family's default bank.

    Attributes
    ----------
    label : str
        Short name, also the PNG's file name.
    names : tuple of str
        Candidate constructors, tried in order: ``'name'`` in :mod:`scatter.filters` or ``'module:name'``
        in a submodule ``filters.module`` not yet exported (families are being added and renamed:
        the first that exists and returns a :class:`FilterBank` is used).
    build : callable ``(constructor, size) -> FilterBank``
        Calls the constructor with the demo's parameters for a ``size`` x ``size`` grid.
    description : str
        The parameters, for the table.
    """

    label: str
    names: tuple[str, ...]
    build: Callable[[Callable, int], FilterBank]
    description: str


DEFAULT_RECIPES: tuple[BankRecipe, ...] = (
    BankRecipe("morlet_2d", ("morlet_2d",), lambda f, n: f((n, n), J=3, L=8), "J=3, L=8"),
    BankRecipe("morlet_1d", ("morlet_1d",), lambda f, n: f(8 * n, J=6, Q=8),
               "N=8*size, J=6, Q=(8, 1)"),
    BankRecipe("gabor_2d", ("gabor_2d",),
               lambda f, n: f((n, n), frequencies=(0.25, 0.125, 0.0625), L=8, remove_dc=True),
               "f=1/4,1/8,1/16, 8 angles, DC removed"),
    BankRecipe("log_gabor_2d", ("log_gabor_2d",), lambda f, n: f((n, n)), "defaults"),
    BankRecipe("dwt_db4", ("dwt_filter_bank",), lambda f, n: f("db4", (n, n), level=3),
               "db4, 3 levels (undecimated)"),
    BankRecipe("curvelet_2d", ("curvelet_2d", "curvelet:curvelet_2d"),
               lambda f, n: f((n, n), scales=4, angles=16),
               "4 scales, 16 angles"),
)


# ------------------------------------------------------------------------------ step 1
def build_banks(size: int = 128, recipes: Sequence[BankRecipe] | None = None,
                log: Callable[[str], None] = print) -> dict[str, tuple[BankRecipe, FilterBank]]:
    """Build every default bank whose constructor :mod:`scatter.filters` provides.

    Parameters
    ----------
    size : int
        Side of the 2D grids (1D banks use ``8 * size`` samples).
    recipes : sequence of BankRecipe, optional
        Default: :data:`DEFAULT_RECIPES`.
    log : callable
        Receives one line per skipped family, with the reason (missing, or the error raised).

    Returns
    -------
    dict
        ``{label: (recipe, bank)}`` in the order of ``recipes``.
    """
    banks = {}
    for recipe in DEFAULT_RECIPES if recipes is None else recipes:
        reasons = []
        for name in recipe.names:
            constructor = _find(name)
            if constructor is None:
                reasons.append(f"filters.{name.replace(':', '.')} not found")
                continue
            try:
                bank = recipe.build(constructor, size)
            except Exception as error:  # noqa: BLE001  e.g. a same-named function, other signature
                reasons.append(f"filters.{name.replace(':', '.')} failed: "
                               f"{type(error).__name__}: {error}")
                continue
            if isinstance(bank, FilterBank):
                banks[recipe.label] = (recipe, bank)
                break
            reasons.append(f"filters.{name} returned {type(bank).__name__}, not a FilterBank")
        else:
            log(f"skipped {recipe.label}: " + "; ".join(reasons))
    return banks


def _find(name: str):
    """``filters.name``, or ``filters.module.name`` for ``'module:name'``; None when absent."""
    module_name, _, attribute = name.rpartition(":")
    if not module_name:
        return getattr(filters, attribute, None)
    try:
        module = importlib.import_module(f"filters.{module_name}")
    except ImportError:
        return None
    return getattr(module, attribute, None)


# ------------------------------------------------------------------------------ step 2
def frame_bounds_rows(banks: dict[str, tuple[BankRecipe, FilterBank]]) -> list[dict]:
    """One row per bank (per scattering order for banks holding two): frame bounds for real signals.

    Returns
    -------
    list of dict
        Keys ``'bank'``, ``'grid'``, ``'filters'``, ``'lowpass'``, ``'A'``, ``'B'``, ``'params'``.
    """
    rows = []
    for label, (recipe, bank) in banks.items():
        for group, sub in order_groups(bank):
            low, high = sub.frame_bounds()
            rows.append({"bank": label + (f" ({group})" if group else ""),
                         "grid": "x".join(map(str, sub.shape)), "filters": len(sub),
                         "lowpass": sub.phi is not None, "A": low, "B": high,
                         "params": recipe.description})
    return rows


def frame_bounds_table(banks: dict[str, tuple[BankRecipe, FilterBank]]) -> str:
    """The frame bounds of :func:`frame_bounds_rows` as a fixed-width text table."""
    header = ("bank", "grid", "K", "phi", "A (min LP)", "B (max LP)", "B/A", "parameters")
    lines = []
    for row in frame_bounds_rows(banks):
        ratio = row["B"] / row["A"] if row["A"] > 0 else math.inf
        lines.append((row["bank"], row["grid"], str(row["filters"]),
                      "yes" if row["lowpass"] else "no",
                      f"{row['A']:.4g}", f"{row['B']:.4g}", f"{ratio:.4g}", row["params"]))
    widths = [max(len(line[i]) for line in [header] + lines) for i in range(len(header))]
    text = [" | ".join(cell.ljust(w) for cell, w in zip(line, widths)) for line in [header] + lines]
    text.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(text)


# ------------------------------------------------------------------------------ step 3
def save_figure(fig, path: Path, dpi: int = 100) -> Path:
    """Save ``fig`` as PNG at ``path`` atomically: a reader never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as temporary, open(temporary, "wb") as stream:
        fig.savefig(stream, format="png", dpi=dpi)
    return path


def save_gallery(banks: dict[str, tuple[BankRecipe, FilterBank]], out: Path,
                 max_filters: int = 16, dpi: int = 100,
                 log: Callable[[str], None] = print) -> list[Path]:
    """One PNG per bank (``out/filters/<label>.png``) and the Fourier tilings of all banks side by
    side (``out/filter_gallery.png``).

    Parameters
    ----------
    banks : dict
        From :func:`build_banks`.
    out : Path
        Output folder (created if missing).
    max_filters, dpi : int
        Filters drawn in space per bank; resolution of the PNGs.
    log : callable
        Receives a line when a bank's own ``plot`` fails and the generic figure is used.

    Returns
    -------
    list of Path
        The files written.
    """
    from matplotlib.figure import Figure

    out = Path(out)
    written = []
    for label, (_, bank) in banks.items():
        try:  # a family may draw itself its own way (FilterBank subclasses override plot)
            fig = bank.plot(max_filters=max_filters)
        except Exception as error:  # noqa: BLE001  the demo goes on with the generic figure
            log(f"{label}: {type(bank).__name__}.plot failed ({type(error).__name__}: {error}); "
                f"drawn with filters.plot_bank")
            fig = plot_bank(bank, max_filters=max_filters)
        written.append(save_figure(fig, out / "filters" / f"{label}.png", dpi=dpi))
    if banks:
        n = len(banks)
        cols = min(n, 3)
        rows = math.ceil(n / cols)
        gallery = Figure(figsize=(4.6 * cols, 7.8 * rows), layout="constrained")
        cells = gallery.subfigures(rows, cols, squeeze=False).ravel()
        for cell, (label, (_, bank)) in zip(cells, banks.items()):
            plot_bank(bank, spatial=False, fig=cell, title=f"{label}: {len(bank)} filters, "
                                                     f"{'x'.join(map(str, bank.shape))}")
        gallery.suptitle("Fourier tilings and Littlewood-Paley sums of the default banks")
        written.append(save_figure(gallery, out / "filter_gallery.png", dpi=dpi))
    return written


# ------------------------------------------------------------------------ scattering
def scatter_image(out: Path, size: int = 256, J: int = 3, L: int = 8, dpi: int = 100) -> Path:
    """Scattering of ``skimage.data.camera()`` (resized to ``size``): print facts, save order-1 maps."""
    import time

    import numpy as np
    import torch
    from matplotlib.figure import Figure
    from skimage.data import camera

    from scatter import Scattering2D

    from skimage.transform import resize

    image = resize(camera().astype(np.float32) / 255, (size, size), anti_aliasing=True).astype(np.float32)
    start = time.perf_counter()
    S = Scattering2D(J, image.shape, L=L)
    built = time.perf_counter() - start
    with torch.no_grad():
        S(image)  # first call allocates; time the second
        start = time.perf_counter()
        coefs = S(image)
        elapsed = time.perf_counter() - start
    meta = S.meta()
    print(f"Scattering2D(J={J}, shape={image.shape}, L={L}) of skimage camera: output {coefs.shape} "
          f"({len(meta['order'])} channels of {coefs.shape[-2]}x{coefs.shape[-1]}), built in "
          f"{1e3 * built:.0f} ms, computed in {1e3 * elapsed:.0f} ms on the CPU")
    energy = [float(np.sum(coefs[meta["order"] == m] ** 2)) for m in (0, 1, 2)]
    total = sum(energy)
    print("energy share by order: " + ", ".join(f"order {m}: {e / total:.4f}" for m, e in enumerate(energy)))

    from scatter.filters import _style as style

    first = coefs[meta["order"] == 1]
    fig = Figure(figsize=(1.55 * (L + 1) + 1.2, 1.75 * J + 0.7), layout="constrained")
    axes = fig.subplots(J, L + 1, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    # left column: the image, then the order-0 coefficients (its local average), each with a bar
    for row, (picture, title) in enumerate([(image, "image $x$"),
                                             (coefs[0], "order 0: $x \\ast \\phi_J$")][:J]):
        shown = axes[row, 0].imshow(picture, cmap=style.IMAGE)
        axes[row, 0].set_title(title, fontsize=8)
        style.colorbar(fig, shown, axes[row, 0], location="left", shrink=0.8)
    # one row per scale j, one column per orientation; a row shares its colour scale
    for j in range(J):
        maps = first[j * L:(j + 1) * L]
        for t in range(L):
            shown = axes[j, t + 1].imshow(maps[t], cmap=style.MODULUS, vmin=0, vmax=maps.max())
            angle = "0" if t == 0 else f"{t if t > 1 else ''}\\pi/{L}"
            axes[j, t + 1].set_title(f"$j={j}$, $\\theta={angle}$", fontsize=8)
        style.colorbar(fig, shown, list(axes[j, 1:]), shrink=0.8)
    fig.suptitle(f"First-order scattering $|x \\ast \\psi_{{j,\\theta}}| \\ast \\phi_J$ of the "
                 f"camera image ($J={J}$, $L={L}$, {size}x{size})")
    return save_figure(fig, out / "scattering_camera.png", dpi=dpi)


# ------------------------------------------------------------------------------ step 5
# Where the project's provided datasets lie (as tests/conftest.py finds them).
SHARED_DATA = Path(os.environ.get("SCATTER_SHARED_DATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "data"))


def load_digit_images(n_train: int, n_test: int, root: Path | None = None):
    """Digit images for the classification step, as float32 in [0, 1].

    MNIST's first ``n_train`` training and ``n_test`` test images from ``root/mnist`` (default
    :data:`SHARED_DATA`) when the folder exists; otherwise scikit-learn's 1,797 bundled 8x8 digits
    split in order (at most ``n_train`` for training, the rest up to ``n_test`` for testing).

    Returns
    -------
    source : str
    x_train, x_test : ndarray, float32, shape (n, H, W)
    y_train, y_test : ndarray, int64, shape (n,)
    """
    import numpy as np

    folder = Path(SHARED_DATA if root is None else root) / "mnist"
    if folder.is_dir():
        from .models.datasets import load_mnist

        x_train, y_train = load_mnist(folder, "train", max_items=n_train)
        x_test, y_test = load_mnist(folder, "test", max_items=n_test)
        return (f"MNIST ({folder})", (x_train / 255).astype(np.float32),
                (x_test / 255).astype(np.float32), y_train, y_test)
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = (digits.images / 16).astype(np.float32), digits.target.astype(np.int64)
    cut = min(n_train, len(x) * 2 // 3)
    return ("scikit-learn digits (8x8; MNIST not found at " f"{folder})", x[:cut],
            x[cut:cut + n_test], y[:cut], y[cut:cut + n_test])


def classify_digits(n_train: int = 2000, n_test: int = 1000, J: int = 2, L: int = 8,
                    root: Path | None = None) -> dict:
    """Log-scattering features of digits and a logistic regression on them; prints the accuracy.

    Returns
    -------
    dict
        ``source``, ``n_train``, ``n_test``, ``n_features``, ``accuracy`` (on the test images),
        ``seconds_features`` and ``seconds_fit``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from . import Scattering2D
    from .features import extract_features

    source, x_train, x_test, y_train, y_test = load_digit_images(n_train, n_test, root)
    J = min(J, int(math.log2(min(x_train.shape[1:]))) - 1)  # 8x8 digits take J = 2 at most
    S = Scattering2D(J, x_train.shape[1:], L=L)
    start = time.perf_counter()
    f_train, f_test = (extract_features(x, S, batch_size=250, normalize="log", progress=False)
                       .reshape(len(x), -1) for x in (x_train, x_test))
    features = time.perf_counter() - start
    start = time.perf_counter()
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=300))
    accuracy = float(model.fit(f_train, y_train).score(f_test, y_test))
    fit = time.perf_counter() - start
    print(f"digits: {source}; log-scattering J={J}, L={L}: {f_train.shape[1]} features; "
          f"logistic regression trained on {len(x_train)}, test accuracy on {len(x_test)}: "
          f"{100 * accuracy:.2f}% (features {features:.1f} s, fit {fit:.1f} s)")
    return {"source": source, "n_train": len(x_train), "n_test": len(x_test),
            "n_features": int(f_train.shape[1]), "accuracy": accuracy,
            "seconds_features": features, "seconds_fit": fit}


# ------------------------------------------------------------------------------ main
def main(argv: Sequence[str] | None = None) -> int:
    """Run the demonstration; returns the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m scatter.demo",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out"),
                        help="output folder (default: out)")
    parser.add_argument("--size", type=int, default=128, help="side of the 2D grids (default: 128)")
    parser.add_argument("--max-filters", type=int, default=16,
                        help="filters drawn in space per bank (default: 16)")
    parser.add_argument("--image-size", type=int, default=256,
                        help="side of the image the scattering step transforms (default: 256)")
    parser.add_argument("--dpi", type=int, default=100,
                        help="resolution of the PNGs (default: 100)")
    parser.add_argument("--digits-train", type=int, default=2000,
                        help="training images of the digit classification step (default: 2000)")
    parser.add_argument("--digits-test", type=int, default=1000,
                        help="test images of the digit classification step (default: 1000)")
    args = parser.parse_args(argv)
    if args.size < 16:
        parser.error(f"--size must be >= 16, got {args.size}")
    if args.max_filters < 1:
        parser.error(f"--max-filters must be >= 1, got {args.max_filters}")
    if args.image_size < 32:
        parser.error(f"--image-size must be >= 32, got {args.image_size}")
    if args.dpi < 10:
        parser.error(f"--dpi must be >= 10, got {args.dpi}")
    if args.digits_train < 10 or args.digits_test < 10:
        parser.error(f"--digits-train and --digits-test must be >= 10, got {args.digits_train} "
                     f"and {args.digits_test}")

    banks = build_banks(args.size)
    if not banks:
        print("no filter bank could be built", file=sys.stderr)
        return 1
    print("\nFrame bounds for real signals (Littlewood-Paley sum with the low-pass, min and max "
          "over the grid):\n")
    print(frame_bounds_table(banks))
    print("A = 0 (or nearly) means part of the frequency grid is left uncovered, e.g. beyond the\n"
          "highest Gabor band: the bank is not a frame there and cannot be inverted stably.\n")
    for path in save_gallery(banks, args.out, max_filters=args.max_filters, dpi=args.dpi):
        print(f"wrote {path}")
    print()
    print(f"wrote {scatter_image(args.out, size=args.image_size, dpi=args.dpi)}")
    print()
    classify_digits(args.digits_train, args.digits_test)
    return 0


if __name__ == "__main__":
    sys.exit(main())
