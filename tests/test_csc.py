"""Convolutional sparse coding: SPORCO as the oracle on small crops, solvers, masks, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from scatter.models import ConvSparseCoding, csc_objective, csc_reconstruct, tikhonov_split

from _oracles import needs_sporco, optional

sporco_util = optional("sporco.util")
sp_signal = optional("sporco.signal")
cbpdn = optional("sporco.admm.cbpdn")

LMBDA = 0.05


@pytest.fixture(scope="module")
def problem():
    """High-passed 32x40 crop of camera()[::2, ::2] (float64) and SPORCO's G:8x8x32 dictionary
    (float32; 32 Gabor atoms of our own where SPORCO is not installed, so that the tests of our
    solvers still run)."""
    from skimage.data import camera
    img = camera()[::2, ::2].astype(np.float64) / 255
    # our split: equal to SPORCO's tikhonov_filter to 1e-12 (test_tikhonov_split_matches_sporco)
    _, high = tikhonov_split(torch.from_numpy(img)[None], 10, 16)
    crop = np.ascontiguousarray(high[0].numpy()[96:128, 100:140])
    D = sporco_util.convdicts()["G:8x8x32"] if sporco_util is not None else _gabor_atoms()
    return crop, D


def _gabor_atoms() -> np.ndarray:
    """32 zero-mean, unit-norm 8x8 Gabor atoms (4 frequencies x 8 orientations), SPORCO's
    (h, w, M) layout in float32 like its G:8x8x32: a stand-in dictionary without SPORCO."""
    i, j = np.mgrid[:8, :8] - 3.5
    atoms = []
    for freq in (0.08, 0.16, 0.25, 0.35):
        for theta in np.arange(8) * np.pi / 8:
            a = np.exp(-(i ** 2 + j ** 2) / 8.0) * np.cos(2 * np.pi * freq * (i * np.cos(theta) + j * np.sin(theta)))
            a -= a.mean()
            atoms.append(a / np.linalg.norm(a))
    return np.stack(atoms, -1).astype(np.float32)


def _torch_dict(D):
    """SPORCO's (h, w, M) or (h, w, C, M) layout to ours (M, C, h, w)."""
    if D.ndim == 3:
        D = D[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(D.transpose(3, 2, 0, 1)))


@needs_sporco
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-7), (np.float32, 1e-4)])
def test_admm_iterates_match_sporco(problem, dtype, rtol):
    s, D = problem
    s, D = s.astype(dtype), D.astype(dtype)
    ref = cbpdn.ConvBPDN(D, s, LMBDA, cbpdn.ConvBPDN.Options({"MaxMainIter": 40}))
    Y = ref.solve().squeeze()
    its = ref.getitstat()
    res = ConvSparseCoding(_torch_dict(D), LMBDA, max_iter=40).solve(torch.from_numpy(s)[None, None])
    assert res.n_iter == len(its.ObjFun)
    ours = res.history["objective"][:, 0].double().numpy()
    np.testing.assert_allclose(ours, its.ObjFun, rtol=rtol)
    np.testing.assert_allclose(res.history["rho"][:, 0].numpy(), its.Rho, rtol=10 * rtol)
    np.testing.assert_allclose(res.history["primal_residual"][:, 0].numpy(), its.PrimalRsdl,
                               rtol=100 * rtol, atol=1e-6)
    np.testing.assert_allclose(res.maps[0].numpy().transpose(1, 2, 0), Y, atol=50 * rtol)


def test_float32_history_is_accurate(problem):
    s, D = problem
    s32 = torch.from_numpy(np.tile(s, (3, 3)).astype(np.float32))[None, None]
    Dt = _torch_dict(D.astype(np.float32))
    res = ConvSparseCoding(Dt, LMBDA, max_iter=5, tol=0).solve(s32)
    x = res.state["x"].double()
    exact = csc_objective(Dt.double(), x, s32.double(), LMBDA).item()
    assert res.history["objective"][-1, 0].item() == pytest.approx(exact, rel=1e-5)


@needs_sporco
def test_multichannel_dictionary_matches_sporco():
    rng = np.random.default_rng(0)
    D = rng.standard_normal((5, 5, 3, 6))
    s = rng.standard_normal((24, 20, 3))
    ref = cbpdn.ConvBPDN(D, s, 0.5, cbpdn.ConvBPDN.Options({"MaxMainIter": 25}), dimK=0)
    Y = ref.solve().squeeze()
    res = ConvSparseCoding(_torch_dict(D), 0.5, max_iter=25).solve(
        torch.from_numpy(s.transpose(2, 0, 1).copy())[None])
    np.testing.assert_allclose(res.history["objective"][:, 0].numpy(), ref.getitstat().ObjFun,
                               rtol=1e-7)
    np.testing.assert_allclose(res.maps[0].numpy().transpose(1, 2, 0), Y, atol=1e-7)


