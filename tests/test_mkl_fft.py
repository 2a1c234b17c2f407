"""In-place FFTs through torch's MKL (scatter._mkl_fft) and the fallback around them."""
import threading

import pytest
import torch

from scatter import Scattering1D, Scattering2D
from scatter import _mkl_fft
from scatter.engine import fourier

needs_mkl = pytest.mark.skipif(not _mkl_fft.available(),
                               reason="this torch build exports no MKL DFTI interface (not an x86-64 MKL build)")


@needs_mkl
@pytest.mark.parametrize("forward", [False, True])
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
@pytest.mark.parametrize("shape, ndim", [((5, 3, 20, 24), 2), ((7, 40), 1), ((2, 9, 6, 4), 3), ((36, 36), 2)])
def test_in_place_equals_torch_fft(forward, dtype, shape, ndim):
    z = torch.randn(shape, dtype=dtype)
    dims = tuple(range(-ndim, 0))
    expected = torch.fft.fftn(z, dim=dims) if forward else torch.fft.ifftn(z, dim=dims, norm="forward")
    ptr = z.data_ptr()
    assert (_mkl_fft.fft_in_place if forward else _mkl_fft.ifft_in_place)(z, ndim)
    assert z.data_ptr() == ptr
    # the same MKL computation as torch's: equal to rounding (in practice bit for bit)
    tol = 1e-6 if dtype == torch.complex64 else 1e-14
    torch.testing.assert_close(z, expected, rtol=tol, atol=tol * float(expected.abs().max()))


@needs_mkl
@pytest.mark.parametrize("make", [
    lambda: torch.randn(4, 6, 8, dtype=torch.complex64).transpose(-1, -2),   # not contiguous
    lambda: torch.randn(4, 8, dtype=torch.complex64).conj(),                 # a conjugate view
    lambda: torch.randn(4, 8, dtype=torch.complex64, requires_grad=True),
    lambda: torch.randn(4, 8),                                               # real
    lambda: torch.empty(0, 8, dtype=torch.complex64),
])
def test_declines_what_it_cannot_transform_in_place(make):
    z = make()
    before = z.detach().clone()
    assert not _mkl_fft.ifft_in_place(z, 1)
    assert torch.equal(z.detach(), before)


@needs_mkl
def test_descriptors_are_per_thread_bounded_reused_and_freed(monkeypatch):
    monkeypatch.setattr(_mkl_fft, "_PLANS_PER_THREAD", 3)
    api = _mkl_fft._interface()
    freed, lock = [], threading.Lock()
    real_free = api.free

    def counting_free(handle):
        with lock:
            freed.append(1)
        return real_free(handle)

    monkeypatch.setattr(api, "free", counting_free)
    results = {}

    def work(name):
        _mkl_fft._local.__dict__.pop("plans", None)   # a fresh cache for this thread
        for batch in (1, 2, 3, 4, 2):
            z = torch.randn(batch, 8, 8, dtype=torch.complex64)
            expected = torch.fft.ifft2(z, norm="forward")
            _mkl_fft.ifft_in_place(z, 2)
            torch.testing.assert_close(z, expected, rtol=1e-6, atol=1e-5)
        results[name] = len(_mkl_fft._local.plans)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {0: 3, 1: 3, 2: 3}   # four shapes seen, three kept in each thread
    import gc
    gc.collect()
    # per thread: one evicted, then the three kept, freed when the thread ended
    assert len(freed) == 3 * 4


def test_without_mkl_the_networks_fall_back_to_scipy(monkeypatch):
    x2, x1 = torch.randn(3, 32, 32), torch.randn(2, 1024)
    S2, S1 = Scattering2D(2, (32, 32), L=4), Scattering1D(J=4, shape=1024, Q=4)
    with torch.no_grad():
        fast2, fast1 = S2(x2), S1(x1)
    monkeypatch.setattr(_mkl_fft, "_interface", lambda: None)
    calls = []
    real_ifftn = __import__("scipy.fft").fft.ifftn
    monkeypatch.setattr("scipy.fft.ifftn", lambda *a, **k: calls.append(1) or real_ifftn(*a, **k))
    z = torch.randn(2, 8, dtype=torch.complex64)
    torch.testing.assert_close(fourier.ifft_in_place(z.clone(), 1, norm="forward"),
                               torch.fft.ifft(z, norm="forward"))
    with torch.no_grad():
        torch.testing.assert_close(S2(x2), fast2, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(S1(x1), fast1, rtol=1e-5, atol=1e-6)
    assert calls   # the fallback ran


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setenv("SCATTER_MKL_FFT", "0")
    _mkl_fft._interface.cache_clear()
    try:
        assert not _mkl_fft.available()
        assert not _mkl_fft.ifft_in_place(torch.randn(2, 8, dtype=torch.complex64), 1)
    finally:
        monkeypatch.delenv("SCATTER_MKL_FFT")
        _mkl_fft._interface.cache_clear()


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
@pytest.mark.parametrize("mkl", [True, False])
def test_fft2_of_real_equals_fft2(dtype, tol, mkl, monkeypatch):
    if not mkl:
        monkeypatch.setattr(_mkl_fft, "_interface", lambda: None)
    u = torch.randn(3, 2, 20, 18, dtype=dtype)
    expected = torch.fft.fft2(u)
    for workspace in (None, fourier.Workspace()):
        out = fourier.fft2_of_real(u, workspace)
        assert out.dtype == dtype.to_complex() and out.shape == u.shape
        torch.testing.assert_close(out, expected, rtol=tol, atol=tol * float(expected.abs().max()))
