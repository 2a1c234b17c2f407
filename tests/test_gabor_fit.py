"""filters.fit_gabor: recovers synthetic Gabors, rejects noise, validates its input."""
from __future__ import annotations

import numpy as np
import pytest


from scatter.filters import GaborFit, fit_gabor, gabor_model


def _random_gabors(rng, K, shape=(16, 16)):
    h, w = shape
    return dict(x0=rng.uniform(0.35 * w, 0.65 * w, K), y0=rng.uniform(0.35 * h, 0.65 * h, K),
                theta=rng.uniform(0.05, np.pi - 0.05, K), frequency=rng.uniform(0.08, 0.3, K),
                phase=rng.uniform(-np.pi, np.pi, K), sigma_x=rng.uniform(1.5, 3.5, K),
                sigma_y=rng.uniform(1.5, 4.0, K), amplitude=rng.uniform(0.5, 2.0, K))


@pytest.mark.parametrize("shape", [(16, 16), (12, 20)])
def test_recovers_synthetic_gabors(shape):
    rng = np.random.default_rng(1)
    true = _random_gabors(rng, 40, shape)
    fit = fit_gabor(gabor_model(shape, **true))
    assert isinstance(fit, GaborFit)
    assert fit.r2.shape == (40,) and fit.r2.dtype == np.float64
    assert np.all(fit.r2 > 0.99)
    tol = dict(x0=0.05, y0=0.05, theta=0.01, frequency=0.002, phase=0.02, sigma_x=0.02,
               sigma_y=0.02, amplitude=0.01)
    for name, t in tol.items():
        err = fit.params[name] - true[name]
        if name == "phase":
            err = np.angle(np.exp(1j * err))
        assert fit.params[name].shape == (40,) and fit.params[name].dtype == np.float64
        assert np.abs(err).max() < t, name
    np.testing.assert_allclose(fit.fitted, gabor_model(shape, **fit.params), atol=1e-12)


def test_noisy_gabors_fit_well_and_conventions():
    rng = np.random.default_rng(2)
    true = _random_gabors(rng, 30)
    clean = gabor_model((16, 16), **true)
    noisy = clean + 0.05 * clean.std(axis=(1, 2), keepdims=True) * rng.standard_normal(clean.shape)
    fit = fit_gabor(noisy)
    assert np.median(fit.r2) > 0.98
    err = np.angle(np.exp(2j * (fit.params["theta"] - true["theta"]))) / 2
    assert np.median(np.abs(err)) < 0.05
    p = fit.params
    assert np.all((p["theta"] >= 0) & (p["theta"] < np.pi))
    assert np.all(p["frequency"] >= 0) and np.all(p["amplitude"] >= 0)
    assert np.all((p["phase"] > -np.pi - 1e-12) & (p["phase"] <= np.pi + 1e-12))


def test_orientation_convention_is_image_axes():
    # Vertical stripes (varying along columns, x): wave vector along +x, theta = 0.
    # Horizontal stripes (varying along rows, y): theta = pi/2.
    y, x = np.mgrid[0:16, 0:16]
    env = np.exp(-((x - 7.5) ** 2 + (y - 7.5) ** 2) / (2 * 3.0 ** 2))
    fit = fit_gabor(np.stack([env * np.cos(2 * np.pi * 0.2 * x), env * np.cos(2 * np.pi * 0.2 * y)]))
    np.testing.assert_allclose(fit.params["frequency"], 0.2, atol=1e-6)
    theta = fit.params["theta"]
    assert min(theta[0], np.pi - theta[0]) < 1e-6
    assert abs(theta[1] - np.pi / 2) < 1e-6


def test_random_filters_fit_badly():
    rng = np.random.default_rng(3)
    fit = fit_gabor(rng.standard_normal((100, 16, 16)))
    assert np.median(fit.r2) < 0.3


def test_single_filter_and_constant_filter():
    g = gabor_model((16, 16), 8, 7, 1.0, 0.15, 0.3, 2.5, 3.0, 1.0)
    fit = fit_gabor(g)
    assert fit.r2.shape == (1,) and fit.params["x0"].shape == (1,)
    assert fit.r2[0] > 0.99
    const = fit_gabor(np.ones((2, 8, 8)))
    assert np.all(np.isfinite(const.r2)) and np.all(const.r2 == 0)


@pytest.mark.parametrize("bad, exc", [
    (np.zeros((2, 3, 4, 5)), ValueError),
    (np.zeros(16), ValueError),
    (np.zeros((0, 16, 16)), ValueError),
    (np.zeros((2, 2, 16)), ValueError),
    (np.full((16, 16), np.nan), ValueError),
    (np.zeros((16, 16), dtype=complex), TypeError),
    (np.array([["a"] * 4] * 4), TypeError),
])
def test_bad_input(bad, exc):
    with pytest.raises(exc, match="filters"):
        fit_gabor(bad)


def test_bad_n_iter():
    with pytest.raises(ValueError, match="n_iter"):
        fit_gabor(np.zeros((4, 4)), n_iter=-1)
