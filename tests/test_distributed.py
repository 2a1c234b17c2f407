"""Features of Dask arrays (scatter.distributed.map_features): the same numbers as the direct
transform, lazily, block by block, the transform built once per process; on a local cluster of two
worker processes too (loopback only). Skipped where Dask is not installed (the ``dask`` extra)."""
import functools
import time

import numpy as np
import pytest
import torch

from scatter import Scattering2D
from scatter import distributed as dist

da = pytest.importorskip("dask.array", reason="dask is not installed: pip install -e .[test]")


def _images(n=11, shape=(16, 16), seed=0):
    return np.random.default_rng(seed).random((n, *shape))


MAKE = functools.partial(Scattering2D, J=2, shape=(16, 16), L=4)


def test_map_features_equals_the_direct_transform_and_stays_lazy():
    x = _images()
    images = da.from_array(x, chunks=(4, 16, 8))          # image axes split: merged for the transform
    feats = dist.map_features(images, MAKE, batch_size=3)
    assert isinstance(feats, da.Array) and feats.shape == (11, 25, 4, 4)
    assert feats.chunks[0] == (4, 4, 3)
    ref = MAKE()(torch.from_numpy(x).float()).numpy()
    np.testing.assert_array_equal(feats.compute(scheduler="threads"), ref)   # bit for bit
    feats64 = dist.map_features(images, MAKE, dtype="float64").compute(scheduler="sync")
    assert feats64.dtype == np.float64
    np.testing.assert_allclose(feats64, MAKE()(torch.from_numpy(x)).numpy(), rtol=0, atol=0)


class _Counting:
    calls = 0

    def __call__(self):
        type(self).calls += 1
        return MAKE()


def test_the_transform_is_built_once_per_process():
    make = _Counting()
    _Counting.calls = 0
    feats = dist.map_features(da.from_array(_images(20), chunks=(2, 16, 16)), make)
    feats.compute(scheduler="threads")
    assert _Counting.calls == 1       # ten blocks, one build (at graph construction, reused)


def test_bad_input():
    images = da.from_array(_images(), chunks=(4, 16, 16))
    with pytest.raises(TypeError, match="dask.array"):
        dist.map_features(_images(), MAKE)
    with pytest.raises(TypeError, match="make_transform"):
        dist.map_features(images, MAKE())
    with pytest.raises(ValueError, match="batch_size"):
        dist.map_features(images, MAKE, batch_size=0)
    with pytest.raises(ValueError, match="dtype"):
        dist.map_features(images, MAKE, dtype="int32")
    with pytest.raises(ValueError, match="shape"):
        dist.map_features(da.zeros(5, chunks=5), MAKE)


def test_on_a_local_cluster_of_two_processes():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    x = _images(12)
    start = time.perf_counter()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        feats = dist.map_features(da.from_array(x, chunks=(3, 16, 16)), MAKE).compute()
        workers = client.run(lambda: sorted(dist._BUILT))        # what each worker built
    np.testing.assert_array_equal(feats, MAKE()(torch.from_numpy(x).float()).numpy())
    assert len(workers) == 2 and all(len(built) <= 1 for built in workers.values())
    assert time.perf_counter() - start < 60
