"""Linear-classifier rows of the transfer study: raw pixels, scattering order 1 and scattering
order 2, each followed by a multinomial logistic regression.

:func:`linear_rows` gives the three rows for one train/test split of MNIST, CIFAR-10 or KTH-TIPS;
:func:`kth_splits` and :func:`kth_rows` run KTH-TIPS's protocol (random splits with 40 training
images per class, the rest tested) and report the mean and standard deviation.
``benchmarks/transfer.py`` imports these; ``python benchmarks/transfer_linear.py --dataset mnist``
runs them alone.

Recipe (Bruna & Mallat, "Invariant scattering convolution networks", IEEE TPAMI 2013; Kymatio's
MNIST example; Sifre & Mallat, "Rotation, scaling and deformation invariant scattering for
texture discrimination", CVPR 2013):

- features: :class:`scatter.Scattering2D` (Morlet, ``L = 8``), log-scattering ``log(|S| + 1e-6)``
  through :func:`scatter.extract_features`; MNIST and CIFAR-10 keep the spatial maps
  (``J = 2``: 7x7 and 8x8 positions), KTH-TIPS averages each log-map over all positions (global
  translation invariance; ``J = 5`` on 200x200 images). The order-1 features are the first
  ``1 + J L`` channels of the order-2 transform (the same numbers), so one transform serves both.
- classifier: features standardised with the training set's mean and standard deviation, then an
  L2-regularised multinomial logistic regression (:func:`fit_logistic`, full-batch L-BFGS in
  torch, float32). Its strength ``C`` (scikit-learn's convention) is chosen on held-out parts of
  the TRAINING data only, then the model is refitted on the whole training set.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from scatter import Scattering2D, extract_features  # noqa: E402

__all__ = ["DATASETS", "SETTINGS", "linear_rows", "kth_splits", "kth_rows", "fit_logistic",
           "select_and_fit", "scattering_features", "load_kth_tips"]

DATASETS = ("mnist", "cifar10", "kth_tips")
METHODS = ("raw pixels + logistic regression", "scattering order 1 + logistic regression",
           "scattering order 2 + logistic regression")

# Scattering parameters per dataset. ``pool``: average the log-maps over all positions.
SETTINGS = {
    "mnist": dict(J=2, L=8, pool=False),
    "cifar10": dict(J=2, L=8, pool=False),
    "kth_tips": dict(J=5, L=8, pool=True),
}
# Candidate C (inverse regularisation per training set, scikit-learn's convention), and in quick mode.
C_GRID = (0.01, 0.1, 1.0, 10.0)
C_GRID_QUICK = (0.1, 1.0)
LOG_EPS = 1e-6


# ------------------------------------------------------------------------------------ checks
def _settings_key(dataset) -> str:
    """The :data:`SETTINGS` entry of a dataset name; ``benchmarks/transfer.py``'s column labels
    are accepted too (``'kth-tips'``, ``'cifar10-100'``, ...)."""
    if isinstance(dataset, str):
        if dataset in DATASETS:
            return dataset
        if dataset == "kth-tips":
            return "kth_tips"
        head, _, size = dataset.partition("-")
        if head == "cifar10" and size.isdigit():
            return "cifar10"
    raise ValueError(f"dataset must be one of {list(DATASETS)} (or 'kth-tips', 'cifar10-<n>'), "
                     f"got {dataset!r}")


def _check_images(name: str, X) -> np.ndarray:
    """(N, H, W) or (N, C, H, W) real images in [0, 1] as float32 (uint8 is scaled by 1/255);
    (N, H, W, C) with C in (1, 3), as the loaders return colour images, is moved to (N, C, H, W)."""
    X = np.asarray(X)
    if X.ndim not in (3, 4):
        raise ValueError(f"{name} must have shape (N, H, W) or (N, C, H, W), got {X.shape}")
    if X.ndim == 4 and X.shape[-1] in (1, 3) and X.shape[1] not in (1, 3):
        X = np.ascontiguousarray(X.transpose(0, 3, 1, 2))
    if X.shape[0] == 0:
        raise ValueError(f"{name} holds no images")
    if X.dtype == np.uint8:
        return X.astype(np.float32) / 255.0
    if not np.issubdtype(X.dtype, np.floating):
        raise TypeError(f"{name} must be float images in [0, 1] (or uint8), got dtype {X.dtype}")
    X = X.astype(np.float32, copy=False)
    lo, hi = float(X.min()), float(X.max())
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0.0 or hi > 1.0:
        raise ValueError(f"{name} must hold values in [0, 1] (log-scattering's epsilon assumes "
                         f"that scale), got range [{lo:.3g}, {hi:.3g}]")
    return X


def _check_labels(name: str, y, n: int, images: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} must be a 1D array of integer class labels, got dtype {y.dtype} "
                         f"and shape {y.shape}")
    if len(y) != n:
        raise ValueError(f"{name} has {len(y)} labels but {images} has {n} images: lengths must match")
    return y.astype(np.int64)


# ---------------------------------------------------------------------------------- features
def scattering_features(X: np.ndarray, J: int, L: int = 8, pool: bool = False,
                        batch_size: int = 256, device="cpu") -> tuple[np.ndarray, np.ndarray]:
    """Log-scattering features of order 1 and of order 2 from one order-2 transform.

    Parameters
    ----------
    X : ndarray, float32, shape (N, H, W) or (N, C, H, W)
        Images in [0, 1]; each channel is scattered separately.
    J, L : int
        Scales and orientations of the Morlet scattering.
    pool : bool
        Average every log-map over all positions (features then do not depend on image size).
    batch_size, device
        As in :func:`scatter.extract_features`.

    Returns
    -------
    order1, order2 : ndarray, float32, shape (N, F1) and (N, F2)
        ``log(|S| + 1e-6)`` of the paths of order <= 1 (``1 + J L`` per channel) and <= 2
        (``1 + J L + L^2 J (J - 1) / 2``), flattened over channels and positions.
    """
    S = Scattering2D(J, X.shape[-2:], L=L, max_order=2).to(device)
    n1 = 1 + J * L
    o1 = o2 = None  # filled batch by batch: no list of blocks concatenated (twice the memory)
    for start in range(0, len(X), batch_size):
        # extract_features streams the batch; the log-maps are pooled or flattened at once so
        # that memory holds features, never a second copy of the maps
        f = extract_features(X[start:start + batch_size], S, batch_size=batch_size, device=device,
                             normalize="log", progress=False)  # (b, [C,] K, h, w)
        if pool:
            f = f.mean(axis=(-2, -1))
        f1 = (f[..., :n1, :, :] if not pool else f[..., :n1]).reshape(len(f), -1)
        f2 = f.reshape(len(f), -1)
        if o1 is None:
            o1 = np.empty((len(X), f1.shape[1]), np.float32)
            o2 = np.empty((len(X), f2.shape[1]), np.float32)
        o1[start:start + len(f)] = f1
        o2[start:start + len(f)] = f2
    return o1, o2


def _scales(key: str, shape) -> int:
    """J for a dataset's images: its setting, and for KTH-TIPS the largest that leaves at least
    4 positions per side before pooling (J=5 at 200x200, 4 at 112x112); never more than the
    image allows."""
    fit = int(math.log2(min(shape))) - 2
    J = fit if key == "kth_tips" else SETTINGS[key]["J"]
    return max(1, min(J, fit, 5))


# Features of images already seen, keyed by settings and image bytes: benchmarks/transfer.py
# calls linear_rows once per KTH-TIPS split on the same 810 images, and tests every small CIFAR-10
# training subset on the same data_batch_5. A call whose new features would overflow the cap
# empties the cache first (the previous dataset's); one larger than the cap is not kept.
_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
CACHE_MAX_BYTES = 1536 * 2 ** 20


def _scatter_cached(X: np.ndarray, cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    import hashlib

    head = (cfg["J"], cfg["L"], cfg["pool"], X.shape[1:])
    keys = [head + (hashlib.blake2b(x.tobytes(), digest_size=16).digest(),) for x in X]
    known = {k: _CACHE[k] for k in keys if k in _CACHE}
    todo = [i for i, k in enumerate(keys) if k not in known]
    if todo:
        o1, o2 = scattering_features(X[todo], cfg["J"], cfg["L"], cfg["pool"])
        fresh = {keys[i]: (o1[r], o2[r]) for r, i in enumerate(todo)}
        held = sum(v[0].nbytes + v[1].nbytes for v in _CACHE.values())
        if held + o1.nbytes + o2.nbytes > CACHE_MAX_BYTES:
            _CACHE.clear()
        if o1.nbytes + o2.nbytes <= CACHE_MAX_BYTES:
            _CACHE.update(fresh)
        if len(todo) == len(X):  # nothing was known: the arrays as computed, no copy
            return o1, o2
        known.update(fresh)
    got = [known[k] for k in keys]
    return np.stack([g[0] for g in got]), np.stack([g[1] for g in got])


def _feature_sets(key: str, X: np.ndarray) -> tuple[dict, dict]:
    """The three feature sets of :data:`METHODS` for images ``X``, and the time each took."""
    cfg = dict(SETTINGS[key], J=_scales(key, X.shape[-2:]))
    t0 = time.perf_counter()
    raw = X.reshape(len(X), -1)
    t1 = time.perf_counter()
    o1, o2 = _scatter_cached(X, cfg)
    t2 = time.perf_counter()
    # order 1 is sliced from the order-2 transform: both rows are charged the whole transform
    feats = dict(zip(METHODS, (raw, o1, o2)))
    seconds = dict(zip(METHODS, (t1 - t0, t2 - t1, t2 - t1)))
    return feats, dict(seconds=seconds, cfg=cfg)


def _describe(method: str, cfg: dict, n_features: int) -> str:
    if method == METHODS[0]:
        return f"{n_features} pixels"
    order = 1 if method == METHODS[1] else 2
    pool = "global spatial mean of " if cfg["pool"] else ""
    return (f"Morlet J={cfg['J']} L={cfg['L']} order<={order}, {pool}log(|S|+1e-6), "
            f"{n_features} features")


# -------------------------------------------------------------------------------- classifier
def fit_logistic(X: torch.Tensor, y: torch.Tensor, n_classes: int, C: float,
                 init: tuple[torch.Tensor, torch.Tensor] | None = None, max_iter: int = 200,
                 tol: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """L2-regularised multinomial logistic regression by full-batch L-BFGS.

    Minimises ``mean_i CE(W x_i + b, y_i) + ||W||^2 / (2 C n)``: scikit-learn's
    ``LogisticRegression(C=C)`` objective divided by ``C n`` (the intercept is not penalised).

    With more features than samples (``d > n``: raw pixels of 400 KTH-TIPS images, scattering of
    100 CIFAR-10 images) the problem is solved exactly in the span of the samples: the penalty
    keeps the minimiser's rows there (representer theorem), so with ``X = U S V^T`` (from the
    eigendecomposition of the Gram matrix ``X X^T``) it is the same problem on the ``n``
    coordinates ``U S``, and ``W = B V^T``. Each pass then reads n x n numbers instead of n x d.

    Parameters
    ----------
    X : Tensor, float32, shape (n, d)
        Standardised features (any device).
    y : Tensor, int64, shape (n,)
    n_classes : int
    C : float > 0
        Inverse regularisation strength.
    init : (W, b), optional
        Warm start, shapes (n_classes, d) and (n_classes,).
    max_iter : int
        L-BFGS iterations.
    tol : float
        Stop when the largest gradient entry falls below it.

    Returns
    -------
    W : Tensor, shape (n_classes, d)
    b : Tensor, shape (n_classes,)
    """
    if not C > 0:
        raise ValueError(f"C must be > 0, got {C!r}")
    n, d = X.shape
    if d > n:
        V = _span_basis(X)  # (d, r), orthonormal columns spanning the samples
        init_z = None if init is None else (init[0] @ V, init[1])
        B, b = _fit_primal(X @ V, y, n_classes, C, init_z, max_iter, tol)
        return B @ V.t(), b
    return _fit_primal(X, y, n_classes, C, init, max_iter, tol)


def _span_basis(X: torch.Tensor) -> torch.Tensor:
    """Orthonormal basis ``V`` (d, r) of the row space of ``X`` (n, d), d > n: ``X^T U S^-1``
    from the eigendecomposition ``X X^T = U S^2 U^T`` in float64 (small singular values
    dropped below 1e-6 of the largest, as rounding would make them noise)."""
    K = (X.double() @ X.double().t())
    evals, U = torch.linalg.eigh(K)
    keep = evals > evals.max() * 1e-12  # s^2 relative 1e-12: s relative 1e-6
    U, s = U[:, keep], evals[keep].sqrt()
    return ((X.double().t() @ U) / s).to(X.dtype)


def _fit_primal(X, y, n_classes, C, init, max_iter, tol):
    n, d = X.shape
    if init is None:
        W = torch.zeros(n_classes, d, dtype=X.dtype, device=X.device)
        b = torch.zeros(n_classes, dtype=X.dtype, device=X.device)
    else:
        W, b = (t.detach().clone() for t in init)
    W.requires_grad_(True)
    b.requires_grad_(True)
    lam = 1.0 / (C * n)
    opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=max_iter, history_size=20,
                            tolerance_grad=tol, tolerance_change=1e-10,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(torch.addmm(b, X, W.t()), y) + 0.5 * lam * (W * W).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return W.detach(), b.detach()


def _accuracy(X: torch.Tensor, y: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> float:
    return float((torch.addmm(b, X, W.t()).argmax(1) == y).float().mean())


def _standardise(train: np.ndarray, *others: np.ndarray) -> list[torch.Tensor]:
    """Centre and scale by the training set's per-feature mean and standard deviation (float32
    torch: these arrays reach 60,000 x 3,969; features of zero spread are only centred)."""
    tr = torch.from_numpy(np.ascontiguousarray(train, dtype=np.float32))
    std, mean = torch.std_mean(tr, dim=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    # torch.sub then an in-place division: one new array per input, not two
    return [torch.sub(tr, mean).div_(std)] + [
        torch.sub(torch.from_numpy(np.ascontiguousarray(o, dtype=np.float32)), mean).div_(std)
        for o in others]


# Above this many training images, C is chosen on one stratified subset (the classifier's
# passes over 60,000 x 3,969 features are the cost of the whole study); below, by 3-fold CV.
LARGE = 5000
SUBSET_FIT, SUBSET_VAL = 5000, 5000


def _validation_folds(y: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified held-out parts of the TRAINING data: for large sets one split of at most
    5,000 fitting and 5,000 validation images, for small ones three folds (one held-out
    part of a few hundred images is a noisy judge)."""
    from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

    if len(y) >= LARGE:
        n_val = min(SUBSET_VAL, len(y) // 6)
        n_fit = min(SUBSET_FIT, len(y) - n_val)
        return list(StratifiedShuffleSplit(1, train_size=n_fit, test_size=n_val,
                                           random_state=seed).split(y, y))
    k = int(min(3, np.bincount(y).min()))
    if k < 2:
        raise ValueError("y_train needs at least 2 images of every class to choose C by validation")
    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(y, y))


