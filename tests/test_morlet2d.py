"""Kymatio's 2D Morlet bank: the oracle, frame bounds, zero means and bad input."""
import math

import numpy as np
import pytest

from scatter.filters import FilterBank, morlet_2d

from _oracles import needs_kymatio, optional

kymatio_fb = optional("kymatio.scattering2d.filter_bank")


def rel_err(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@needs_kymatio
@pytest.mark.parametrize("M,N,J,L", [(32, 32, 1, 8), (32, 32, 2, 8), (40, 56, 3, 6), (33, 47, 2, 4),
                                     (64, 64, 5, 8), (96, 64, 4, 6), (17, 23, 2, 8), (64, 48, 3, 1)])
def test_filters_equal_kymatio(M, N, J, L):
    bank = morlet_2d((M, N), J, L)
    ref = kymatio_fb.filter_bank(M, N, J, L)
    assert bank.psi.shape == (J * L, M, N)
    for k, psi in enumerate(ref["psi"]):
        assert (bank.meta["j"][k], bank.meta["theta"][k]) == (psi["j"], psi["theta"])
        assert rel_err(bank.psi[k], psi["levels"][0]) <= 1e-6
    assert rel_err(bank.phi, ref["phi"]["levels"][0]) <= 1e-6


def test_zero_mean_and_real_design():
    bank = morlet_2d((64, 80), J=3, L=8)
    assert bank.psi.dtype == np.float64 and bank.phi.dtype == np.float64
    assert bank.is_real
    # zero mean <=> zero DC in Fourier, relative to the filter's peak
    assert np.abs(bank.psi[:, 0, 0]).max() / np.abs(bank.psi).max() <= 1e-12
    assert bank.phi[0, 0] == pytest.approx(math.pi / 3.1415, rel=1e-12)  # Kymatio's constant
    assert morlet_2d((64, 80), 3, exact_pi=True).phi[0, 0] == pytest.approx(1.0, rel=1e-12)


def test_metadata_and_parameters():
    bank = morlet_2d((64, 64), J=3, L=4, sigma0=1.0, xi0=2.0, slant=0.7)
    assert list(bank.meta["j"]) == [0] * 4 + [1] * 4 + [2] * 4
    assert list(bank.meta["theta"]) == [0, 1, 2, 3] * 3
    np.testing.assert_allclose(bank.meta["angle"][:4], np.array([1, 0, -1, -2]) * math.pi / 4)
    np.testing.assert_allclose(bank.meta["xi"], 2.0 / 2.0 ** bank.meta["j"] / (2 * math.pi))
    np.testing.assert_allclose(bank.meta["sigma"], 2.0 ** bank.meta["j"])
    # the Fourier peak of each wavelet sits at its centre frequency and orientation
    k = 5  # j=1, theta=1 (angle 0): carrier along the first axis
    peak = np.unravel_index(np.argmax(bank.psi[k]), bank.shape)
    assert peak[1] == 0 and abs(peak[0] / 64 - bank.meta["xi"][k]) < 1.5 / 64


def test_littlewood_paley_bounds():
    bank = morlet_2d((64, 64), J=3, L=8)
    lower, upper = bank.frame_bounds()
    lp = bank.littlewood_paley()
    assert lp.shape == (64, 64) and (lower, upper) == (lp.min(), lp.max())
    # Kymatio's Morlet bank is nearly non-expansive: at zero frequency A = |phi(0)|^2 =
    # (pi/3.1415)^2, and the overlaps of neighbouring wavelets stay within 2% of 1
    assert lp[0, 0] == pytest.approx((math.pi / 3.1415) ** 2, rel=1e-9)
    assert 1.0 <= upper < 1.02
    assert 0.05 < lower < upper
    # without symmetrisation a half-plane bank leaves the other half-plane to the low-pass
    assert bank.littlewood_paley(real_signals=False).max() >= upper


def test_parseval_identity_of_lp_sum():
    rng = np.random.default_rng(0)
    bank = morlet_2d((32, 40), J=2, L=8)
    x = rng.standard_normal(bank.shape)
    xf = np.fft.fft2(x)
    energy = sum(np.sum(np.abs(np.fft.ifft2(xf * p)) ** 2) for p in bank.psi)
    energy += np.sum(np.abs(np.fft.ifft2(xf * bank.phi)) ** 2)
    predicted = np.sum(bank.littlewood_paley() * np.abs(xf) ** 2) / x.size
    assert energy == pytest.approx(predicted, rel=1e-12)


def test_spatial_and_torch_views():
    torch = pytest.importorskip("torch")
    bank = morlet_2d((32, 32), J=2, L=4)
    psi, phi = bank.spatial()
    assert psi.shape == (8, 32, 32) and phi.shape == (32, 32)
    assert np.unravel_index(np.argmax(np.abs(phi)), phi.shape) == (16, 16)
    t = bank.to_torch(dtype=torch.float64)
    assert t["psi"].dtype == torch.float64 and t is bank.to_torch(dtype=torch.float64)
    np.testing.assert_array_equal(t["psi"].numpy(), bank.psi)


def test_construction_is_fast():
    import time

    start = time.perf_counter()
    morlet_2d((256, 256), J=4, L=8)
    # generous bound: a regression to Kymatio's per-pixel loops takes seconds
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize("kwargs,match", [
    (dict(shape=(32, 32), J=0), "J"), (dict(shape=(32, 32), J=-1), "J"),
    (dict(shape=(32, 32), J=6), "J=6 is too large"), (dict(shape=(32, 32), J=2, L=0), "L"),
    (dict(shape=(32,), J=2), "shape"), (dict(shape=(4, 32, 32), J=2), "shape"),
    (dict(shape=(32, 32), J=2, sigma0=float("nan")), "sigma0"),
    (dict(shape=(32, 32), J=2, slant=-1.0), "slant"), (dict(shape=(32, 0), J=1), "shape"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        morlet_2d(**kwargs)


def test_bad_types():
    with pytest.raises(TypeError, match="J"):
        morlet_2d((32, 32), J=2.5)
    with pytest.raises(TypeError, match="shape"):
        morlet_2d(None, J=2)


def test_filterbank_validates_its_arrays():
    with pytest.raises(ValueError, match="phi"):
        FilterBank(np.zeros((2, 8, 8)), np.zeros((8, 4)), {})
    with pytest.raises(ValueError, match="meta"):
        FilterBank(np.zeros((2, 8, 8)), None, {"j": [0, 1, 2]})
    with pytest.raises(ValueError, match="NaN"):
        FilterBank(np.full((2, 8), np.nan), None, {})
