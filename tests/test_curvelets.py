"""Curvelet bank (filters.curvelet) and wrapping transform (filters.curvelet_transform)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from scatter.filters import CurveletTransform, FilterBank, curvelet_2d, curvelet_windows
from scatter.filters.bank import _flip
from scatter.filters.curvelet import n_wedges

# (shape, scales): square/non-square, even/odd sizes
SHAPES = [((64, 64), 3), ((96, 80), 3), ((65, 47), 3), ((33, 50), 3), ((128, 72), 4)]


def _energy(coeffs) -> torch.Tensor:
    return sum((c.abs() ** 2).sum(dim=(-2, -1)) for scale in coeffs for c in scale)


def _camera() -> np.ndarray:
    from skimage.data import camera

    return camera().astype(np.float64) / 255.0


# ------------------------------------------------------------------------------------ bank
@pytest.mark.parametrize("shape,scales", SHAPES)
@pytest.mark.parametrize("finest", ["curvelets", "wavelets"])
@pytest.mark.parametrize("real", [True, False])
def test_bank_partition_of_unity_and_meta(shape, scales, finest, real):
    bank = curvelet_2d(shape, scales, angles=8, finest=finest, real=real)
    assert isinstance(bank, FilterBank) and bank.shape == shape and bank.is_real
    assert np.abs(bank.littlewood_paley() - 1).max() < 1e-12
    if not real:  # every orientation present: tight for complex signals too
        assert np.abs(bank.littlewood_paley(real_signals=False) - 1).max() < 1e-12
    J = scales - 1
    j, theta = bank.meta["j"], bank.meta["theta"]
    assert j.dtype.kind == "i" and theta.dtype.kind == "i"
    assert set(j.tolist()) == set(range(J)) and bank.phi_meta["j"] == J
    assert np.array_equal(bank.meta["fdct_scale"], scales - j)
    counts = n_wedges(scales, 8, finest)
    for s in range(J):
        expected = counts[s] // 2 if (real and counts[s] > 1) else counts[s]
        assert np.array_equal(theta[j == s], np.arange(expected))
        assert np.all(bank.meta["n_angles"][j == s] == expected)
    if real:  # half-plane of orientations [-pi/4, 3pi/4)
        curv = bank.meta["n_angles"] > 1
        assert np.all(bank.meta["angle"][curv] >= -math.pi / 4)
        assert np.all(bank.meta["angle"][curv] < 3 * math.pi / 4)
    assert np.all(bank.meta["xi"] > 0) and np.all(bank.meta["xi"] <= 0.5 * math.sqrt(2))


@pytest.mark.parametrize("finest", ["curvelets", "wavelets"])
def test_max_freq_bounds_the_support(finest):
    bank = curvelet_2d((96, 128), 4, angles=8, finest=finest)
    f0 = np.abs(np.fft.fftfreq(96))[:, None]
    f1 = np.abs(np.fft.fftfreq(128))[None, :]
    sup = np.maximum(f0, f1)
    for k in range(len(bank)):
        mf, j = bank.meta["max_freq"][k], bank.meta["j"][k]
        assert np.all(bank.psi[k][sup > mf] == 0) and np.any(bank.psi[k][sup == mf] > 0)
        assert mf <= (0.5 if j == 0 else 2.0 ** -j)  # |x * psi_j| may be subsampled by 2**(j-1)
    assert np.all(bank.phi[sup > bank.phi_meta["max_freq"]] == 0)
    assert bank.phi_meta["max_freq"] <= 2.0 ** -3


def test_parabolic_angle_doubling():
    # angles at the coarsest band-pass scale, doubling every other scale towards the finest
    assert n_wedges(6, 16) == [64, 64, 32, 32, 16]
    assert n_wedges(5, 8) == [32, 16, 16, 8]
    assert n_wedges(5, 8, "wavelets") == [1, 16, 16, 8]


def test_bank_wedge_centres_match_windows():
    """'angle' and 'xi' locate each window: its energy-weighted direction matches 'angle'."""
    bank = curvelet_2d((128, 128), 4, angles=16)
    f0 = np.fft.fftfreq(128)[:, None]
    f1 = np.fft.fftfreq(128)[None, :]
    for k in range(len(bank)):
        w = bank.psi[k] ** 2
        mean_dir = math.atan2((w * f1).sum(), (w * f0).sum())
        assert abs(np.angle(np.exp(1j * (mean_dir - bank.meta["angle"][k])))) < 0.15
        peak = np.unravel_index(np.argmax(bank.psi[k]), bank.shape)
        radius = math.hypot(f0[peak[0], 0], f1[0, peak[1]])
        assert 0.5 * bank.meta["xi"][k] < radius < 2.0 * bank.meta["xi"][k]


def test_windows_symmetric_and_smooth_partition():
    win = curvelet_windows((64, 48), 3, angles=8)
    for j in range(win.J):
        L = win.counts[j]
        for l in range(L // 2):  # U_{l+L/2}(w) = U_l(-w) exactly, Nyquist included
            assert np.abs(win.dense(j, l + L // 2) - _flip(win.dense(j, l))).max() < 1e-14
    total = win.dense_lowpass() ** 2 + sum(win.dense(j, l) ** 2 for j in range(win.J)
                                            for l in range(win.counts[j]))
    assert np.abs(total - 1).max() < 1e-13


def test_finest_curvelets_are_localised():
    """Finest wedges are periodised across the grid edge: no jump at Nyquist, fast decay.

    Cut at Nyquist (no periodisation) the finest curvelets keep 8.4e-3 of their energy beyond
    24 pixels on this grid; periodised, 1.0e-3.
    """
    bank = curvelet_2d((128, 128), 4, angles=16)
    psi, _ = bank.spatial()
    y, x = np.mgrid[-64:64, -64:64]
    energy = np.abs(psi[bank.meta["j"] == 0]) ** 2
    tail = (energy * (np.hypot(y, x) > 24)).sum(axis=(1, 2)) / energy.sum(axis=(1, 2))
    assert tail.max() < 3e-3


# ------------------------------------------------------------------------------- transform
@pytest.mark.parametrize("shape,scales", SHAPES)
@pytest.mark.parametrize("finest", ["curvelets", "wavelets"])
def test_tight_frame_and_exact_inverse_float64(shape, scales, finest):
    T = CurveletTransform(shape, scales, angles=8, finest=finest)
    x = torch.randn(3, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    coeffs = T(x)
    ratio = _energy(coeffs) / (x ** 2).sum(dim=(-2, -1))
    assert torch.all((ratio - 1).abs() < 1e-12)
    rec = T.inverse(coeffs)
    assert rec.dtype == torch.float64 and rec.shape == x.shape
    assert ((rec - x).norm() / x.norm()).item() < 1e-12
    x32 = x.float()
    coeffs32 = T(x32)
    assert torch.all((_energy(coeffs32) / (x32 ** 2).sum(dim=(-2, -1)) - 1).abs() < 1e-5)
    rec32 = T.inverse(coeffs32)
    assert rec32.dtype == torch.float32 and ((rec32 - x32).norm() / x32.norm()).item() < 1e-5


@pytest.mark.parametrize("shape,scales", [((512, 512), 5), ((301, 455), 4), ((256, 384), 5)])
@pytest.mark.parametrize("finest", ["curvelets", "wavelets"])
def test_camera_tight_frame_and_inverse(shape, scales, finest):
    image = torch.from_numpy(_camera()[:shape[0], :shape[1]].copy())
    T = CurveletTransform(shape, scales, angles=16, finest=finest)
    coeffs = T(image)
    assert abs(_energy(coeffs).item() / (image ** 2).sum().item() - 1) < 1e-12
    assert ((T.inverse(coeffs) - image).norm() / image.norm()).item() < 1e-12
    # float32: same transform, single precision
    image32 = image.float()
    coeffs32 = T(image32)
    assert coeffs32[1][0].dtype == torch.complex64 and coeffs32[-1][0].dtype == torch.float32
    assert abs(_energy(coeffs32).item() / (image32 ** 2).sum().item() - 1) < 1e-5
    assert ((T.inverse(coeffs32) - image32).norm() / image32.norm()).item() < 1e-5


@pytest.mark.parametrize("finest", ["curvelets", "wavelets"])
def test_complex_mode_tight_and_exact(finest):
    shape = (72, 66)
    T = CurveletTransform(shape, 3, angles=12, finest=finest, real=False)
    g = torch.Generator().manual_seed(2)
    x = torch.complex(torch.randn(2, *shape, dtype=torch.float64, generator=g),
                      torch.randn(2, *shape, dtype=torch.float64, generator=g))
    coeffs = T(x)
    assert all(c.is_complex() for scale in coeffs for c in scale)
    assert torch.all((_energy(coeffs) / (x.abs() ** 2).sum(dim=(-2, -1)) - 1).abs() < 1e-12)
    assert ((T.inverse(coeffs) - x).abs().norm() / x.abs().norm()).item() < 1e-12


@pytest.mark.parametrize("real", [True, False])
def test_adjointness(real):
    shape = (64, 56)
    T = CurveletTransform(shape, 3, angles=8, real=real)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(shape, dtype=torch.float64, generator=g)
    if not real:
        x = torch.complex(x, torch.randn(shape, dtype=torch.float64, generator=g))
    c = T.unflatten(torch.randn(T.n_coefficients, dtype=torch.float64, generator=g))
    lhs = T.flatten(T(x)) @ T.flatten(c)  # real inner product <forward(x), c>
    y = T.inverse(c)
    rhs = (torch.view_as_real(x) * torch.view_as_real(y)).sum() if not real else (x * y).sum()
    assert abs(lhs.item() - rhs.item()) < 1e-12 * max(1.0, abs(lhs.item()))


def test_coefficients_are_decimated_bank_outputs():
    """Per wedge, ||c_k||^2 = ||x * psi_k||^2 with the bank's filter k (same order, same gain)."""
    shape = (64, 80)
    for finest in ("curvelets", "wavelets"):
        bank = curvelet_2d(shape, 3, angles=8, finest=finest)
        T = CurveletTransform(shape, 3, angles=8, finest=finest)
        x = np.random.default_rng(4).standard_normal(shape)
        coeffs = T(torch.from_numpy(x))
        xhat = np.fft.fft2(x)
        for k in range(len(bank)):
            j, l = bank.meta["j"][k], bank.meta["theta"][k]
            filtered = np.fft.ifft2(xhat * bank.psi[k])
            assert np.isclose((coeffs[j][l].abs() ** 2).sum().item(), (np.abs(filtered) ** 2).sum(),
                              rtol=1e-12)
        low = np.fft.ifft2(xhat * bank.phi)
        assert np.isclose((coeffs[-1][0] ** 2).sum().item(), (np.abs(low) ** 2).sum(), rtol=1e-12)


