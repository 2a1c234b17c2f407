"""Rotation studies of :class:`scatter.RotoTranslationScattering2D` beside :class:`scatter.Scattering2D`.

Four studies (issue 19's claims 3-6) and the figure, each a few minutes on 2 cores:

- ``stability`` (claim 3): images masked to a disk, rotated by angles in [0, 360) (cubic spline
  interpolation, ``scipy.ndimage.rotate``); the relative change ``||S(r x) - S(x)|| / ||S(x)||``
  of the globally averaged outputs, averaged over angles and images, for our two variants, for
  ``Scattering2D`` averaged over all positions, and for ``Scattering2D`` averaged over positions
  and its angle indices (the naive invariant). Plots the change against the angle.
- ``mnist`` (claim 4): MNIST digits rotated by uniform random angles (12,000 training images:
  the first of the official training set; 10,000 test: the official test set; angles from a
  fixed seed), log-features ``log(|S| + 1e-6)`` (:func:`scatter.extract_features`), then the
  same classifier for every transform: standardisation and scikit-learn's multinomial logistic
  regression (``C = 0.1``, as ``scatter.demo.classify_digits``).
- ``kth`` (claim 5): KTH-TIPS grey (``kth_tips_grey/``): 40 training images per class, the rest
  tested, over a few random splits; every image is the central square inscribed in the disk of
  the 200x200 image (so that a rotated image has no empty corners); training images upright,
  test images upright and rotated by uniform random angles. Global average, log-features, the
  same classifier.
- ``cost`` (claim 6): seconds per batch (CPU inference: both networks' CPU engines) against
  ``Scattering2D`` at the same ``J``, ``L`` on 1 and ``--threads`` threads (a benchmark, not a
  test), after checking that the first layers agree.
- ``figure``: the roto-translation wavelets and, for one image, the invariant coefficients
  against the rotation angle beside ``Scattering2D``'s.

``python benchmarks/rotation.py --study all`` runs everything (``--quick``: tiny sizes, a few
seconds, what the test suite runs). Results go to ``benchmarks/RESULTS.md`` by hand.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from scatter import RotoTranslationScattering2D, Scattering2D, extract_features  # noqa: E402

STUDIES = ("stability", "mnist", "kth", "cost", "figure")
VARIANTS = ("joint", "separable")


# ------------------------------------------------------------------------------ helpers
def disk_mask(size: int) -> np.ndarray:
    """1 inside the disk inscribed in a ``size`` square (1 pixel margin), 0 outside."""
    c = (size - 1) / 2
    r = np.hypot(*np.meshgrid(np.arange(size) - c, np.arange(size) - c, indexing="ij"))
    return (r <= size / 2 - 1).astype(np.float64)


def rotate(images: np.ndarray, angles: Sequence[float], order: int = 3) -> np.ndarray:
    """Each image (or the one image, for every angle) rotated counter-clockwise by its angle
    (degrees) about its centre, same size, zero outside."""
    from scipy import ndimage

    if images.ndim == 2:
        return np.stack([ndimage.rotate(images, a, reshape=False, order=order, mode="constant")
                         for a in angles])
    return np.stack([ndimage.rotate(im, a, reshape=False, order=order, mode="constant")
                     for im, a in zip(images, angles)])


def fit_score(f_train: np.ndarray, y_train: np.ndarray, tests: dict) -> dict:
    """The classifier of every row: standardisation + multinomial logistic regression (C = 0.1),
    as ``scatter.demo.classify_digits``; its accuracy on each test set."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=300))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(f_train, y_train)
    return {name: float(model.score(f, y)) for name, (f, y) in tests.items()}


def log_features(x: np.ndarray, S, pool: bool = False) -> np.ndarray:
    """``log(|S x| + 1e-6)`` flattened per image (``pool``: averaged over positions first)."""
    f = extract_features(x.astype(np.float32), S, batch_size=250, normalize=None, progress=False)
    f = np.asarray(f, dtype=np.float64)
    if pool and f.ndim > 2:
        f = f.mean(axis=(-2, -1))
    return np.log(np.abs(f) + 1e-6).reshape(len(x), -1)


