"""Chunks of a batch on worker threads with one intra-op thread each (scatter._parallel)."""
import multiprocessing
import threading
import time

import pytest
import torch

from scatter.engine.cpu1d import CpuEngine1D
from scatter.engine.cpu2d import CpuEngine2D

from scatter import Scattering2D
from scatter import _parallel


def test_workers_are_single_threaded_and_leave_the_caller_alone(two_threads):
    pool = _parallel.chunk_pool(2)
    if pool is None:
        pytest.skip("this torch build exposes no per-thread OpenMP setting; chunks run serially")
    seen = [f.result() for f in [pool.submit(lambda: (torch.get_num_threads(), _parallel.in_worker()))
                                 for _ in range(8)]]
    assert set(seen) == {(1, True)}
    assert torch.get_num_threads() == 2 and not _parallel.in_worker()
    # a thread started afterwards still starts from the process default, not from the workers' 1
    fresh = []
    t = threading.Thread(target=lambda: fresh.append(torch.get_num_threads()))
    t.start()
    t.join()
    assert fresh == [2]


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-6), (torch.float64, 1e-13)])
def test_parallel_chunks_give_the_serial_coefficients(two_threads, dtype, tol, monkeypatch):
    S = Scattering2D(2, (32, 32), L=4).to(dtype)
    monkeypatch.setattr(CpuEngine2D, "_CPU_TARGET", 1 << 15)   # 8 chunks of 1-2 images for 13
    x = torch.randn(13, 32, 32, dtype=dtype)
    with torch.no_grad():
        parts = S._engine(dtype)._chunks(x, 2, None)
        assert len(parts) % 2 == 0 and max(p.shape[0] for p in parts) - min(p.shape[0] for p in parts) <= 1
        parallel = S(x)
        torch.set_num_threads(1)
        serial = S(x)
    torch.testing.assert_close(parallel, serial, rtol=tol, atol=tol * float(serial.abs().max()))
    ref = Scattering2D(2, (32, 32), L=4, batch_size=1000).to(dtype)(x)   # one chunk, autograd-free
    torch.testing.assert_close(parallel, ref, rtol=tol, atol=tol * float(ref.abs().max()))


def test_nested_calls_and_errors_do_not_deadlock(two_threads, monkeypatch):
    S = Scattering2D(2, (16, 16), L=2)
    monkeypatch.setattr(CpuEngine2D, "_CPU_TARGET", 1 << 10)
    x = torch.randn(6, 16, 16)
    with torch.no_grad():
        ref = S(x)
        pool = _parallel.chunk_pool(2)
        if pool is not None:   # a network called from a worker runs its chunks in that worker
            torch.testing.assert_close(pool.submit(S, x).result(), ref)
        boom = RuntimeError("chunk failed")

        def fail(part):
            raise boom

        with pytest.raises(RuntimeError, match="chunk failed"):
            _parallel.map_chunks(fail, list(x.split(2)), 2) if pool is not None else fail(x)
        torch.testing.assert_close(S(x), ref)   # the pool still works afterwards


def _child(queue):
    S = Scattering2D(2, (16, 16), L=2)
    with torch.no_grad():
        queue.put(S(torch.ones(6, 16, 16)).sum().item())


def test_forked_child_builds_its_own_pool(two_threads, monkeypatch):
    monkeypatch.setattr(CpuEngine2D, "_CPU_TARGET", 1 << 10)
    S = Scattering2D(2, (16, 16), L=2)
    with torch.no_grad():
        expected = S(torch.ones(6, 16, 16)).sum().item()   # the parent's pool exists now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(queue,))
    child.start()
    value = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert value == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("average", [True, False])
def test_scattering1d_parallel_chunks_give_the_serial_coefficients(two_threads, monkeypatch, average):
    from scatter import Scattering1D

    S = Scattering1D(6, 1024, Q=4, average=average, out_type="array" if average else "list").double()
    monkeypatch.setattr(CpuEngine1D, "_CPU_TARGET", 1 << 14)   # several chunks for 7 signals
    x = torch.randn(7, 1024, dtype=torch.float64)
    assert S._engine(torch.float64)._auto_batch_size(7, 2) < 7
    with torch.no_grad():
        parallel = S(x)
        torch.set_num_threads(1)
        serial = S(x)
    if average:
        torch.testing.assert_close(parallel, serial, rtol=1e-13, atol=1e-13)
    else:
        for p, s in zip(parallel, serial):
            torch.testing.assert_close(p["coef"], s["coef"], rtol=1e-13, atol=1e-13)