def test_batched_leading_dims_and_flatten_roundtrip():
    shape = (48, 64)
    T = CurveletTransform(shape, 2, angles=8)
    x = torch.randn(2, 3, *shape, dtype=torch.float64)
    coeffs = T(x)
    one = T(x[1, 2])
    for scale, scale1 in zip(coeffs, one):
        for c, c1 in zip(scale, scale1):
            assert c.shape[:2] == (2, 3)
            assert torch.allclose(c[1, 2], c1, atol=1e-13)
    flat = T.flatten(coeffs)
    assert flat.shape == (2, 3, T.n_coefficients)
    back = T.unflatten(flat)
    assert all(torch.equal(a, b) for s1, s2 in zip(coeffs, back) for a, b in zip(s1, s2))


@pytest.mark.parametrize("shape,scales", [((256, 256), 5), ((512, 512), 6), ((240, 320), 5),
                                          ((384, 128), 5), ((96, 64), 4), ((65, 47), 3)])
def test_redundancy_bounds(shape, scales):
    wav = CurveletTransform(shape, scales, angles=16, finest="wavelets")
    curv = CurveletTransform(shape, scales, angles=16, finest="curvelets")
    assert 1.0 < wav.redundancy <= 3.0
    assert wav.redundancy < curv.redundancy <= 8.0
    complex_mode = CurveletTransform(shape, scales, 16, "curvelets", real=False)
    assert complex_mode.redundancy == pytest.approx(curv.redundancy, rel=0.02)