def test_maps_exactly_sparse_and_fista_agrees(problem):
    s, D = problem
    st = torch.from_numpy(s)[None, None]
    Dt = _torch_dict(D)
    admm = ConvSparseCoding(Dt, LMBDA, max_iter=300, tol=1e-5).solve(st)
    fista = ConvSparseCoding(Dt, LMBDA, method="fista", max_iter=600, tol=0).solve(st)
    zero = (admm.maps == 0).double().mean().item()
    assert 0.5 < zero < 1.0                     # exact zeros, yet not the trivial solution
    f_admm = csc_objective(Dt, admm.maps, st, LMBDA).item()
    f_fista = csc_objective(Dt, fista.maps, st, LMBDA).item()
    assert abs(f_admm - f_fista) <= 1e-3 * f_admm
    # FISTA's objective history is evaluated on its (sparse) iterate
    assert fista.history["objective"][-1, 0].item() == pytest.approx(f_fista, rel=1e-9)


def test_batch_equals_single_solves(problem):
    s, D = problem
    Dt = _torch_dict(D)
    batch = torch.stack([torch.from_numpy(s), torch.from_numpy(s[::-1].copy())])[:, None]
    csc = ConvSparseCoding(Dt, LMBDA, max_iter=15, tol=0)
    both = csc.solve(batch)
    for b in range(2):
        one = csc.solve(batch[b:b + 1])
        torch.testing.assert_close(both.maps[b:b + 1], one.maps, rtol=0, atol=1e-12)
        torch.testing.assert_close(both.history["rho"][:, b], one.history["rho"][:, 0])


