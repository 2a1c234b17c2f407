"""Do a CNN's learned first-layer filters look like Gabor wavelets?

Trains the reference nets of :mod:`scatter.models.cnn` on the provided datasets on the CPU and compares
their first layers with analytic banks (:func:`scatter.models.compare_filters`):

- LeNet on MNIST (60,000 training images, tested on the 10,000 official test images);
- CifarNet (7x7 stride-2 first layer) on CIFAR-10 ``data_batch_1`` (10,000 images), tested on
  ``data_batch_5`` (the official test batch is not available losslessly here), with two
  initialisations of the first layer: PyTorch's default (Kaiming-uniform, std ~0.048 for 7x7x3)
  and AlexNet's N(0, 0.01^2) (Krizhevsky et al. 2012).

For every trained first layer the same numbers are given for its own random initialisation (the
control): fraction of filters with Gabor R^2 > 0.8, median R^2, median best correlation with a
Morlet bank (J=3, L=8) and with a Gabor bank, median energy in each bank's span (with the chance
level of white noise), and how much of the trained filter is still its initialisation.

There is no peer library for this study: the numbers are the result.

Usage::

    .venv/bin/python benchmarks/learned_filters.py [--cifar-epochs 4] [--mnist-epochs 1]
        [--variants default,alexnet-init] [--kernel 7] [--out out/learned_filters]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from scatter.filters import morlet_2d  # noqa: E402
from scatter.filters import gabor_2d as gabor_bank_2d  # noqa: E402
from scatter.models import (CifarNet, ImageArrayDataset, LeNet, compare_filters,  # noqa: E402
                    evaluate, first_layer_filters, fit, load_cifar10, load_mnist)

DATA = Path(os.environ.get("SCATTER_SHARED_DATA", ROOT.parent / "shared" / "data"))
GRID = (64, 64)
MAX_TRAIN = None      # --max-train: a quick smoke run on fewer training images


def banks():
    """Morlet J=3 L=8 (Kymatio's: centre frequencies 0.375, 0.1875, 0.094 cycles/px) and a Gabor
    bank with 1-octave bands at the same frequencies and 8 orientations, on a 64x64 grid (large
    enough that no filter is periodised onto itself; windows are cut from the centre)."""
    xi = [0.375, 0.1875, 0.09375]
    return {"morlet": morlet_2d(GRID, J=3, L=8),
            "gabor": gabor_bank_2d(GRID, frequencies=xi, L=8, bandwidth=1.0)}


def init_persistence(trained: np.ndarray, init: np.ndarray) -> float:
    """Median over filters of the cosine between trained and initial weights (all channels)."""
    a = trained.reshape(len(trained), -1)
    b = init.reshape(len(init), -1)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(np.median(cos))


def layer_stats(weights: np.ndarray, bank_set: dict) -> dict:
    out = {}
    for name, bank in bank_set.items():
        comparison = compare_filters(weights, bank)
        s = comparison.summary()
        out[name] = comparison
        out.setdefault("_summary", {})[name] = s
    return out


def row(label: str, stats: dict, persistence: float | None) -> str:
    m, g = stats["_summary"]["morlet"], stats["_summary"]["gabor"]
    pers = f"{persistence:8.2f}" if persistence is not None else "       -"
    return (f"{label:<28s} {m['frac_gabor']:6.2f} {m['median_r2']:6.2f} "
            f"{m['median_correlation']:7.2f} {g['median_correlation']:7.2f} "
            f"{m['median_span_energy']:6.2f} ({m['chance_span_energy']:.2f}) "
            f"{g['median_span_energy']:6.2f} ({g['chance_span_energy']:.2f}) {pers}")


HEADER = (f"{'first layer':<28s} {'R2>.8':>6s} {'medR2':>6s} {'corrMor':>7s} {'corrGab':>7s} "
          f"{'spanMor (chance)':>16s} {'spanGab (chance)':>16s} {'init cos':>8s}")


def mnist(epochs: int, seed: int, bank_set: dict, out: Path) -> list[str]:
    t0 = time.perf_counter()
    x, y = load_mnist(DATA / "mnist", "train", max_items=MAX_TRAIN)
    xt, yt = load_mnist(DATA / "mnist", "test")
    mean, std = x.mean() / 255, x.std() / 255
    train, test = ImageArrayDataset(x, y, [mean], [std]), ImageArrayDataset(xt, yt, [mean], [std])
    load_s = time.perf_counter() - t0
    torch.manual_seed(seed)
    net = LeNet()
    init = first_layer_filters(net)
    t0, c0 = time.perf_counter(), time.process_time()
    fit(net, train, epochs=epochs, batch_size=64, lr=0.05, weight_decay=5e-4,
        seed=seed, progress=False)
    train_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    acc = evaluate(net, test)["accuracy"]
    trained = first_layer_filters(net)
    lines = [f"MNIST LeNet: load {load_s:.1f} s, train {epochs} epoch(s) on {len(x):,} images "
             f"{train_s:.1f} s wall ({cpu_s:.0f} s CPU), test accuracy (10,000 official) {acc:.4f}",
             "  first layer: 6 filters 5x5 (few filters, small kernel: a weak test of the claim)",
             "  " + HEADER]
    s_init, s_trained = layer_stats(init, bank_set), layer_stats(trained, bank_set)
    lines += ["  " + row("LeNet random init", s_init, None),
              "  " + row(f"LeNet trained {epochs} ep", s_trained, init_persistence(trained, init))]
    return lines, {"accuracy": acc, "train_s": train_s, "epochs": epochs,
                   "init": s_init["_summary"], "trained": s_trained["_summary"]}


def cifar(epochs: int, seed: int, kernel: int, variant: str, bank_set: dict, out: Path):
    root = DATA / "cifar-10-batches-py"
    x, y = load_cifar10(root, ["data_batch_1"], max_items=MAX_TRAIN)
    xt, yt = load_cifar10(root, ["data_batch_5"])
    mean = x.reshape(-1, 3).mean(0) / 255
    std = x.reshape(-1, 3).std(0) / 255
    train = ImageArrayDataset(x, y, mean, std)
    test = ImageArrayDataset(xt, yt, mean, std)
    if variant not in ("default", "alexnet-init"):
        raise ValueError(f"variant must be 'default' or 'alexnet-init', got {variant!r}")
    torch.manual_seed(seed)
    net = CifarNet(kernel_size=kernel, first_init_std=0.01 if variant == "alexnet-init" else None)
    init = first_layer_filters(net)
    t0, c0 = time.perf_counter(), time.process_time()
    history = fit(net, train, epochs=epochs, batch_size=128, lr=0.05, weight_decay=5e-4,
                  seed=seed, progress=False, val_data=test)
    train_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    trained = first_layer_filters(net)
    s_init, s_trained = layer_stats(init, bank_set), layer_stats(trained, bank_set)
    label = f"CifarNet {kernel}x{kernel} {variant}"
    lines = [f"{label}: train {epochs} epochs on data_batch_1 ({len(x):,} images) {train_s:.1f} s "
             f"({train_s / epochs:.1f} s/epoch wall, {cpu_s:.0f} s CPU), test accuracy on "
             f"data_batch_5 per epoch {', '.join(f'{a:.3f}' for a in history['val_accuracy'])}",
             "  " + HEADER,
             "  " + row("random init (control)", s_init, None),
             "  " + row(f"trained {epochs} epochs", s_trained, init_persistence(trained, init))]
    tag = f"cifar_k{kernel}_{variant}"
    for name in bank_set:
        for when, stats in (("trained", s_trained), ("init", s_init)):
            fig = stats[name].plot(max_filters=32, title=f"{label} {when} vs {name} bank")
            fig.savefig(out / f"{tag}_{when}_{name}.png", dpi=80)
            plt.close(fig)
    m = s_trained["_summary"]["morlet"]
    lines.append(f"  trained, vs Morlet: median frequency of Gabor fits (R2>0.8) "
                 f"{m['median_frequency']:.3f} cycles/px, median bandwidth "
                 f"{m['median_bandwidth']:.2f} octaves, {m['frac_lowpass_match']:.2f} matched by "
                 f"the low-pass, median colour rank-1 energy {m['median_channel_fraction']:.2f}")
    return lines, {"accuracy": history["val_accuracy"], "train_s": train_s, "epochs": epochs,
                   "init": s_init["_summary"], "trained": s_trained["_summary"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cifar-epochs", type=int, default=4)
    parser.add_argument("--mnist-epochs", type=int, default=1)
    parser.add_argument("--variants", default="default,alexnet-init")
    parser.add_argument("--kernel", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-mnist", action="store_true")
    parser.add_argument("--max-train", type=int, default=None,
                        help="train on the first N images only (smoke runs)")
    parser.add_argument("--out", default=str(ROOT / "out" / "learned_filters"))
    args = parser.parse_args()
    global MAX_TRAIN
    MAX_TRAIN = args.max_train
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not DATA.is_dir():
        raise SystemExit(f"datasets not found at {DATA} (set SCATTER_SHARED_DATA)")
    print(f"# learned_filters: torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared: timings "
          f"are noisy)")
    print("# columns: R2>.8 = fraction of filters whose Gabor fit has R^2 > 0.8; medR2 = median "
          "R^2; corrMor/corrGab = median best normalised correlation with the Morlet J=3 L=8 / "
          "Gabor bank (shifts <= 1 px, best phase); span = median energy fraction in the span of "
          "the bank's filters cropped to the kernel (chance = white noise); init cos = median "
          "cosine between trained and initial weights")
    bank_set = banks()
    results = {}
    if not args.skip_mnist:
        lines, results["mnist"] = mnist(args.mnist_epochs, args.seed, bank_set, out)
        print("\n".join(lines), flush=True)
    for variant in args.variants.split(","):
        lines, results[f"cifar_{variant}"] = cifar(args.cifar_epochs, args.seed, args.kernel,
                                                   variant, bank_set, out)
        print("\n".join(lines), flush=True)
    with open(out / "results.json", "w") as f:
        json.dump(results, f, indent=1, default=float)
    print(f"# figures and results.json in {out}")


if __name__ == "__main__":
    main()
