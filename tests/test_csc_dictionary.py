"""Convolutional dictionary learning: descent, constraints, estimator conventions, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from scatter.models import tikhonov_split
from scatter.models.csc_dictionary import ConvDictionaryLearning


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
        from scatter.filters import fit_gabor
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
    with pytest.raises(TypeError, match="reseed"):
        ConvDictionaryLearning(reseed="yes").fit(images)
    with pytest.raises(TypeError, match="zero_mean"):
        ConvDictionaryLearning(zero_mean=1).fit(images)
    with pytest.raises(ValueError, match="not fitted"):
        ConvDictionaryLearning().transform(images)
    dl = ConvDictionaryLearning(n_filters=2, filter_size=3, n_iter=1, coding_iter=2,
                                dict_iter=1).fit(images)
    with pytest.raises(ValueError, match="channel"):
        dl.partial_fit(np.repeat(images[:, None], 3, axis=1))


def test_zero_mean_filters_and_reseeding_of_unused_atoms(images):
    from scatter.models import ConvSparseCoding
    kw = dict(n_filters=6, filter_size=5, lmbda=0.4, n_iter=1, coding_iter=10, dict_iter=5,
              init="random", dtype="float64", random_state=0)
    s = torch.from_numpy(images)[:, None]
    D0 = ConvDictionaryLearning(**kw)._init_dictionary(1, s)
    maps = ConvSparseCoding(D0, kw["lmbda"], max_iter=10, tol=0).solve(s).maps
    unused = (maps == 0).flatten(2).all(2).all(0).numpy()
    assert unused.any() and not unused.all()
    plain = ConvDictionaryLearning(reseed=False, **kw).fit(images).dictionary_
    seeded = ConvDictionaryLearning(reseed=True, **kw).fit(images).dictionary_
    np.testing.assert_array_equal(seeded[~unused], plain[~unused])
    assert not np.allclose(seeded[unused], plain[unused])
    np.testing.assert_allclose(np.linalg.norm(seeded[unused].reshape(unused.sum(), -1), axis=1), 1)
    for d in (plain, seeded):                                  # zero_mean=True by default
        np.testing.assert_allclose(d.mean(axis=(1, 2, 3)), 0, atol=1e-12)
    free = ConvDictionaryLearning(zero_mean=False, reseed=False, **kw).fit(images).dictionary_
    assert np.abs(free.mean(axis=(1, 2, 3))).max() > 1e-6


@pytest.mark.parametrize("B, M", [(2, 5), (6, 3)])
def test_lipschitz_is_largest_gram_eigenvalue(B, M):
    from scatter.models.csc_dictionary import _lipschitz
    g = torch.Generator().manual_seed(B)
    Xf = torch.randn(B, M, 4, 3, dtype=torch.complex128, generator=g)
    x = Xf.flatten(2).permute(2, 0, 1)                        # (F, B, M)
    gram = torch.einsum("fkm,fkn->fmn", x, x.conj())           # Σ_k x_k x_kᴴ, (F, M, M)
    ref = torch.linalg.eigvalsh(gram).amax()
    torch.testing.assert_close(_lipschitz(Xf), ref)
