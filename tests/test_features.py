"""scatter.extract_features: equal to the transform applied directly, batching invariance,
labels, normalisation, writing to disk, and bad input."""
import numpy as np
import pytest
import torch

from scatter.models.datasets import ImageArrayDataset
from scatter import Scattering2D, extract_features


@pytest.fixture(scope="module")
def net():
    return Scattering2D(J=2, shape=(16, 16), L=4)


@pytest.fixture(scope="module")
def images():
    return torch.rand(11, 16, 16, generator=torch.Generator().manual_seed(0))


def test_equals_transform_applied_directly(net, images):
    direct = net(images).numpy()
    for batch_size in (1, 4, 11, 64):
        feats = extract_features(images, net, batch_size=batch_size)
        assert feats.shape == direct.shape == (11, 25, 4, 4)
        assert feats.dtype == np.float32
        np.testing.assert_allclose(feats, direct, rtol=1e-6, atol=1e-7)
    # numpy input, and a plain callable
    np.testing.assert_allclose(extract_features(images.numpy(), lambda x: net(x) * 2, batch_size=5),
                               2 * direct, rtol=1e-6, atol=1e-7)


def test_dataset_pairs_list_and_generator(net, images):
    labels = np.arange(11) % 3
    direct = net(images[:, None]).numpy()
    ds = ImageArrayDataset(images.numpy(), labels)  # float images: kept as they are
    feats, lab = extract_features(ds, net, batch_size=4, return_labels=True)
    np.testing.assert_allclose(feats, direct, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(lab, labels)
    assert lab.dtype == np.int64
    # an iterable without a length (generator) of bare images, and a list of pairs
    gen = (images[i] for i in range(11))
    np.testing.assert_allclose(extract_features(gen, net, batch_size=3), direct[:, 0],
                               rtol=1e-6, atol=1e-7)
    pairs = [(images[i].numpy(), int(labels[i])) for i in range(11)]
    feats2, lab2 = extract_features(pairs, net, batch_size=6, return_labels=True)
    np.testing.assert_allclose(feats2, direct[:, 0], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(lab2, labels)
    # uint8 images reach the transform unscaled (as float)
    u8 = (images.numpy() * 255).astype(np.uint8)
    np.testing.assert_allclose(extract_features(u8, net),
                               net(torch.from_numpy(u8).float()).numpy(), rtol=1e-6)


def test_normalisations(net, images):
    direct = net(images).numpy().astype(np.float64)
    log = extract_features(images, net, batch_size=4, normalize="log")
    np.testing.assert_allclose(log, np.log(np.abs(direct) + 1e-6), rtol=1e-5, atol=1e-5)
    std = extract_features(images, net, batch_size=4, normalize="standardize")
    mean = direct.mean(axis=(0, 2, 3), keepdims=True)
    spread = direct.std(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(std, (direct - mean) / spread, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(std.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(std.std(axis=(0, 2, 3)), 1, rtol=1e-4)
    # flat (N, F) outputs: one channel per feature
    flat = extract_features(images, lambda x: x.reshape(len(x), -1), normalize="standardize")
    np.testing.assert_allclose(flat.std(axis=0), 1, rtol=1e-4)


def test_writes_npy_atomically(net, images, tmp_path):
    out = tmp_path / "f.npy"
    feats = extract_features(images, net, batch_size=4, out=out, normalize="standardize")
    assert isinstance(feats, np.memmap) and not feats.flags.writeable
    np.testing.assert_array_equal(np.load(out), feats)
    np.testing.assert_allclose(feats, extract_features(images, net, normalize="standardize"),
                               rtol=1e-5, atol=1e-6)
    # unknown length (generator) to disk; nothing but the outputs remains in the folder
    out2 = tmp_path / "g.npy"
    extract_features((im for im in images), net, batch_size=4, out=out2)
    np.testing.assert_allclose(np.load(out2), net(images).numpy(), rtol=1e-6, atol=1e-7)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.npy", "g.npy"]

    def failing(x):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        extract_features(images, failing, out=tmp_path / "h.npy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.npy", "g.npy"]


def test_progress_bar(net, images, capsys):
    extract_features(images, net, batch_size=1, progress=True)
    assert "features" in capsys.readouterr().err


def test_bad_input(net, images, tmp_path):
    with pytest.raises(ValueError, match="normalize must be one of"):
        extract_features(images, net, normalize="l2")
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        extract_features(images, net, batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        extract_features(images, net, batch_size=2.5)
    with pytest.raises(ValueError, match="progress must be one of"):
        extract_features(images, net, progress="yes")
    with pytest.raises(TypeError, match="transform must be"):
        extract_features(images, "scattering")
    with pytest.raises(TypeError, match="transform must return a Tensor"):
        extract_features(images, lambda x: [x])
    with pytest.raises(ValueError, match="first axis must be the batch"):
        extract_features(images, lambda x: x.sum())
    with pytest.raises(TypeError, match="data must be"):
        extract_features(5, net)
    with pytest.raises(TypeError, match="real numbers"):
        extract_features(torch.ones(2, 16, 16, dtype=torch.complex64), net)
    with pytest.raises(ValueError, match="differ in shape"):
        extract_features([torch.zeros(16, 16), torch.zeros(8, 8)], lambda x: x)
    with pytest.raises(ValueError, match="mixes bare images"):
        extract_features([torch.zeros(16, 16), (torch.zeros(16, 16), 1)], lambda x: x)
    with pytest.raises(ValueError, match="bare images"):
        extract_features(images, net, return_labels=True)
    with pytest.raises(ValueError, match="no images"):
        extract_features([], net)
    with pytest.raises(ValueError, match="out must be a path ending in '.npy'"):
        extract_features(images, net, out=tmp_path / "f.h5")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        extract_features(images, net, out=tmp_path / "missing" / "f.npy")
    with pytest.raises(ValueError, match="x has spatial shape"):  # the transform's own check
        extract_features(torch.zeros(2, 8, 8), net)
