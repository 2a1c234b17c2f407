"""Datasets on disk, read a slice of images at a time.

What ``scatter features`` reads, in its own process or on Dask workers: a source holds the
file names, the labels and the sizes (small), never the images; :meth:`Source.read` reads the
images of one slice from the files. A worker therefore holds the images of the batches it
computes, whatever the size of the dataset, and the client ships no pixels.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

import numpy as np

# images per read while the whole dataset is streamed through a hash
_DIGEST_CHUNK = 4096


class Source:
    """A dataset of ``n`` uint8 images of one shape, with int64 labels.

    Attributes
    ----------
    n : int
    image_shape : tuple of int
        ``(H, W)`` or ``(H, W, 3)``.
    labels : ndarray, int64, shape (n,)
    info : dict
        Description for the provenance (dataset, path, limit, split or batches, ...).
    file_names : list of str or None
        Per image, its file relative to the dataset folder (folder datasets).
    """

    n: int
    image_shape: tuple[int, ...]
    labels: np.ndarray
    info: dict
    file_names: list[str] | None = None

    def read(self, start: int, stop: int) -> np.ndarray:
        """Images ``start:stop``: uint8, shape (stop - start, *image_shape)."""
        raise NotImplementedError

    def digest(self) -> str:
        """SHA-256 of the images and labels, streamed a chunk at a time (equal to hashing
        the whole arrays: dtype and shape, then the bytes, for the images then the labels)."""
        h = hashlib.sha256()
        h.update(repr((np.dtype(np.uint8).str, (self.n, *self.image_shape))).encode())
        for start in range(0, self.n, _DIGEST_CHUNK):
            h.update(np.ascontiguousarray(self.read(start, min(start + _DIGEST_CHUNK, self.n))).tobytes())
        h.update(repr((self.labels.dtype.str, self.labels.shape)).encode())
        h.update(np.ascontiguousarray(self.labels).tobytes())
        return h.hexdigest()


class IdxSource(Source):
    """MNIST / Fashion-MNIST: the first ``n`` entries of an images and a labels IDX file.

    A gzipped file cannot be read from the middle: each process keeps its stream open and reads
    on from where the last slice ended (batches come in increasing order), so reading the whole
    dataset a batch at a time decompresses it once, not once per batch."""

    def __init__(self, images_file: Path, labels_file: Path, n: int, info: dict):
        from .models.datasets import load_idx

        self.images_file = images_file
        self.labels = load_idx(labels_file, n).astype(np.int64)
        first = load_idx(images_file, 1)
        if first.dtype != np.uint8:
            raise ValueError(f"{images_file}: expected uint8 images, the IDX header says "
                             f"{first.dtype}")
        if first.ndim != 3 or self.labels.ndim != 1:
            raise ValueError(f"expected images of shape (N, H, W) in {images_file.name} and labels "
                             f"of shape (N,) in {labels_file.name}, got {first.shape[1:]} images "
                             f"and labels of {self.labels.ndim} dimensions")
        self.n, self.image_shape, self.info = len(self.labels), first.shape[1:], info
        self._stream = None                     # (open gzip stream, index of its next item)

    def read(self, start: int, stop: int) -> np.ndarray:
        from .models.datasets import _is_gzip, _read_idx_header, load_idx

        if not _is_gzip(self.images_file):      # seekable: read the slice directly
            return load_idx(self.images_file, stop - start, start=start)
        item = int(np.prod(self.image_shape))
        if self._stream is None or self._stream[1] > start:
            if self._stream is not None:
                self._stream[0].close()
            f = gzip.open(self.images_file, "rb")
            _read_idx_header(f, self.images_file)
            self._stream = (f, 0)
        f, position = self._stream
        try:
            f.seek((start - position) * item, os.SEEK_CUR)
            payload = f.read((stop - start) * item)
        except (EOFError, OSError, zlib.error) as err:
            self._stream = None
            raise ValueError(f"{self.images_file}: corrupt or truncated gzip stream ({err})") from None
        if len(payload) < (stop - start) * item:
            raise ValueError(f"{self.images_file}: truncated IDX file (items {start} to {stop})")
        self._stream = (f, stop)
        return np.frombuffer(payload, np.uint8).reshape(stop - start, *self.image_shape).copy()

    def __getstate__(self):                     # shipped to workers without the open stream
        return {**self.__dict__, "_stream": None}


class CifarSource(Source):
    """CIFAR-10 batch files read in order; ``counts[i]`` images are used from ``names[i]``."""

    image_shape = (32, 32, 3)

    def __init__(self, root: Path, names: list[str], counts: list[int], labels: np.ndarray,
                 info: dict):
        self.root, self.names, self.counts = root, names, counts
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(int)
        self.labels, self.n, self.info = labels, int(self.offsets[-1]), info
        self._cached: tuple[str, np.ndarray] | None = None    # the last batch file read

    def _file(self, i: int) -> np.ndarray:
        from .models.datasets import load_cifar10

        if self._cached is None or self._cached[0] != self.names[i]:
            self._cached = (self.names[i], load_cifar10(self.root, [self.names[i]],
                                                        max_items=self.counts[i])[0])
        return self._cached[1]

    def read(self, start: int, stop: int) -> np.ndarray:
        parts = []
        for i, (lo, hi) in enumerate(zip(self.offsets[:-1], self.offsets[1:])):
            if hi > start and lo < stop:        # this file holds part of the slice
                parts.append(self._file(i)[max(start, lo) - lo:min(stop, hi) - lo])
        return np.concatenate(parts) if parts else np.zeros((0, *self.image_shape), np.uint8)

    def __getstate__(self):                     # shipped to workers without the cached file
        return {**self.__dict__, "_cached": None}


class FolderSource(Source):
    """Image files, one sub-folder per class, read and brought to one size per slice."""

    def __init__(self, root: Path, paths: list[Path], labels: np.ndarray, mode: str,
                 size: tuple[int, int] | None, fit: str, info: dict):
        self.root, self.mode, self.size, self.fit = root, mode, size, fit
        self.file_names = [p.relative_to(root).as_posix() for p in paths]
        self.labels, self.n, self.info = labels, len(paths), info
        self.image_shape = self._read_one(0).shape

    def _read_one(self, i: int) -> np.ndarray:
        from .models.datasets import read_image

        return read_image(self.root / self.file_names[i], self.mode, self.size, self.fit)

    def read(self, start: int, stop: int) -> np.ndarray:
        images = [self._read_one(i) for i in range(start, stop)]
        for i, image in zip(range(start, stop), images):
            if image.shape != self.image_shape:
                raise ValueError(f"{self.root}: images differ in size: {self.file_names[i]} is "
                                 f"{image.shape}, {self.file_names[0]} {self.image_shape} "
                                 f"(command line: --size H W with --fit crop or resize)")
        return np.stack(images) if images else np.zeros((0, *self.image_shape), np.uint8)
