"""Transfer-learning study: scattering, hybrids and CNNs with learned, designed, transferred or
random first layers, on the same splits of MNIST, CIFAR-10 (full batch and small samples) and
KTH-TIPS. Prints a markdown table with literature anchors (issue 9).

Rows (methods)
--------------
From ``benchmarks/transfer_linear.py`` (``linear_rows``): raw pixels + logistic regression,
scattering order 1 and order 2 + logistic regression. Ours (this file), all sharing one trainable
head (:func:`scatter.models.hybrid.build_head` ``'resnet'``: 3x3 conv to ``width``, one basic block at
``width``, one at ``2 * width`` with stride 2, global average pool, linear; Oyallon et al. 2017):

- ``hybrid: scattering + ResNet head``: :class:`scatter.models.Hybrid` (Morlet, ``J`` per dataset, L=8,
  order 2, log + BatchNorm without affine parameters). The frozen front-end is computed once per
  image; only the head is trained.
- ``CNN: learned first layer``: conv 7x7 (32 filters, no bias; stride 2, or 4 for KTH-TIPS, so
  that the output lands on the hybrid's grid) -> BN -> ReLU -> max pool 2 -> the same head. The stem plays the role of the
  scattering: same input, same head, same output grid.
- ``CNN: first layer frozen to Morlet``: that conv frozen to the real and imaginary parts of the
  16 Morlet wavelets ``J=2, L=8`` (``filters.morlet_2d``, cropped to 7x7, on the mean of the
  colour channels) plus the Gaussian low-pass on each input channel: 33 (grey) or 35 (RGB) maps.
- ``CNN: first layer frozen, transferred from <source>``: the conv of the learned-first-layer CNN
  trained on another dataset, frozen (grey <-> RGB by summing over / spreading across channels):
  MNIST <- CIFAR-10 (``data_batch_1``), CIFAR-10 (all regimes) <- MNIST, KTH-TIPS <- CIFAR-10.
  Natural images -> digits / textures, and digits -> natural images: the two directions of the
  usual question.
- ``CNN: first layer frozen to random weights``: PyTorch's default initialisation, frozen.

Datasets and splits (from ``--data``, through the library's loaders)
--------------------------------------------------------------------
- ``mnist``: 60,000 train / 10,000 test (``models.load_mnist``).
- ``cifar10``: ``data_batch_1`` (10,000) train / ``data_batch_5`` (10,000) test
  (``models.load_cifar10``; the official test batch is not available losslessly).
- ``cifar10-small``: class-balanced subsets of 100, 500, 1000 images of ``data_batch_1`` (one per
  seed ``seed, seed + 1, ...``), tested on all of ``data_batch_5``: the small-sample regime of
  Oyallon et al. 2017. Reported as ``cifar10-100`` etc.
- ``kth-tips``: ``kth_tips_grey`` (``models.load_image_folder``), 10 materials x 81 images,
  resized to 200x200 (63 images are smaller, down to 113 pixels on a side: a common centre crop
  would keep a quarter of the others); 10 random splits of 40 training images per class, the
  other 41 for testing (:func:`kth_splits`, the same draws as ``transfer_linear.kth_splits``).
  The deep rows see the images area-averaged to 56x56 (CPU budget); the linear rows get 200x200.

Every method sees the same train/test indices. The linear rows come from
``transfer_linear.linear_rows(dataset, X_train, y_train, X_test, y_test, *, quick, seed)`` with
``dataset`` in ``{'mnist', 'cifar10'}`` and uint8 images ``(N, 28, 28)`` or ``(N, 3, 32, 32)``
(one call per split), and for KTH-TIPS from ``transfer_linear.kth_rows(images, labels, 40, 10,
quick=..., seed=...)`` (features once, the same 10 splits). An error there is reported in the
table, not fatal.

Training (deep rows): Adam, lr 1e-3, weight decay 1e-4, batch 128 (32 for fewer than 1000
images), no data augmentation, epochs per dataset in ``PLANS``; inputs in [0, 1], standardised
per channel with the training set's statistics for the CNNs. Seeds fix the subsets, the weight
initialisations and the batch order.

Usage::

    .venv/bin/python benchmarks/transfer.py                    # everything (< 1 h on 2 cores)
    .venv/bin/python benchmarks/transfer.py --quick            # smoke run (< 60 s)
    .venv/bin/python benchmarks/transfer.py --datasets cifar10-small --out out/transfer.md
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
# Run as a script, benchmarks/ is first on sys.path and its filters.py would shadow the package.
sys.path.insert(0, str(REPO))

from scatter import filters  # noqa: E402
from scatter import models  # noqa: E402
from scatter.models.hybrid import build_head  # noqa: E402

DATASETS = ("mnist", "cifar10", "cifar10-small", "kth-tips")
SMALL_SIZES = (100, 500, 1000)
DEEP = ("hybrid", "cnn", "morlet", "transfer", "random")
SOURCE = {"mnist": "cifar10", "cifar10": "mnist", "cifar10-small": "mnist", "kth-tips": "cifar10"}

# Per dataset: scattering J, head width, epochs (or images seen for the small samples), seeds.
PLANS = {
    "mnist": dict(J=2, width=16, epochs=3),
    "cifar10": dict(J=2, width=16, epochs=4),
    "cifar10-small": dict(J=2, width=16, images_seen=8_000, min_epochs=10, seeds=3),
    "kth-tips": dict(J=3, width=16, epochs=15, splits=10),
}
QUICK = {
    "mnist": dict(n_train=200, n_test=100, epochs=1),
    "cifar10": dict(n_train=200, n_test=100, epochs=1),
    "cifar10-small": dict(sizes=(100,), seeds=1, n_train=500, n_test=100, images_seen=100,
                          min_epochs=1),
    "kth-tips": dict(per_class=6, n_train=3, splits=1, epochs=1),
}

METHOD_NAMES = {
    "hybrid": "hybrid: scattering + ResNet head",
    "cnn": "CNN: learned first layer",
    "morlet": "CNN: first layer frozen to Morlet",
    "transfer": "CNN: first layer frozen, transferred from {source}",
    "random": "CNN: first layer frozen to random weights",
}

ANCHORS = [
    # (dataset, test on the method name, anchor text)
    ("mnist", lambda m: "scattering" in m and "hybrid" not in m,
     "99.57 (scattering + SVM, Bruna & Mallat 2013); 99.15 (Kymatio example, scattering + linear)"),
    ("kth-tips", lambda m: "scattering" in m and "hybrid" not in m,
     "~99 (rotation/scale-invariant scattering, Sifre & Mallat 2013)"),
    ("cifar10-100", lambda m: m.startswith("hybrid"),
     "Oyallon et al. 2017: scattering + WRN > WRN at 100, 500, 1000 images"),
    ("cifar10-500", lambda m: m.startswith("hybrid"),
     "Oyallon et al. 2017: scattering + WRN > WRN at 100, 500, 1000 images"),
    ("cifar10-1000", lambda m: m.startswith("hybrid"),
     "Oyallon et al. 2017: scattering + WRN > WRN at 100, 500, 1000 images"),
]


# ------------------------------------------------------------------------------------- data
class Pool:
    """All images of one dataset held once, with the train/test index sets ("tasks") on them.

    ``images`` uint8 as the loaders return them; ``deep`` float32 ``(N, C, H, W)`` in [0, 1] for
    the deep rows; ``tasks`` a list of ``(column, train_index, test_index, seed)``.
    """

    def __init__(self, name, images, labels, deep, tasks, source_note=""):
        self.name, self.images, self.labels = name, images, labels
        self.deep, self.tasks, self.source_note = deep, tasks, source_note


def _to_deep(images: np.ndarray) -> torch.Tensor:
    return models.ImageArrayDataset(images, np.zeros(len(images), dtype=np.int64)).tensors[0]


def balanced_subset(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices with ``n / n_classes`` of each class (``n`` a multiple of the class count)."""
    classes = np.unique(labels)
    if n % len(classes):
        raise ValueError(f"n={n} is not a multiple of the {len(classes)} classes")
    return np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == c), n // len(classes),
                                              replace=False) for c in classes]))


