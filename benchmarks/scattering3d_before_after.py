"""3D solid harmonic scattering: Kymatio 0.3, our CPU engine at an earlier commit, and now.

The three run in one process on the same inputs, alternating (each call after a 30 ms pause, as
``benchmarks/scattering.py``), on the 3D cases (f)-(h) of that script. The earlier engine is
``scatter/engine/cpu3d.py`` as of ``--rev`` (read with ``git show``), fed the current network's
filters: its coefficients are checked against the current ones (relative max-abs error), and
both against Kymatio's. Prints median times and the ratios (of medians; in brackets the median
of the ratios of calls made one right after the other).

Usage::

    python benchmarks/scattering3d_before_after.py                 # f g h, 2 threads
    python benchmarks/scattering3d_before_after.py --cases f --threads 1 --repeat 9
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _load(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def earlier_engine(rev: str):
    """The module ``scatter/engine/cpu3d.py`` at ``rev``, loaded inside ``scatter.engine`` (its
    relative imports resolve against the current package)."""
    source = subprocess.run(["git", "-C", ROOT, "show", f"{rev}:scatter/engine/cpu3d.py"],
                            check=True, capture_output=True, text=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(source)
    try:
        return _load("scatter.engine._cpu3d_before", f.name)
    finally:
        os.unlink(f.name)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="*", default=["f", "g", "h"], help="3D case keys (f g h)")
    parser.add_argument("--rev", default="25f418a", help="git revision of the earlier engine")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    sys.path.insert(0, ROOT)
    bench = _load("bench_scattering", os.path.join(HERE, "scattering.py"))
    before = earlier_engine(args.rev)
    torch.set_num_threads(args.threads)
    print(f"# threads={args.threads}, torch {torch.__version__}, repeat={args.repeat}, float32, "
          f"earlier engine: {args.rev}")
    print("| case | error vs Kymatio | error vs earlier | Kymatio ms | earlier ms | now ms | "
          "Kymatio/earlier | Kymatio/now | earlier/now |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for case in bench.CPU_CASES:
        if case.dim != 3 or case.key not in args.cases:
            continue
        torch.manual_seed(0)
        theirs, ours = bench.build(case, "cpu")
        x = torch.randn(case.batch + case.size)
        with torch.no_grad():
            engine = before.CpuEngine3D(ours._plain_filters(torch.float32))
            ref, now, then = theirs(x), ours(x), engine.run(x, True)
            err = float((now - ref).abs().max() / ref.abs().max())
            err_before = float((now - then).abs().max() / then.abs().max())
            calls = {"kymatio": lambda: theirs(x), "before": lambda: engine.run(x, True), "now": lambda: ours(x)}
            times = {k: [] for k in calls}
            for _ in range(args.repeat):
                for k, fn in calls.items():
                    time.sleep(bench.SETTLE_S)
                    start = time.perf_counter()
                    fn()
                    times[k].append(time.perf_counter() - start)
        med = {k: statistics.median(v) for k, v in times.items()}

        def ratio(a: str, b: str) -> str:
            pairs = statistics.median(p / q for p, q in zip(times[a], times[b]))
            return f"{med[a] / med[b]:.2f} ({pairs:.2f})"

        print(f"| {case.label()} | {err:.1e} | {err_before:.1e} | {1e3 * med['kymatio']:.1f} | "
              f"{1e3 * med['before']:.1f} | {1e3 * med['now']:.1f} | {ratio('kymatio', 'before')} | "
              f"{ratio('kymatio', 'now')} | {ratio('before', 'now')} |", flush=True)


if __name__ == "__main__":
    main()
