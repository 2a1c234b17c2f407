"""Kernel machines on MNIST (60,000 / 10,000): raw pixels against log-scattering, our
:class:`scatter.models.KernelClassifier` (FALKON: Nystrom centres + preconditioned CG; float64 by
default, ``--dtype float32``)
against scikit-learn's ``Nystroem`` + ``RidgeClassifier`` at the same centres.

Rows: Gaussian kernel on pixels and on scattering ``J = 2`` and ``J = 3`` (Morlet, ``L = 8``,
order 2, ``log(|S| + 1e-6)``, each feature standardised with the training mean and standard
deviation); the linear kernel (primal ridge) on pixels and on scattering ``J = 2`` for reference.
For every row: test error, time to fit and to predict, peak memory (resident set above the
features already loaded, sampled every 20 ms), number of centres. Beside the Gaussian rows:
scikit-learn at the same centres and ridge (time, error, agreement of the predictions), and the
published numbers: Recht (Gaussian kernel, pixels 1.2 %, after a wavelet transform 0.6 %), Bruna
& Mallat 2013 (Gaussian SVM on scattering, 0.43 %).

Hyper-parameters (``gamma_scale`` times the median heuristic, and the per-sample ridge
``lambda = alpha / n``) are chosen with :func:`scatter.models.select_kernel_params` on a random
part of the TRAINING set (exact solver; 80 % fitted, 20 % scored); the test set is used once.

Scattering features are computed once with :class:`scatter.Scattering2D` on the CPU and cached
as ``.npy`` in ``--cache`` (default: a folder under the system's temporary directory), never in
the repository. ``--quick`` runs every row on 2,000 / 500 images with 300 centres and small grids (the test
suite's smoke run).

Run: ``python benchmarks/kernels.py [--quick] [--threads 2] [--centers 10000] [--data ../shared/data]``;
``--exact [ROW ...]`` solves the Gaussian rows (all, or those named, e.g. ``--exact
pixels-gaussian``) exactly on all 60,000 points instead, without scikit-learn beside them, within
``--exact-memory`` (default 16 GB): the kernel matrix is factorised in its own memory, in float64
where it fits (28.8 GB for MNIST), else in float32 (14.4 GB) refined to float64 residuals.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from scatter import Scattering2D, extract_features  # noqa: E402
from scatter.models import KernelClassifier, load_mnist, select_kernel_params  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CACHE = Path(tempfile.gettempdir()) / "scatter_kernels_cache"
REFERENCES = {"pixels": "1.2 (Recht)", "scattering J=2": "0.6 (Recht, wavelets)",
              "scattering J=3": "0.43 (Bruna & Mallat, SVM)"}
GAMMA_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
# from the float32 Nystrom solver's floor (KernelClassifier's FLOAT32_RIDGE_FLOOR) up: the tuning
# fits exactly in float64, where 1e-8 can win and then be garbage in float32 (J=3: 9 % error)
LAMBDAS = (1e-7, 1e-6, 1e-5)
LINEAR_LAMBDAS = (1e-4, 1e-3, 1e-2, 1e-1)
PLAN = (("pixels", "gaussian"), ("scattering J=2", "gaussian"), ("scattering J=3", "gaussian"),
        ("pixels", "linear"), ("scattering J=2", "linear"))
ROWS = tuple(f"{name} {kernel}".replace(" ", "-") for name, kernel in PLAN)
# precision of our fits (--dtype): float64 by default, because in float32 the kernel values'
# rounding moved the scattering rows' solution (J=3, gamma 0.25, lambda 1e-7: 0.87 % test error
# in float32 whatever the CG tolerance, 0.53 % in float64 as scikit-learn's float64 ridge)
DTYPE = ["float64"]
QUICK_GRID = dict(gamma_scales=(0.5, 1.0), lambdas=(1e-7, 1e-6), linear_lambdas=(1e-3, 1e-2))


# ------------------------------------------------------------------------------- memory
class PeakRSS:
    """Peak resident set size above the value at entry (bytes), sampled by a thread."""

    def __init__(self, every: float = 0.02) -> None:
        self.every = every

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            self._stop.wait(self.every)

    def __enter__(self) -> "PeakRSS":
        self.start = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())
        self.extra_gb = (self.peak - self.start) / 1e9


# ----------------------------------------------------------------------------- features
def scattering(images: np.ndarray, J: int, name: str, cache: Path | None) -> np.ndarray:
    """Log-scattering of ``images`` (float32 in [0, 1], (N, 28, 28)), flattened to (N, F);
    read from / written to ``cache / name`` when ``cache`` is given."""
    path = cache / name if cache is not None else None
    if path is not None and path.is_file():
        f = np.load(path, mmap_mode="r")
        if len(f) == len(images):
            return np.array(f, dtype=np.float32).reshape(len(images), -1)
    S = Scattering2D(J, (28, 28), L=8, max_order=2)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    f = extract_features(images, S, batch_size=500, normalize="log", progress=False,
                         out=str(path) if path is not None else None)
    return np.array(f, dtype=np.float32).reshape(len(images), -1)


def standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sets standardised in place (float32) with the training mean and standard deviation."""
    mean = train.mean(0, dtype=np.float64).astype(np.float32)
    std = train.std(0, dtype=np.float64).astype(np.float32)
    std[std == 0] = 1.0
    for a in (train, test):
        a -= mean
        a /= std
    return train, test