def transforms(J: int, shape, L: int, average: str, K: int = 1) -> dict:
    """The rows of a study: ours (both variants) and Scattering2D."""
    out = {f"roto {v}": RotoTranslationScattering2D(J, shape, L=L, K=K, variant=v, average=average)
           for v in VARIANTS}
    out["Scattering2D"] = Scattering2D(J, shape, L=L)
    return out


def theta_average_scattering2d(S: Scattering2D, coefs: np.ndarray) -> np.ndarray:
    """Scattering2D's channels averaged over their angle indices (order 2: over t1 at fixed
    t2 - t1), channel axis -3 or -1: the naive rotation invariant."""
    meta = S.meta()
    L = S.L
    keys = []
    for order, j, t in zip(meta["order"], meta["j"], meta["theta"]):
        if order == 0:
            keys.append((0,))
        elif order == 1:
            keys.append((1, int(j[0])))
        else:
            keys.append((2, int(j[0]), int(j[1]), int(t[1] - t[0]) % L))
    groups = sorted(set(keys))
    index = np.array([groups.index(k) for k in keys])
    axis = -3 if coefs.ndim >= 3 and coefs.shape[-3] == len(keys) else -1
    moved = np.moveaxis(coefs, axis, 0)
    out = np.stack([moved[index == g].mean(0) for g in range(len(groups))])
    return np.moveaxis(out, 0, axis)


# --------------------------------------------------------------------------- the studies
def stability_images(size: int, data: Path, n_textures: int) -> tuple[list[str], np.ndarray]:
    """scikit-image's camera, brick and grass, and the first image of ``n_textures`` KTH-TIPS
    materials (where present), resized to ``size``, standardised, masked to the disk."""
    from skimage import data as skdata
    from skimage.transform import resize

    names, images = [], []
    for name in ("camera", "brick", "grass"):
        im = getattr(skdata, name)().astype(np.float64)
        images.append(resize(im if im.ndim == 2 else im.mean(-1), (size, size), anti_aliasing=True))
        names.append(name)
    folder = data / "kth_tips_grey"
    if folder.is_dir() and n_textures:
        from scatter.models import load_image_folder

        X, y, classes = load_image_folder(folder, mode="L", size=(200, 200), fit="resize")
        for c in range(min(n_textures, len(classes))):
            im = X[np.flatnonzero(y == c)[0]].astype(np.float64)
            images.append(resize(im, (size, size), anti_aliasing=True))
            names.append(f"KTH {classes[c]}")
    mask = disk_mask(size)
    images = np.stack([(im - im.mean()) / im.std() for im in images]) * mask
    return names, images


def study_stability(args) -> dict:
    size, J, L = (32, 2, 8) if args.quick else (96, 3, 8)
    angles = np.array([30.0, 135.0]) if args.quick else np.arange(7.5, 360.0, 15.0)
    names, images = stability_images(size, args.data, 0 if args.quick else 3)
    if args.quick:
        names, images = names[:1], images[:1]
    mask = disk_mask(size)
    rows = transforms(J, (size, size), L, "global")
    for S in rows.values():
        S.double()
    curves = {name: np.zeros((len(images), len(angles))) for name in [*rows, "Scattering2D, angles averaged"]}
    start = time.perf_counter()
    for i, image in enumerate(images):
        turned = rotate(image, angles) * mask
        batch = np.concatenate([image[None], turned])
        for name, S in rows.items():
            out = S(batch)
            if name == "Scattering2D":
                out = out.mean(axis=(-2, -1))
                naive = theta_average_scattering2d(S, out)
                curves["Scattering2D, angles averaged"][i] = \
                    np.linalg.norm(naive[1:] - naive[0], axis=-1) / np.linalg.norm(naive[0])
            curves[name][i] = np.linalg.norm(out[1:] - out[0], axis=-1) / np.linalg.norm(out[0])
    mean = {name: float(c.mean()) for name, c in curves.items()}
    result = {"study": "stability", "size": size, "J": J, "L": L, "images": names,
              "angles": angles.tolist(), "mean_change": mean,
              "ratio_to_scattering2d": {n: mean[n] / mean["Scattering2D"] for n in mean},
              "max_change": {name: float(c.max()) for name, c in curves.items()},
              "seconds": time.perf_counter() - start}
    print(f"\nstability: {len(images)} images ({', '.join(names)}), {size}x{size} masked to the disk, "
          f"J={J}, L={L}, global average, {len(angles)} angles")
    print("| transform | mean relative change | max | ratio to Scattering2D |\n|---|---:|---:|---:|")
    for n in mean:
        print(f"| {n} | {mean[n]:.4f} | {result['max_change'][n]:.4f} | {result['ratio_to_scattering2d'][n]:.3f} |")
    if args.figures:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.6))
        for name, c in curves.items():
            ax.plot(angles, c.mean(0), marker="o", ms=3, label=name)
        ax.set_xlabel("rotation angle (degrees)")
        ax.set_ylabel("relative change of the output")
        ax.set_yscale("log")
        ax.set_xticks(np.arange(0, 361, 45))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(f"Change under rotation, {len(images)} disk-masked images {size}x{size}, J={J}, L={L}, "
                     "global average", fontsize=9)
        fig.tight_layout()
        path = args.figures / "rotation_stability.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        result["figure"] = str(path)
    return result


