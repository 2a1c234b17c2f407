"""Features of images held in a Dask array, computed block by block (on a Dask cluster or not).

For image stacks that live in Zarr or HDF5, tiles of a large image, or any data already in a
``dask.array``: :func:`map_features` maps a transform over the blocks of the array lazily. Dask
is the engine (its schedulers, local or ``dask.distributed``); nothing here schedules work.

Requires the optional ``dask`` extra: ``pip install scatter[dask]``.
"""
from __future__ import annotations

import threading
from typing import Callable

import numpy as np

# transforms built by this process, by the token of their recipe: each worker process builds a
# transform (its filters) once, whatever the number of blocks it computes
_BUILT: dict[str, object] = {}
_BUILT_LOCK = threading.Lock()


def _built(token: str, make_transform: Callable):
    transform = _BUILT.get(token)
    if transform is None:
        with _BUILT_LOCK:
            transform = _BUILT.get(token)
            if transform is None:
                transform = _BUILT[token] = make_transform()
    return transform


def _block_features(block: np.ndarray, token: str, make_transform: Callable, batch_size: int,
                    dtype: np.dtype) -> np.ndarray:
    import torch

    transform = _built(token, make_transform)
    outs = []
    with torch.no_grad():
        for start in range(0, len(block), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(block[start:start + batch_size], dtype=dtype))
            outs.append(transform(x).cpu().numpy())
    return np.concatenate(outs) if outs else np.zeros((0,), dtype)


def map_features(images, make_transform: Callable, batch_size: int = 256,
                 dtype: str | np.dtype = "float32"):
    """Lazily apply a transform to every image of a Dask array, block by block.

    Parameters
    ----------
    images : dask.array.Array, shape (N, *image_shape)
        Real images; chunked along the first axis only (the image axes are merged into one
        chunk if they are split, since a transform needs whole images).
    make_transform : callable
        ``make_transform()`` returns the transform (e.g. ``functools.partial(Scattering2D, J=2,
        shape=(28, 28))``): a module mapping a tensor ``(B, *image_shape)`` to features
        ``(B, *feature_shape)`` of one shape. It must be picklable (a ``functools.partial`` of a
        class is). Each process that computes blocks builds the transform once.
    batch_size : int
        Images per call of the transform inside a block (bounds a worker's memory whatever the
        block size).
    dtype : str or numpy dtype
        Images are converted to it (float32 or float64) before the transform.

    Returns
    -------
    dask.array.Array, shape (N, *feature_shape)
        Lazy features chunked as ``images`` along the first axis; ``.compute()`` runs them on the
        current Dask scheduler (threads by default, a ``dask.distributed.Client`` when one is
        active).

    Examples
    --------
    >>> import functools, dask.array as da, numpy as np
    >>> from scatter import Scattering2D
    >>> from scatter.distributed import map_features
    >>> images = da.from_array(np.random.default_rng(0).random((10, 16, 16)), chunks=(4, 16, 16))
    >>> feats = map_features(images, functools.partial(Scattering2D, J=2, shape=(16, 16), L=4))
    >>> feats.shape, feats.chunks[0]
    ((10, 25, 4, 4), (4, 4, 2))
    >>> feats.compute().dtype
    dtype('float32')
    """
    import dask.array as da
    from dask.base import tokenize

    from ._validation import check_int

    if not isinstance(images, da.Array):
        raise TypeError(f"images must be a dask.array.Array, got {type(images).__name__} "
                        f"(wrap a NumPy array with dask.array.from_array)")
    if images.ndim < 2:
        raise ValueError(f"images must have shape (N, *image_shape), got {images.shape}")
    import torch

    if not callable(make_transform) or isinstance(make_transform, torch.nn.Module):
        raise TypeError("make_transform must be a callable that builds the transform (e.g. "
                        "functools.partial(Scattering2D, J=2, shape=(28, 28))), got "
                        f"{type(make_transform).__name__}: each worker builds its own")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if any(len(c) > 1 for c in images.chunks[1:]):
        images = images.rechunk({axis: -1 for axis in range(1, images.ndim)})
    token = tokenize(make_transform, dtype.str)
    # the feature shape, from one image computed here (builds the transform in this process)
    probe = _block_features(np.zeros((1, *images.shape[1:]), dtype), token, make_transform, 1, dtype)
    feature_shape = probe.shape[1:]
    new_axes = {1 + i: n for i, n in enumerate(feature_shape)}
    return da.map_blocks(_block_features, images, token, make_transform, batch_size, dtype,
                         dtype=probe.dtype,
                         chunks=(images.chunks[0], *((n,) for n in feature_shape)),
                         drop_axis=list(range(1, images.ndim)), new_axis=list(new_axes),
                         meta=np.empty((0,) * (1 + len(feature_shape)), probe.dtype))