def kth_splits(labels: np.ndarray, n_train: int, n_splits: int, seed: int):
    """KTH-TIPS protocol: ``n_splits`` random splits, ``n_train`` training images per class, the
    rest tested. The same draws as ``transfer_linear.kth_splits`` (one generator seeded with
    ``seed``, classes in order), so both families of rows see the same splits."""
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    for _ in range(n_splits):
        train = np.sort(np.concatenate([rng.choice(m, n_train, replace=False) for m in members]))
        yield train, np.setdiff1d(np.arange(len(labels)), train)


def load_pool(name: str, root: Path, quick: bool, seed: int) -> Pool:
    q = QUICK[name] if quick else {}
    if name == "mnist":
        xtr, ytr = models.load_mnist(root / "mnist", "train", max_items=q.get("n_train"))
        xte, yte = models.load_mnist(root / "mnist", "test", max_items=q.get("n_test"))
        images, labels = np.concatenate([xtr, xte]), np.concatenate([ytr, yte])
        tasks = [("mnist", np.arange(len(xtr)), len(xtr) + np.arange(len(xte)), seed)]
        return Pool(name, images, labels, _to_deep(images), tasks)
    if name in ("cifar10", "cifar10-small"):
        folder = root / "cifar-10-batches-py"
        xtr, ytr = models.load_cifar10(folder, ["data_batch_1"], max_items=q.get("n_train"))
        xte, yte = models.load_cifar10(folder, ["data_batch_5"], max_items=q.get("n_test"))
        images, labels = np.concatenate([xtr, xte]), np.concatenate([ytr, yte])
        test = len(xtr) + np.arange(len(xte))
        if name == "cifar10":
            tasks = [("cifar10", np.arange(len(xtr)), test, seed)]
        else:
            plan = {**PLANS[name], **q}
            tasks = []
            for n in plan.get("sizes", SMALL_SIZES):
                for s in range(seed, seed + plan["seeds"]):
                    rng = np.random.default_rng([s, n])
                    tasks.append((f"cifar10-{n}", balanced_subset(ytr, n, rng), test, s))
        return Pool(name, images, labels, _to_deep(images), tasks)
    if name == "kth-tips":
        # The whole image, resized to 200x200 (63 of the 810 are smaller: up to 1.8x upscaled);
        # the deep rows see it area-averaged to 56x56.
        images, labels, _ = models.load_image_folder(root / "kth_tips_grey", mode="L",
                                                     size=(200, 200), fit="resize",
                                                     max_per_class=q.get("per_class"))
        deep = nn.functional.adaptive_avg_pool2d(_to_deep(images), 56)  # (N, 1, 56, 56)
        plan = {**PLANS[name], **q}
        tasks = [("kth-tips", train, test, seed + k) for k, (train, test) in
                 enumerate(kth_splits(labels, q.get("n_train", 40), plan["splits"], seed))]
        return Pool(name, images, labels, deep, tasks)
    raise ValueError(f"unknown dataset {name!r}; expected one of {list(DATASETS)}")