def rotated_mnist(data: Path, n_train: int, n_test: int, seed: int):
    """MNIST rotated by uniform random angles in [0, 360): the first ``n_train`` training and
    ``n_test`` test images, float32 in [0, 1], angles from ``default_rng(seed)`` (training
    angles first)."""
    from scatter.models import load_mnist

    x_train, y_train = load_mnist(data / "mnist", "train", max_items=n_train)
    x_test, y_test = load_mnist(data / "mnist", "test", max_items=n_test)
    rng = np.random.default_rng(seed)
    a_train, a_test = rng.uniform(0, 360, n_train), rng.uniform(0, 360, n_test)
    x_train = rotate(x_train.astype(np.float32) / 255, a_train, order=1).astype(np.float32)
    x_test = rotate(x_test.astype(np.float32) / 255, a_test, order=1).astype(np.float32)
    return x_train, y_train, x_test, y_test


def angle_blocks(S) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of channels that differ only by their angle, in the output
    of ``S`` with the angles kept (ours with ``average_angles=False``; Scattering2D grouped by
    ``j1`` for order 1 and by ``(j1, j2, t2 - t1)`` for order 2, its channels reordered by
    :func:`scattering2d_by_angle`)."""
    if isinstance(S, Scattering2D):
        keys = scattering2d_keys(S)
        order = np.argsort([str(k[:-1]) for k in keys], kind="stable")
        keys = [keys[i][:-1] for i in order]
    else:
        keys = [k[:4] for k in S.meta()["key"]]
    out, start = [], 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            out.append((start, i))
            start = i
    return out


def scattering2d_keys(S: Scattering2D) -> list[tuple]:
    """Scattering2D's channels as ``(group..., angle)``: the angle axis is ``t1``."""
    meta, L = S.meta(), S.L
    keys = []
    for order, j, t in zip(meta["order"], meta["j"], meta["theta"]):
        if order == 0:
            keys.append((0, 0))
        elif order == 1:
            keys.append((1, int(j[0]), int(t[0])))
        else:
            keys.append((2, int(j[0]), int(j[1]), int(t[1] - t[0]) % L, int(t[0])))
    return keys


def scattering2d_by_angle(S: Scattering2D, coefs: np.ndarray) -> np.ndarray:
    """Scattering2D's channels (axis 1) reordered so that each group of :func:`angle_blocks`
    is contiguous, along its angle ``t1``."""
    keys = scattering2d_keys(S)
    order = np.argsort([str(k[:-1]) for k in keys], kind="stable")
    return coefs[:, order]


def ring_index(n: int, step: int, size: int) -> np.ndarray:
    """Ring of every position of an ``n x n`` map sampled every ``step`` pixels of a ``size``
    image: ``floor`` of the distance to the image centre, in samples (the last ring takes the
    corners)."""
    c = (size - 1) / 2 / step
    r = np.hypot(*np.meshgrid(np.arange(n) - c, np.arange(n) - c, indexing="ij"))
    return np.minimum(r.astype(int), int(np.floor(c)) + 1)