@pytest.mark.parametrize("real", [True, False])
def test_gradcheck(real):
    shape = (16, 20)
    T = CurveletTransform(shape, 2, angles=8, real=real)
    dtype = torch.float64 if real else torch.complex128
    x = torch.randn(shape, dtype=dtype, requires_grad=True)
    # fast_mode checks the Jacobian along random directions (the full Jacobian takes minutes)
    assert torch.autograd.gradcheck(lambda v: T.flatten(T(v)), (x,), fast_mode=True)
    v = torch.randn(T.n_coefficients, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda u: T.inverse(T.unflatten(u)), (v,), fast_mode=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    shape = (64, 64)
    T = CurveletTransform(shape, 3, angles=8)
    x = torch.randn(2, *shape, dtype=torch.float64)
    c_cpu, c_gpu = T(x), T(x.cuda())
    assert c_gpu[0][0].device.type == "cuda"
    for s1, s2 in zip(c_cpu, c_gpu):
        for a, b in zip(s1, s2):
            assert torch.allclose(a, b.cpu(), atol=1e-12)
    assert ((T.inverse(c_gpu).cpu() - x).norm() / x.norm()).item() < 1e-12


def test_plot_draws_tiling_and_curvelets():
    import matplotlib

    matplotlib.use("Agg")
    bank = curvelet_2d((64, 64), 3, angles=8)
    fig = bank.plot(max_filters=4)          # spread over the two band-pass scales: 2 each
    images = [a for a in fig.axes if a.axison and a.images]
    assert len(images) == 1 + 2 * 2 + 1  # tiling, 2 per band-pass scale, low-pass
    bars = [a for a in fig.axes if a.get_label() == "<colorbar>"]
    assert len(bars) == 2                # orientation hue, signed values


# ------------------------------------------------------------------------------- bad input
def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="scales=5 is too many"):
        curvelet_2d((64, 64), 5)
    with pytest.raises(ValueError, match="scales"):
        CurveletTransform((100, 30), 4)
    with pytest.raises(ValueError, match="scales"):
        curvelet_2d((64, 64), 1)
    for angles in (6, 4, 10, 0):
        with pytest.raises(ValueError, match="angles must be a multiple of 4"):
            curvelet_2d((64, 64), 3, angles=angles)
        with pytest.raises(ValueError, match="angles"):
            CurveletTransform((64, 64), 3, angles=angles)
    with pytest.raises(TypeError, match="angles"):
        curvelet_2d((64, 64), 3, angles=8.0)
    with pytest.raises(ValueError, match="finest"):
        curvelet_2d((64, 64), 3, finest="ridgelets")
    with pytest.raises(TypeError, match="real"):
        CurveletTransform((64, 64), 3, real="yes")
    with pytest.raises(ValueError, match="shape"):
        curvelet_2d((64, 64, 3), 3)


