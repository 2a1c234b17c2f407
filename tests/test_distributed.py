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


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of two worker processes on the loopback, shared by this module's tests."""
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def test_on_a_local_cluster_of_two_processes(client):
    x = _images(12)
    start = time.perf_counter()
    feats = dist.map_features(da.from_array(x, chunks=(3, 16, 16)), MAKE).compute()
    workers = client.run(lambda: sorted(dist._BUILT))        # what each worker built
    np.testing.assert_array_equal(feats, MAKE()(torch.from_numpy(x).float()).numpy())
    assert len(workers) == 2 and all(len(built) <= 1 for built in workers.values())
    assert time.perf_counter() - start < 60


class _FilesDataset(torch.utils.data.Dataset):
    """Images in .npy files, read when an item is asked for (on the worker that computes it),
    recording which process read which item."""

    def __init__(self, paths, labels):
        self.paths, self.labels = paths, labels

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        import os

        with open(f"{self.paths[i]}.read-by-{os.getpid()}", "w"):
            pass
        return torch.from_numpy(np.load(self.paths[i])), int(self.labels[i])


def test_extract_features_on_a_client_equals_this_process(client, tmp_path):
    """extract_features(client=...): the batches run as tasks on the cluster, in order, with
    the numbers of the single-process call bit for bit (arrays, labelled Datasets, the log and
    standardised normalisations); a Dataset of files is read on the workers, not here."""
    import os

    from scatter import extract_features
    from scatter.models import ImageArrayDataset

    x = torch.from_numpy(_images(11)).float()
    S = MAKE()
    for normalize in (None, "log", "standardize"):
        here = extract_features(x, S, batch_size=3, normalize=normalize)
        there = extract_features(x, S, batch_size=3, normalize=normalize, client=client)
        np.testing.assert_array_equal(there, here)
    labelled = ImageArrayDataset((_images(7) * 255).astype(np.uint8), np.arange(7) % 3)
    here = extract_features(labelled, S, batch_size=2, return_labels=True)
    there = extract_features(labelled, S, batch_size=2, return_labels=True, client=client)
    np.testing.assert_array_equal(there[0], here[0])
    np.testing.assert_array_equal(there[1], here[1])

    paths = []
    for i, image in enumerate(_images(6).astype(np.float32)):
        paths.append(str(tmp_path / f"{i}.npy"))
        np.save(paths[-1], image)
    files = _FilesDataset(paths, np.arange(6))
    feats, labels = extract_features(files, S, batch_size=2, return_labels=True, client=client)
    np.testing.assert_array_equal(feats, S(torch.from_numpy(np.stack([np.load(p) for p in paths]))).numpy())
    assert labels.tolist() == list(range(6))
    readers = {int(p.name.rsplit("-", 1)[1]) for p in tmp_path.glob("*.read-by-*")}
    assert readers and os.getpid() not in readers       # read by the workers only


def test_extract_features_on_a_client_bad_input(client):
    from scatter import extract_features

    with pytest.raises(TypeError, match="client must be a dask.distributed.Client"):
        extract_features(_images(4), MAKE(), client="tcp://127.0.0.1:8786")
    with pytest.raises(TypeError, match="must have a length"):
        extract_features(iter(_images(4)), MAKE(), client=client)
