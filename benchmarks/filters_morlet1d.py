"""Build time of the 1D Morlet bank (both orders): filters.morlet_1d vs Kymatio 0.3.

Runs both in one process on the same grids, checks that every filter agrees (<= 1e-10
relative), prints the best-of-``--repeat`` times and their ratio.

    .venv/bin/python benchmarks/filters_morlet1d.py [--repeat 5]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from kymatio.scattering1d.filter_bank import scattering_filter_factory

from scatter.filters import morlet_1d

CASES = [  # (N grid, J, Q)
    (2 ** 12, 6, 8),
    (2 ** 14, 8, 8),
    (2 ** 16, 10, 8),
    (2 ** 16, 10, (12, 2)),
    (2 ** 17, 10, 8),
]


def best_time(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'N':>7} {'J':>3} {'Q':>8} {'filters':>7} {'kymatio s':>10} {'ours s':>8} "
          f"{'speed-up':>8} {'max rel err':>11}")
    for N, J, Q in CASES:
        Qt = (Q, 1) if isinstance(Q, int) else Q
        t_k, (phi_f, psi1_f, psi2_f) = best_time(
            lambda: scattering_filter_factory(N, J, Qt, 2 ** J), args.repeat)
        t_o, bank = best_time(lambda: morlet_1d(N, J, Q), args.repeat)
        theirs = [f["levels"][0] for f in psi1_f + psi2_f] + [phi_f["levels"][0]]
        ours = list(bank.psi) + [bank.phi]
        err = max(np.abs(a - b).max() / np.abs(b).max() for a, b in zip(ours, theirs))
        assert len(ours) == len(theirs) and err <= 1e-10, err
        print(f"{N:>7} {J:>3} {str(Q):>8} {len(bank):>7} {t_k:>10.3f} {t_o:>8.3f} "
              f"{t_k / t_o:>8.1f} {err:>11.1e}")


if __name__ == "__main__":
    main()