def load_features(mnist: Path, n_train: int, n_test: int, cache: Path | None, names=None,
                  log=print) -> dict:
    """``{name: (X_train, X_test)}`` for the feature sets ``names`` (default all), and the labels,
    from the IDX files in ``mnist``."""
    names = names or ("pixels", "scattering J=2", "scattering J=3")
    Xtr, ytr = load_mnist(mnist, "train", max_items=n_train)
    Xte, yte = load_mnist(mnist, "test", max_items=n_test)
    Xtr = Xtr.astype(np.float32) / 255
    Xte = Xte.astype(np.float32) / 255
    sets = {"pixels": (Xtr.reshape(n_train, -1), Xte.reshape(n_test, -1))} if "pixels" in names else {}
    full = n_train == 60000 and n_test == 10000
    for J in (2, 3):
        if f"scattering J={J}" not in names:
            continue
        t0 = time.perf_counter()
        where = cache if full else None  # only the full sets are cached
        ftr = scattering(Xtr, J, f"mnist_J{J}_train.npy", where)
        fte = scattering(Xte, J, f"mnist_J{J}_test.npy", where)
        sets[f"scattering J={J}"] = standardise(ftr, fte)
        log(f"  scattering J={J}: {ftr.shape[1]} features, {time.perf_counter() - t0:.1f} s "
            f"(computed or read from the cache)")
    return sets, ytr, yte


# ------------------------------------------------------------------------------ methods
def tune(kernel: str, X: np.ndarray, y: np.ndarray, n_sub: int, seed: int = 0,
         quick: bool = False, gammas=None, lambdas=None) -> tuple[dict, list]:
    """Best ``gamma_scale`` and per-sample ``lambda`` on a random part of the training set."""
    idx = np.random.default_rng(seed).permutation(len(X))[:n_sub]
    n_fit = int(round(0.8 * n_sub))
    grids = ((QUICK_GRID["gamma_scales"], QUICK_GRID["lambdas"], QUICK_GRID["linear_lambdas"])
             if quick else (GAMMA_SCALES, LAMBDAS, LINEAR_LAMBDAS))
    gammas = gammas or grids[0]
    lambdas = lambdas or grids[1]
    linear = grids[2]
    if kernel == "linear":
        grid = {"alpha": [lam * n_fit for lam in linear]}
    else:
        grid = {"gamma_scale": list(gammas), "alpha": [lam * n_fit for lam in lambdas]}
    base = KernelClassifier(kernel=kernel, solver="exact", dtype=DTYPE[0], max_memory=8e9,
                            random_state=seed)
    _, results = select_kernel_params(base, X[idx], y[idx], grid, validation_fraction=0.2,
                                      random_state=seed, refit=False)
    best = max(results, key=lambda r: r["validation_accuracy"])
    params = dict(best["params"])
    params["lambda"] = params.pop("alpha") / n_fit
    return params, results


