"""Feature extraction throughput: the single-process path against Dask workers, same inputs.

Runs ``scatter features`` (through :func:`scatter.cli.main`) on MNIST-sized images (28 x 28,
from ``../shared/data/mnist`` when present, else synthetic IDX files) and on 256 x 256 images
(a synthetic image folder), once in one process and once on a Dask ``LocalCluster`` of 1 and of
2 worker processes, into HDF5 (parts gathered by the command) and Zarr (chunks written by the
workers); checks that every output equals the single-process one bit for bit, and prints images
per second and the ratio to the single-process run. Each cluster size runs two ways:
``--workers N``, where the command starts and stops its own cluster (its start-up, worker
processes importing torch, is part of the time), and ``--scheduler ADDRESS`` against a cluster
started beforehand with the same threads per worker and allocator settings, the modules a task
uses imported in each (as on a real cluster, whose scheduler and workers outlive one command),
alive only for its own rows and with no transform built before each row: the difference is the
start-up, the rest is Dask's per-task cost and the workers' building the transform.

Usage::

    python benchmarks/extraction.py                 # both sizes, 1 and 2 workers
    python benchmarks/extraction.py --n 4000 --workers 1 2 4
"""
from __future__ import annotations

import argparse
import gzip
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# the repository root first: benchmarks/ holds filters.py, which would shadow scatter.filters' files
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from scatter.cli import main, read_features  # noqa: E402

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def mnist_folder(tmp: Path) -> Path:
    if SHARED_MNIST.is_dir():
        return SHARED_MNIST
    root = tmp / "mnist"
    root.mkdir()
    rng = np.random.default_rng(0)
    _write_idx(root / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (60000, 28, 28)))
    _write_idx(root / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, 60000))
    return root


def large_folder(tmp: Path, n: int) -> Path:
    from PIL import Image

    rng = np.random.default_rng(1)
    root = tmp / "large"
    for c in range(2):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(n // 2):
            Image.fromarray(rng.integers(0, 256, (256, 256), dtype=np.uint8)).save(
                root / f"class{c}" / f"{i}.png")
    return root


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    code = main(argv)
    if code != 0:
        raise SystemExit(f"scatter {' '.join(argv)} exited with {code}")
    return time.perf_counter() - start


def start_cluster(workers: int, dask_allocator: bool = False):
    """A LocalCluster of ``workers`` processes whose torch has ``cpu_count // workers`` threads
    and the allocator of ``--workers`` (:data:`scatter.cli.DASK_WORKER_CONFIG`; Dask's default,
    ``MALLOC_TRIM_THRESHOLD_=65536``, with ``dask_allocator``), the modules a task uses already
    imported in each, as on a cluster that outlives one command; its start-up time and its
    workers' torch threads and ``MALLOC_TRIM_THRESHOLD_``."""
    import dask
    from distributed import Client, LocalCluster

    from scatter.cli import DASK_WORKER_CONFIG

    threads = str(max(1, (os.cpu_count() or 1) // workers))
    start = time.perf_counter()
    had = "MALLOC_TRIM_THRESHOLD_" in os.environ
    with dask.config.set({} if dask_allocator else DASK_WORKER_CONFIG):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None,
                               env={"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads})
    if not had:     # Dask's nanny sets it in this process too: the later clusters would inherit it
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    with Client(cluster) as client:
        client.wait_for_workers(workers)
        seen = sorted(set(client.run(_import_scatter).values()))
    return cluster, time.perf_counter() - start, seen


def _forget_transforms() -> None:
    import scatter.cli

    scatter.cli._PROCESS_CACHE.clear()


def _import_scatter() -> tuple:
    import torch

    # what a task imports: the command's module, the dataset readers and the transform
    import scatter.cli  # noqa: F401
    import scatter.models.datasets  # noqa: F401
    from scatter import Scattering2D  # noqa: F401

    return torch.get_num_threads(), os.environ.get("MALLOC_TRIM_THRESHOLD_")


def main_benchmark() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6000, help="MNIST images (default 6000)")
    parser.add_argument("--n-large", type=int, default=64, help="256x256 images (default 64)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dask-allocator", action="store_true",
                        help="start the running clusters with Dask's MALLOC_TRIM_THRESHOLD_=65536 "
                             "(what `dask worker` does by default) instead of glibc's default")
    args = parser.parse_args()
    import torch
    from distributed import Client

    print(f"# torch {torch.__version__}, {os.cpu_count()} CPUs, single process with "
          f"{torch.get_num_threads()} threads; each of N Dask workers with cpu_count // N")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = [("MNIST 28x28", mnist_folder(tmp), "mnist", args.n, ["--J", "2", "--L", "8"]),
                 ("256x256", large_folder(tmp, args.n_large), "folder", args.n_large,
                  ["--J", "3", "--L", "8", "--batch-size", "16"])]
        print("| images | n | path | s | images/s | vs single process (.h5) | vs single process, "
              "same format | same output |")
        print("|---|---|---|---|---|---|---|---|")
        startups = []
        for label, path, dataset, n, extra in cases:
            base = ["features", "--dataset", dataset, "--path", str(path), "--transform",
                    "scattering", "--no-progress", "--limit", str(n), *extra]
            ref_out = tmp / f"{dataset}-single.h5"
            t_single = timed(base + ["--out", str(ref_out)])
            ref = read_features(ref_out)[0]
            print(f"| {label} | {n} | one process, .h5 | {t_single:.1f} | {n / t_single:.0f} | 1.00 "
                  f"| 1.00 | - |")
            t_format = {".h5": t_single}
            runs = [(None, None, ".zarr")] + [(w, how, s) for w in args.workers
                                              for how in ("--workers", "--scheduler")
                                              for s in (".h5", ".zarr")]
            cluster = None
            try:
                for workers, how, suffix in runs:
                    flags = [] if workers is None else ["--workers", str(workers)]
                    if how == "--scheduler":
                        # a running cluster, started (and warmed) outside the timing, alive only
                        # for its own rows: idle Dask processes slow the other rows down
                        if cluster is None:
                            cluster, seconds, seen = start_cluster(workers, args.dask_allocator)
                            startups.append(f"{label}, {workers} worker(s): {seconds:.1f} s "
                                            f"(torch threads, MALLOC_TRIM_THRESHOLD_ per worker: {seen})")
                        flags = ["--scheduler", cluster.scheduler_address]
                        with Client(cluster) as client:     # a new command: no transform yet
                            client.run(_forget_transforms)
                    out = tmp / f"{dataset}-{workers}-{how}{suffix}"
                    t = timed(base + ["--out", str(out), *flags])
                    t_format.setdefault(suffix, t)      # the one-process run comes first
                    same = np.array_equal(read_features(out)[0], ref)
                    where = ("one process" if workers is None else f"{workers} Dask worker(s), "
                             + ("own cluster" if how == "--workers" else "running cluster"))
                    print(f"| {label} | {n} | {where}, {suffix} | {t:.1f} | {n / t:.0f} | "
                          f"{t_single / t:.2f} | {t_format[suffix] / t:.2f} | "
                          f"{'yes' if same else 'NO'} |")
                    if how == "--scheduler" and suffix == ".zarr":
                        cluster.close()
                        cluster = None
            finally:
                if cluster is not None:
                    cluster.close()
        print("cluster start-up with the modules of a task imported (counted in the own-cluster rows, "
              "not in the running-cluster rows): " + "; ".join(startups))


if __name__ == "__main__":
    main_benchmark()