class _Pickled:
    """An object sent to workers as its (cloud)pickle and unpickled once per worker process.

    Dask's own serialisation of ``torch.nn.Module`` walks ``__dict__`` and skips
    ``__getstate__`` (which drops our modules' thread-local CPU caches and locks); a pickle
    keeps the module's own rules."""

    def __init__(self, obj):
        import uuid

        import cloudpickle

        self.token, self.payload = uuid.uuid4().hex, cloudpickle.dumps(obj)

    def load(self):
        import pickle

        return _built(self.token, lambda: pickle.loads(self.payload))


def _forget(token: str) -> None:
    _BUILT.pop(token, None)


def _batch_features(data, transform: _Pickled, start: int, stop: int, device: str, dtype,
                    log: bool):
    """Items ``start:stop`` of ``data`` through ``transform``, on a worker: as the local path
    computes them (:func:`scatter.features.iter_feature_batches`), so the numbers agree."""
    import torch

    from .features import iter_feature_batches

    transform = transform.load()

    if isinstance(data, (np.ndarray, torch.Tensor)):
        items = data[start:stop]
    else:                                  # a Dataset: the worker reads its own items
        items = [data[i] for i in range(start, stop)]
    return next(iter_feature_batches(items, transform, stop - start, device, dtype, log=log))


def iter_batches_on_client(client, data, transform, n: int, batch_size: int, device, dtype,
                           log: bool):
    """Features of ``data`` one batch at a time, in order, computed as tasks on a
    ``dask.distributed.Client``.

    ``data`` and ``transform`` are sent to each worker once (``client.scatter(broadcast=True)``):
    a worker deserialises the transform (its filters) once for all its batches; a Dataset reads
    its own items there. A few batches per worker are in flight at a time, so neither the
    workers nor this process hold more than those, whatever ``n``.

    Yields
    ------
    features : ndarray, shape (b, *feature_shape)
    labels : ndarray, int64, shape (b,), or None
    """
    from distributed import Client

    if not isinstance(client, Client):
        raise TypeError(f"client must be a dask.distributed.Client (or None), got "
                        f"{type(client).__name__}")
    pickled = _Pickled(transform)
    shared_data, shared_transform = (client.scatter(x, broadcast=True, hash=False)
                                     for x in (data, pickled))
    starts = list(range(0, n, batch_size))
    window = 2 * max(len(client.scheduler_info().get("workers", {})), 1)
    futures: dict = {}

    def submit(i):
        start = starts[i]
        futures[i] = client.submit(_batch_features, shared_data, shared_transform, start,
                                   min(start + batch_size, n), str(device), dtype, log, pure=False)

    try:
        for i in range(min(window, len(starts))):
            submit(i)
        for i in range(len(starts)):
            if i + window < len(starts):
                submit(i + window)
            yield futures.pop(i).result()  # a failed batch raises here, with its error
    finally:
        for future in futures.values():
            future.cancel()
        client.run(_forget, pickled.token)  # the workers drop their copy of the transform