def ours(kernel: str, params: dict, Xtr, ytr, Xte, yte, centers_idx, exact: float = 0.0) -> dict:
    """Fit and score :class:`KernelClassifier`: Nystrom at the centres ``centers_idx``, or with
    ``exact`` (bytes) the exact solve on every training point within that memory (the kernel
    matrix: 28.8 GB for MNIST in float64, else 14.4 GB in float32, refined)."""
    alpha = params["lambda"] * len(Xtr)
    kw = dict(kernel=kernel, alpha=alpha, dtype=DTYPE[0], max_memory=8e9, max_iter=30, tol=1e-4)
    if kernel != "linear" and exact:
        kw.update(gamma_scale=params["gamma_scale"], solver="exact", random_state=0,
                  max_memory=exact, tol=1e-6)
    elif kernel != "linear":
        kw.update(gamma_scale=params["gamma_scale"], centers=Xtr[centers_idx], random_state=0)
    clf = KernelClassifier(**kw)
    with PeakRSS() as mem:
        c0, t0 = time.process_time(), time.perf_counter()
        clf.fit(Xtr, ytr)
        t1 = time.perf_counter()
        scores = clf.decision_function(Xte)
        c2, t2 = time.process_time(), time.perf_counter()
    pred = clf.classes_[scores.argmax(1)]
    return dict(error=100 * np.mean(pred != yte), fit=t1 - t0, predict=t2 - t1, mem=mem.extra_gb,
                cpu=c2 - c0, gamma=clf.gamma_, solver=clf.solver_,
                centers=0 if kernel == "linear" else len(Xtr) if exact else len(centers_idx),
                alpha=alpha, iters=clf.n_iter_, residual=clf.residual_, pred=pred, scores=scores,
                timings=getattr(clf, "timings_", {}))


def sklearn_nystroem(gamma: float, alpha: float, Xtr, ytr, Xte, yte, n_centers: int,
                     seed: int) -> dict:
    """scikit-learn's Nystroem (same kernel, gamma and centres: its ``random_state`` draws
    ``RandomState(seed).permutation(n)[:M]``) + RidgeClassifier (same alpha, no intercept)."""
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import RidgeClassifier
    with PeakRSS() as mem:
        c0, t0 = time.process_time(), time.perf_counter()
        nys = Nystroem(kernel="rbf", gamma=gamma, n_components=n_centers, random_state=seed)
        Ftr = nys.fit_transform(Xtr)
        ridge = RidgeClassifier(alpha=alpha, fit_intercept=False).fit(Ftr, ytr)
        del Ftr
        t1 = time.perf_counter()
        scores = ridge.decision_function(nys.transform(Xte))
        c2, t2 = time.process_time(), time.perf_counter()
    pred = ridge.classes_[scores.argmax(1)]
    return dict(error=100 * np.mean(pred != yte), fit=t1 - t0, predict=t2 - t1, mem=mem.extra_gb,
                cpu=c2 - c0, pred=pred, scores=scores, indices=nys.component_indices_)


