"""The Linux-only fast paths (scatter._native): reported by fast_paths(), off on macOS and
Windows, and the networks give the same coefficients without them."""
from __future__ import annotations

import contextlib
import sys

import pytest
import torch

from scatter.engine.cpu1d import CpuEngine1D
from scatter.engine.cpu2d import CpuEngine2D

from scatter import Scattering1D, Scattering2D, _mkl_fft, _native, _parallel

OFF = {"mkl_fft": False, "chunk_workers": False}


def _clear_caches() -> None:
    _native.torch_cpu_library.cache_clear()
    _mkl_fft._interface.cache_clear()


@contextlib.contextmanager
def _platform(name: str):
    """``sys.platform`` set to ``name``, with no chunk pool made yet; the library and MKL caches
    cleared on the way in and out, so code after it sees this machine's platform again."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "platform", name)
        mp.setattr(_parallel, "_pool", None)
        mp.setattr(_parallel, "_pool_size", 0)
        mp.setattr(_parallel, "_failed", set())
        _clear_caches()
        try:
            yield
        finally:
            _clear_caches()


def test_fast_paths_report_booleans():
    paths = _native.fast_paths()
    assert set(paths) == set(OFF) and all(type(v) is bool for v in paths.values())
    assert paths["mkl_fft"] == _mkl_fft.available()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fast paths exist on Linux only")
def test_fast_paths_on_linux():
    """On Linux the library is found; the MKL path also needs a torch that carries MKL."""
    assert _native.torch_cpu_library() is not None
    paths = _native.fast_paths()
    assert paths["chunk_workers"] == (_parallel.chunk_pool(2) is not None)
    if torch.backends.mkl.is_available():
        assert paths["mkl_fft"]


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_off_linux_no_library_and_no_fast_paths(platform):
    with _platform(platform):
        assert _native.torch_cpu_library() is None
        assert _native.fast_paths() == OFF
        assert _parallel.chunk_pool(2) is None and _parallel.map_chunks(len, [[1]], 2) is None
        assert not _mkl_fft.ifft_in_place(torch.randn(2, 8, dtype=torch.complex64), 1)
    if sys.platform.startswith("linux") and torch.backends.mkl.is_available():
        assert _native.fast_paths()["mkl_fft"]   # back on once the platform is restored


def _same_off_linux(make, x, tol, monkeypatch):
    """``make()(x)`` here and with macOS's and Windows' platform names: the same coefficients."""
    pools = []
    real = _parallel._pool_locked
    monkeypatch.setattr(_parallel, "_pool_locked", lambda n: (pools.append(real(n)), pools[-1])[1])
    with torch.no_grad():
        expected = make()(x)
        # here the chunks went to the workers wherever they are available
        assert pools and all(p is not None for p in pools) == _native.fast_paths()["chunk_workers"]
        for platform in ("darwin", "win32"):
            pools.clear()
            with _platform(platform):
                assert _native.fast_paths() == OFF
                got = make()(x)
                assert pools and not any(pools)   # chunks asked for workers and ran serially
            torch.testing.assert_close(got, expected, rtol=tol, atol=tol * float(expected.abs().max()))


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-6), (torch.float64, 1e-13)])
def test_scattering2d_same_coefficients_off_linux(two_threads, monkeypatch, dtype, tol):
    monkeypatch.setattr(CpuEngine2D, "_CPU_TARGET", 1 << 15)   # several chunks: the workers on Linux
    _same_off_linux(lambda: Scattering2D(2, (32, 32), L=4).to(dtype), torch.randn(13, 32, 32, dtype=dtype), tol,
                    monkeypatch)


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-6), (torch.float64, 1e-13)])
def test_scattering1d_same_coefficients_off_linux(two_threads, monkeypatch, dtype, tol):
    monkeypatch.setattr(CpuEngine1D, "_CPU_TARGET", 1 << 14)   # several chunks for 7 signals
    _same_off_linux(lambda: Scattering1D(6, 1024, Q=4).to(dtype), torch.randn(7, 1024, dtype=dtype), tol,
                    monkeypatch)
