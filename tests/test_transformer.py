"""ScatteringTransformer: scikit-learn conventions, pipelines and bad input."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from scatter import Scattering2D, ScatteringTransformer


def test_pipeline_classifies_digits():
    X, y = load_digits(return_X_y=True)
    model = make_pipeline(ScatteringTransformer(J=1, shape=(8, 8), L=8), LogisticRegression(max_iter=3000))
    score = model.fit(X[:1200], y[:1200]).score(X[1200:], y[1200:])
    assert score > 0.9


def test_features_equal_the_network_and_batches_do_not_matter():
    X = np.random.default_rng(0).standard_normal((37, 16, 16))
    features = ScatteringTransformer(J=2, shape=(16, 16), L=4, batch_size=5).fit_transform(X)
    expected = Scattering2D(2, (16, 16), L=4)(X.astype(np.float32)).reshape(37, -1)
    assert features.shape == expected.shape == (37, 25 * 4 * 4)
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)
    flat = ScatteringTransformer(J=2, shape=(16, 16), L=4, batch_size=64).transform(X.reshape(37, -1))
    np.testing.assert_allclose(flat, features, rtol=1e-5, atol=1e-6)


def test_params_clone_and_grid_search():
    est = ScatteringTransformer(J=1, shape=(8, 8))
    assert est.get_params()["J"] == 1 and clone(est).get_params() == est.get_params()
    X, y = load_digits(return_X_y=True)
    search = GridSearchCV(make_pipeline(ScatteringTransformer(shape=(8, 8)), LogisticRegression(max_iter=2000)),
                          {"scatteringtransformer__J": [1, 2]}, cv=2)
    search.fit(X[:400], y[:400])
    assert search.best_params_["scatteringtransformer__J"] in (1, 2)


def test_log_and_float64():
    X = np.abs(np.random.default_rng(1).standard_normal((4, 8, 8)))
    plain = ScatteringTransformer(J=1, shape=(8, 8), dtype="float64").transform(X)
    logged = ScatteringTransformer(J=1, shape=(8, 8), dtype="float64", log=True).transform(X)
    assert plain.dtype == np.float64
    np.testing.assert_allclose(logged, np.log(np.abs(plain) + 1e-6))


@pytest.mark.parametrize("kwargs,X,error,match", [
    (dict(J=1), np.zeros((2, 64)), ValueError, "shape must be given"),
    (dict(J=1, shape=(8, 8)), np.zeros((2, 60)), ValueError, "n_samples"),
    (dict(J=1, shape=(8, 8), dtype="float16"), np.zeros((2, 64)), ValueError, "dtype"),
    (dict(J=1, shape=(8, 8), batch_size=0), np.zeros((2, 64)), ValueError, "batch_size"),
    (dict(J=1, shape=(8, 8)), np.array([["a"] * 64]), TypeError, "real numbers"),
    (dict(J=1, shape=(8, 8, 8)), np.zeros((2, 512)), ValueError, "1 or 2 dimensions"),
])
def test_bad_input(kwargs, X, error, match):
    with pytest.raises(error, match=match):
        ScatteringTransformer(**kwargs).fit(X).transform(X)
