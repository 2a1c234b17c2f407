"""Learnable scattering in the small-sample regime: CIFAR-10 with 100, 500 and 1,000 training
images (issue 21; Gauthier et al., "Parametric Scattering Networks", CVPR 2022, Table 2).

Protocol
--------
- Data: class-balanced subsets of ``data_batch_1`` (one draw per seed, ``transfer.balanced_subset``),
  tested on all 10,000 images of ``data_batch_5`` (the official test batch is not available
  losslessly here: ../shared/data/README.md). Images in [0, 1], standardised per channel with
  the training subset's statistics.
- Scattering: ``Scattering2D(J=2, (32, 32), L=8)`` on each colour channel: 3 x 81 maps of 8 x 8.
- Rows: ``fixed Morlet`` (Kymatio's filters; the paper's "tight-frame" initialisation is made of
  exactly Kymatio's parameters, so it is this row), ``fixed random`` (the paper's random
  initialisation, frozen), ``learned from Morlet`` and ``learned from random``
  (``learnable=...``: the wavelets' parameters trained with the head), and ``CNN on pixels`` (the
  same CNN head behind a learned 4x4 stride-4 convolution from the 3 colour channels to the
  same 243 x 8 x 8 tensor).
- Heads: ``linear`` (BatchNorm without affine parameters, then one linear layer on the 243 x 64
  features: the paper's linear head) and ``cnn`` (3x3 conv 243 -> 128, BN, ReLU, 3x3 conv
  128 -> 128, BN, ReLU, global average pool, linear: 430k parameters). Learned rows train with
  the heads given by ``--learned-heads`` (default: linear only, the paper's comparison; a
  learned front-end costs a forward and backward pass through the scattering per batch).
- Training: Adam, lr 1e-3 on the head with weight decay 5e-4; the wavelet parameters have their
  own rate, ``--wavelet-lr`` (default 1e-2: they are few, and at 1e-3 they hardly move in the
  epochs below, so learned and fixed fronts end up equal), no weight decay; batch 128,
  ``EPOCHS[n]`` epochs; fixed front-ends are computed once (no gradient, the CPU engine).
  Seeds fix the subset, the initialisations and the batch order.

Usage::

    .venv/bin/python benchmarks/learnable.py                  # the table (3 seeds)
    .venv/bin/python benchmarks/learnable.py --quick          # smoke run (the suite's)
    .venv/bin/python benchmarks/learnable.py --sizes 100 --seeds 1 --out out/learnable.md
"""
from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))   # benchmarks/filters.py must not shadow the package

from scatter import ParametricMorlet2D, Scattering2D, models, padded_shape_2d  # noqa: E402

_spec = importlib.util.spec_from_file_location("_transfer", REPO / "benchmarks" / "transfer.py")
transfer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(transfer)

EPOCHS = {100: 60, 500: 30, 1000: 20}
ROWS = ("fixed Morlet", "fixed random", "learned from Morlet", "learned from random",
        "CNN on pixels")
# the paper's test accuracies (%), linear head, 100 / 500 / 1000 images (its Table 2)
PAPER = {"fixed Morlet": (36.01, 48.12, 53.25), "learned from Morlet": (37.84, 52.68, 57.43)}
# the last trained bank of each learned row, with its initialisation (for --figure)
LAST_TRAINED: dict = {}


class Front(nn.Module):
    """Scattering of each colour channel: (B, 3, 32, 32) -> (B, 243, 8, 8)."""

    def __init__(self, learnable):
        super().__init__()
        self.scattering = Scattering2D(2, (32, 32), L=8, learnable=learnable)

    def forward(self, x):
        s = self.scattering(x)
        return s.reshape(s.shape[0], -1, *s.shape[-2:])