def test_bad_forward_input():
    T = CurveletTransform((64, 64), 3, angles=8)
    with pytest.raises(ValueError, match="shape"):
        T(torch.zeros(64, 65))
    with pytest.raises(TypeError, match="dtype"):
        T(torch.zeros(64, 64, dtype=torch.complex128))  # real=True takes real images
    with pytest.raises(TypeError, match="torch.Tensor"):
        T(np.zeros((64, 64)))


def test_inverse_rejects_mismatched_coefficients():
    T = CurveletTransform((64, 64), 3, angles=8)
    coeffs = T(torch.randn(2, 64, 64, dtype=torch.float64))
    with pytest.raises(ValueError, match="list of 3"):
        T.inverse(coeffs[:-1])
    with pytest.raises(ValueError, match=r"coeffs\[0\] must be a list of 8"):
        T.inverse([coeffs[0][:-1]] + coeffs[1:])
    bad = [list(s) for s in coeffs]
    bad[1][2] = bad[1][2][..., :-1]
    with pytest.raises(ValueError, match=r"coeffs\[1\]\[2\] must have shape"):
        T.inverse(bad)
    bad = [list(s) for s in coeffs]
    bad[0][0] = bad[0][0].real
    with pytest.raises(ValueError, match="must be complex"):
        T.inverse(bad)
    bad = [list(s) for s in coeffs]
    bad[-1][0] = bad[-1][0].to(torch.complex128)
    with pytest.raises(ValueError, match="must be real"):
        T.inverse(bad)
    bad = [list(s) for s in coeffs]
    bad[1][0] = bad[1][0][0]
    with pytest.raises(ValueError, match="leading shape"):
        T.inverse(bad)
    bad = [list(s) for s in coeffs]
    bad[1][0] = bad[1][0].to(torch.complex64)
    with pytest.raises(ValueError, match="precision"):
        T.inverse(bad)
    other = CurveletTransform((64, 64), 3, angles=12)
    with pytest.raises(ValueError):
        other.inverse(coeffs)
    with pytest.raises(ValueError, match="last dimension"):
        T.unflatten(torch.zeros(5))