# ------------------------------------------------------------------------------------ models
def morlet_stem_weight(in_channels: int, size: int = 7) -> torch.Tensor:
    """Real and imaginary parts of Morlet wavelets (J=2, L=8) on the channel mean, plus the
    Gaussian low-pass per channel, cropped to ``size x size`` (wavelets re-centred to zero mean)
    and normalised to unit norm.

    Returns ``(32 + in_channels, in_channels, size, size)`` float32."""
    bank = filters.morlet_2d((32, 32), J=2, L=8)
    psi, phi = bank.spatial(centered=True)
    c, r = 16, size // 2
    window = (slice(c - r, c + r + 1), slice(c - r, c + r + 1))
    kernels = [k for p in psi for k in (p[window].real, p[window].imag)]
    # Cropping leaves the coarse wavelets a small mean: remove it, the low-passes carry the mean.
    kernels = [k - k.mean() for k in kernels]
    weight = np.zeros((len(kernels) + in_channels, in_channels, size, size))
    for i, k in enumerate(kernels):
        weight[i] = k / in_channels
    for ch in range(in_channels):
        weight[len(kernels) + ch, ch] = phi[window].real
    weight /= np.linalg.norm(weight.reshape(len(weight), -1), axis=1)[:, None, None, None]
    return torch.from_numpy(weight).float()