def head(kind: str) -> nn.Module:
    if kind == "linear":
        return nn.Sequential(nn.BatchNorm2d(243, affine=False), nn.Flatten(), nn.Linear(243 * 64, 10))
    return nn.Sequential(nn.Conv2d(243, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(),
                         nn.Conv2d(128, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))


def wavelets(init: str, seed: int) -> ParametricMorlet2D:
    return ParametricMorlet2D(padded_shape_2d((32, 32), 2), 2, 8, init=init, seed=seed)


# learning rate of the wavelet parameters (the head's is 1e-3); set by --wavelet-lr
WAVELET_LR = [1e-2]


def train(model: nn.Module, x, y, epochs: int, seed: int) -> None:
    torch.manual_seed(seed)
    params = [{"params": [p for n, p in model.named_parameters() if "wavelets" not in n],
               "weight_decay": 5e-4},
              {"params": [p for n, p in model.named_parameters() if "wavelets" in n],
               "weight_decay": 0.0, "lr": WAVELET_LR[0]}]
    optimiser = torch.optim.Adam(params, lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for index in torch.randperm(len(x), generator=generator).split(128):
            optimiser.zero_grad()
            loss = nn.functional.cross_entropy(model(x[index]), y[index])
            loss.backward()
            optimiser.step()


@torch.no_grad()
def accuracy(model: nn.Module, x, y) -> float:
    model.eval()
    hits = sum(int((model(x[i:i + 500]).argmax(1) == y[i:i + 500]).sum()) for i in range(0, len(x), 500))
    return 100.0 * hits / len(x)


@torch.no_grad()
def features(front: Front, x) -> torch.Tensor:
    return torch.cat([front(x[i:i + 500]) for i in range(0, len(x), 500)])


def run(row: str, kind: str, x_train, y_train, x_test, y_test, epochs: int, seed: int) -> dict:
    start = time.perf_counter()
    moved = None
    if row == "CNN on pixels":
        model = nn.Sequential(nn.Conv2d(3, 243, 4, stride=4), head(kind))
        train(model, x_train, y_train, epochs, seed)
        acc = accuracy(model, x_test, y_test)
    elif row.startswith("fixed"):
        init = "kymatio" if row == "fixed Morlet" else "random"
        front = Front(wavelets(init, seed) if init == "random" else False)
        front.requires_grad_(False)
        f_train, f_test = features(front, x_train), features(front, x_test)
        model = head(kind)
        train(model, f_train, y_train, epochs, seed)
        acc = accuracy(model, f_test, y_test)
    else:
        init = "kymatio" if row == "learned from Morlet" else "random"
        bank = wavelets(init, seed)
        before = copy.deepcopy(bank)
        model = nn.Sequential(Front(bank), head(kind))
        train(model, x_train, y_train, epochs, seed)
        acc = accuracy(model, x_test, y_test)
        moved = {name: float((getattr(bank, name) - getattr(before, name)).detach().abs().mean())
                 for name in ("angle", "xi", "sigma", "slant")}
        LAST_TRAINED[row] = (before, bank)
    return {"row": row, "head": kind, "n": len(x_train), "seed": seed, "accuracy": acc,
            "seconds": time.perf_counter() - start, "moved": moved}


def load(data: Path, quick: bool):
    root = data / "cifar-10-batches-py"
    x_train, y_train = models.load_cifar10(root, ["data_batch_1"])
    x_test, y_test = models.load_cifar10(root, ["data_batch_5"], max_items=500 if quick else None)
    return x_train, y_train, x_test, y_test


def as_tensors(images, labels, mean=None, std=None):
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    if mean is None:
        mean, std = x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True)
    return (x - mean) / std, torch.from_numpy(labels).long(), mean, std


def table(results: list[dict], header: str) -> str:
    lines = [header, "", "| front-end | head | " + " | ".join(f"{n} images" for n in
                                                            sorted({r['n'] for r in results}))
             + " | paper (linear, 100 / 500 / 1000) |", "|---|---|" + "---|" * (
                 len({r['n'] for r in results}) + 1)]
    for row in ROWS:
        for kind in ("linear", "cnn"):
            cells = []
            for n in sorted({r["n"] for r in results}):
                acc = [r["accuracy"] for r in results if (r["row"], r["head"], r["n"]) == (row, kind, n)]
                cells.append(f"{np.mean(acc):.1f} ± {np.std(acc):.1f} ({len(acc)})" if acc else "-")
            if any(c != "-" for c in cells):
                paper = PAPER.get(row) if kind == "linear" else None
                lines.append(f"| {row} | {kind} | " + " | ".join(cells) + " | "
                             + (" / ".join(f"{v:.2f}" for v in paper) if paper else "-") + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 1000])
    p.add_argument("--seeds", type=int, default=3, help="seeds 0 .. SEEDS-1 (default 3)")
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS, metavar="ROW")
    p.add_argument("--learned-heads", nargs="+", default=["linear"], choices=["linear", "cnn"])
    p.add_argument("--epochs", type=int, help="override EPOCHS for every size")
    p.add_argument("--wavelet-lr", type=float, default=1e-2,
                   help="Adam learning rate of the wavelet parameters (default 1e-2; the head's is 1e-3)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 20 images, 500 test images, 1 epoch, one seed")
    p.add_argument("--out", type=Path, action="append", default=[],
                   help="write the table (.md) or the results (.json), atomically")
    p.add_argument("--figure", type=Path,
                   help="PNG of the last wavelets learned from Morlet beside their "
                        "initialisation (scatter.plot_learned_wavelets)")
    args = p.parse_args(argv)
    if not (args.data / "cifar-10-batches-py").is_dir():
        p.error(f"--data: no cifar-10-batches-py/ in {args.data}")
    if args.quick:
        args.sizes, args.seeds, args.epochs = [20], 1, 1
    torch.set_num_threads(args.threads)
    WAVELET_LR[0] = args.wavelet_lr
    images, labels, test_images, test_labels = load(args.data, args.quick)
    start, load0 = time.perf_counter(), os.getloadavg()[0]
    results = []
    for n in args.sizes:
        for seed in range(args.seeds):
            index = transfer.balanced_subset(labels, n, np.random.default_rng(seed))
            x_train, y_train, mean, std = as_tensors(images[index], labels[index])
            x_test, y_test, _, _ = as_tensors(test_images, test_labels, mean, std)
            for row in args.rows:
                heads = args.learned_heads if row.startswith("learned") else ["linear", "cnn"]
                for kind in heads:
                    r = run(row, kind, x_train, y_train, x_test, y_test,
                            args.epochs or EPOCHS.get(n, 20), seed)
                    results.append(r)
                    print(f"n={n} seed={seed} {row:20s} {kind:6s} {r['accuracy']:5.1f}% "
                          f"{r['seconds']:6.1f} s" + (f" moved {r['moved']}" if r["moved"] else ""),
                          flush=True)
    header = (f"Machine: {transfer.machine()}; {args.threads} thread(s); wall time "
              f"{time.perf_counter() - start:.0f} s; load average {load0:.1f} at start, "
              f"{os.getloadavg()[0]:.1f} at the end; test: {len(test_labels)} images of "
              f"data_batch_5; wavelet learning rate {args.wavelet_lr:g}"
              f"{'; --quick' if args.quick else ''}. Accuracy %, mean ± std (runs).")
    text = table(results, header)
    print("\n" + text)
    for out in args.out:
        transfer.write_atomic(out, text if out.suffix == ".md" else json.dumps(results, indent=1))
    if args.figure is not None and "learned from Morlet" in LAST_TRAINED:
        from scatter import plot_learned_wavelets
        from scatter.demo import save_figure

        before, after = LAST_TRAINED["learned from Morlet"]
        save_figure(plot_learned_wavelets(before, after, title=(
            f"Morlet wavelets learned on {max(args.sizes)} CIFAR-10 images (J=2, L=8, linear "
            f"head): trained against Kymatio's initialisation")), args.figure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