def invariant_maps(coefs: np.ndarray, blocks) -> np.ndarray:
    """The mean of each block over its angles: ``(N, len(blocks), h, w)``."""
    return np.stack([coefs[:, a:b].mean(1) for a, b in blocks], 1)


def angular_spectrum_rings(coefs: np.ndarray, blocks, rings: np.ndarray) -> np.ndarray:
    """Rotation-invariant pooling: in each block, the modulus of the DFT along the angle axis
    (invariant to its cyclic shifts: local rotations), averaged over the positions of each ring
    about the image centre (a rotation of the image moves positions along rings).
    Returns ``(N, features)``."""
    out = []
    for a, b in blocks:
        spectrum = np.abs(np.fft.rfft(coefs[:, a:b], axis=1)) / (b - a)      # (N, b-a//2+1, h, w)
        out.append(np.stack([spectrum[..., rings == k].mean(-1) for k in np.unique(rings)], -1))
    return np.concatenate([o.reshape(len(o), -1) for o in out], 1)


def study_mnist(args) -> dict:
    n_train, n_test = (100, 100) if args.quick else (args.n_train, args.n_test)
    J, L = 2, 8
    x_train, y_train, x_test, y_test = rotated_mnist(args.data, n_train, n_test, args.seed)
    rings = ring_index(7, 4, 28)
    nets = {} if args.skip_scattering2d else {"Scattering2D": Scattering2D(J, (28, 28), L=L)}
    nets.update({f"roto {v}": RotoTranslationScattering2D(J, (28, 28), L=L, variant=v, average_angles=False)
                 for v in VARIANTS})
    rows = []

    def score(name, f_train, f_test, seconds, note=""):
        f_train, f_test = (np.log(np.abs(f).reshape(len(f), -1) + 1e-6) for f in (f_train, f_test))
        err = 1 - fit_score(f_train, y_train, {"test": (f_test, y_test)})["test"]
        rows.append({"transform": name, "features": f_train.shape[1], "error": err,
                     "seconds_features": seconds, "note": note})
        print(f"  {name}: {f_train.shape[1]} features, error {100 * err:.2f}%", flush=True)

    for name, S in nets.items():
        start = time.perf_counter()
        c_train, c_test = (extract_features(x, S, batch_size=500, progress=False).astype(np.float32)
                           for x in (x_train, x_test))
        seconds = time.perf_counter() - start
        if name == "Scattering2D":
            score(name, c_train, c_test, seconds, "covariant (Kymatio's channels)")
            c_train, c_test = scattering2d_by_angle(S, c_train), scattering2d_by_angle(S, c_test)
            blocks = angle_blocks(S)
            score(f"{name}, angles averaged", invariant_maps(c_train, blocks), invariant_maps(c_test, blocks),
                  seconds, "locally invariant")
        else:
            blocks = angle_blocks(S)
            score(f"{name}, angles averaged", invariant_maps(c_train, blocks), invariant_maps(c_test, blocks),
                  seconds, "locally invariant (the default output)")
            if name == "roto joint" and args.quick:    # 11,417 features: minutes of fitting on 12,000
                score(f"{name}, angles kept", c_train, c_test, seconds, "covariant (average_angles=False)")
        a_train = angular_spectrum_rings(c_train, blocks, rings)
        a_test = angular_spectrum_rings(c_test, blocks, rings)
        score(f"{name}, angular spectrum on rings", a_train, a_test, seconds, "globally invariant")
        if name == "roto joint":     # the best row: the covariant maps beside their invariant pooling
            score(f"{name}, angles kept + angular spectrum on rings",
                  np.concatenate([c_train.reshape(n_train, -1), a_train], 1),
                  np.concatenate([c_test.reshape(n_test, -1), a_test], 1), seconds, "covariant")
        del c_train, c_test
    base = next((r["error"] for r in rows if r["transform"] == "Scattering2D"), float("nan"))
    print(f"\nrotated MNIST: {n_train} training / {n_test} test images, uniform angles (seed {args.seed}), "
          f"J={J}, L={L}, local average (7x7 positions), log-features, logistic regression (C=0.1)")
    print("| transform | features | test error % | ratio to Scattering2D | feature seconds | note |\n"
          "|---|---:|---:|---:|---:|---|")
    for r in rows:
        r["ratio"] = r["error"] / base
        print(f"| {r['transform']} | {r['features']} | {100 * r['error']:.2f} | {r['ratio']:.2f} | "
              f"{r['seconds_features']:.0f} | {r['note']} |")
    return {"study": "mnist", "n_train": n_train, "n_test": n_test, "J": J, "L": L, "rows": rows}