def test_without_per_thread_settings_chunks_run_serially(two_threads, monkeypatch):
    """A torch build whose library lacks the OpenMP/MKL per-thread calls: no pool, same numbers."""
    monkeypatch.setattr(_parallel._native, "torch_cpu_library", lambda: None)
    monkeypatch.setattr(_parallel, "_pool", None)
    monkeypatch.setattr(_parallel, "_pool_size", 0)
    monkeypatch.setattr(_parallel, "_failed", set())
    monkeypatch.setattr(CpuEngine2D, "_CPU_TARGET", 1 << 12)
    assert _parallel.chunk_pool(2) is None and _parallel.map_chunks(len, [[1]], 2) is None
    S = Scattering2D(2, (16, 16), L=2)
    x = torch.randn(6, 16, 16)
    with torch.no_grad():
        out = S(x)
    torch.testing.assert_close(out, Scattering2D(2, (16, 16), L=2, batch_size=100)(x))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_in_a_worker_chunk_raises(two_threads, monkeypatch, bad):
    """The NaN/inf check runs per chunk on the workers: a bad value in the last chunk still raises."""
    from scatter import Scattering1D

    monkeypatch.setattr(CpuEngine2D, "_CPU_TARGET", 1 << 10)
    monkeypatch.setattr(CpuEngine1D, "_CPU_TARGET", 1 << 9)
    S2, S1 = Scattering2D(2, (16, 16), L=2), Scattering1D(J=3, shape=64, Q=1)
    x2, x1 = torch.randn(6, 16, 16), torch.randn(8, 64)
    with torch.no_grad():
        assert len(S2._engine(x2.dtype)._chunks(x2, 2, None)) > 2
        assert S1._engine(x1.dtype)._auto_batch_size(8, 2) < 8
        x2[-1, 3, 4] = bad
        x1[-1, 5] = bad
        with pytest.raises(ValueError, match="NaN or inf"):
            S2(x2)
        with pytest.raises(ValueError, match="NaN or inf"):
            S1(x1)
        # pre-padded input too
        P = Scattering2D(2, (16, 16), L=2, pre_pad=True)
        xp = torch.randn(6, *P.padded_shape)
        xp[-1, 0, 0] = bad
        with pytest.raises(ValueError, match="NaN or inf"):
            P(xp)


def test_calling_thread_leaves_intra_op_threads_asleep(two_threads, monkeypatch):
    """With worker chunks, the caller runs no multi-threaded operation of its own: libgomp's
    threads would spin-wait for ~10 ms after it, on the cores the workers need."""
    if _parallel.chunk_pool(2) is None:
        pytest.skip("this torch build exposes no per-thread OpenMP setting; chunks run serially")
    S = Scattering2D(2, (32, 32), L=4)
    x = torch.randn(64, 32, 32)
    with torch.no_grad():
        calls = []
        real_index_select = torch.Tensor.index_select
        monkeypatch.setattr(torch.Tensor, "index_select",
                            lambda self, *a: (calls.append(_parallel.in_worker()), real_index_select(self, *a))[1])
        S(x)
    assert calls and all(calls)   # padding ran on the workers


def _chunk_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(_parallel.THREAD_PREFIX)]


def test_one_pool_at_a_time():
    """Changing the thread count replaces the pool: 2, 3 then 4 threads leave 4 workers, not 9."""
    before = torch.get_num_threads()
    S = Scattering2D(J=2, shape=(32, 32))
    x = torch.randn(64, 32, 32)
    try:
        with torch.no_grad():
            torch.set_num_threads(1)
            ref = S(x)
            for n in (2, 3, 4):
                torch.set_num_threads(n)
                if n == 2 and _parallel.chunk_pool(2) is None:
                    pytest.skip("this torch build exposes no per-thread OpenMP setting; chunks run serially")
                torch.testing.assert_close(S(x), ref, rtol=1e-6, atol=1e-6 * float(ref.abs().max()))
        assert _parallel.chunk_pool(4) is not None
        deadline = time.monotonic() + 10   # the old pools' threads exit once they see the shutdown
        while len(_chunk_threads()) > 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(_chunk_threads()) <= 4, [t.name for t in _chunk_threads()]
    finally:
        torch.set_num_threads(before)


def test_replacing_the_pool_lets_queued_chunks_finish():
    """The replaced pool is shut down without waiting; work already queued on it still runs."""
    if _parallel.chunk_pool(2) is None:
        pytest.skip("this torch build exposes no per-thread OpenMP setting; chunks run serially")
    release = threading.Event()
    old = _parallel.chunk_pool(2)
    futures = [old.submit(lambda i=i: (release.wait(10), i)[1]) for i in range(4)]   # 2 running, 2 queued
    assert _parallel.chunk_pool(3) is not old   # does not block on the busy old pool
    release.set()
    assert [f.result(timeout=10) for f in futures] == [0, 1, 2, 3]
    assert _parallel.map_chunks(lambda v: v * 2, [1, 2, 3], 3) == [2, 4, 6]


_AT_EXIT = """
import atexit, sys, threading
def check():   # registered first, so it runs after scatter's own handler (atexit is last-in first-out)
    from scatter import _parallel
    alive = [t.name for t in threading.enumerate() if t.name.startswith(_parallel.THREAD_PREFIX)]
    print("pool", _parallel._pool, "alive", alive, flush=True)
atexit.register(check)
import torch
from scatter import _parallel
torch.set_num_threads(1)
pool = _parallel.chunk_pool(2)
print("made", pool is not None, flush=True)
"""


def test_pool_is_shut_down_at_exit():
    import subprocess
    import sys

    from pathlib import Path

    run = subprocess.run([sys.executable, "-c", _AT_EXIT], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == 0, run.stderr
    if "made False" in run.stdout:
        pytest.skip("this torch build exposes no per-thread OpenMP setting; chunks run serially")
    assert "pool None alive []" in run.stdout, run.stdout
