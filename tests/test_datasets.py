"""models.datasets: IDX, CIFAR-10 pickles, image folders, ImageArrayDataset."""
from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from scatter.models import (ImageArrayDataset, load_cifar10, load_cifar10_meta, load_fashion_mnist,
                    load_idx, load_image_folder, load_mnist)


# ----------------------------------------------------------------------------- helpers
def write_idx(path, array, code=0x08, compress=False):
    array = np.asarray(array)
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    dtype = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    payload = header + array.astype(dtype).tobytes()
    if compress:
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return payload


def write_cifar_batch(path, data, labels):
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": b"test", b"data": data, b"labels": list(labels)}, f)


# -------------------------------------------------------------------- the provided datasets
def test_mnist_shared_copy(shared_data):
    images, labels = load_mnist(shared_data / "mnist", "test", max_items=300)
    assert images.shape == (300, 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.int64
    # The first labels of the official MNIST test and training sets.
    np.testing.assert_array_equal(labels[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    _, train_labels = load_mnist(shared_data / "mnist", "train", max_items=5)
    np.testing.assert_array_equal(train_labels, [5, 0, 4, 1, 9])
    assert images.max() == 255 and images.min() == 0


def test_fashion_mnist_shared_copy(shared_data):
    images, labels = load_fashion_mnist(shared_data / "fashion_mnist", "train", max_items=200)
    assert images.shape == (200, 28, 28)
    # Fashion-MNIST's first training images: ankle boot, T-shirt, T-shirt, dress, T-shirt.
    np.testing.assert_array_equal(labels[:5], [9, 0, 0, 3, 0])


def test_cifar10_shared_copy(shared_data):
    root = shared_data / "cifar-10-batches-py"
    images, labels = load_cifar10(root, ["data_batch_1"], max_items=300)
    assert images.shape == (300, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels[:10], [6, 9, 9, 4, 1, 1, 2, 7, 8, 3])
    _, test_labels = load_cifar10(root, ["test_batch_first1000"], max_items=10)
    np.testing.assert_array_equal(test_labels, [3, 8, 8, 0, 6, 6, 1, 6, 3, 1])
    assert load_cifar10_meta(root) == ["airplane", "automobile", "bird", "cat", "deer", "dog",
                                       "frog", "horse", "ship", "truck"]
    # max_items spans batches in order.
    both, both_labels = load_cifar10(root, ["test_batch_first1000", "data_batch_1"],
                                     max_items=1003)
    assert both.shape[0] == 1003
    np.testing.assert_array_equal(both_labels[1000:], [6, 9, 9])
    with pytest.raises(FileNotFoundError, match="data_batch_2"):
        load_cifar10(root, "train")   # the provided copy holds batches 1 and 5 only


def test_kth_tips_shared_copy(shared_data):
    images, labels, classes = load_image_folder(shared_data / "kth_tips_grey", size=(128, 128),
                                                max_per_class=3)
    assert images.shape == (30, 128, 128) and images.dtype == np.uint8
    assert len(classes) == 10 and classes[0] == "aluminium_foil"
    np.testing.assert_array_equal(np.bincount(labels), [3] * 10)
    dataset = ImageArrayDataset(images, labels)
    x, y = dataset[4]
    assert x.shape == (1, 128, 128) and x.dtype == torch.float32 and int(y) == 1


# ------------------------------------------------------------------------------------ IDX
@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("code", [0x08, 0x0B, 0x0D])
def test_idx_roundtrip(tmp_path, compress, code):
    rng = np.random.default_rng(0)
    array = rng.integers(0, 100, size=(7, 4, 3))
    path = tmp_path / ("a.idx" + (".gz" if compress else ""))
    write_idx(path, array, code=code, compress=compress)
    out = load_idx(path)
    np.testing.assert_array_equal(out, array)
    assert out.dtype.isnative
    np.testing.assert_array_equal(load_idx(path, max_items=2), array[:2])


def test_mnist_layout_written_here(tmp_path):
    images = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images)   # uncompressed
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", [1, 2, 3], compress=True)
    x, y = load_mnist(tmp_path, "test")
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, [1, 2, 3])
    with pytest.raises(FileNotFoundError, match="train images"):
        load_mnist(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        load_mnist(tmp_path, "validation")


def test_mnist_count_mismatch(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((3, 28, 28)))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", [1, 2])
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        load_mnist(tmp_path, "test")


def test_idx_truncated_and_corrupt(tmp_path):
    payload = write_idx(tmp_path / "ok", np.ones((10, 5, 5)))
    (tmp_path / "short").write_bytes(payload[:-7])
    with pytest.raises(ValueError, match="truncated IDX"):
        load_idx(tmp_path / "short")
    (tmp_path / "long").write_bytes(payload + b"\x00")
    with pytest.raises(ValueError, match="longer than"):
        load_idx(tmp_path / "long")
    (tmp_path / "header").write_bytes(payload[:6])
    with pytest.raises(ValueError, match="truncated IDX header"):
        load_idx(tmp_path / "header")
    (tmp_path / "magic").write_bytes(b"\x12\x34" + payload[2:])
    with pytest.raises(ValueError, match="not an IDX file"):
        load_idx(tmp_path / "magic")
    gz = gzip.compress(payload)
    (tmp_path / "short.gz").write_bytes(gz[: len(gz) // 2])
    with pytest.raises(ValueError, match="gzip|truncated"):
        load_idx(tmp_path / "short.gz")
    (tmp_path / "bad.gz").write_bytes(gz[:12] + bytes(range(40)) + gz[52:])
    with pytest.raises(ValueError, match="gzip|truncated|IDX"):
        load_idx(tmp_path / "bad.gz")
    with pytest.raises(FileNotFoundError):
        load_idx(tmp_path / "absent")
    with pytest.raises(ValueError, match="max_items"):
        load_idx(tmp_path / "ok", max_items=0)


# -------------------------------------------------------------------------------- CIFAR-10
def test_cifar_layout_written_here(tmp_path):
    # Each row holds the R, G and B planes of one image: R = 1, G = 2, B = 3 everywhere.
    data = np.repeat(np.array([1, 2, 3], dtype=np.uint8), 1024)[None].repeat(4, axis=0)
    data[1, 5] = 200     # image 1, red plane, row 0, column 5
    write_cifar_batch(tmp_path / "data_batch_1", data, [0, 1, 2, 9])
    images, labels = load_cifar10(tmp_path, ["data_batch_1"])
    assert images.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(images[0, 7, 9], [1, 2, 3])
    assert images[1, 0, 5, 0] == 200
    np.testing.assert_array_equal(labels, [0, 1, 2, 9])


def test_cifar_python2_style_pickle(tmp_path):
    # The official batches name numpy.core.multiarray (a protocol-2 GLOBAL is a text line).
    batch = {b"data": np.full((2, 3072), 7, dtype=np.uint8), b"labels": [3, 4]}
    raw = pickle.dumps(batch, protocol=2).replace(b"numpy._core.multiarray",
                                                  b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in raw
    (tmp_path / "data_batch_1").write_bytes(raw)
    images, labels = load_cifar10(tmp_path, "data_batch_1")
    assert images.shape == (2, 32, 32, 3) and np.all(images == 7)
    np.testing.assert_array_equal(labels, [3, 4])


def test_cifar_corrupt_files(tmp_path):
    data = np.zeros((2, 3072), dtype=np.uint8)
    write_cifar_batch(tmp_path / "good", data, [0, 1])
    raw = (tmp_path / "good").read_bytes()
    (tmp_path / "truncated").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        load_cifar10(tmp_path, ["truncated"])
    (tmp_path / "garbage").write_bytes(b"this is not a pickle")
    with pytest.raises(ValueError, match="corrupt or truncated"):
        load_cifar10(tmp_path, ["garbage"])
    # A pickle that would build an arbitrary object is refused, not executed.
    with open(tmp_path / "evil", "wb") as f:
        pickle.dump({b"data": data, b"labels": [0, 1], b"x": pytest.raises}, f)
    with pytest.raises(ValueError, match="refusing"):
        load_cifar10(tmp_path, ["evil"])
    write_cifar_batch(tmp_path / "shape", np.zeros((2, 1000), dtype=np.uint8), [0, 1])
    with pytest.raises(ValueError, match=r"\(N, 3072\)"):
        load_cifar10(tmp_path, ["shape"])
    write_cifar_batch(tmp_path / "labels", data, [0])
    with pytest.raises(ValueError, match="2 images but labels"):
        load_cifar10(tmp_path, ["labels"])
    with open(tmp_path / "nokeys", "wb") as f:
        pickle.dump({b"images": data}, f)
    with pytest.raises(ValueError, match="not a CIFAR-10 batch"):
        load_cifar10(tmp_path, ["nokeys"])
    with pytest.raises(FileNotFoundError, match="files there"):
        load_cifar10(tmp_path, ["data_batch_9"])
    with pytest.raises(ValueError, match="batches"):
        load_cifar10(tmp_path, [])


# ---------------------------------------------------------------------------- image folder
def make_folder(root, sizes=((10, 12), (10, 12)), mode="L"):
    from PIL import Image

    rng = np.random.default_rng(1)
    for cls, n in (("b_class", 2), ("a_class", 3)):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            shape = sizes[i % len(sizes)] + ((3,) if mode == "RGB" else ())
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(
                root / cls / f"im{i}.png")
    (root / "a_class" / "notes.txt").write_text("not an image")
    (root / ".ipynb_checkpoints").mkdir()


def test_image_folder_written_here(tmp_path):
    make_folder(tmp_path)
    images, labels, classes = load_image_folder(tmp_path)
    assert classes == ["a_class", "b_class"]           # sorted; the text file is ignored
    assert images.shape == (5, 10, 12)
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1])
    rgb, _, _ = load_image_folder(tmp_path, mode="RGB", max_per_class=1)
    assert rgb.shape == (2, 10, 12, 3)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])     # grey source
    crop, _, _ = load_image_folder(tmp_path, size=(6, 8))
    np.testing.assert_array_equal(crop, images[:, 2:8, 2:10])
    small, _, _ = load_image_folder(tmp_path, size=(20, 5), fit="resize")
    assert small.shape == (5, 20, 5)


def test_image_folder_errors(tmp_path):
    make_folder(tmp_path / "mixed", sizes=((10, 12), (9, 12)))
    with pytest.raises(ValueError, match="differ in size"):
        load_image_folder(tmp_path / "mixed")
    with pytest.raises(ValueError, match="smaller than size"):
        load_image_folder(tmp_path / "mixed", size=(10, 10))
    make_folder(tmp_path / "broken")
    good = (tmp_path / "broken" / "b_class" / "im1.png").read_bytes()
    (tmp_path / "broken" / "b_class" / "im1.png").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="im1.png"):
        load_image_folder(tmp_path / "broken")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class sub-folders"):
        load_image_folder(tmp_path / "empty")
    (tmp_path / "empty" / "cls").mkdir()
    with pytest.raises(ValueError, match="no image files"):
        load_image_folder(tmp_path / "empty")
    with pytest.raises(ValueError, match="mode"):
        load_image_folder(tmp_path / "mixed", mode="CMYK")
    with pytest.raises(ValueError, match="fit"):
        load_image_folder(tmp_path / "mixed", fit="pad")
    with pytest.raises(ValueError, match="size"):
        load_image_folder(tmp_path / "mixed", size=(10,))
    with pytest.raises(FileNotFoundError):
        load_image_folder(tmp_path / "absent")


