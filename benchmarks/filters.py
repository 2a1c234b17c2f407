"""Filter-bank construction time: ours against Kymatio 0.3, in one process on the same grids.

Run by ``make bench``::

    .venv/bin/python benchmarks/filters.py [--repeat 3] [--quick]

1. 2D Morlet: :func:`scatter.filters.morlet_2d` against ``kymatio.scattering2d.filter_bank.filter_bank``
   (M = N = 64, 128, 256; J = 3, 4; L = 8), every filter and the low-pass checked equal to
   <= 1e-6 relative (Kymatio builds in complex64).
2. 1D Morlet (both orders): :func:`scatter.filters.morlet_1d` against
   ``kymatio.scattering1d.filter_bank.scattering_filter_factory`` on Kymatio's padded grid,
   checked to <= 1e-6 relative.
3. Every default bank of :mod:`scatter.filters` on a 256 x 256 grid (ours only: the issue asks for
   "well under a second"); families not importable yet are skipped.

Times are the best of ``--repeat`` runs, ours and Kymatio's alternated, in wall-clock and in
process CPU seconds (both single-threaded; CPU time is less inflated on a shared machine); the
speed-up columns are Kymatio's time over ours, the numbers to compare across machines.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

# This script is named like the package it measures: without its own folder on the path,
# ``import filters`` finds the package, not this file.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or os.curdir).resolve() != _HERE]
from scatter import filters  # noqa: E402

CASES_2D = [(64, 3), (64, 4), (128, 3), (128, 4), (256, 3), (256, 4)]  # (M = N, J), L = 8
CASES_1D = [(2 ** 12, 6, 8), (2 ** 14, 8, 8), (2 ** 16, 10, 8)]  # (N, J, Q), T = 2**J
TOLERANCE = 1e-6


def best_of(repeat: int, *functions: Callable) -> tuple[list[tuple[float, float]], list]:
    """Best (wall, CPU) seconds of each function over ``repeat`` alternated rounds, and its last
    output. CPU time (this process) is less inflated than wall time on a loaded machine."""
    times = [(float("inf"), float("inf"))] * len(functions)
    outputs = [None] * len(functions)
    for _ in range(repeat):
        for i, function in enumerate(functions):
            wall, cpu = time.perf_counter(), time.process_time()
            outputs[i] = function()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            times[i] = (min(times[i][0], wall), min(times[i][1], cpu))
    return times, outputs


def rel_err(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.abs(ours - theirs).max() / np.abs(theirs).max())


def bench_morlet_2d(repeat: int, cases) -> list[tuple]:
    from kymatio.scattering2d.filter_bank import filter_bank

    rows = []
    for size, J in cases:
        (t_kymatio, t_ours), (ref, bank) = best_of(
            repeat, lambda: filter_bank(size, size, J, 8),
            lambda: filters.morlet_2d((size, size), J, 8))
        errors = [rel_err(bank.psi[k], f["levels"][0]) for k, f in enumerate(ref["psi"])]
        errors.append(rel_err(bank.phi, ref["phi"]["levels"][0]))
        if len(ref["psi"]) != len(bank) or max(errors) > TOLERANCE:
            raise AssertionError(f"morlet_2d({size}, J={J}) differs from Kymatio: "
                                 f"{max(errors):.2e}")
        rows.append((f"{size}x{size}", J, len(bank), *t_kymatio, *t_ours, max(errors)))
    return rows


def bench_morlet_1d(repeat: int, cases) -> list[tuple]:
    from kymatio.scattering1d.filter_bank import scattering_filter_factory

    morlet_1d = getattr(filters, "morlet_1d", None)
    if morlet_1d is None:
        print("filters.morlet_1d not found: 1D Morlet skipped")
        return []
    rows = []
    for N, J, Q in cases:
        (t_kymatio, t_ours), ((phi_f, psi1_f, psi2_f), bank) = best_of(
            repeat, lambda: scattering_filter_factory(N, J, (Q, 1), 2 ** J),
            lambda: morlet_1d(N, J, Q))
        theirs = [f["levels"][0] for f in psi1_f + psi2_f] + [phi_f["levels"][0]]
        ours = list(bank.psi) + [bank.phi]
        errors = [rel_err(a, b) for a, b in zip(ours, theirs)]
        if len(ours) != len(theirs) or max(errors) > TOLERANCE:
            raise AssertionError(f"morlet_1d({N}, J={J}, Q={Q}) differs from Kymatio")
        rows.append((str(N), J, len(bank), *t_kymatio, *t_ours, max(errors)))
    return rows


ALL_BANKS_256 = [  # (label, candidate names in filters, call)
    ("morlet_2d J=4 L=8", ("morlet_2d",), lambda f: f((256, 256), 4, 8)),
    ("morlet_2d J=6 L=8", ("morlet_2d",), lambda f: f((256, 256), 6, 8)),
    ("gabor 5 freq x 8 angles", ("gabor_2d",),
     lambda f: f((256, 256), frequencies=(0.3, 0.15, 0.075, 0.0375, 0.01875), L=8)),
    ("log_gabor_2d defaults", ("log_gabor_2d",), lambda f: f((256, 256))),
    ("dwt_filter_bank sym8 5 levels", ("dwt_filter_bank",),
     lambda f: f("sym8", (256, 256), level=5)),
    ("curvelet_2d 5 scales 16 angles", ("curvelet_2d",),
     lambda f: f((256, 256), scales=5, angles=16)),
]


def bench_all_banks(repeat: int) -> list[tuple]:
    rows = []
    for label, names, call in ALL_BANKS_256:
        constructor = next((getattr(filters, n) for n in names if hasattr(filters, n)), None)
        if constructor is None:
            print(f"filters.{names[0]} not found: {label} skipped")
            continue
        ((wall, cpu),), (bank,) = best_of(repeat, lambda: call(constructor))
        rows.append((label, len(bank), wall, cpu))
    return rows


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
            f"load average {load:.1f}, numpy {np.__version__}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per case, best kept (default 3)")
    parser.add_argument("--quick", action="store_true", help="small cases only (no 256 grids)")
    args = parser.parse_args(argv)
    cases_2d = [c for c in CASES_2D if not args.quick or c[0] <= 128]
    cases_1d = CASES_1D[:2] if args.quick else CASES_1D
    print(f"machine: {machine()}; best of {args.repeat}\n")

    header = (f"| {'grid':>9} | {'J':>2} | {'filters':>7} | {'Kymatio s':>9} | {'ours s':>7} | "
              f"{'speed-up':>8} | {'Kym. CPU s':>10} | {'ours CPU s':>10} | {'CPU speed-up':>12} | "
              f"{'max rel err':>11} |")
    rule = "|" + "|".join("-" * (len(cell) - 1) + ":" for cell in header.split("|")[1:-1]) + "|"
    for title, rows in (("2D Morlet, L=8: filters.morlet_2d vs kymatio filter_bank",
                         bench_morlet_2d(args.repeat, cases_2d)),
                        ("1D Morlet, Q=(Q1, 1), T=2**J: "
                         "filters.morlet_1d vs scattering_filter_factory",
                         bench_morlet_1d(args.repeat, cases_1d))):
        if not rows:
            continue
        print(title)
        print(header)
        print(rule)
        for grid, J, K, w_k, c_k, w_o, c_o, err in rows:
            print(f"| {grid:>9} | {J:>2} | {K:>7} | {w_k:>9.3f} | {w_o:>7.4f} | "
                  f"{w_k / w_o:>8.1f} | "
                  f"{c_k:>10.3f} | {c_o:>10.4f} | {c_k / max(c_o, 1e-9):>12.1f} | {err:>11.1e} |")
        print()

    print("Every default bank on a 256x256 grid (ours only)")
    print(f"| {'bank':<30} | {'filters':>7} | {'build s':>7} | {'CPU s':>7} |")
    print(f"|{'-' * 32}|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|")
    for label, K, wall, cpu in bench_all_banks(args.repeat):
        print(f"| {label:<30} | {K:>7} | {wall:>7.4f} | {cpu:>7.4f} |")


if __name__ == "__main__":
    main()
