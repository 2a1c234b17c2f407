"""Loaders for the image datasets users keep on disk: IDX (MNIST, Fashion-MNIST), CIFAR-10 Python
pickle batches, and folders of images with one sub-folder per class (e.g. KTH-TIPS).

Nothing is downloaded: every loader reads a path. Loaders return numpy arrays (``uint8`` images,
``int64`` labels); :class:`ImageArrayDataset` wraps such arrays as a torch ``Dataset`` of float
tensors in channel-first layout. Corrupt or truncated files raise :class:`ValueError` naming the
file and what was wrong.
"""
from __future__ import annotations

import gzip
import os
import pickle
import struct
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["load_idx", "load_mnist", "load_fashion_mnist", "load_cifar10", "load_cifar10_meta",
           "load_image_folder", "list_image_folder", "read_image", "ImageArrayDataset"]

PathLike = str | os.PathLike

# IDX type codes (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"); data are big-endian.
_IDX_DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_MAGIC = b"\x1f\x8b"


# ------------------------------------------------------------------------------------------ IDX
def load_idx(path: PathLike, max_items: int | None = None, start: int = 0) -> np.ndarray:
    """Read an IDX file (gzipped or not; detected from its first bytes).

    Parameters
    ----------
    path : str or path-like
        The file, e.g. ``train-images-idx3-ubyte.gz``.
    max_items : int, optional
        Read only ``max_items`` entries along the first axis (the rest of the file is not
        decompressed). ``None`` reads to the end.
    start : int
        First entry read: ``load_idx(path, 100, start=200)`` holds entries 200 to 299, in the
        memory of those 100 only (a gzipped file is decompressed up to them, not kept).

    Returns
    -------
    ndarray, shape (N, *dims)
        In the file's type converted to native byte order (``uint8`` for MNIST).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not IDX (bad magic number), is truncated, or is a corrupt gzip stream.

    Examples
    --------
    >>> import pathlib, struct, tempfile, numpy as np
    >>> from scatter import models
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(tmp.name) / "labels-idx1-ubyte"
    >>> _ = path.write_bytes(struct.pack(">4BI", 0, 0, 8, 1, 3) + bytes([7, 0, 4]))  # 3 uint8 labels
    >>> a = models.load_idx(path)
    >>> a.tolist(), a.dtype
    ([7, 0, 4], dtype('uint8'))
    >>> tmp.cleanup()
    """
    path = Path(path)
    max_items = _check_max_items(max_items)
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 0:
        raise ValueError(f"start must be an int >= 0, got {start!r}")
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    compressed = _is_gzip(path)
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as f:
            dtype, dims = _read_idx_header(f, path)
            left = max(dims[0] - int(start), 0)
            n = left if max_items is None else min(left, max_items)
            item = int(np.prod(dims[1:], dtype=np.int64))
            if start:
                f.seek(int(start) * item * dtype.itemsize, os.SEEK_CUR)
            expected = n * item * dtype.itemsize
            payload = f.read(expected)
            if len(payload) < expected:
                raise ValueError(f"{path}: truncated IDX file: header announces shape {dims}, "
                                 f"expected {expected} data bytes for {n} items from item "
                                 f"{start}, got {len(payload)}")
            if max_items is None and not compressed and f.read(1):
                raise ValueError(f"{path}: IDX file longer than its header announces ({dims})")
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ValueError(f"{path}: corrupt or truncated gzip stream ({err})") from None
    data = np.frombuffer(payload, dtype=dtype).reshape((n,) + tuple(dims[1:]))
    return data.astype(dtype.newbyteorder("="), copy=True)


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as raw:
        return raw.read(2) == _GZIP_MAGIC