def kth_images(data: Path, size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """KTH-TIPS at 200x200 (``load_image_folder``, bilinear resize for the 63 smaller images),
    standardised per image (float64)."""
    from scatter.models import load_image_folder

    X, y, classes = load_image_folder(data / "kth_tips_grey", mode="L", size=(200, 200), fit="resize")
    X = X.astype(np.float64)
    X = (X - X.mean(axis=(1, 2), keepdims=True)) / X.std(axis=(1, 2), keepdims=True)
    return X, y, classes


def central(images: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` square of each image."""
    n = images.shape[-1]
    lo = (n - size) // 2
    return images[..., lo:lo + size, lo:lo + size]


def study_kth(args) -> dict:
    folder = args.data / "kth_tips_grey"
    if not folder.is_dir():
        print(f"\nkth: skipped, {folder} not found")
        return {"study": "kth", "skipped": f"{folder} not found"}
    size, J, L = (32, 2, 8) if args.quick else (96, 3, 8)    # 96 < 200 / sqrt(2): no empty corners
    X, y, classes = kth_images(args.data, size)
    splits = 1 if args.quick else 3
    rng = np.random.default_rng(args.seed)
    if args.quick:
        keep = np.concatenate([np.flatnonzero(y == c)[:6] for c in range(3)])
        X, y = X[keep], y[keep]
    per_class = 3 if args.quick else 40
    angles = rng.uniform(0, 360, len(X))
    upright = central(X, size)
    turned = central(rotate(X, angles), size)
    rows = []
    start_all = time.perf_counter()
    # the local average pooled over all positions: the global average up to the subsampling,
    # without the cost of full-resolution moduli (the rotations here are arbitrary anyway)
    for name, S in transforms(J, (size, size), L, "local").items():
        start = time.perf_counter()
        pool = True
        f_up, f_rot = log_features(upright, S, pool), log_features(turned, S, pool)
        seconds = time.perf_counter() - start
        variants = [(name, f_up, f_rot)]
        if name == "Scattering2D":
            naive = [np.log(theta_average_scattering2d(S, np.exp(f))) for f in (f_up, f_rot)]
            variants.append(("Scattering2D, angles averaged", *naive))
        for label, a, b in variants:
            acc_up, acc_rot = [], []
            for s in range(splits):
                r = np.random.default_rng(args.seed + s)
                train = np.concatenate([r.permutation(np.flatnonzero(y == c))[:per_class] for c in np.unique(y)])
                test = np.setdiff1d(np.arange(len(y)), train)
                score = fit_score(a[train], y[train], {"upright": (a[test], y[test]), "rotated": (b[test], y[test])})
                acc_up.append(score["upright"])
                acc_rot.append(score["rotated"])
            rows.append({"transform": label, "features": a.shape[1], "upright": float(np.mean(acc_up)),
                         "upright_std": float(np.std(acc_up)), "rotated": float(np.mean(acc_rot)),
                         "rotated_std": float(np.std(acc_rot)), "seconds_features": seconds})
    print(f"\nKTH-TIPS: {len(y)} images, {len(np.unique(y))} classes, {per_class} training images per class "
          f"(upright), {splits} random splits; central {size}x{size} of the 200x200 image, test upright and "
          f"rotated by uniform random angles; J={J}, L={L}, local average pooled over all positions, "
          f"log-features, logistic regression")
    print("| transform | features | upright test % | rotated test % | drop (points) | feature seconds |\n"
          "|---|---:|---:|---:|---:|---:|")
    for r in rows:
        r["drop"] = 100 * (r["upright"] - r["rotated"])
        print(f"| {r['transform']} | {r['features']} | {100 * r['upright']:.1f} +- {100 * r['upright_std']:.1f} | "
              f"{100 * r['rotated']:.1f} +- {100 * r['rotated_std']:.1f} | {r['drop']:.1f} | "
              f"{r['seconds_features']:.0f} |")
    return {"study": "kth", "size": size, "J": J, "L": L, "splits": splits, "rows": rows,
            "seconds": time.perf_counter() - start_all}


def _best_time(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def first_layer_agreement(shape, J: int, L: int, x: torch.Tensor) -> float:
    """Largest relative difference between our S0 and S1 (angles kept) and Scattering2D's on the
    same periodic grid (``pre_pad=True`` with the shape whose padded grid is ``shape``), on
    Scattering2D's output window."""
    step = 2 ** J
    peer = Scattering2D(J, (shape[0] - 2 * step, shape[1] - 2 * step), L=L, pre_pad=True)
    assert peer.padded_shape == tuple(shape)
    ref = peer(x)[:, :1 + J * L]
    ours = RotoTranslationScattering2D(J, shape, L=L, max_order=1, average_angles=False)(x)[..., 1:-1, 1:-1]
    return float((ours - ref).abs().max() / ref.abs().max())


def study_cost(args) -> dict:
    configs = [((32, 32), 2, 8, 16)] if args.quick else \
        [((32, 32), 2, 8, 64), ((64, 64), 3, 8, 16), ((128, 128), 3, 8, 4), ((128, 128), 3, 8, 32)]
    repeats = 1 if args.quick else 7
    rows = []
    for threads, (shape, J, L, batch) in [(n, c) for n in sorted({1, args.threads}) for c in configs]:
        torch.set_num_threads(threads)
        x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(0))
        peer = Scattering2D(J, shape, L=L)
        t_peer = _best_time(lambda: peer(x), repeats)
        agreement = first_layer_agreement(shape, J, L, x[:2].double())
        for average in ("local", "global"):
            for variant in VARIANTS:
                S = RotoTranslationScattering2D(J, shape, L=L, variant=variant, average=average)
                t = _best_time(lambda: S(x), repeats)
                rows.append({"threads": threads, "shape": shape, "J": J, "L": L, "batch": batch, "average": average,
                             "variant": variant, "seconds": t, "scattering2d_seconds": t_peer,
                             "ratio": t / t_peer, "first_layer_rel_diff": agreement})
    torch.set_num_threads(args.threads)
    print(f"\ncost (best of {repeats}), float32, CPU inference; "
          f"ratio = ours / Scattering2D (its default: reflection padding, local average); first layers "
          f"agree to {max(r['first_layer_rel_diff'] for r in rows):.1e} (float64, periodic grid)")
    print("| threads | shape | J | L | batch | average | variant | seconds | Scattering2D seconds | ratio |\n"
          "|---:|---|---:|---:|---:|---|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['threads']} | {r['shape'][0]}x{r['shape'][1]} | {r['J']} | {r['L']} | {r['batch']} | {r['average']} | "
              f"{r['variant']} | {r['seconds']:.3f} | {r['scattering2d_seconds']:.3f} | {r['ratio']:.1f} |")
    return {"study": "cost", "rows": rows}


def study_figure(args) -> dict:
    """The roto-translation wavelets, and one image's invariant coefficients against the angle."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from skimage import data as skdata
    from skimage.transform import resize

    size, J, L = (32, 2, 8) if args.quick else (64, 3, 8)
    angles = np.linspace(0, 360, 9 if args.quick else 37)
    image = resize(skdata.camera().astype(np.float64), (size, size), anti_aliasing=True)
    mask = disk_mask(size)
    image = (image - image.mean()) / image.std() * mask
    batch = np.concatenate([image[None], rotate(image, angles[1:]) * mask])
    ours = RotoTranslationScattering2D(J, (size, size), L=L, K=2, average="global").double()
    peer = Scattering2D(J, (size, size), L=L).double()
    s_ours = ours(batch)
    s_peer = peer(batch).mean(axis=(-2, -1))

    fig = plt.figure(figsize=(12, 7.6))
    grid = fig.add_gridspec(3, L, height_ratios=[1, 1.1, 2.1])
    # the spatial part: psi_{j2, t} for the L angles t (real part)
    bank = ours.bank
    j2 = 1
    index = np.flatnonzero(bank.meta["j"] == j2)
    half = 8
    for col, k in enumerate(index):
        w = np.fft.fftshift(np.fft.ifft2(bank.psi[k]).real)[size // 2 - half: size // 2 + half,
                                                            size // 2 - half: size // 2 + half]
        ax = fig.add_subplot(grid[0, col])
        v = np.abs(w).max()
        ax.imshow(w, cmap="RdBu_r", vmin=-v, vmax=v)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"psi(j={j2}, t={col})", fontsize=8)
    # the angular part: pbar_k(t), periodic over the L angles of [0, pi)
    ax = fig.add_subplot(grid[1, :])
    pbar = ours.angular_filters()
    t = np.arange(L)
    for k in range(pbar.shape[0]):
        ax.plot(t, pbar[k].real, marker="o", label=f"Re pbar_{k}(t)")
        ax.plot(t, pbar[k].imag, marker="s", ls="--", label=f"Im pbar_{k}(t)")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xticks(t)
    ax.set_xlabel("angle index t of the first layer (a wavelet of the roto-translation group is "
                  "pbar_k(t) psi_{j2, t + t2}(u): one spatial wavelet per row-1 angle, weighted along t)", fontsize=8)
    ax.legend(fontsize=7, ncol=4)
    ax = fig.add_subplot(grid[2, :2])
    ax.imshow(batch[0], cmap="gray")
    ax.set_title("camera, masked to a disk", fontsize=9)
    ax.axis("off")
    ax = fig.add_subplot(grid[2, 3:])
    meta = ours.meta()
    pick_ours = list(np.flatnonzero(meta["order"] >= 1))
    pick_peer = list(range(1, 1 + L))      # S1 at j1 = 0, the L angles
    for i in pick_peer:
        ax.plot(angles, s_peer[:, i] / s_peer[0, i], color="tab:grey", lw=1)
    for i in pick_ours:
        ax.plot(angles, s_ours[:, i] / s_ours[0, i], color="tab:blue", lw=1, alpha=0.6)
    ax.plot([], [], color="tab:grey", label=f"Scattering2D: S1 at j1=0 ({L} angles)")
    ax.plot([], [], color="tab:blue", label=f"roto-translation: all {len(pick_ours)} channels of orders 1-2")
    ax.set_xlabel("rotation angle (degrees)")
    ax.set_ylabel("coefficient / its value at 0")
    ax.set_xticks(np.arange(0, 361, 45))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"Globally averaged coefficients of the rotated image ({size}x{size}, J={J}, L={L})", fontsize=9)
    fig.suptitle("Roto-translation scattering: spatial Morlet wavelets turned with the first layer's angle, "
                 "periodic angular wavelets, and invariance", fontsize=10)
    fig.tight_layout()
    path = (args.figures or Path(".")) / "rototranslation.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"\nfigure: {path}")
    return {"study": "figure", "path": str(path)}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, {platform.python_version()}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--study", default="all",
                        help=f"'all' or a comma-separated list of {', '.join(STUDIES)}")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="folder holding mnist/ and kth_tips_grey/")
    parser.add_argument("--figures", type=Path, default=None, help="where to save the PNG figures")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=12000, help="rotated MNIST training images")
    parser.add_argument("--n-test", type=int, default=10000, help="rotated MNIST test images")
    parser.add_argument("--skip-scattering2d", action="store_true",
                        help="rotated MNIST: only our rows (Scattering2D's from an earlier run)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.figures is not None:
        args.figures.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}")
    studies = STUDIES if args.study == "all" else tuple(args.study.split(","))
    unknown = sorted(set(studies) - set(STUDIES))
    if unknown:
        parser.error(f"unknown --study {', '.join(unknown)}: choose from all, {', '.join(STUDIES)}")
    results = []
    for name in studies:
        if name == "mnist" and not (args.data / "mnist").is_dir():
            print(f"\nmnist: skipped, {args.data / 'mnist'} not found")
            results.append({"study": "mnist", "skipped": "data not found"})
            continue
        results.append(globals()[f"study_{name}"](args))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