def adapt_channels(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """First-layer weights ``(F, C_s, k, k)`` for ``in_channels`` inputs: the same response to
    grey images (sum over colours for RGB -> grey; spread ``w / 3`` for grey -> RGB)."""
    if weight.shape[1] == in_channels:
        return weight.clone()
    if in_channels == 1:
        return weight.sum(1, keepdim=True)
    if weight.shape[1] == 1:
        return weight.repeat(1, in_channels, 1, 1) / in_channels
    raise ValueError(f"cannot adapt {weight.shape[1]} input channels to {in_channels}")


class StemCNN(nn.Sequential):
    """conv 7x7 stride ``stride`` (``stem`` maps, no bias) -> BN -> ReLU -> max pool 2 -> head."""

    def __init__(self, in_channels, n_classes, spatial, stride, width, stem=32, weight=None,
                 freeze=False):
        first = weight.shape[0] if weight is not None else stem
        conv = nn.Conv2d(in_channels, first, 7, stride=stride, padding=3, bias=False)
        if weight is not None:
            with torch.no_grad():
                conv.weight.copy_(weight)
        conv.weight.requires_grad_(not freeze)
        super().__init__(nn.Sequential(conv, nn.BatchNorm2d(first), nn.ReLU(inplace=True),
                                       nn.MaxPool2d(2)),
                         build_head("resnet", first, spatial, n_classes, width=width))

    @property
    def first_weight(self) -> torch.Tensor:
        return self[0][0].weight.detach()


# ---------------------------------------------------------------------------------- training
def train_eval(model, x_train, y_train, x_test, y_test, epochs, seed, batch_size=None):
    batch_size = batch_size or (32 if len(x_train) < 1000 else 128)
    start = time.perf_counter()
    models.fit(model, (x_train, y_train), epochs=epochs, batch_size=batch_size,
               optimizer="adam", lr=1e-3, weight_decay=1e-4, seed=seed, progress=False)
    accuracy = models.evaluate(model, (x_test, y_test))["accuracy"]
    return accuracy, time.perf_counter() - start


class Study:
    """Runs the deep rows; keeps the scattering features and the learned-first-layer CNNs (the
    sources of the transferred rows) of each pool."""

    def __init__(self, root: Path, quick: bool, seed: int, log=print):
        self.root, self.quick, self.seed, self.log = root, quick, seed, log
        self.pools: dict[str, Pool] = {}
        self.features: dict[str, tuple[torch.Tensor, float]] = {}
        self.sources: dict[str, torch.Tensor] = {}
        self.done: dict[tuple, dict] = {}  # (pool, column, seed, method) -> row

    def pool(self, name: str) -> Pool:
        if name not in self.pools:
            self.pools[name] = load_pool(name, self.root, self.quick, self.seed)
        return self.pools[name]

    def plan(self, name: str) -> dict:
        return {**PLANS[name], **(QUICK[name] if self.quick else {})}

    def epochs(self, name: str, n_train: int) -> int:
        plan = self.plan(name)
        if "images_seen" in plan:
            return max(plan["min_epochs"], math.ceil(plan["images_seen"] / n_train))
        return plan["epochs"]

    def hybrid(self, name: str, seed: int) -> models.Hybrid:
        pool = self.pool(name)
        torch.manual_seed(seed)
        return models.Hybrid(tuple(pool.deep.shape[-2:]), pool.deep.shape[1], 10,
                             J=self.plan(name)["J"], head="resnet", width=self.plan(name)["width"])

    def scattering(self, name: str, index: np.ndarray) -> tuple[torch.Tensor, float]:
        """Log-scattering of the pool's images ``index``; every image any task of the pool uses
        is scattered once, on first call (the front-end is frozen)."""
        if name not in self.features:
            pool = self.pool(name)
            used = np.unique(np.concatenate([np.concatenate([t[1], t[2]]) for t in pool.tasks]))
            model, x = self.hybrid(name, 0), pool.deep[used]
            start = time.perf_counter()
            with torch.no_grad():
                feats = torch.cat([model.features(x[i:i + 256]) for i in range(0, len(x), 256)])
            position = np.full(len(pool.labels), -1)
            position[used] = np.arange(len(used))
            self.features[name] = (feats, position, time.perf_counter() - start)
            self.log(f"  scattering of {len(x)} {name} images {tuple(x.shape[1:])} -> "
                     f"{tuple(feats.shape[1:])}: {self.features[name][2]:.1f} s")
        feats, position, seconds = self.features[name]
        return feats[position[index]], seconds

    def cnn(self, name: str, seed: int, weight=None, freeze=False) -> StemCNN:
        pool = self.pool(name)
        _, h, w = self.hybrid(name, seed).feature_shape
        H = pool.deep.shape[-2]
        torch.manual_seed(seed)
        # The stem lands on the hybrid's grid: stride 2 (MNIST, CIFAR), 4 (KTH at 56x56).
        return StemCNN(pool.deep.shape[1], 10, (h, w), H // (2 * h), self.plan(name)["width"],
                       weight=weight, freeze=freeze)

    def standardised(self, name: str, train: np.ndarray) -> torch.Tensor:
        x = self.pool(name).deep
        mean = x[train].mean(dim=(0, 2, 3), keepdim=True)
        std = x[train].std(dim=(0, 2, 3), keepdim=True)
        return (x - mean) / std

    def source_weight(self, source: str) -> torch.Tensor:
        """First layer of the learned-first-layer CNN on ``source`` (its first task), trained here
        if that dataset's own row has not been run yet."""
        if source not in self.sources:
            column, train, test, seed = self.pool(source).tasks[0]
            self.log(f"  training the {source} CNN (source of a transferred first layer)")
            self.run_task(source, (column, train, test, seed), methods=("cnn",))
        return self.sources[source]

    def run_task(self, name: str, task, methods=DEEP) -> list[dict]:
        column, train, test, seed = task
        pool = self.pool(name)
        y = torch.from_numpy(pool.labels)
        epochs = self.epochs(name, len(train))
        rows = []
        for method in methods:
            key = (name, column, seed, method)
            if key in self.done:  # trained earlier as the source of a transferred layer
                rows.append(self.done[key])
                continue
            note = f"{len(train)} train / {len(test)} test, {epochs} epochs"
            if method == "hybrid":
                model = self.hybrid(name, seed)
                f_train, scat_seconds = self.scattering(name, train)
                f_test, _ = self.scattering(name, test)
                acc, sec = train_eval(model.head, f_train, y[train], f_test, y[test], epochs, seed)
                note += f", J={model.scattering.J}, {model.feature_shape} features " \
                        f"(scattering of the whole pool once: {scat_seconds:.0f} s, not counted)"
                label = METHOD_NAMES[method]
            else:
                x = self.standardised(name, train)
                weight, freeze, label = None, method != "cnn", METHOD_NAMES[method]
                if method == "morlet":
                    weight = morlet_stem_weight(x.shape[1])
                elif method == "transfer":
                    source = SOURCE[name]
                    weight = adapt_channels(self.source_weight(source), x.shape[1])
                    label = label.format(source=source)
                model = self.cnn(name, seed, weight=weight, freeze=freeze)
                acc, sec = train_eval(model, x[train], y[train], x[test], y[test], epochs, seed)
                if method == "cnn" and name not in self.sources:
                    self.sources[name] = model.first_weight
            rows.append(dict(method=label, dataset=column, accuracy=acc, seconds=sec, notes=note))
            self.done[key] = rows[-1]
            self.log(f"  {column:13s} {label:55s} {100 * acc:6.2f} %  {sec:7.1f} s")
        return rows


def _linear_module():
    """benchmarks/transfer_linear.py loaded by path (it may be written while we run), or None."""
    import importlib.util

    path = Path(__file__).resolve().with_name("transfer_linear.py")
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("transfer_linear", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_linear(column, pool: Pool, train, test, quick, seed, log=print) -> list[dict]:
    """The linear rows of one task (for KTH-TIPS: of all splits, on its first task), or a
    'pending'/'error' row when benchmarks/transfer_linear.py is missing or fails."""
    import traceback

    if pool.name == "kth-tips" and seed != pool.tasks[0][3]:
        return []  # kth_rows ran every split with the first task
    start = time.perf_counter()
    try:
        module = _linear_module()
        if module is None or not hasattr(module, "linear_rows"):
            log("  linear rows pending (benchmarks/transfer_linear.py has no linear_rows yet)")
            return [dict(method="linear rows (benchmarks/transfer_linear.py)", dataset=column,
                         accuracy=None, seconds=0.0, notes="pending")]
        if pool.name == "kth-tips":
            n_train = len(train) // len(np.unique(pool.labels))
            rows = module.kth_rows(pool.images, pool.labels, n_train, len(pool.tasks),
                                   quick=quick, seed=pool.tasks[0][3])
        else:
            images = pool.images if pool.images.ndim == 3 else pool.images.transpose(0, 3, 1, 2)
            rows = module.linear_rows(column.split("-")[0], images[train], pool.labels[train],
                                      images[test], pool.labels[test], quick=quick, seed=seed)
    except Exception as err:  # noqa: BLE001 - the other rows are still worth printing
        log("".join(traceback.format_exc()))
        return [dict(method="linear rows (benchmarks/transfer_linear.py)", dataset=column,
                     accuracy=None, seconds=time.perf_counter() - start,
                     notes=f"error: {type(err).__name__}: {err}")]
    for row in rows:
        row["dataset"] = column
        acc = row.get("accuracy")
        log(f"  {column:13s} {row['method']:55s} "
            f"{'pending' if acc is None else f'{100 * acc:6.2f} %'}  {row.get('seconds', 0):7.1f} s")
    return rows


# ----------------------------------------------------------------------------------- tables
def summarise(rows: list[dict]) -> list[dict]:
    """One entry per (dataset, method): mean and std of the accuracy over runs, total seconds."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["method"]), []).append(row)
    out = []
    for (dataset, method), runs in groups.items():
        accs = [a for r in runs if r.get("accuracy") is not None
                for a in r.get("accuracies", [r["accuracy"]])]
        anchor = next((text for d, test, text in ANCHORS if d == dataset and test(method.lower())),
                      "")
        out.append(dict(dataset=dataset, method=method, runs=max(len(runs), len(accs)),
                        mean=float(np.mean(accs)) if accs else None,
                        std=float(np.std(accs)) if len(accs) > 1 else None,
                        seconds=float(sum(r.get("seconds") or 0 for r in runs)), anchor=anchor,
                        notes=runs[0].get("notes", "")))
    return out


def _cell(entry) -> str:
    if entry is None:
        return ""
    if entry["mean"] is None:
        return "pending"
    text = f"{100 * entry['mean']:.2f}"
    return text + (f" ± {100 * entry['std']:.2f}" if entry["std"] is not None else "")


def markdown(summary: list[dict], header: str = "") -> str:
    columns = list(dict.fromkeys(e["dataset"] for e in summary))
    methods = list(dict.fromkeys(e["method"] for e in summary))
    index = {(e["dataset"], e["method"]): e for e in summary}
    lines = [header] if header else []
    lines += ["Test accuracy (%), mean ± std over seeds/splits where there are several:", "",
              "| method | " + " | ".join(columns) + " |",
              "|---|" + "---|" * len(columns)]
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(_cell(index.get((c, m))) for c in columns) + " |")
    lines += ["", "| dataset | method | accuracy (%) | runs | seconds | literature (%) | notes |",
              "|---|---|---|---|---|---|---|"]
    for e in summary:
        lines.append(f"| {e['dataset']} | {e['method']} | {_cell(e)} | {e['runs']} | "
                     f"{e['seconds']:.0f} | {e['anchor']} | {e['notes']} |")
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, with the umask's permissions (the library's
    :func:`scatter._files.atomic_output`; ``tempfile.mkstemp`` alone would leave mode 0600)."""
    from scatter._files import atomic_output

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp, open(tmp, "w") as f:
        f.write(text)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, Python " \
           f"{platform.python_version()}"


# -------------------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data",
                   help="folder holding mnist/, cifar-10-batches-py/, kth_tips_grey/ "
                        "(default: ../shared/data next to the repository)")
    p.add_argument("--datasets", default=",".join(DATASETS),
                   help=f"comma-separated subset of {','.join(DATASETS)} (default: all)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: tiny subsets, 1 epoch, one KTH split (< 60 s)")
    p.add_argument("--threads", type=int, default=2,
                   help="torch and BLAS threads (default 2). On a machine busy with other jobs "
                        "use 1: intra-op threads then mostly wait for each other (scattering "
                        "2,593 CIFAR images took 206 s with 2 threads, 9 s with 1, at load 8)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--out", type=Path, action="append", default=[],
                   help="write the table to a .md file or the results to a .json file "
                        "(atomically); may be repeated")
    args = p.parse_args(argv)
    names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = [d for d in names if d not in DATASETS]
    if unknown or not names:
        p.error(f"--datasets: unknown {unknown or 'empty'}; choose from {','.join(DATASETS)}")
    args.datasets = names
    if args.threads < 1:
        p.error(f"--threads must be >= 1, got {args.threads}")
    for out in args.out:
        if out.suffix not in (".md", ".json"):
            p.error(f"--out must end in .md or .json, got {out}")
    if not args.data.is_dir():
        p.error(f"--data: dataset folder not found: {args.data} (expected mnist/, "
                f"cifar-10-batches-py/, kth_tips_grey/ inside)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    start, load0 = time.perf_counter(), os.getloadavg()
    rows: list[dict] = []
    with threadpool_limits(limits=args.threads):
        study = Study(args.data, args.quick, args.seed)
        for name in args.datasets:
            print(f"## {name}", flush=True)
            pool = study.pool(name)
            for task in pool.tasks:
                column, train, test, seed = task
                rows += run_linear(column, pool, train, test, args.quick, seed)
                rows += study.run_task(name, task)
    wall, load1 = time.perf_counter() - start, os.getloadavg()
    header = (f"Machine: {machine()}; {args.threads} thread(s); wall time {wall:.0f} s; load "
              f"average {load0[0]:.1f} at start, {load1[0]:.1f} at the end"
              f"{'; --quick' if args.quick else ''}.\n")
    table = markdown(summarise(rows), header)
    print("\n" + table, flush=True)
    for out in args.out:
        if out.suffix == ".md":
            write_atomic(out, table)
        else:
            write_atomic(out, json.dumps(dict(rows=rows, summary=summarise(rows), wall_s=wall,
                                              load_average=[load0, load1], machine=machine(),
                                              args={k: str(v) for k, v in vars(args).items()}),
                                         indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