def _read_idx_header(f, path: Path) -> tuple[np.dtype, tuple[int, ...]]:
    """The element type and the shape an IDX stream's header announces."""
    header = f.read(4)
    if len(header) < 4:
        raise ValueError(f"{path}: truncated IDX file (only {len(header)} header bytes)")
    zero, code, ndim = struct.unpack(">HBB", header)
    if zero != 0 or code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(f"{path}: not an IDX file (magic bytes {header.hex()}; expected "
                         f"0000, a type code in {sorted(_IDX_DTYPES)} and ndim >= 1)")
    dims_bytes = f.read(4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header ({ndim} dimensions announced)")
    return _IDX_DTYPES[code], struct.unpack(f">{ndim}I", dims_bytes)


def _idx_shape(path: Path) -> tuple[int, ...]:
    """The shape an IDX file's header announces (the data is not read)."""
    try:
        with (gzip.open if _is_gzip(path) else open)(path, "rb") as f:
            return _read_idx_header(f, path)[1]
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ValueError(f"{path}: corrupt or truncated gzip stream ({err})") from None


def _find(root: Path, names: Sequence[str], what: str) -> Path:
    for name in names:
        if (root / name).is_file():
            return root / name
    raise FileNotFoundError(f"{what} not found in {root}: looked for {', '.join(names)}")


def load_mnist(root: PathLike, split: str = "train", max_items: int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST (or Fashion-MNIST, same layout) from the four canonical IDX files in ``root``.

    Parameters
    ----------
    root : str or path-like
        Folder holding ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
        ``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]`` (the variants spelled
        ``train-images.idx3-ubyte`` are accepted too).
    split : {'train', 'test'}
        60,000 training or 10,000 test images for the official files.
    max_items : int, optional
        Read only the first ``max_items`` images and labels.

    Returns
    -------
    images : ndarray, uint8, shape (N, 28, 28)
    labels : ndarray, int64, shape (N,)

    Examples
    --------
    Four tiny IDX files in the official layout (a real copy is read the same way):

    >>> import gzip, pathlib, struct, tempfile, numpy as np
    >>> from scatter import models
    >>> tmp = tempfile.TemporaryDirectory()
    >>> root = pathlib.Path(tmp.name)
    >>> def write_idx(path, a):   # magic 0 0 8 (uint8) ndim, big-endian sizes, then the data
    ...     header = struct.pack(">4B", 0, 0, 8, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape)
    ...     path.write_bytes(gzip.compress(header + a.tobytes()))
    >>> for split in ("train", "t10k"):
    ...     write_idx(root / f"{split}-images-idx3-ubyte.gz", np.zeros((5, 28, 28), np.uint8))
    ...     write_idx(root / f"{split}-labels-idx1-ubyte.gz", np.arange(5, dtype=np.uint8))
    >>> images, labels = models.load_mnist(root, split="test", max_items=3)
    >>> images.shape, images.dtype, labels.tolist(), labels.dtype
    ((3, 28, 28), dtype('uint8'), [0, 1, 2], dtype('int64'))
    >>> tmp.cleanup()
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be one of ['train', 'test'], got {split!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"MNIST folder not found: {root}")
    prefix = "train" if split == "train" else "t10k"
    files = {}
    for kind, dim in (("images", 3), ("labels", 1)):
        stems = (f"{prefix}-{kind}-idx{dim}-ubyte", f"{prefix}-{kind}.idx{dim}-ubyte")
        files[kind] = _find(root, [s + ext for s in stems for ext in (".gz", "")],
                            f"{split} {kind} file")
    # the whole files must agree, also when only the first max_items are read: a test-images
    # file beside train labels must not be read as labelled data
    n_images, n_labels = _idx_shape(files["images"])[0], _idx_shape(files["labels"])[0]
    if n_images != n_labels:
        raise ValueError(f"{root}: {n_images} images but {n_labels} labels ({files['images'].name} "
                         f"and {files['labels'].name} do not belong together)")
    images = load_idx(files["images"], max_items)
    labels = load_idx(files["labels"], max_items)
    if images.ndim != 3 or labels.ndim != 1:
        raise ValueError(f"{root}: expected images of shape (N, H, W) and labels of shape (N,), "
                         f"got {images.shape} from {files['images'].name} and {labels.shape} from "
                         f"{files['labels'].name}")
    if len(images) != len(labels):
        raise ValueError(f"{root}: {len(images)} images but {len(labels)} labels")
    return images, labels.astype(np.int64)


def load_fashion_mnist(root: PathLike, split: str = "train", max_items: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST; identical to :func:`load_mnist` (the files share the IDX layout).

    Parameters
    ----------
    root, split, max_items
        As in :func:`load_mnist`.

    Returns
    -------
    images : ndarray, uint8, shape (N, 28, 28)
    labels : ndarray, int64, shape (N,)

    Examples
    --------
    >>> import gzip, pathlib, struct, tempfile, numpy as np
    >>> from scatter import models
    >>> tmp = tempfile.TemporaryDirectory()
    >>> root = pathlib.Path(tmp.name)
    >>> def write_idx(path, a):   # magic 0 0 8 (uint8) ndim, big-endian sizes, then the data
    ...     header = struct.pack(">4B", 0, 0, 8, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape)
    ...     path.write_bytes(gzip.compress(header + a.tobytes()))
    >>> write_idx(root / "t10k-images-idx3-ubyte.gz", np.zeros((4, 28, 28), np.uint8))
    >>> write_idx(root / "t10k-labels-idx1-ubyte.gz", np.array([9, 2, 1, 1], np.uint8))
    >>> images, labels = models.load_fashion_mnist(root, split="test")
    >>> images.shape, labels.tolist()
    ((4, 28, 28), [9, 2, 1, 1])
    >>> tmp.cleanup()
    """
    return load_mnist(root, split=split, max_items=max_items)


# ------------------------------------------------------------------------------------- CIFAR-10
class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds numpy arrays: loading a pickle may run arbitrary code, and a
    CIFAR batch needs nothing beyond dicts, lists, bytes, ints and arrays."""

    # _codecs.encode rebuilds bytes in protocol-2 pickles written by Python 3.
    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"),
                ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        if module == "numpy.core.multiarray":
            # The official files name numpy.core, deprecated (and warning) in numpy 2.
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 file not found: {path}")
    try:
        with open(path, "rb") as f:
            obj = _ArrayUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, struct.error) as err:
        raise ValueError(f"{path}: corrupt or truncated CIFAR-10 pickle ({type(err).__name__}: "
                         f"{err})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


_CIFAR_SPLITS = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def load_cifar10(root: PathLike, batches: str | Sequence[str] = "train",
                 max_items: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Load CIFAR-10 from the official Python pickle batches (``cifar-10-batches-py/``).

    Parameters
    ----------
    root : str or path-like
        The ``cifar-10-batches-py`` folder.
    batches : str or sequence of str
        Batch file names (e.g. ``['data_batch_1']``), or ``'train'`` (``data_batch_1`` to
        ``data_batch_5``) or ``'test'`` (``test_batch``). Every named file must exist.
    max_items : int, optional
        Keep only the first ``max_items`` images (over the batches in order).

    Returns
    -------
    images : ndarray, uint8, shape (N, 32, 32, 3)
        Height, width, RGB (the files store each row as the R, G, B planes of one image).
    labels : ndarray, int64, shape (N,)

    Examples
    --------
    A tiny batch in the official pickle layout (rows of 3072 bytes: R, G, B planes):

    >>> import pathlib, pickle, tempfile, numpy as np
    >>> from scatter import models
    >>> tmp = tempfile.TemporaryDirectory()
    >>> root = pathlib.Path(tmp.name)
    >>> data = np.zeros((2, 3072), np.uint8)
    >>> data[:, :1024] = 255                                   # red plane: two red images
    >>> batch = {b"data": data, b"labels": [3, 8]}
    >>> _ = (root / "data_batch_1").write_bytes(pickle.dumps(batch))
    >>> images, labels = models.load_cifar10(root, ["data_batch_1"])
    >>> images.shape, images.dtype, images[0, 0, 0].tolist(), labels.tolist()
    ((2, 32, 32, 3), dtype('uint8'), [255, 0, 0], [3, 8])
    >>> tmp.cleanup()
    """
    root = Path(root)
    max_items = _check_max_items(max_items)
    if isinstance(batches, str):
        batches = _CIFAR_SPLITS.get(batches, [batches])
    batches = list(batches)
    if not batches:
        raise ValueError("batches must name at least one batch file")
    if not root.is_dir():
        raise FileNotFoundError(f"CIFAR-10 folder not found: {root}")
    missing = [b for b in batches if not (root / b).is_file()]
    if missing:
        present = sorted(p.name for p in root.iterdir() if p.is_file())
        raise FileNotFoundError(f"CIFAR-10 batch file(s) {missing} not found in {root} "
                                f"(files there: {present})")
    images, labels, count = [], [], 0
    for name in batches:
        if max_items is not None and count >= max_items:
            break
        batch = _unpickle(root / name)
        if "data" not in batch or "labels" not in batch:
            raise ValueError(f"{root / name}: not a CIFAR-10 batch: keys "
                             f"{sorted(map(str, batch))}, expected b'data' and b'labels'")
        data, lab = np.asarray(batch["data"]), np.asarray(batch["labels"])
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
            raise ValueError(f"{root / name}: b'data' must be uint8 of shape (N, 3072), got "
                             f"{data.dtype} {data.shape}")
        if lab.shape != (data.shape[0],):
            raise ValueError(f"{root / name}: {data.shape[0]} images but labels of shape "
                             f"{lab.shape}")
        if lab.size and (lab.min() < 0 or lab.max() > 9):
            raise ValueError(f"{root / name}: labels must lie in 0..9, got "
                             f"{lab.min()}..{lab.max()}")
        keep = data.shape[0] if max_items is None else min(data.shape[0], max_items - count)
        images.append(data[:keep].reshape(keep, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(lab[:keep].astype(np.int64))
        count += keep
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)


def load_cifar10_meta(root: PathLike) -> list[str]:
    """The ten class names from ``batches.meta`` in ``root``, in label order.

    Parameters
    ----------
    root : str or path-like
        The ``cifar-10-batches-py`` folder.

    Returns
    -------
    list of str
        ``names[label]`` is the class name (``'airplane'``, ``'automobile'``, ... in the
        official file).

    Examples
    --------
    >>> import pathlib, pickle, tempfile
    >>> from scatter import models
    >>> tmp = tempfile.TemporaryDirectory()
    >>> meta = {b"label_names": [b"airplane", b"automobile"]}
    >>> _ = (pathlib.Path(tmp.name) / "batches.meta").write_bytes(pickle.dumps(meta))
    >>> models.load_cifar10_meta(tmp.name)
    ['airplane', 'automobile']
    >>> tmp.cleanup()
    """
    meta = _unpickle(Path(root) / "batches.meta")
    if "label_names" not in meta:
        raise ValueError(f"{Path(root) / 'batches.meta'}: no b'label_names' entry")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in meta["label_names"]]


# --------------------------------------------------------------------------------- image folder
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".pgm", ".ppm")


def load_image_folder(root: PathLike, mode: str = "L", size: tuple[int, int] | None = None,
                      fit: str = "crop", max_per_class: int | None = None,
                      extensions: Sequence[str] = _IMAGE_EXTENSIONS
                      ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Load a folder of images with one sub-folder per class (``root/<class>/<image>``).

    Classes are the sub-folder names in sorted order; images within a class in sorted order.

    Parameters
    ----------
    root : str or path-like
    mode : {'L', 'RGB'}
        Grey or colour (PIL conversion modes).
    size : (int, int), optional
        Output ``(height, width)``. Required when the images differ in size.
    fit : {'crop', 'resize'}
        How images are brought to ``size``: a centre crop (keeps the pixel scale, which texture
        studies need; images smaller than ``size`` are an error) or a bilinear resize.
    max_per_class : int, optional
        Keep only the first images of each class.
    extensions : sequence of str
        File name endings accepted as images (case-insensitive); other files are ignored.

    Returns
    -------
    images : ndarray, uint8, shape (N, H, W) for ``'L'`` or (N, H, W, 3) for ``'RGB'``
    labels : ndarray, int64, shape (N,)
    classes : list of str
        ``classes[label]`` is the sub-folder name.

    Examples
    --------
    >>> import pathlib, tempfile, numpy as np
    >>> from scatter import models
    >>> from PIL import Image
    >>> tmp = tempfile.TemporaryDirectory()
    >>> for cls, value in (("bark", 40), ("sand", 200)):
    ...     (pathlib.Path(tmp.name) / cls).mkdir()
    ...     for i in range(2):
    ...         Image.fromarray(np.full((20, 24), value, np.uint8)).save(f"{tmp.name}/{cls}/{i}.png")
    >>> images, labels, classes = models.load_image_folder(tmp.name, size=(16, 16))
    >>> images.shape, images.dtype, labels.tolist(), classes
    ((4, 16, 16), dtype('uint8'), [0, 0, 1, 1], ['bark', 'sand'])
    >>> tmp.cleanup()
    """
    if mode not in ("L", "RGB"):
        raise ValueError(f"mode must be one of ['L', 'RGB'], got {mode!r}")
    if fit not in ("crop", "resize"):
        raise ValueError(f"fit must be one of ['crop', 'resize'], got {fit!r}")
    size = _check_size(size)
    paths, labels, classes = list_image_folder(root, max_per_class, extensions)
    images = [read_image(path, mode, size, fit) for path in paths]
    shapes = {a.shape for a in images}
    if len(shapes) > 1:
        raise ValueError(f"{root}: images differ in size ({sorted(shapes)[:4]}...): pass "
                         f"size=(height, width) with fit='crop' or 'resize'")
    return np.stack(images), labels, classes


def list_image_folder(root: PathLike, max_per_class: int | None = None,
                      extensions: Sequence[str] = _IMAGE_EXTENSIONS
                      ) -> tuple[list[Path], np.ndarray, list[str]]:
    """The image files of a folder with one sub-folder per class, in the order
    :func:`load_image_folder` loads them (classes sorted by name, files sorted within a class);
    no image is opened.

    Parameters
    ----------
    root, max_per_class, extensions
        As in :func:`load_image_folder`.

    Returns
    -------
    paths : list of Path, length N
    labels : ndarray, int64, shape (N,)
    classes : list of str
        ``classes[label]`` is the sub-folder name.

    Examples
    --------
    >>> import pathlib, tempfile, numpy as np
    >>> from scatter import models
    >>> from PIL import Image
    >>> tmp = tempfile.TemporaryDirectory()
    >>> for cls in ("bark", "sand"):
    ...     (pathlib.Path(tmp.name) / cls).mkdir()
    ...     Image.fromarray(np.zeros((8, 8), np.uint8)).save(f"{tmp.name}/{cls}/0.png")
    >>> paths, labels, classes = models.list_image_folder(tmp.name)
    >>> [p.relative_to(tmp.name).as_posix() for p in paths], labels.tolist(), classes
    (['bark/0.png', 'sand/0.png'], [0, 1], ['bark', 'sand'])
    >>> models.read_image(paths[0], size=(4, 4)).shape      # a centre crop
    (4, 4)
    >>> tmp.cleanup()
    """
    max_per_class = _check_max_items(max_per_class, "max_per_class")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    # Hidden folders (.ipynb_checkpoints, ...) are not classes.
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(f"{root}: no class sub-folders (expected root/<class>/<image files>)")
    extensions = tuple(e.lower() for e in extensions)
    paths, labels = [], []
    for label, name in enumerate(classes):
        files = sorted(p for p in (root / name).iterdir()
                       if p.is_file() and p.name.lower().endswith(extensions))
        if not files:
            raise ValueError(f"{root / name}: class folder holds no image files "
                             f"(accepted endings: {list(extensions)})")
        paths.extend(files[:max_per_class])
        labels.extend([label] * len(files[:max_per_class]))
    return paths, np.asarray(labels, dtype=np.int64), classes


def read_image(path: PathLike, mode: str = "L", size: tuple[int, int] | None = None,
               fit: str = "crop") -> np.ndarray:
    """One image file as a uint8 array, converted and brought to ``size`` as
    :func:`load_image_folder` does.

    Parameters
    ----------
    path : str or path-like
        The image file.
    mode, size, fit
        As in :func:`load_image_folder`.

    Returns
    -------
    ndarray, uint8, shape (H, W) for ``'L'`` or (H, W, 3) for ``'RGB'``

    Examples
    --------
    >>> import pathlib, tempfile, numpy as np
    >>> from scatter import models
    >>> from PIL import Image
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(tmp.name) / "a.png"
    >>> Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(path)
    >>> models.read_image(path, mode="RGB", size=(10, 10), fit="resize").shape
    (10, 10, 3)
    >>> tmp.cleanup()
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            im = im.convert(mode)
            if size is not None and fit == "resize" and im.size != size[::-1]:
                im = im.resize(size[::-1], Image.BILINEAR)
            array = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"{path}: unreadable or truncated image ({err})") from None
    if size is not None and fit == "crop":
        array = _centre_crop(array, size, path)
    return array


def _check_size(size) -> tuple[int, int] | None:
    if size is None:
        return None
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size)):
        raise ValueError(f"size must be a (height, width) pair of positive ints, got {size!r}")
    return int(size[0]), int(size[1])


def _centre_crop(array: np.ndarray, size: tuple[int, int], path: Path) -> np.ndarray:
    h, w = array.shape[:2]
    if h < size[0] or w < size[1]:
        raise ValueError(f"{path}: image of size {(h, w)} is smaller than size={size}; "
                         f"use fit='resize'")
    top, left = (h - size[0]) // 2, (w - size[1]) // 2
    return array[top:top + size[0], left:left + size[1]]


def _check_max_items(value, name: str = "max_items") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int or None, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1 or None, got {value}")
    return int(value)


# -------------------------------------------------------------------------------- torch dataset
class ImageArrayDataset(Dataset):
    """Images and labels held in memory as a torch ``Dataset``: float tensors, channel first.

    Parameters
    ----------
    images : ndarray or Tensor, shape (N, H, W), (N, H, W, C) or (N, C, H, W)
        ``uint8`` images are scaled to [0, 1]; float images are kept as they are. A trailing
        axis of size 1 or 3 is read as channels (height-width-channel, as the loaders return).
    labels : ndarray or Tensor, shape (N,)
        Integer class labels.
    mean, std : sequence of float, optional
        Per-channel standardisation ``(x - mean) / std`` applied once, after scaling.
    channels_last : bool, optional
        Whether a 4D input is (N, H, W, C). Default: inferred (last axis of size 1 or 3).

    Attributes
    ----------
    tensors : tuple of Tensor
        ``(x, y)`` with ``x`` float32 of shape (N, C, H, W) and ``y`` int64 of shape (N,), as in
        ``torch.utils.data.TensorDataset`` (:func:`scatter.models.fit` batches these directly).

    Examples
    --------
    >>> import numpy as np
    >>> from scatter import models
    >>> images = np.zeros((10, 32, 32, 3), np.uint8)            # as load_cifar10 returns them
    >>> ds = models.ImageArrayDataset(images, np.arange(10))
    >>> len(ds), ds[0][0].shape, ds[0][0].dtype, ds[0][1]
    (10, torch.Size([3, 32, 32]), torch.float32, tensor(0))
    """

    def __init__(self, images, labels, mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None, channels_last: bool | None = None) -> None:
        x = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images)
        y = torch.as_tensor(np.asarray(labels) if not torch.is_tensor(labels) else labels)
        if x.ndim == 3:
            x = x[:, None]
        elif x.ndim == 4:
            if channels_last is None:
                channels_last = x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3)
            if channels_last:
                x = x.permute(0, 3, 1, 2)
        else:
            raise ValueError(f"images must have shape (N, H, W), (N, H, W, C) or (N, C, H, W), "
                             f"got {tuple(x.shape)}")
        if y.ndim != 1 or y.shape[0] != x.shape[0]:
            raise ValueError(f"labels must have shape ({x.shape[0]},) to match images, got "
                             f"{tuple(y.shape)}")
        if y.is_floating_point() or y.is_complex():
            raise TypeError(f"labels must be integers, got {y.dtype}")
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        if (mean is None) != (std is None):
            raise ValueError("mean and std must be given together")
        if mean is not None:
            mean_t = torch.as_tensor(mean, dtype=torch.float32).reshape(-1, 1, 1)
            std_t = torch.as_tensor(std, dtype=torch.float32).reshape(-1, 1, 1)
            if mean_t.shape[0] not in (1, x.shape[1]) or std_t.shape != mean_t.shape:
                raise ValueError(f"mean and std must have 1 or {x.shape[1]} entries, got "
                                 f"{mean_t.shape[0]} and {std_t.shape[0]}")
            if torch.any(std_t <= 0):
                raise ValueError("std must be > 0")
            x = (x - mean_t) / std_t
        self.tensors = (x.contiguous(), y.long())

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        return self.tensors[0][index], self.tensors[1][index]

    def __repr__(self) -> str:
        return f"ImageArrayDataset(n={len(self)}, image_shape={tuple(self.tensors[0].shape[1:])})"