# ------------------------------------------------------------------------ torch dataset
def test_image_array_dataset():
    images = np.zeros((4, 5, 6, 3), dtype=np.uint8)
    images[..., 1] = 255
    dataset = ImageArrayDataset(images, np.arange(4), mean=[0, 0.5, 0], std=[1, 0.25, 1])
    x, y = dataset.tensors
    assert x.shape == (4, 3, 5, 6) and x.dtype == torch.float32 and y.dtype == torch.int64
    torch.testing.assert_close(x[:, 1], torch.full((4, 5, 6), 2.0))
    assert len(dataset) == 4 and int(dataset[3][1]) == 3
    loader = torch.utils.data.DataLoader(dataset, batch_size=2)
    assert next(iter(loader))[0].shape == (2, 3, 5, 6)
    channels_first = ImageArrayDataset(torch.rand(2, 3, 8, 8), [0, 1])
    assert channels_first.tensors[0].shape == (2, 3, 8, 8)
    with pytest.raises(ValueError, match="labels must have shape"):
        ImageArrayDataset(images, np.arange(3))
    with pytest.raises(TypeError, match="integers"):
        ImageArrayDataset(images, np.zeros(4))
    with pytest.raises(ValueError, match="images must have shape"):
        ImageArrayDataset(np.zeros((4, 5)), np.arange(4))
    with pytest.raises(ValueError, match="mean and std"):
        ImageArrayDataset(images, np.arange(4), mean=[0.5])
    with pytest.raises(ValueError, match="entries"):
        ImageArrayDataset(images, np.arange(4), mean=[0, 0], std=[1, 1])