def select_and_fit(F_train: np.ndarray, y_train: np.ndarray, F_test: np.ndarray,
                   y_test: np.ndarray, C_grid: Sequence[float] = C_GRID, seed: int = 0,
                   max_iter: int = 100) -> dict:
    """Choose C on validation parts of the training data, refit on all of it, test once.

    Parameters
    ----------
    F_train, F_test : ndarray, shape (n, d) and (m, d)
        Features, standardised here with the training set's statistics.
    y_train, y_test : ndarray, int, shape (n,) and (m,)
    C_grid : sequence of float
        Candidates, tried from the strongest regularisation up, each warm-started from the last.
    seed : int
        Seed of the validation split.
    max_iter : int
        L-BFGS iterations per fit.

    Returns
    -------
    dict
        ``accuracy`` (test), ``C`` (chosen), ``val_accuracy`` (mean over folds, per C).
    """
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    grid = sorted(float(c) for c in C_grid)
    Xtr, Xte = _standardise(F_train, F_test)
    ytr = torch.from_numpy(y_train)
    val = np.zeros(len(grid))
    folds = _validation_folds(y_train, seed) if len(grid) > 1 else []
    solutions = []
    for fit_idx, val_idx in folds:
        fi, vi = torch.from_numpy(fit_idx), torch.from_numpy(val_idx)
        Xf, Xv, yf, yv = Xtr[fi], Xtr[vi], ytr[fi], ytr[vi]
        if Xf.shape[1] > Xf.shape[0]:  # the span of the samples, once for the whole C path
            V = _span_basis(Xf)
            Xf, Xv = Xf @ V, Xv @ V
        params, solutions = None, []
        for k, C in enumerate(grid):
            params = fit_logistic(Xf, yf, n_classes, C, init=params, max_iter=max_iter)
            solutions.append(params)
            val[k] += _accuracy(Xv, yv, *params) / len(folds)
        del Xf, Xv
    best = int(np.argmax(val)) if folds else 0  # ties: the stronger regularisation
    # a large set starts its final fit from the subset's solution (fewer passes over it)
    init = solutions[best] if len(folds) == 1 and solutions[best][0].shape[1] == Xtr.shape[1] \
        else None
    params = fit_logistic(Xtr, ytr, n_classes, grid[best], init=init, max_iter=max_iter)
    return dict(accuracy=_accuracy(Xte, torch.from_numpy(y_test), *params), C=grid[best],
                val_accuracy=dict(zip(grid, val.round(4).tolist())))


