"""Gabor and log-Gabor banks: skimage oracle, zero means, DC leakage, frame bounds, bad input."""
import math

import numpy as np
import pytest

from scatter.filters import FilterBank
from scatter.filters.gabor import gabor_2d
from scatter.filters.log_gabor import log_gabor_2d

skimage_filters = pytest.importorskip("skimage.filters")


def wrapped_kernel(kernel, shape):
    """A centred odd-sized kernel placed on a periodic grid with its centre at index (0, 0)."""
    out = np.zeros(shape, dtype=kernel.dtype)
    h, w = kernel.shape
    out[:h, :w] = kernel
    return np.roll(out, (-(h // 2), -(w // 2)), axis=(0, 1))


# ------------------------------------------------------------------------------------- Gabor
@pytest.mark.parametrize("shape,bandwidth", [((96, 128), 1.0), ((101, 90), 1.5), ((128, 128), 0.8)])
def test_gabor_equals_skimage_kernel(shape, bandwidth):
    freqs = [0.42, 0.3, 0.2, 0.12]
    angles = [0.0, 0.4, math.pi / 2, 2.0, 3.0]
    bank = gabor_2d(shape, freqs, thetas=angles, bandwidth=bandwidth)
    spatial, _ = bank.spatial(centered=False)
    checked = 0
    for k in range(len(bank)):
        # n_stds=9: skimage's truncation leaves exp(-40) of the peak, below float64 precision
        ref = skimage_filters.gabor_kernel(bank.meta["xi"][k], bank.meta["angle"][k],
                                           bandwidth=bandwidth, n_stds=9)
        if ref.shape[0] > shape[0] or ref.shape[1] > shape[1]:
            continue
        ref = wrapped_kernel(ref, shape)
        assert np.abs(spatial[k] - ref).max() <= 1e-12 * np.abs(ref).max()
        checked += 1
    assert checked >= 15


def test_gabor_meta_order_and_real_design():
    bank = gabor_2d((64, 64), [0.1, 0.4, 0.2], 4)
    assert isinstance(bank, FilterBank) and bank.is_real and bank.psi.shape == (12, 64, 64)
    assert list(bank.meta["j"]) == [0] * 4 + [1] * 4 + [2] * 4
    assert list(bank.meta["theta"]) == [0, 1, 2, 3] * 3
    np.testing.assert_allclose(bank.meta["xi"][::4], [0.4, 0.2, 0.1])  # high to low
    np.testing.assert_allclose(bank.meta["angle"][:4], np.arange(4) * math.pi / 4)
    # skimage's rule: sigma = sqrt(ln 2 / 2) / pi * 3 / f for one octave
    prefactor = math.sqrt(math.log(2) / 2) / math.pi * 3
    np.testing.assert_allclose(bank.meta["sigma"], prefactor / bank.meta["xi"])
    np.testing.assert_allclose(bank.meta["bandwidth"], 1.0)
    # the Fourier peak sits at (f sin(angle), f cos(angle)) in (row, column) cycles/pixel
    k = 5  # f = 0.2, angle = pi / 4
    peak = np.unravel_index(np.argmax(bank.psi[k]), bank.shape)
    freq = np.fft.fftfreq(64)
    assert abs(freq[peak[0]] - 0.2 * math.sin(math.pi / 4)) <= 1 / 64
    assert abs(freq[peak[1]] - 0.2 * math.cos(math.pi / 4)) <= 1 / 64
    assert bank.phi[0, 0] == pytest.approx(1.0, abs=1e-12)


def test_gabor_dc_leakage_and_removal():
    shape = (80, 64)
    raw = gabor_2d(shape, [0.35, 0.15, 0.07], 6)
    # the continuous Gabor's transform at zero is exp(-2 (pi sigma f)^2) = 2^-9 for one octave;
    # periodising on a small grid moves it a little for the widest envelope (f = 0.07)
    expected = math.exp(-2 * (math.pi * math.sqrt(math.log(2) / 2) / math.pi * 3) ** 2)
    leak = raw.meta["dc_leakage"]
    np.testing.assert_allclose(leak, np.abs(raw.psi[:, 0, 0]) / np.abs(raw.psi).max(axis=(1, 2)))
    # (the grid misses the exact peak, so max |psi| < 1 by up to ~2%)
    assert leak[raw.meta["xi"] > 0.1] == pytest.approx(np.full(12, expected), rel=0.03)
    assert np.all(leak > 1e-3)
    fixed = gabor_2d(shape, [0.35, 0.15, 0.07], 6, remove_dc=True)
    spatial, _ = fixed.spatial(centered=False)
    means = np.abs(spatial.mean(axis=(1, 2))) / np.abs(spatial).max(axis=(1, 2))
    assert means.max() <= 1e-12 and fixed.meta["dc_leakage"].max() <= 1e-12
    # the correction is the envelope: it changes the filters by about the leakage
    assert np.abs(fixed.psi - raw.psi).max() <= 2 * expected


def test_gabor_frame_bounds_reported():
    bank = gabor_2d((64, 64), [0.4, 0.2, 0.1, 0.05], 8, remove_dc=True)
    lower, upper = bank.frame_bounds()
    lp = bank.littlewood_paley()
    assert (lower, upper) == (lp.min(), lp.max())
    # one-octave Gabors with 8 orientations: measured 1.4e-3 <= A <= 1.0 at this grid (phi(0) = 1)
    print(f"gabor LP bounds (64x64, 4 freqs, 8 angles, remove_dc): {lower:.3g} {upper:.3g}")
    assert 1e-4 < lower < 0.1 and 0.9 < upper < 1.5


def test_gabor_explicit_sigma_and_lowpass():
    bank = gabor_2d((64, 64), [0.25, 0.125], 2, sigma=[3.0, 5.0], lowpass_sigma=7.0)
    np.testing.assert_allclose(bank.meta["sigma"], [3.0] * 2 + [5.0] * 2)
    assert bank.params["lowpass_sigma"] == 7.0
    one = gabor_2d((64, 64), 0.25, thetas=[0.3], sigma=2.0)
    assert len(one) == 1 and one.meta["angle"][0] == 0.3


@pytest.mark.parametrize("kwargs,error,match", [
    ({"shape": (64,)}, ValueError, "shape"),
    ({"shape": (64, 64, 3)}, ValueError, "shape"),
    ({"frequencies": [0.2, -0.1]}, ValueError, "frequencies"),
    ({"frequencies": [0.2, 0.6]}, ValueError, "frequencies"),
    ({"frequencies": [0.2, float("nan")]}, ValueError, "frequencies"),
    ({"frequencies": [0.2, 0.2]}, ValueError, "frequencies"),
    ({"frequencies": "abc"}, TypeError, "frequencies"),
    ({"L": 0}, ValueError, "L"),
    ({"L": True}, TypeError, "L"),
    ({"L": 4.0}, TypeError, "L"),
    ({"L": None, "thetas": [0.1, float("nan")]}, ValueError, "thetas"),
    ({"L": None, "thetas": True}, TypeError, "thetas"),
    ({"L": None, "thetas": []}, ValueError, "thetas"),
    ({"L": None, "thetas": [0.5, 0.5]}, ValueError, "thetas"),
    ({"bandwidth": 0.0}, ValueError, "bandwidth"),
    ({"bandwidth": float("nan")}, ValueError, "bandwidth"),
    ({"sigma": [1.0, 2.0, 3.0]}, ValueError, "sigma"),
    ({"sigma": -1.0}, ValueError, "sigma"),
    ({"lowpass_sigma": 0}, ValueError, "lowpass_sigma"),
])
def test_gabor_bad_input(kwargs, error, match):
    args = {"shape": (32, 32), "frequencies": [0.25, 0.1], "L": 4}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        gabor_2d(**args)


def test_gabor_count_and_angles_are_separate_parameters():
    # thetas=8.0 used to give one filter at 8 rad while thetas=8 gave eight: now L counts
    # orientations, thetas lists angles, and a bare number as thetas is refused
    counted = gabor_2d((32, 32), 0.25, L=8)
    assert len(counted) == 8
    np.testing.assert_allclose(counted.meta["angle"], np.arange(8) * math.pi / 8)
    assert len(gabor_2d((32, 32), 0.25)) == 8 and len(gabor_2d((32, 32), 0.25, 3)) == 3
    explicit = gabor_2d((32, 32), 0.25, thetas=[8.0])
    assert len(explicit) == 1 and explicit.meta["angle"][0] == 8.0
    assert explicit.params["L"] is None and tuple(explicit.params["thetas"]) == (8.0,)
    for number in (8, 8.0, np.float64(8.0), np.int64(8), np.array(8.0)):
        with pytest.raises(TypeError, match=r"thetas takes explicit angles.*L=8"):
            gabor_2d((32, 32), 0.25, thetas=number)
    with pytest.raises(TypeError, match=r"thetas takes explicit angles.*L=<int>"):
        gabor_2d((32, 32), 0.25, thetas=0.3)
    with pytest.raises(ValueError, match="either L .* or thetas"):
        gabor_2d((32, 32), 0.25, L=4, thetas=[0.0, 1.0])
    with pytest.raises(TypeError, match=r"thetas=\[0.0, 1.0\]"):
        gabor_2d((32, 32), 0.25, [0.0, 1.0])  # angles given positionally land in L


# ---------------------------------------------------------------------------------- log-Gabor
def test_log_gabor_zero_dc_and_real_design():
    bank = log_gabor_2d((96, 80))
    assert bank.is_real and bank.psi.shape == (24, 96, 80)
    assert np.all(bank.psi[:, 0, 0] == 0.0)
    spatial, _ = bank.spatial(centered=False)
    means = np.abs(spatial.mean(axis=(1, 2))) / np.abs(spatial).max(axis=(1, 2))
    assert means.max() <= 1e-12
    assert np.all(bank.meta["dc_leakage"] == 0.0)


def test_log_gabor_matches_kovesi_formula():
    """The filter at a grid point equals Kovesi's radial x angular formula (no taper)."""
    shape = (64, 48)
    bank = log_gabor_2d(shape, n_scales=3, n_orientations=4, min_wavelength=4, mult=2,
                        sigma_on_f=0.65, cutoff=None)
    fy, fx = np.fft.fftfreq(64)[:, None], np.fft.fftfreq(48)[None, :]
    r, a = np.hypot(fx, fy), np.arctan2(fy, fx)
    k = 1 * 4 + 3  # j = 1 (wavelength 8), theta = 3 (angle 3 pi / 4)
    with np.errstate(divide="ignore"):
        radial = np.exp(-np.log(r * 8) ** 2 / (2 * math.log(0.65) ** 2))
    d = np.abs(np.angle(np.exp(1j * (a - 3 * math.pi / 4))))
    expected = radial * np.exp(-d ** 2 / (2 * (math.pi / 4 / 1.5) ** 2))
    expected[0, 0] = 0
    np.testing.assert_allclose(bank.psi[k], expected, atol=1e-15)
    assert bank.meta["xi"][k] == 1 / 8 and bank.meta["angle"][k] == 3 * math.pi / 4
    assert (bank.meta["j"][k], bank.meta["theta"][k]) == (1, 3)
    # the peak sits at the centre frequency in the filter's direction (x column, y row)
    peak = np.unravel_index(np.argmax(bank.psi[k]), shape)
    assert abs(np.hypot(fx[0, peak[1]], fy[peak[0], 0]) - 1 / 8) < 1.5 / 48


def test_log_gabor_one_sided_and_taper():
    bank = log_gabor_2d((64, 64), n_scales=2, n_orientations=6)
    # theta = 0 covers the half-plane x > 0: tiny on the opposite side (analytic-like filter)
    fx = np.fft.fftfreq(64)[None, :].repeat(64, axis=0)
    assert bank.psi[0][fx < 0].max() <= 1e-4 * bank.psi[0].max()
    # Kovesi's Butterworth taper at 0.45 cycles/pixel: the corner (0.5, 0.5) is nearly zero
    assert bank.psi[:, 32, 32].max() < 1e-3


def test_log_gabor_frame_bounds_reported():
    bank = log_gabor_2d((64, 64))
    lower, upper = bank.frame_bounds()
    inner = bank.littlewood_paley()
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(64), np.fft.fftfreq(64)))
    inside = inner[f <= 0.4]
    print(f"log-Gabor LP bounds (64x64, defaults): all {lower:.3g} {upper:.3g}; "
          f"|f| <= 0.4: {inside.min():.3g} {inside.max():.3g}")
    # the Butterworth taper empties the corners: the global lower bound is ~0
    assert lower < 1e-6 and 0.5 < upper < 2
    # inside the disc the bank covers every frequency
    assert inside.min() > 0.05


@pytest.mark.parametrize("kwargs,error,match", [
    ({"shape": (64,)}, ValueError, "shape"),
    ({"n_scales": 0}, ValueError, "n_scales"),
    ({"n_orientations": -1}, ValueError, "n_orientations"),
    ({"min_wavelength": 0}, ValueError, "min_wavelength"),
    ({"min_wavelength": float("nan")}, ValueError, "min_wavelength"),
    ({"mult": 1.0}, ValueError, "mult"),
    ({"sigma_on_f": 1.2}, ValueError, "sigma_on_f"),
    ({"sigma_on_f": float("nan")}, ValueError, "sigma_on_f"),
    ({"angular_sigma": -0.1}, ValueError, "angular_sigma"),
    ({"cutoff": 0.7}, ValueError, "cutoff"),
    ({"cutoff_order": 0}, ValueError, "cutoff_order"),
    ({"n_scales": 2.5}, TypeError, "n_scales"),
])
def test_log_gabor_bad_input(kwargs, error, match):
    args = {"shape": (32, 32)}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        log_gabor_2d(**args)
