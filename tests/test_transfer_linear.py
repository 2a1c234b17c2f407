"""The linear rows of the transfer study (benchmarks/transfer_linear.py): well-formed rows above
chance, the KTH-TIPS splits, the classifier against scikit-learn's, and bad input."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

# loaded by path: benchmarks/ holds a filters.py that would shadow the filters package
_spec = importlib.util.spec_from_file_location(
    "transfer_linear", Path(__file__).resolve().parents[1] / "benchmarks" / "transfer_linear.py")
tl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tl)

KEYS = {"method", "dataset", "accuracy", "seconds", "notes"}


def _stripes(n: int, size: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy oriented stripes, 3 classes by orientation (0, 45, 90 degrees), values in [0, 1]."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    i, j = np.mgrid[:size, :size]
    X = np.empty((n, size, size), np.float32)
    for k, c in enumerate(y):
        phase = rng.uniform(0, 2 * np.pi)
        u = (i, i + j, j)[c] * (2 * np.pi / 4)
        X[k] = 0.5 + 0.3 * np.cos(u + phase) + 0.15 * rng.standard_normal((size, size))
    return np.clip(X, 0, 1), y.astype(np.int64)


def _check_rows(rows, dataset):
    assert [r["method"] for r in rows] == list(tl.METHODS)
    for r in rows:
        assert KEYS <= set(r)
        assert r["dataset"] == dataset
        assert 0.0 <= r["accuracy"] <= 1.0 and r["seconds"] >= 0.0
        assert isinstance(r["notes"], str) and r["notes"]


def test_linear_rows_synthetic_above_chance():
    X, y = _stripes(240)
    rows = tl.linear_rows("mnist", X[:150], y[:150], X[150:], y[150:], quick=True)
    _check_rows(rows, "mnist")
    # stripes differ in orientation: scattering separates them (chance is 1/3)
    for r in rows[1:]:
        assert r["accuracy"] > 0.8, r
    assert rows[2]["n_features"] > rows[1]["n_features"] > 0


def test_linear_rows_colour_channels():
    X, y = _stripes(120, seed=1)
    Xc = np.stack([X, X[:, ::-1], X.transpose(0, 2, 1)], axis=1)  # (N, 3, H, W)
    rows = tl.linear_rows("cifar10", Xc[:90], y[:90], Xc[90:], y[90:], quick=True)
    _check_rows(rows, "cifar10")
    assert rows[0]["n_features"] == 3 * 16 * 16
    assert rows[2]["accuracy"] > 0.5


def test_order1_features_are_the_first_channels_of_order2():
    X, _ = _stripes(6)
    o1, o2 = tl.scattering_features(X, J=2, L=4)
    n1 = 1 + 2 * 4
    assert o2.reshape(6, -1, 4, 4)[:, :n1].reshape(6, -1).tolist() == o1.tolist()
    p1, p2 = tl.scattering_features(X, J=2, L=4, pool=True)
    assert p1.shape == (6, n1) and p2.shape == (6, 1 + 8 + 16)
    np.testing.assert_allclose(p2, o2.reshape(6, -1, 4, 4).mean(axis=(2, 3)), rtol=1e-5, atol=1e-5)


def test_fit_logistic_matches_scikit_learn():
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(300, 12, n_informative=6, n_classes=3, random_state=0)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    C = 0.5
    W, b = tl.fit_logistic(torch.from_numpy(X), torch.from_numpy(y), 3, C, max_iter=500, tol=1e-7)
    ref = LogisticRegression(C=C, tol=1e-10, max_iter=5000).fit(X.astype(np.float64), y)
    # the same strictly convex objective: the same minimiser (softmax's shift freedom is removed
    # by the penalty on W; b is free in both, so compare the centred intercepts)
    np.testing.assert_allclose(W.numpy(), ref.coef_, atol=2e-3)
    np.testing.assert_allclose(b.numpy() - b.numpy().mean(), ref.intercept_ - ref.intercept_.mean(),
                               atol=2e-3)


def test_select_and_fit_uses_only_training_data():
    X, y = _stripes(120)
    F = X.reshape(120, -1)
    # test labels scrambled: the chosen C and the validation scores cannot depend on them
    a = tl.select_and_fit(F[:90], y[:90], F[90:], y[90:], C_grid=(0.01, 1.0), max_iter=30)
    b = tl.select_and_fit(F[:90], y[:90], F[90:], (y[90:] + 1) % 3, C_grid=(0.01, 1.0), max_iter=30)
    assert a["C"] == b["C"] and a["val_accuracy"] == b["val_accuracy"]
    assert a["accuracy"] + b["accuracy"] <= 1.0 + 1e-9  # the two label sets disagree everywhere


def test_kth_splits_balanced_disjoint_reproducible():
    labels = np.repeat(np.arange(10), 81)
    splits = list(tl.kth_splits(labels, 40, 10, seed=3))
    assert len(splits) == 10
    for train, test in splits:
        assert np.bincount(labels[train]).tolist() == [40] * 10
        assert np.bincount(labels[test]).tolist() == [41] * 10
        assert np.intersect1d(train, test).size == 0
        assert np.union1d(train, test).tolist() == list(range(810))
    again = list(tl.kth_splits(labels, 40, 10, seed=3))
    assert all((a[0] == b[0]).all() and (a[1] == b[1]).all() for a, b in zip(splits, again))
    other = next(tl.kth_splits(labels, 40, 10, seed=4))
    assert not np.array_equal(other[0], splits[0][0])
    assert not np.array_equal(splits[0][0], splits[1][0])  # splits differ from each other


def test_kth_rows_quick_synthetic():
    X, y = _stripes(60, size=32)
    rows = tl.kth_rows(X, y, n_train_per_class=8, n_splits=2, quick=True)
    _check_rows(rows, "kth_tips")
    for r in rows:
        assert r["n_splits"] == 2 and len(r["accuracies"]) == 2
        assert r["std"] == pytest.approx(np.std(r["accuracies"]))
        assert r["n_features"] == (32 * 32 if r is rows[0] else r["n_features"])
    assert rows[2]["accuracy"] > 0.6


def test_kth_rows_real_subset(shared_data):
    root = shared_data / "kth_tips_grey"
    if not root.is_dir():
        pytest.skip(f"KTH-TIPS not found in {shared_data}")
    from scatter.models import load_image_folder

    X, y, classes = load_image_folder(root, size=(64, 64), fit="crop", max_per_class=12)
    assert len(classes) == 10
    rows = tl.kth_rows(X, y, quick=True)
    _check_rows(rows, "kth_tips")
    assert rows[2]["accuracy"] > 0.3  # chance is 0.1


def test_mnist_real_subset(shared_data):
    from scatter.models import load_mnist

    Xtr, ytr = load_mnist(shared_data / "mnist", "train", max_items=400)
    Xte, yte = load_mnist(shared_data / "mnist", "test", max_items=200)
    rows = tl.linear_rows("mnist", Xtr, ytr, Xte, yte, quick=True)
    _check_rows(rows, "mnist")
    assert rows[2]["accuracy"] > 0.8  # chance is 0.1


@pytest.mark.parametrize("kwargs, match", [
    (dict(dataset="svhn"), "dataset"),
    (dict(y_train=np.zeros(5, np.int64)), "y_train"),
    (dict(y_test=np.zeros(3, np.int64)), "y_test"),
    (dict(X_train=np.full((30, 16, 16), 2.0, np.float32)), "X_train"),
    (dict(X_test=np.zeros((20, 8), np.float32)), "X_test"),
    (dict(y_train=np.linspace(0, 1, 30)), "y_train"),
])
def test_linear_rows_bad_input(kwargs, match):
    X, y = _stripes(50)
    args = dict(dataset="mnist", X_train=X[:30], y_train=y[:30], X_test=X[30:], y_test=y[30:])
    args.update(kwargs)
    dataset = args.pop("dataset")
    with pytest.raises(ValueError, match=match):
        tl.linear_rows(dataset, **args, quick=True)


def test_kth_bad_input():
    labels = np.repeat(np.arange(3), 10)
    with pytest.raises(ValueError, match="n_train_per_class"):
        next(tl.kth_splits(labels, n_train_per_class=10))
    with pytest.raises(ValueError, match="n_splits"):
        next(tl.kth_splits(labels, 4, n_splits=0))
    with pytest.raises(ValueError, match="labels"):
        tl.kth_rows(np.zeros((30, 32, 32), np.float32), labels[:20], quick=True)


def test_feature_cache_gives_the_same_features():
    X, y = _stripes(40, size=32, seed=5)
    tl._CACHE.clear()
    first = tl._feature_sets("kth_tips", X)[0]
    assert len(tl._CACHE) == 40
    # a new call on a mix of seen and unseen images, in another order
    mixed = np.concatenate([X[20:][::-1], _stripes(5, size=32, seed=6)[0]])
    again = tl._feature_sets("kth_tips", mixed)[0]
    for method in tl.METHODS[1:]:
        np.testing.assert_array_equal(again[method][:20], first[method][20:][::-1])
    fresh, _ = tl.scattering_features(mixed[20:], tl._scales("kth_tips", (32, 32)), pool=True)
    np.testing.assert_allclose(again[tl.METHODS[1]][20:], fresh, rtol=1e-6)
    tl._CACHE.clear()


def test_fit_logistic_more_features_than_samples_matches_scikit_learn():
    # d > n takes the exact span reformulation: the same minimiser as scikit-learn's
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    X = rng.standard_normal((60, 500)).astype(np.float32) + 0.3 * y[:, None].astype(np.float32)
    C = 0.05
    W, b = tl.fit_logistic(torch.from_numpy(X), torch.from_numpy(y), 3, C, max_iter=500, tol=1e-7)
    ref = LogisticRegression(C=C, tol=1e-10, max_iter=5000).fit(X.astype(np.float64), y)
    np.testing.assert_allclose(W.numpy(), ref.coef_, atol=2e-3)
    np.testing.assert_allclose(b.numpy() - b.numpy().mean(), ref.intercept_ - ref.intercept_.mean(),
                               atol=2e-3)
