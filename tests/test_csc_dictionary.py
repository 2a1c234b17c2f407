"""Convolutional dictionary learning: descent, constraints, estimator conventions, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from models import tikhonov_split
from models.csc_dictionary import ConvDictionaryLearning


@pytest.fixture(scope="module")
def images():
    """Four high-passed 32x32 crops of scikit-image's bundled natural images (float64)."""
    from skimage import data
    ims = [data.camera(), data.moon(), data.coins(), data.text()]
    crops = np.stack([im[100:132, 100:132].astype(np.float64) / 255 for im in ims])
    return tikhonov_split(torch.from_numpy(crops), 5.0)[1].numpy()


def test_alternating_fit_descends_and_respects_constraints(images):
    dl = ConvDictionaryLearning(n_filters=8, filter_size=6, lmbda=0.05, n_iter=6,
                                coding_iter=15, dict_iter=8, dtype="float64", random_state=0)
    assert dl.fit(images) is dl
    h = np.array(dl.history_)
    assert np.all(np.diff(h) < 0), h
    assert dl.dictionary_.shape == (8, 1, 6, 6)
    assert np.all(np.linalg.norm(dl.dictionary_.reshape(8, -1), axis=1) <= 1 + 1e-9)
    maps = dl.transform(images[:2], max_iter=20)
    assert maps.shape == (2, 8, 32, 32) and bool((maps == 0).any())
    try:
        from filters import fit_gabor
    except ImportError:
        return
    r2 = fit_gabor(dl.dictionary_[:, 0]).r2
    print("fit_gabor R² of learned filters:", np.round(np.sort(r2), 2))
    assert np.all((r2 <= 1) & np.isfinite(r2))


def test_minibatch_mode_and_estimator_conventions(images):
    dl = ConvDictionaryLearning(n_filters=4, filter_size=5, lmbda=0.05, n_iter=3, batch_size=2,
                                coding_iter=5, dict_iter=3, random_state=1)
    assert clone(dl).get_params() == dl.get_params()
    dl.fit(images)
    assert dl.n_steps_ == 3 and len(dl.history_) == 3
    before = dl.dictionary_.copy()
    dl.partial_fit(images[:2])
    assert dl.n_steps_ == 4 and not np.array_equal(before, dl.dictionary_)
    assert dl.set_params(lmbda=0.2).lmbda == 0.2


def test_bad_input(images):
    with pytest.raises(ValueError, match="lmbda"):
        ConvDictionaryLearning(lmbda=-1).fit(images)
    with pytest.raises(ValueError, match="filter_size"):
        ConvDictionaryLearning(filter_size=64).fit(images)
    with pytest.raises(ValueError, match="dtype"):
        ConvDictionaryLearning(dtype="int8").fit(images)
    with pytest.raises(ValueError, match="NaN"):
        ConvDictionaryLearning().fit(images * np.nan)
    with pytest.raises(ValueError, match="shape"):
        ConvDictionaryLearning().fit(images[0, 0])
    with pytest.raises(ValueError, match="not fitted"):
        ConvDictionaryLearning().transform(images)
    dl = ConvDictionaryLearning(n_filters=2, filter_size=3, n_iter=1, coding_iter=2,
                                dict_iter=1).fit(images)
    with pytest.raises(ValueError, match="channel"):
        dl.partial_fit(np.repeat(images[:, None], 3, axis=1))