# --------------------------------------------------------------------------------- the rows
def _quick_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` indices, class-balanced where possible, in their original order."""
    if len(y) <= n:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    per = max(1, n // len(classes))
    idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per] for c in classes])
    return np.sort(idx)


def linear_rows(dataset: str, X_train, y_train, X_test, y_test, *, quick: bool = False,
                seed: int = 0) -> list[dict]:
    """Raw pixels, scattering order 1 and scattering order 2, each + logistic regression.

    Parameters
    ----------
    dataset : {'mnist', 'cifar10', 'kth_tips'}
        Picks the scattering parameters (:data:`SETTINGS`); ``benchmarks/transfer.py``'s column
        labels ``'kth-tips'`` and ``'cifar10-<n>'`` are accepted and returned in the rows.
        KTH-TIPS's J follows the image size (5 at 200x200, 4 at 112x112).
    X_train, X_test : ndarray, shape (N, H, W) or (N, C, H, W)
        float32 images in [0, 1] (``uint8`` is accepted and scaled by 1/255; colour images
        ``(N, H, W, 3)`` as the loaders return them are moved to channel-first).
    y_train, y_test : ndarray, int, shape (N,)
    quick : bool
        Smoke-test mode: at most 300 training and 200 test images, two candidate C, short fits
        (seconds; the accuracy means little).
    seed : int
        Seed of the validation split (and of the quick subsets).

    Returns
    -------
    list of dict
        One per method, with ``method``, ``dataset``, ``accuracy`` (test, 0..1), ``seconds``
        (features + choosing C + final fit), ``notes`` (settings, chosen C), ``n_train``,
        ``n_test``, ``n_features`` and ``C``.
    """
    key = _settings_key(dataset)
    X_train = _check_images("X_train", X_train)
    X_test = _check_images("X_test", X_test)
    y_train = _check_labels("y_train", y_train, len(X_train), "X_train")
    y_test = _check_labels("y_test", y_test, len(X_test), "X_test")
    if X_train.shape[1:] != X_test.shape[1:]:
        raise ValueError(f"X_train and X_test must have the same image shape, got "
                         f"{X_train.shape[1:]} and {X_test.shape[1:]}")
    if quick:
        keep_tr, keep_te = _quick_subset(y_train, 300, seed), _quick_subset(y_test, 200, seed)
        X_train, y_train = X_train[keep_tr], y_train[keep_tr]
        X_test, y_test = X_test[keep_te], y_test[keep_te]
    n = len(X_train)
    feats, info = _feature_sets(key, np.concatenate([X_train, X_test]))
    rows = []
    for method, Fall in feats.items():
        start = time.perf_counter()
        fit = select_and_fit(Fall[:n], y_train, Fall[n:], y_test,
                             C_GRID_QUICK if quick else C_GRID, seed, 50 if quick else 100)
        seconds = info["seconds"][method] + time.perf_counter() - start
        rows.append(_row(method, dataset, fit["accuracy"], seconds, info["cfg"], Fall.shape[1],
                         n, len(X_test), [fit["C"]], quick))
    return rows


def _row(method, dataset, accuracy, seconds, cfg, n_features, n_train, n_test, Cs, quick,
         **extra) -> dict:
    chosen = sorted(set(Cs))
    notes = (f"{_describe(method, cfg, n_features)}; standardised; multinomial logistic "
             f"regression (L2, torch L-BFGS), C={chosen[0] if len(chosen) == 1 else chosen} "
             f"chosen on held-out training data; {n_train} train / {n_test} test"
             + (" (quick)" if quick else ""))
    return dict(method=method, dataset=dataset, accuracy=float(accuracy), seconds=float(seconds),
                notes=notes, n_train=int(n_train), n_test=int(n_test),
                n_features=int(n_features), C=chosen[0] if len(chosen) == 1 else chosen, **extra)


# ---------------------------------------------------------------------------------- KTH-TIPS
def kth_splits(labels, n_train_per_class: int = 40, n_splits: int = 10, seed: int = 0
               ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """KTH-TIPS protocol: random splits with ``n_train_per_class`` training images per class.

    Parameters
    ----------
    labels : ndarray, int, shape (N,)
    n_train_per_class : int
        Training images drawn per class (without replacement); the rest of the images are tested.
    n_splits : int
        Number of splits.
    seed : int
        The same seed gives the same splits.

    Yields
    ------
    train, test : ndarray, int64
        Disjoint, sorted indices into ``labels`` that together cover every image.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1D array of integer class labels, got dtype "
                         f"{labels.dtype} and shape {labels.shape}")
    for name, value in (("n_train_per_class", n_train_per_class), ("n_splits", n_splits)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    classes, counts = np.unique(labels, return_counts=True)
    if counts.min() <= n_train_per_class:
        raise ValueError(f"n_train_per_class={n_train_per_class} leaves no test image in class "
                         f"{classes[np.argmin(counts)]} ({counts.min()} images)")
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(labels == c) for c in classes]
    for _ in range(n_splits):
        train = np.sort(np.concatenate([rng.choice(m, n_train_per_class, replace=False)
                                        for m in members]))
        test = np.setdiff1d(np.arange(len(labels)), train)
        yield train, test


def kth_rows(images, labels, n_train_per_class: int = 40, n_splits: int = 10, *,
             quick: bool = False, seed: int = 0) -> list[dict]:
    """The three linear rows on KTH-TIPS, averaged over :func:`kth_splits`.

    Features are computed once for all images, then every split chooses C on its own training
    images (three folds) and tests on the rest.

    Parameters
    ----------
    images : ndarray, shape (N, H, W)
        Grey images in [0, 1] (or uint8), one size (see :func:`load_kth_tips`).
    labels : ndarray, int, shape (N,)
    n_train_per_class, n_splits, seed
        As in :func:`kth_splits`.
    quick : bool
        Smoke-test mode: 15 images per class, 64x64 centre crops, 2 splits of 5 training images
        per class, two candidate C.

    Returns
    -------
    list of dict
        As :func:`linear_rows`, with ``accuracy`` the mean over splits and extra keys ``std``
        (standard deviation over splits), ``accuracies`` (per split) and ``n_splits``.
    """
    images = _check_images("images", images)
    labels = _check_labels("labels", labels, len(images), "images")
    if quick:
        keep = _quick_subset(labels, 15 * len(np.unique(labels)), seed)
        images, labels = images[keep], labels[keep]
        h, w = images.shape[-2:]
        top, left = (h - min(h, 64)) // 2, (w - min(w, 64)) // 2
        images = images[..., top:top + 64, left:left + 64]
        n_train_per_class, n_splits = min(n_train_per_class, 5), min(n_splits, 2)
    splits = list(kth_splits(labels, n_train_per_class, n_splits, seed))
    feats, info = _feature_sets("kth_tips", images)
    rows = []
    for method, Fall in feats.items():
        start = time.perf_counter()
        accs, Cs = [], []
        for k, (train, test) in enumerate(splits):
            fit = select_and_fit(Fall[train], labels[train], Fall[test], labels[test],
                                 C_GRID_QUICK if quick else C_GRID, seed + k,
                                 50 if quick else 100)
            accs.append(fit["accuracy"])
            Cs.append(fit["C"])
        seconds = info["seconds"][method] + time.perf_counter() - start
        row = _row(method, "kth_tips", np.mean(accs), seconds, info["cfg"], Fall.shape[1],
                   len(splits[0][0]), len(splits[0][1]), Cs, quick, std=float(np.std(accs)),
                   accuracies=[float(a) for a in accs], n_splits=len(splits))
        row["notes"] += f"; mean +- std over {len(splits)} random splits: " \
                        f"{100 * row['accuracy']:.2f} +- {100 * row['std']:.2f}%"
        rows.append(row)
    return rows


def load_kth_tips(root, size: tuple[int, int] = (200, 200)) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """KTH-TIPS grey images at one size, float32 in [0, 1], with labels and class names.

    810 of the database's images are 200x200 except 63 (smaller, e.g. 154x113): every image is
    resized bilinearly to ``size`` (:func:`scatter.models.load_image_folder` with ``fit='resize'``), which
    rescales those 63 by up to 1.8x; a common centre crop would have to be 113 pixels high.
    """
    from scatter.models import load_image_folder

    X, y, classes = load_image_folder(root, mode="L", size=size, fit="resize")
    return X.astype(np.float32) / 255.0, y, classes


# ------------------------------------------------------------------------------------- script
def _print_table(rows: list[dict]) -> None:
    print("\n| dataset | method | accuracy % | seconds | notes |\n|---|---|---:|---:|---|")
    for r in rows:
        acc = f"{100 * r['accuracy']:.2f}" + (f" +- {100 * r['std']:.2f}" if "std" in r else "")
        print(f"| {r['dataset']} | {r['method']} | {acc} | {r['seconds']:.1f} | {r['notes']} |")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the linear rows of one dataset from ``--data`` (the provided datasets by default)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=DATASETS, default="mnist")
    parser.add_argument("--quick", action="store_true", help="tiny subsets, a few seconds")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="folder holding mnist/, cifar-10-batches-py/, kth_tips_grey/")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from threadpoolctl import threadpool_limits

    from scatter.models import load_cifar10, load_mnist

    # scikit-learn's helpers need no BLAS threads: on a shared 2-core machine they only contend
    with threadpool_limits(limits=1, user_api="blas"):
        start = time.perf_counter()
        if args.dataset == "kth_tips":
            X, y, _ = load_kth_tips(args.data / "kth_tips_grey")
            rows = kth_rows(X, y, quick=args.quick, seed=args.seed)
        else:
            if args.dataset == "mnist":
                limit = 2000 if args.quick else None
                (Xtr, ytr), (Xte, yte) = (load_mnist(args.data / "mnist", s, max_items=limit)
                                          for s in ("train", "test"))
            else:  # data_batch_1 trains, data_batch_5 tests (the provided part of CIFAR-10)
                root = args.data / "cifar-10-batches-py"
                (Xtr, ytr), (Xte, yte) = (load_cifar10(root, [b]) for b in ("data_batch_1",
                                                                           "data_batch_5"))
                Xtr, Xte = (a.transpose(0, 3, 1, 2) for a in (Xtr, Xte))
            rows = linear_rows(args.dataset, Xtr, ytr, Xte, yte, quick=args.quick, seed=args.seed)
    _print_table(rows)
    print(f"\ntotal {time.perf_counter() - start:.1f} s with {args.threads} torch threads")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
