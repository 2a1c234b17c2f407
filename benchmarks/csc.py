"""Convolutional BPDN: ours (models.ConvSparseCoding) against SPORCO 0.2's ConvBPDN, one process.

Reference problem (issue 7): ``camera()[::2, ::2] / 255`` high-passed by
``sporco.signal.tikhonov_filter(img, 10, 16)``, dictionaries ``G:8x8x32`` (F* = 45.9976) and
``G:12x12x36`` (F* = 42.4301) from ``sporco.util.convdicts()``, λ = 0.05.

Checks and prints:
1. same iterates: per-iteration objective of both with SPORCO's default options, max relative
   difference (float64 and float32);
2. converged objective of our sparse maps, evaluated in float64, against F* (1 + 1e-3);
3. time to reach F* (1 + 1e-3) (each solver's own per-iteration objective), float32 CPU: the
   iteration count is found first, then each solver is timed for exactly that many iterations
   (construction included), best of ``--repeat`` interleaved runs; with ``--compile`` also
   ours with ``compile_cpu=True`` (y/u step fused by torch.compile, compiled before timing).

Usage: ``python benchmarks/csc.py [--threads N] [--repeat R] [--dicts G:8x8x32 ...] [--compile]``
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

# benchmarks/filters.py would shadow the `filters` package: put the repository root first instead
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np
import torch

warnings.filterwarnings("ignore", module="sporco")
import sporco.fft  # noqa: E402
from skimage.data import camera  # noqa: E402
from sporco import signal as sp_signal, util as sp_util  # noqa: E402
from sporco.admm import cbpdn  # noqa: E402

from scatter.models import ConvSparseCoding, csc_objective  # noqa: E402

LMBDA = 0.05
F_STAR = {"G:8x8x32": 45.9976, "G:12x12x36": 42.4301}


def ours(D: np.ndarray, s: np.ndarray, **kw) -> tuple:
    Dt = torch.from_numpy(np.ascontiguousarray(D.transpose(2, 0, 1)))
    st = torch.from_numpy(s)[None, None]
    res = ConvSparseCoding(Dt, LMBDA, **kw).solve(st)
    return res, Dt, st


def theirs(D: np.ndarray, s: np.ndarray, **opt) -> tuple:
    b = cbpdn.ConvBPDN(D, s, LMBDA, cbpdn.ConvBPDN.Options(dict(opt)))
    Y = b.solve()
    return b, Y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for torch and pyfftw alike (default: torch's default)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dicts", nargs="+", default=list(F_STAR))
    ap.add_argument("--max-iter", type=int, default=400)
    ap.add_argument("--compile", action="store_true",
                    help="also time ours with compile_cpu=True")
    args = ap.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    sporco.fft.pyfftw_threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, threads: torch {torch.get_num_threads()}, "
          f"pyfftw {sporco.fft.pyfftw_threads}")
    img = camera()[::2, ::2].astype(np.float64) / 255
    _, high = sp_signal.tikhonov_filter(img, 10, 16)
    rows = []
    for name in args.dicts:
        D64 = sp_util.convdicts()[name]
        fstar = F_STAR[name]
        target = fstar * (1 + 1e-3)
        print(f"\n== {name}, image {high.shape}, lambda {LMBDA}, F* {fstar}")
        # 1. same iterates with SPORCO's defaults
        for dt, bound in ((np.float64, 1e-7), (np.float32, 1e-4)):
            D, s = D64.astype(dt), high.astype(dt)
            b, _ = theirs(D, s)
            ref = np.asarray(b.getitstat().ObjFun, dtype=np.float64)
            res, _, _ = ours(D, s)
            ob = res.history["objective"][:, 0].double().numpy()
            n = min(len(ob), len(ref))
            rel = float(np.max(np.abs(ob[:n] - ref[:n]) / np.abs(ref[:n])))
            print(f"[iterates {dt.__name__}] iterations ours {len(ob)} / SPORCO {len(ref)}, "
                  f"max rel. objective difference {rel:.2e} (bound {bound:g}): "
                  f"{'OK' if rel <= bound and len(ob) == len(ref) else 'FAIL'}")
            rows.append((name, f"iterates {dt.__name__}", f"{rel:.1e}", f"<= {bound:g}"))
        # 2. converged objective (float64, on the sparse maps)
        res, Dt, st = ours(D64, high, max_iter=args.max_iter, tol=0)
        f = csc_objective(Dt, res.maps, st, LMBDA).item()
        print(f"[converged] {args.max_iter} iterations, float64 objective of our sparse maps "
              f"{f:.4f}, F*(1+1e-3) = {target:.4f}: {'OK' if f <= target else 'FAIL'}")
        rows.append((name, "converged F (float64)", f"{f:.4f}", f"<= {target:.4f}"))
        # 3. time to target, float32
        D, s = D64.astype(np.float32), high.astype(np.float32)
        res, _, _ = ours(D, s, max_iter=args.max_iter, tol=0)
        ob = res.history["objective"][:, 0].double().numpy()
        b, _ = theirs(D, s, MaxMainIter=args.max_iter, RelStopTol=0.0)
        ref = np.asarray(b.getitstat().ObjFun, dtype=np.float64)
        k_ours = int(np.argmax(ob <= target)) + 1 if (ob <= target).any() else None
        k_ref = int(np.argmax(ref <= target)) + 1 if (ref <= target).any() else None
        print(f"[time to target] iterations to reach {target:.4f}: ours {k_ours}, SPORCO {k_ref}")
        if k_ours is None or k_ref is None:
            continue
        t_ours, t_ref, t_comp = [], [], []
        if args.compile:
            t0 = time.perf_counter()
            rc, _, _ = ours(D, s, max_iter=args.max_iter, tol=0, compile_cpu=True)
            print(f"[compile_cpu] first solve ({args.max_iter} its, compiling included) "
                  f"{time.perf_counter() - t0:.1f} s; iterations to reach target "
                  f"{int(np.argmax(rc.history['objective'][:, 0].double().numpy() <= target)) + 1}")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            r, Dt, st = ours(D, s, max_iter=k_ours, tol=0)
            t_ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            theirs(D, s, MaxMainIter=k_ref, RelStopTol=0.0)
            t_ref.append(time.perf_counter() - t0)
            if args.compile:
                t0 = time.perf_counter()
                ours(D, s, max_iter=k_ours, tol=0, compile_cpu=True)
                t_comp.append(time.perf_counter() - t0)
        f32 = csc_objective(Dt.double(), r.maps.double(), st.double(), LMBDA).item()
        ratio = min(t_ref) / min(t_ours)
        print(f"[time to target] ours {min(t_ours):.2f} s ({1e3 * min(t_ours) / k_ours:.1f} "
              f"ms/it), SPORCO {min(t_ref):.2f} s ({1e3 * min(t_ref) / k_ref:.1f} ms/it), "
              f"ratio {ratio:.2f}x (target >= 3x); float64 objective of our float32 maps "
              f"{f32:.4f}")
        rows.append((name, "time to target: SPORCO / ours", f"{ratio:.2f}x", ">= 3x"))
        if args.compile:
            rc = min(t_ref) / min(t_comp)
            print(f"[time to target] ours compile_cpu=True {min(t_comp):.2f} s "
                  f"({1e3 * min(t_comp) / k_ours:.1f} ms/it), ratio {rc:.2f}x")
            rows.append((name, "time to target: SPORCO / ours (compile_cpu)", f"{rc:.2f}x",
                         ">= 3x"))
    print("\n| dictionary | check | measured | target |\n|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
