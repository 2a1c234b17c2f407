"""Chunks of a batch run side by side on CPU threads that each use one intra-op thread.

A scattering cascade on the CPU is a long sequence of mid-sized operations (FFTs of a few
hundred KB, products, moduli through NumPy, small matrix products). With torch's intra-op
threads each of them is split across the cores and joined again: on a small machine the joins,
the single-threaded NumPy modulus and the Python between operations leave cores idle (a 2-core
box runs case (c) of ``benchmarks/scattering.py`` 1.1x faster with two intra-op threads than
with one). Running independent chunks of the batch on separate threads, each with a single
intra-op thread, keeps every core busy with whole operations instead.

A worker thread's intra-op thread count is set through the OpenMP and MKL per-thread calls
(``omp_set_num_threads`` changes only the calling thread's setting;
``MKL_Set_Num_Threads_Local`` likewise), resolved through torch's own CPU library.
``torch.set_num_threads`` is not used: it would also change the process-wide default that new
threads start from. Where those libraries are not found (another torch build, or any platform
but Linux: see :mod:`scatter._native`), or the worker
still reports more than one thread afterwards, :func:`chunk_pool` returns ``None`` and callers
run their chunks one after the other as before.

One pool is alive at a time, sized for the latest thread count asked for: a request for another
size replaces it and shuts the old one down without waiting (tasks already queued on it still
run to the end, then its threads exit), so changing ``torch.set_num_threads`` back and forth
does not pile up idle threads. The live pool is shut down at interpreter exit.
"""
from __future__ import annotations

import atexit
import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import torch

from . import _native

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None   # the live pool, guarded by _lock
_pool_size = 0                            # its number of workers (0: none)
_failed: set[int] = set()                 # sizes whose set-up failed: not tried again
_worker = threading.local()
THREAD_PREFIX = "scatter-chunk"           # the workers' thread names start with it


def _forget_pools_in_child() -> None:
    """A forked child has none of the parent's threads: its pool must be made anew."""
    global _lock, _pool, _pool_size
    _lock = threading.Lock()
    _pool, _pool_size = None, 0
    _failed.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_in_child)


def _shutdown_at_exit() -> None:
    """Shut the live pool down and let its threads exit.

    No lock: at exit no caller is left to race with, and a daemon thread stopped while holding
    the lock must not hang the interpreter. The workers are idle by then (``concurrent.futures``
    joins its threads before ``atexit`` handlers run), so waiting returns at once.
    """
    global _pool, _pool_size
    pool, _pool, _pool_size = _pool, None, 0
    if pool is not None:
        pool.shutdown(wait=True)


atexit.register(_shutdown_at_exit)


def _set_single_thread() -> bool:
    """Make this thread's torch operations single-threaded; return whether it worked."""
    torch.get_num_threads()  # torch's lazy per-thread initialisation first: it would undo ours
    lib = _native.torch_cpu_library()
    omp = getattr(lib, "omp_set_num_threads", None)
    if omp is None:
        return False
    omp.argtypes, omp.restype = [ctypes.c_int], None
    omp(1)
    mkl = getattr(lib, "MKL_Set_Num_Threads_Local", None)  # C interface (the lower-case symbol is Fortran's)
    if mkl is not None:
        mkl.argtypes, mkl.restype = [ctypes.c_int], ctypes.c_int
        mkl(1)
    _worker.active = True
    return torch.get_num_threads() == 1


def available() -> bool:
    """Whether worker threads can be made single-threaded here (:func:`chunk_pool` can work).

    Probed on a throwaway thread each call (cheap), so it follows the library found now.
    """
    result: list[bool] = []
    probe = threading.Thread(target=lambda: result.append(_set_single_thread()),
                             name="scatter-probe", daemon=True)
    probe.start()
    probe.join()
    return bool(result and result[0])


def chunk_workers(x: torch.Tensor) -> int:
    """How many chunks of the batch ``x`` may run at once in a CPU inference engine:
    ``torch.get_num_threads()``, or 1 inside a worker (pools never nest)."""
    return 1 if in_worker() else torch.get_num_threads()


def chunk_count(batch: int, per_chunk: int, workers: int) -> int:
    """Chunks for ``batch`` items, at most ``per_chunk`` each, rounded up to a multiple of
    ``workers`` where the batch allows (every worker then gets the same share)."""
    n = -(-batch // max(1, per_chunk))
    if workers > 1 and n < batch:
        n = min(batch, -(-n // workers) * workers)
    return n


def in_worker() -> bool:
    """Whether the calling thread is one of the chunk workers (never nest pools)."""
    return getattr(_worker, "active", False)


def chunk_pool(n_workers: int) -> ThreadPoolExecutor | None:
    """A pool of ``n_workers`` threads with one intra-op thread each, or ``None`` if unavailable.

    The pool is kept until a pool of another size is asked for, which replaces it (the old one
    is shut down without waiting, so its queued tasks still finish). A caller that submits to
    the returned pool while other threads may ask for other sizes should use
    :func:`map_chunks`, which submits under the lock that guards the swap.
    """
    with _lock:
        return _pool_locked(n_workers)


def _pool_locked(n_workers: int) -> ThreadPoolExecutor | None:
    """:func:`chunk_pool` with ``_lock`` held by the caller."""
    global _pool, _pool_size
    if n_workers == _pool_size:
        return _pool
    if n_workers in _failed:
        return None
    pool = ThreadPoolExecutor(n_workers, thread_name_prefix=THREAD_PREFIX)
    # the barrier holds every set-up task until all have started, so each runs on its own thread
    barrier = threading.Barrier(n_workers)
    futures = [pool.submit(_init_worker, barrier) for _ in range(n_workers)]
    try:
        ok = all(f.result() for f in futures)
    except threading.BrokenBarrierError:
        ok = False
    if not ok:
        pool.shutdown(wait=False)
        _failed.add(n_workers)
        return None
    old, _pool, _pool_size = _pool, pool, n_workers
    if old is not None:
        # no waiting: another caller's chunks may still be queued on it; they run, then its threads exit
        old.shutdown(wait=False)
    return pool


def _init_worker(barrier: threading.Barrier) -> bool:
    """Set-up task of one worker: single-threaded operations, then wait for the others."""
    result = _set_single_thread()
    barrier.wait(timeout=60)
    return result


def map_chunks(fn, chunks: list, n_workers: int) -> list | None:
    """``[fn(c) for c in chunks]`` on :func:`chunk_pool` workers, or ``None`` when there is none.

    Results come back in the order of ``chunks``; an exception raised by a chunk propagates to
    the caller (chunks already running finish on their workers).
    """
    with _lock:   # submit before another size can replace (and shut down) this pool
        pool = _pool_locked(n_workers)
        if pool is None:
            return None
        futures = [pool.submit(fn, c) for c in chunks]
    return [f.result() for f in futures]
