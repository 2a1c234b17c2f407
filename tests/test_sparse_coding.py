"""models.SparseCoding, the natural-image patches and the dictionary summary (issue 6)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.decomposition import sparse_encode
from sklearn.exceptions import NotFittedError

from scatter.filters import fit_gabor, gabor_model
from scatter.models.natural_images import (extract_patches, load_images, natural_images,
                                   natural_patches, whiten_images)
from scatter.models.sparse_coding import SparseCoding, infer_codes, sparse_objective
from scatter.models.sparse_summary import dictionary_summary, plot_dictionary


@pytest.fixture(scope="module")
def white_images():
    return whiten_images(natural_images(["camera", "astronaut", "grass", "brick", "coffee"]))


@pytest.fixture(scope="module")
def patches8(white_images):
    return extract_patches(white_images, 8, 8192, random_state=0)


# ------------------------------------------------------------------------- the main result
def test_atoms_become_gabor_like(patches8):
    """Short Olshausen-Field run (8x8, 64 atoms, 16k patches seen): the atoms go from noise to
    localised, oriented, band-pass ones."""
    model = SparseCoding(64, alpha=0.4, n_epochs=2, batch_size=256, random_state=0)
    assert model.fit(patches8) is model
    start = SparseCoding(64, alpha=0.4, random_state=0)
    start._initialise(torch.as_tensor(patches8[:1]))
    r2_init = fit_gabor(start._D.T.numpy().reshape(-1, 8, 8)).r2
    r2_end = fit_gabor(model.dictionary_.reshape(-1, 8, 8)).r2
    assert np.median(r2_end) > np.median(r2_init) + 0.3
    assert np.mean(r2_end > 0.8) >= np.mean(r2_init > 0.8) + 0.25
    loss = model.loss_history_
    assert loss.shape == (model.n_steps_,) == (64,)
    assert loss[-8:].mean() < 0.7 * loss[:4].mean()
    codes = model.transform(patches8[:1000])
    rel = ((patches8[:1000] - model.inverse_transform(codes)) ** 2).sum() / (patches8[:1000] ** 2).sum()
    assert rel < 0.2 and 0 < np.mean(codes != 0) < 0.4
    np.testing.assert_allclose(np.linalg.norm(model.dictionary_, axis=1), 1.0, atol=1e-4)


# ------------------------------------------------------------------------------- inference
def test_fista_matches_sklearn_lasso():
    rng = np.random.default_rng(0)
    D = rng.standard_normal((64, 32))
    D /= np.linalg.norm(D, axis=0)
    X = rng.standard_normal((20, 64))
    ours = infer_codes(torch.as_tensor(X), torch.as_tensor(D), 0.5, "l1", 2000).numpy()
    # sklearn's lasso_cd minimises 1/2 ||x - a D||^2 + alpha ||a||_1 per row, as we do
    ref = sparse_encode(X, D.T, algorithm="lasso_cd", alpha=0.5, max_iter=10000)
    obj = lambda C: sparse_objective(torch.as_tensor(X), torch.as_tensor(C), torch.as_tensor(D), 0.5)
    assert float(obj(ours)) <= float(obj(ref)) + 1e-6
    np.testing.assert_allclose(ours, ref, atol=1e-3)


def test_log_prior_inference_is_stationary():
    rng = np.random.default_rng(1)
    D = torch.as_tensor(rng.standard_normal((64, 48)))
    D /= D.norm(dim=0)
    X = torch.as_tensor(rng.standard_normal((10, 64)))
    a = infer_codes(X, D, 0.3, "log", 3000)
    grad = (a @ D.T - X) @ D + 0.3 * 2 * a / (1 + a * a)
    assert grad.abs().max() < 1e-5
    assert sparse_objective(X, a, D, 0.3, "log") < sparse_objective(X, torch.zeros_like(a), D, 0.3, "log")


def test_log_prior_learning_runs(patches8):
    model = SparseCoding(16, alpha=0.5, penalty="log", batch_size=512, random_state=0,
                         dict_update="sgd", learning_rate=0.5)
    model.partial_fit(patches8[:2048])
    assert model.n_steps_ == 4 and np.all(np.isfinite(model.dictionary_))
    assert model.objective(patches8[:200]) < 0.5 * (patches8[:200] ** 2).sum(1).mean()


# ------------------------------------------------------------------------- estimator API
def test_sklearn_conventions_and_streaming(patches8):
    model = SparseCoding(8, alpha=0.2, batch_size=100, random_state=3)
    params = model.get_params()
    assert params["n_atoms"] == 8 and params["alpha"] == 0.2
    twin = clone(model).set_params(alpha=0.3)
    assert twin.alpha == 0.3 and not hasattr(twin, "dictionary_")
    with pytest.raises(NotFittedError):
        model.transform(patches8[:5])
    model.partial_fit(patches8[:250])
    assert model.n_steps_ == 2 and model.dictionary_.shape == (8, 64)
    first = model.dictionary_.copy()
    model.partial_fit(patches8[250:300])
    assert model.n_steps_ == 3 and not np.allclose(first, model.dictionary_)
    assert model.components_ is model.dictionary_
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(np.zeros((10, 16)))
    # same seed, same data: same dictionary
    a = SparseCoding(8, alpha=0.2, batch_size=100, random_state=3).fit(patches8[:300])
    b = SparseCoding(8, alpha=0.2, batch_size=100, random_state=3).fit(patches8[:300])
    np.testing.assert_array_equal(a.dictionary_, b.dictionary_)
    assert model.score(patches8[:50]) == pytest.approx(-model.objective(patches8[:50]))


def test_torch_in_torch_out(patches8):
    model = SparseCoding(8, alpha=0.2, batch_size=128, random_state=0).fit(torch.as_tensor(patches8[:256]))
    codes = model.transform(torch.as_tensor(patches8[:10]))
    assert isinstance(codes, torch.Tensor) and codes.shape == (10, 8)
    rec = model.inverse_transform(codes)
    assert isinstance(rec, torch.Tensor) and rec.shape == (10, 64)
    np.testing.assert_allclose(model.transform(patches8[:10]), codes.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("params, exc, match", [
    (dict(alpha=-0.1), ValueError, "alpha"),
    (dict(n_atoms=0), ValueError, "n_atoms"),
    (dict(n_atoms=2.5), TypeError, "n_atoms"),
    (dict(penalty="l0"), ValueError, "penalty"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(dict_update="adam"), ValueError, "dict_update"),
    (dict(init="svd"), ValueError, "init"),
    (dict(alpha=float("nan")), ValueError, "alpha"),
])
def test_bad_params(params, exc, match):
    with pytest.raises(exc, match=match):
        SparseCoding(**params).fit(np.ones((10, 4)))


def test_bad_data():
    X = np.ones((10, 4))
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SparseCoding(2).fit(X)
    with pytest.raises(ValueError, match="shape"):
        SparseCoding(2).fit(np.ones((3, 4, 4)))
    with pytest.raises(TypeError, match="real"):
        SparseCoding(2).fit(np.array([["a", "b"]], dtype=object))
    with pytest.raises(ValueError, match="Complex"):
        SparseCoding(2).fit(np.ones((3, 4), dtype=complex))
    with pytest.raises(TypeError, match="sparse"):
        import scipy.sparse
        SparseCoding(2).fit(scipy.sparse.eye(4, format="csr"))


# -------------------------------------------------------------------------- patches
def test_whitening_flattens_spectrum_and_normalises():
    rng = np.random.default_rng(0)
    # 1/f noise: amplitude spectrum ~ 1/f, as natural images
    n = 128
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n)))
    spec = np.fft.fft2(rng.standard_normal((n, n))) / np.maximum(f, 1 / n)
    pink = np.fft.ifft2(spec).real
    white = whiten_images(pink, variance=2.0)[0]
    assert white.var() == pytest.approx(2.0) and abs(white.mean()) < 0.05
    power = np.abs(np.fft.fft2(white)) ** 2
    band = lambda lo, hi: power[(f >= lo) & (f < hi)].mean()
    # whitened: the power no longer falls as 1/f^2 (x16 between these bands) but is flat
    assert 0.5 < band(0.05, 0.1) / band(0.2, 0.25) < 2.0


def test_extract_patches_shapes_and_errors(white_images):
    P = extract_patches(white_images, (4, 6), 101, random_state=0)
    assert P.shape == (101, 24) and P.dtype == np.float32
    np.testing.assert_array_equal(P, extract_patches(white_images, (4, 6), 101, random_state=0))
    with pytest.raises(ValueError, match="patch_size"):
        extract_patches([np.zeros((10, 10))], 12, 5)
    with pytest.raises(ValueError, match="n_patches"):
        extract_patches([np.zeros((10, 10))], 4, 0)
    bad = np.zeros((10, 10))
    bad[1, 1] = np.inf
    with pytest.raises(ValueError, match="inf"):
        extract_patches([bad], 4, 5)
    with pytest.raises(ValueError, match="inf"):
        whiten_images([bad])
    with pytest.raises(ValueError, match="constant"):
        whiten_images([np.ones((10, 10))])
    with pytest.raises(ValueError, match="skimage.data"):
        natural_images(["not_an_image"])
    assert natural_patches(10, 8, images=[np.random.default_rng(0).random((20, 20))]).shape == (10, 64)


def test_load_images_from_folder(tmp_path):
    from skimage.io import imsave
    rng = np.random.default_rng(0)
    imsave(tmp_path / "a.png", (rng.random((20, 30)) * 255).astype(np.uint8))
    imsave(tmp_path / "b.png", (rng.random((25, 25, 3)) * 255).astype(np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    images = load_images(tmp_path)
    assert [im.shape for im in images] == [(20, 30), (25, 25)]
    assert all(im.dtype == np.float64 and 0 <= im.min() and im.max() <= 1 for im in images)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png"):
        load_images(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image"):
        load_images(tmp_path / "empty")


# -------------------------------------------------------------------------- summary
def test_summary_of_a_gabor_dictionary(tmp_path):
    theta = np.repeat(np.arange(8) * np.pi / 8 + 0.1, 4)
    atoms = gabor_model((16, 16), 7.5, 7.5, theta, 0.15, 0.0, 2.5, 3.0, 1.0)
    rng = np.random.default_rng(0)
    atoms = np.concatenate([atoms, rng.standard_normal((8, 16, 16))])
    codes = rng.laplace(size=(500, 40)) * (rng.random((500, 40)) < 0.1)
    patches = codes @ atoms.reshape(40, -1)
    s = dictionary_summary(atoms.reshape(40, -1), codes, patches)
    assert s["gabor_fraction_r2_0.8"] == pytest.approx(32 / 40)
    assert s["gabor_fraction_r2_0.8_freq_1/16"] == pytest.approx(32 / 40)
    np.testing.assert_array_equal(s["orientation_hist"], [4] * 8)
    assert s["orientation_min_over_max"] == 1.0
    np.testing.assert_array_equal(s["frequency_hist"], [0, 0, 0, 32, 0])  # 0.15 in [1/8, 1/4)
    assert s["relative_mse"] == pytest.approx(0.0, abs=1e-12)
    assert s["active_fraction"] == pytest.approx(np.mean(codes != 0))
    assert s["code_kurtosis"] > 10 and s["code_entropy_bits"] < 3
    plot_dictionary(atoms, tmp_path / "d.png", r2=s["fit"].r2, title="test")
    assert (tmp_path / "d.png").stat().st_size > 1000


def test_passes_sklearn_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator
    results = check_estimator(SparseCoding(n_atoms=3, batch_size=16, transform_iter=20),
                              on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed, failed