# ------------------------------------------------------------------------------------ main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="2,000 / 500 images, 300 centres, small grids")
    p.add_argument("--data", type=Path, default=DATA, help=f"datasets folder holding mnist/ (default {DATA})")
    p.add_argument("--threads", type=int, default=2, help="torch and BLAS threads (default 2)")
    p.add_argument("--centers", type=int, default=None, help="Nystrom centres (default 10,000)")
    p.add_argument("--tune-size", type=int, default=None, help="training points used to tune")
    p.add_argument("--rows", nargs="+", choices=ROWS, default=list(ROWS), help="rows to run (default all)")
    p.add_argument("--gamma-scales", type=float, nargs="+", help=f"tuning grid (default {GAMMA_SCALES})")
    p.add_argument("--lambdas", type=float, nargs="+", help=f"tuning grid, Gaussian rows (default {LAMBDAS})")
    p.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn's Nystroem rows")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="precision of our fits (default float64; float32 is faster and half the "
                        "memory, but its rounding moves the scattering rows' solution)")
    gaussian_rows = [r for r in ROWS if r.endswith("-gaussian")]
    p.add_argument("--exact", nargs="*", choices=gaussian_rows, default=None, metavar="ROW",
                   help="these Gaussian rows (all of them if none is named) solved exactly on all "
                        "training points instead of Nystrom, without a scikit-learn column (MNIST: "
                        "the kernel matrix, 28.8 GB in float64, else 14.4 GB in float32, refined)")
    p.add_argument("--exact-memory", type=float, default=16.0,
                   help="GB the exact solve's kernel matrix may take (default 16)")
    p.add_argument("--cache", type=Path, default=CACHE, help=f"feature cache (default {CACHE})")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    DTYPE[0] = args.dtype
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads)
    except ImportError:  # scikit-learn depends on threadpoolctl; defensive only
        pass
    if args.threads < 1:
        p.error("--threads must be >= 1")
    if args.exact_memory <= 0:
        p.error("--exact-memory must be > 0 (GB)")
    mnist = args.data / "mnist"
    if not mnist.is_dir():
        print(f"dataset folder not found: {mnist}", file=sys.stderr)
        return 2
    n_train, n_test = (2000, 500) if args.quick else (60000, 10000)
    M = args.centers or (300 if args.quick else 10000)
    n_tune = args.tune_size or (1000 if args.quick else 6000)
    start = time.perf_counter()
    print(f"# MNIST {n_train} / {n_test}, {M} centres, {args.threads} threads, torch "
          f"{torch.__version__}, {platform.processor() or platform.machine()}", flush=True)
    plan = [row for row in PLAN if f"{row[0]} {row[1]}".replace(" ", "-") in args.rows]
    sets, ytr, yte = load_features(mnist, n_train, n_test, args.cache, names={r[0] for r in plan})
    seed = 0
    centers_idx = np.random.RandomState(seed).permutation(n_train)[:M]  # = Nystroem's draw
    rows = []
    for name, kernel in plan:
        Xtr, Xte = sets[name]
        t0 = time.perf_counter()
        params, grid = tune(kernel, Xtr, ytr, n_tune, quick=args.quick, gammas=args.gamma_scales,
                            lambdas=args.lambdas)
        tune_s = time.perf_counter() - t0
        row = f"{name} {kernel}".replace(" ", "-")
        exact = args.exact is not None and (not args.exact or row in args.exact)
        r = ours(kernel, params, Xtr, ytr, Xte, yte, centers_idx,
                 exact=args.exact_memory * 1e9 if exact else 0.0)
        r.update(name=name, kernel=kernel, params=params, tune=tune_s)
        print(f"{name:16s} {kernel:9s} tuned {params} in {tune_s:.0f} s; error {r['error']:.2f} %, "
              f"fit {r['fit']:.1f} s {r['timings']}, predict {r['predict']:.1f} s, "
              f"CPU {r['cpu']:.0f} s, peak +{r['mem']:.2f} GB, CG {r['iters']} it. (residual {r['residual']:.1e})", flush=True)
        if kernel == "gaussian" and not (args.no_sklearn or exact):
            s = sklearn_nystroem(r["gamma"], r["alpha"], Xtr, ytr, Xte, yte, M, seed)
            assert np.array_equal(np.sort(s["indices"]), np.sort(centers_idx)), "different centres"
            s["agree"] = 100 * np.mean(s["pred"] == r["pred"])
            s["score_diff"] = float(np.abs(s["scores"] - r["scores"]).max())
            r["sklearn"] = s
            print(f"{'':16s} sklearn   error {s['error']:.2f} %, fit {s['fit']:.1f} s, predict "
                  f"{s['predict']:.1f} s, CPU {s['cpu']:.0f} s, peak +{s['mem']:.2f} GB; predictions agree on "
                  f"{s['agree']:.2f} %, max |score diff| {s['score_diff']:.2e}", flush=True)
        rows.append(r)
    total = time.perf_counter() - start

    print()
    print("| features | kernel | centres | gamma scale, lambda | test error % | fit s | predict s | "
          "CPU s | peak GB | sklearn error % | sklearn fit s | sklearn predict s | sklearn CPU s | "
          "sklearn peak GB | same predictions | speed-up wall (CPU) | published error % |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        p_ = r["params"]
        hp = (f"{p_['gamma_scale']:g}, {p_['lambda']:.0e}" if r["kernel"] != "linear"
              else f"-, {p_['lambda']:.0e}")
        s = r.get("sklearn")
        sk = (f"{s['error']:.2f} | {s['fit']:.1f} | {s['predict']:.1f} | {s['cpu']:.0f} | {s['mem']:.2f} | "
              f"{s['agree']:.2f} % | {(s['fit'] + s['predict']) / (r['fit'] + r['predict']):.1f}x "
              f"({s['cpu'] / max(r['cpu'], 1e-9):.1f}x)"
              if s else "- | - | - | - | - | - | -")
        ref = REFERENCES.get(r["name"], "") if r["kernel"] == "gaussian" else ""
        centres = ("primal" if r["solver"] == "primal" else f"all {r['centers']} (exact)"
                   if r["solver"] == "exact" else r["centers"])
        print(f"| {r['name']} | {r['kernel']} | {centres} | {hp} | {r['error']:.2f} | "
              f"{r['fit']:.1f} | {r['predict']:.1f} | {r['cpu']:.0f} | {r['mem']:.2f} | {sk} | {ref} |")
    print(f"\nwhole run (features from the cache or computed, tuning, all rows): {total / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