@pytest.mark.parametrize("cpu_paths", [True, False])
@pytest.mark.parametrize("n_maps, width", [(6, 20), (6, 21), (5, 20), (7, 19)])
def test_paired_path_equals_general_path(n_maps, width, cpu_paths):
    """The one-channel solver on the spectra of pairs of maps (any width; odd numbers of maps
    padded with a zero filter) computes the iterates of the general Sherman-Morrison path (also
    used for masks and several channels), with the CPU code paths and with the device-generic
    ones (those CUDA runs)."""
    rng = np.random.default_rng(4)
    Dt = torch.from_numpy(rng.standard_normal((n_maps, 1, 5, 4)))
    st = torch.from_numpy(rng.standard_normal((2, 1, 18, width)))
    csc = ConvSparseCoding(Dt, 0.2, max_iter=30, tol=0)
    csc._chunk = 2 * 18 * width                  # spatial passes one pair of maps at a time
    csc._cpu_paths = cpu_paths
    fast = csc.solve(st)
    ref = csc._admm(Dt, st, None, None)
    for key in ("objective", "primal_residual", "dual_residual", "rho"):
        torch.testing.assert_close(fast.history[key], ref.history[key], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(fast.maps, ref.maps, rtol=0, atol=1e-10)
    for key in ("x", "u"):
        torch.testing.assert_close(fast.state[key], ref.state[key], rtol=0, atol=1e-10)
    assert bool((fast.maps == 0).any()) and bool((fast.maps != 0).any())
    # warm restart from the returned state continues the same iterates
    more = csc.solve(st, state=fast.state)
    ref_more = csc._admm(Dt, st, None, ref.state)
    torch.testing.assert_close(more.maps, ref_more.maps, rtol=0, atol=1e-10)


@pytest.mark.slow
def test_compiled_cpu_step_equals_general_path():
    """compile_cpu=True (the y/u step fused by torch.compile) computes the same iterates."""
    rng = np.random.default_rng(5)
    Dt = torch.from_numpy(rng.standard_normal((5, 1, 5, 4)))
    st = torch.from_numpy(rng.standard_normal((2, 1, 18, 20)))
    csc = ConvSparseCoding(Dt, 0.2, max_iter=30, tol=0, compile_cpu=True)
    csc._chunk = 2 * 18 * 20                     # one pair of maps per chunk
    fast = csc.solve(st)
    ref = csc._admm(Dt, st, None, None)
    for key in ("objective", "primal_residual", "dual_residual", "rho"):
        torch.testing.assert_close(fast.history[key], ref.history[key], rtol=1e-10, atol=1e-12)
    for key in ("x", "y", "u"):
        torch.testing.assert_close(fast.state[key], ref.state[key], rtol=0, atol=1e-10)
    assert bool((fast.maps == 0).any()) and bool((fast.maps != 0).any())


def test_reconstruct_is_circular_convolution():
    rng = np.random.default_rng(1)
    D = rng.standard_normal((4, 2, 3, 3))
    Z = rng.standard_normal((1, 4, 10, 12))
    out = csc_reconstruct(torch.from_numpy(D), torch.from_numpy(Z)).numpy()
    ref = np.zeros((2, 10, 12))
    for m in range(4):
        for c in range(2):
            for dy in range(3):
                for dx in range(3):
                    ref[c] += D[m, c, dy, dx] * np.roll(Z[0, m], (dy, dx), axis=(0, 1))
    np.testing.assert_allclose(out[0], ref, atol=1e-12)


def test_mask_ignores_missing_pixels(problem):
    s, D = problem
    Dt = _torch_dict(D)
    rng = np.random.default_rng(2)
    mask = torch.from_numpy((rng.random(s.shape) > 0.3).astype(np.float64))[None, None]
    st = torch.from_numpy(s)[None, None]
    corrupted = st + 5.0 * (1 - mask) * torch.from_numpy(rng.standard_normal(s.shape))
    csc = ConvSparseCoding(Dt, LMBDA, max_iter=200, tol=1e-5)
    a = csc.solve(st, mask=mask)
    b = csc.solve(corrupted, mask=mask)
    torch.testing.assert_close(a.maps, b.maps, rtol=0, atol=1e-10)
    # ADMM with additive mask simulation and masked FISTA minimise the same objective
    f = ConvSparseCoding(Dt, LMBDA, method="fista", max_iter=800, tol=0).solve(st, mask=mask)
    fa = csc_objective(Dt, a.maps, st, LMBDA, mask).item()
    ff = csc_objective(Dt, f.maps, st, LMBDA, mask).item()
    assert abs(fa - ff) <= 2e-3 * fa
    assert fa < csc_objective(Dt, csc.solve(st).maps, st, LMBDA, mask).item()


def test_warm_start_continues():
    rng = np.random.default_rng(3)
    Dt = torch.from_numpy(rng.standard_normal((4, 1, 3, 3)))
    st = torch.from_numpy(rng.standard_normal((1, 1, 12, 12)))
    full = ConvSparseCoding(Dt, 0.3, max_iter=20, tol=0).solve(st)
    part = ConvSparseCoding(Dt, 0.3, max_iter=10, tol=0).solve(st)
    rest = ConvSparseCoding(Dt, 0.3, max_iter=10, tol=0).solve(st, state=part.state)
    torch.testing.assert_close(rest.maps, full.maps, rtol=0, atol=1e-12)


@needs_sporco
def test_tikhonov_split_matches_sporco():
    from skimage.data import camera
    img = camera()[:80:2, :120:2].astype(np.float64) / 255
    low_ref, high_ref = sp_signal.tikhonov_filter(img, 10, 16)
    low, high = tikhonov_split(torch.from_numpy(img)[None], 10, 16)
    np.testing.assert_allclose(low[0].numpy(), low_ref, atol=1e-12)
    np.testing.assert_allclose(high[0].numpy(), high_ref, atol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(problem):
    s, D = problem
    st = torch.from_numpy(s)[None, None]
    csc = ConvSparseCoding(_torch_dict(D), LMBDA, max_iter=20, tol=0)
    cpu = csc.solve(st).maps
    gpu = csc.to("cuda").solve(st.cuda()).maps
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=0, atol=1e-9)


def test_bad_input():
    D = torch.randn(4, 1, 5, 5, dtype=torch.float64)
    s = torch.randn(1, 1, 16, 16, dtype=torch.float64)
    with pytest.raises(ValueError, match="lmbda"):
        ConvSparseCoding(D, -0.1)
    with pytest.raises(ValueError, match="method"):
        ConvSparseCoding(D, 0.1, method="omp")
    with pytest.raises(ValueError, match="relax"):
        ConvSparseCoding(D, 0.1, relax=2.5)
    with pytest.raises(ValueError, match="dictionary"):
        ConvSparseCoding(torch.randn(5, 5), 0.1)
    with pytest.raises(ValueError, match="NaN"):
        ConvSparseCoding(D * float("nan"), 0.1)
    csc = ConvSparseCoding(D, 0.1, max_iter=2)
    with pytest.raises(ValueError, match="larger than the images"):
        csc.solve(torch.randn(1, 1, 4, 16, dtype=torch.float64))
    with pytest.raises(ValueError, match="channel"):
        csc.solve(torch.randn(1, 3, 16, 16, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        csc.solve(torch.randn(16, 16, dtype=torch.float64))
    with pytest.raises(ValueError, match="NaN"):
        csc.solve(s * float("inf"))
    with pytest.raises(TypeError, match="signal"):
        csc.solve(s.numpy())
    with pytest.raises(ValueError, match="binary"):
        csc.solve(s, mask=torch.full_like(s, 0.5))
    with pytest.raises(ValueError, match="broadcast"):
        csc.solve(s, mask=torch.ones(3, 16, 16))
    with pytest.raises(ValueError, match="lmbda"):
        tikhonov_split(s, -1.0)
    with pytest.raises(TypeError, match="images"):
        tikhonov_split(s.numpy(), 1.0)
