"""The `scatter` command line: features to .h5/.npz with provenance, resume after a kill, refusal
to overwrite, filter drawings, and bad input (clear messages, non-zero exit codes)."""
import contextlib
import gzip
import hashlib
import io
import json
import os
import pickle
import signal
import stat
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from scatter.filters import DWT2d
from scatter import Scattering2D
from scatter import cli
from scatter.cli import main, read_features

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------ tiny datasets
def write_idx(path, array):
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes()))


def make_mnist(root: Path, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    root.mkdir(parents=True, exist_ok=True)
    write_idx(root / "train-images-idx3-ubyte.gz", images)
    write_idx(root / "train-labels-idx1-ubyte.gz", labels)
    return images, labels.astype(np.int64)


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    images, labels = make_mnist(root, 24)
    return root, images, labels


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    rng = np.random.default_rng(1)
    data = rng.integers(0, 256, size=(10, 3072), dtype=np.uint8)
    labels = list(rng.integers(0, 10, size=10))
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"):
        with open(root / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": [int(v) for v in labels]}, f)
    images = data.reshape(10, 3, 32, 32).transpose(0, 2, 3, 1)
    return root, images, np.asarray(labels, dtype=np.int64)


def make_folder(root: Path, sizes):
    from PIL import Image

    rng = np.random.default_rng(2)
    for c, cls in enumerate(("bark", "wool")):
        (root / cls).mkdir(parents=True)
        for i, size in enumerate(sizes):
            Image.fromarray(rng.integers(0, 256, size=size, dtype=np.uint8)).save(
                root / cls / f"{i}.png")
    return root


def run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@contextlib.contextmanager
def interrupted_at_third_batch(monkeypatch):
    """Within the block, ``scatter features`` is interrupted (Ctrl-C) at its third batch."""
    import scatter.features as features_module

    original, calls = features_module.iter_feature_batches, []

    def interrupted(x, *args, **kwargs):
        calls.append(len(x))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(x, *args, **kwargs)

    monkeypatch.setattr(features_module, "iter_feature_batches", interrupted)
    yield
    monkeypatch.setattr(features_module, "iter_feature_batches", original)


def features_args(path, out, dataset="mnist", transform="scattering", *extra):
    # --L only where it applies (given elsewhere, it is refused)
    L = ["--L", "4"] if transform in ("scattering", "morlet", "gabor") else []
    return ["features", "--dataset", dataset, "--path", path, "--transform", transform,
            "--J", "2", *L, "--out", out, "--no-progress", *extra]


# ----------------------------------------------------------------------------------- features
def test_features_h5_equal_direct_transform_with_provenance(mnist, tmp_path, capsys):
    root, images, labels = mnist
    out = tmp_path / "f.h5"
    code, stdout, _ = run(features_args(root, out, "mnist", "scattering", "--batch-size", "10"),
                          capsys)
    assert code == 0, stdout
    feats, lab, prov = read_features(out)
    direct = Scattering2D(2, (28, 28), L=4)(torch.from_numpy(images[:, None] / 255.0).float())
    assert feats.shape == (24, 1, 1 + 8 + 16 * 1, 7, 7)
    np.testing.assert_allclose(feats, direct.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(lab, labels)
    key = prov["key"]
    assert key["transform"] == {"transform": "scattering", "J": 2, "L": 4, "max_order": 2}
    assert key["versions"]["scatter"] == "0.1.0" and key["versions"]["torch"] == torch.__version__
    sha = hashlib.sha256()
    for a in (images, labels):
        sha.update(repr((a.dtype.str, a.shape)).encode())
        sha.update(a.tobytes())
    assert key["input"]["input_sha256"] == sha.hexdigest()
    assert key["input"]["n_images"] == 24 and key["batch_size"] == 10
    assert prov["command"].startswith("scatter features --dataset mnist")
    # no checkpoint or temporary file left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.h5"]


def test_features_npz_cifar_dwt_and_limit(cifar, tmp_path, capsys):
    root, images, labels = cifar
    out = tmp_path / "f.npz"
    code, stdout, _ = run(features_args(root, out, "cifar10", "dwt", "--limit", "7",
                                        "--wavelet", "haar"), capsys)
    assert code == 0, stdout
    feats, lab, prov = read_features(out)
    x = torch.from_numpy(images[:7].transpose(0, 3, 1, 2) / 255.0).float()
    coeffs = DWT2d("haar", level=2, mode="periodization")(x)
    direct = torch.cat([c.reshape(7, 3, -1) for c in coeffs], dim=-1)
    assert feats.shape == (7, 3, 32 * 32)
    np.testing.assert_allclose(feats, direct.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(lab, labels[:7])
    assert prov["key"]["transform"]["wavelet"] == "haar" and prov["key"]["input"]["limit"] == 7
    with np.load(out, allow_pickle=False) as data:  # a plain npz, no pickles
        assert sorted(data.files) == ["features", "labels", "provenance"]


@pytest.mark.parametrize("transform, channels", [("morlet", 1 + 8), ("gabor", 1 + 8 + 16),
                                                 ("curvelet", None)])
def test_features_other_transforms(mnist, tmp_path, capsys, transform, channels):
    root, images, _ = mnist
    out = tmp_path / "f.h5"
    code, stdout, err = run(features_args(root, out, "mnist", transform, "--limit", "4"), capsys)
    assert code == 0, err
    feats, lab, prov = read_features(out)
    assert feats.shape[:2] == (4, 1) and np.all(np.isfinite(feats))
    if channels is not None:
        assert feats.shape[2] == channels
    assert prov["key"]["transform"]["transform"] == transform


def test_features_fashion_mnist_layout(mnist, tmp_path, capsys):
    root, images, labels = mnist  # Fashion-MNIST shares MNIST's IDX file names and layout
    code, _, err = run(features_args(root, tmp_path / "f.npz", "fashion-mnist", "dwt"), capsys)
    assert code == 0, err
    feats, lab, prov = read_features(tmp_path / "f.npz")
    assert prov["key"]["input"]["dataset"] == "fashion-mnist" and feats.shape[0] == 24
    np.testing.assert_array_equal(lab, labels)


def test_features_normalize(mnist, tmp_path, capsys):
    root, _, _ = mnist
    outs = {}
    for norm in ("none", "log", "standardize"):
        outs[norm] = tmp_path / f"{norm}.h5"
        code, _, err = run(features_args(root, outs[norm], "mnist", "morlet", "--normalize", norm,
                                         "--batch-size", "7"), capsys)
        assert code == 0, err
    raw = read_features(outs["none"])[0].astype(np.float64)
    np.testing.assert_allclose(read_features(outs["log"])[0], np.log(raw + 1e-6), rtol=1e-5,
                               atol=1e-5)
    mean, std = raw.mean(axis=(0, 3, 4), keepdims=True), raw.std(axis=(0, 3, 4), keepdims=True)
    np.testing.assert_allclose(read_features(outs["standardize"])[0], (raw - mean) / std,
                               rtol=1e-4, atol=1e-4)


def test_features_shared_mnist(shared_data, tmp_path, capsys):
    out = tmp_path / "m.npz"
    code, _, err = run(features_args(shared_data / "mnist", out, "mnist", "scattering",
                                     "--limit", "200", "--split", "test"), capsys)
    assert code == 0, err
    feats, lab, prov = read_features(out)
    assert feats.shape == (200, 1, 25, 7, 7) and lab.shape == (200,)
    assert prov["key"]["input"]["split"] == "test"
    assert np.bincount(lab, minlength=10).min() > 5  # real digits, all classes present


def test_existing_output_refused_unless_overwrite(mnist, tmp_path, capsys):
    root, _, _ = mnist
    out = tmp_path / "f.h5"
    assert run(features_args(root, out, "mnist", "morlet"), capsys)[0] == 0
    stamp = out.stat().st_mtime_ns
    code, stdout, _ = run(features_args(root, out, "mnist", "morlet"), capsys)
    assert code == 0 and "up to date" in stdout and out.stat().st_mtime_ns == stamp
    code, _, err = run(features_args(root, out, "mnist", "morlet", "--normalize", "log"), capsys)
    assert code == 1 and "exists" in err and "--overwrite" in err
    assert out.stat().st_mtime_ns == stamp
    code, _, err = run(features_args(root, out, "mnist", "morlet", "--normalize", "log",
                                     "--overwrite"), capsys)
    assert code == 0 and read_features(out)[2]["key"]["normalize"] == "log"
    # a file that is not ours is refused too
    other = tmp_path / "other.npz"
    other.write_bytes(b"not a zip")
    code, _, err = run(features_args(root, other, "mnist", "morlet"), capsys)
    assert code == 1 and "unknown content" in err


def test_resume_after_kill_is_bit_identical(tmp_path, capsys):
    root = tmp_path / "data"
    make_mnist(root, 240, seed=3)
    argv = features_args(root, tmp_path / "resumed.h5", "mnist", "scattering",
                         "--batch-size", "4")  # 60 batches
    ckpt = tmp_path / "resumed.h5.partial"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "scatter.cli", *map(str, argv)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(list(ckpt.glob("batch_*.npz"))) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no batch finished within 60 s"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    done = len(list(ckpt.glob("batch_*.npz")))
    assert 3 <= done < 60, done  # killed mid-run
    assert not (tmp_path / "resumed.h5").exists()

    # rerun: finished batches are loaded, not recomputed
    import scatter.features as features_module

    computed = []
    original = features_module.iter_feature_batches

    def counting(x, *args, **kwargs):
        computed.append(len(x))
        return original(x, *args, **kwargs)

    features_module.iter_feature_batches = counting
    try:
        code, stdout, err = run(argv, capsys)
    finally:
        features_module.iter_feature_batches = original
    assert code == 0, err
    assert f"{done} of 60 batches already done" in stdout
    assert len(computed) == 60 - done
    assert not ckpt.exists()

    code, _, err = run(features_args(root, tmp_path / "straight.h5", "mnist", "scattering",
                                     "--batch-size", "4"), capsys)
    assert code == 0, err
    resumed, straight = read_features(tmp_path / "resumed.h5"), read_features(tmp_path / "straight.h5")
    assert resumed[0].tobytes() == straight[0].tobytes()  # bit for bit
    np.testing.assert_array_equal(resumed[1], straight[1])
    assert resumed[2]["key"] == straight[2]["key"]


def test_ctrl_c_keeps_finished_batches(mnist, tmp_path, capsys, monkeypatch):
    root, _, _ = mnist
    argv = features_args(root, tmp_path / "f.h5", "mnist", "morlet", "--batch-size", "5")
    with interrupted_at_third_batch(monkeypatch):
        code, _, err = run(argv, capsys)
    assert code == 130 and "rerun the same command to resume" in err
    assert len(list((tmp_path / "f.h5.partial").glob("batch_*.npz"))) == 2
    code, stdout, _ = run(argv, capsys)
    assert code == 0 and "2 of 5 batches already done" in stdout
    with __import__("h5py").File(tmp_path / "f.h5") as f:
        assert f.attrs["transform"] == "morlet" and f.attrs["J"] == 2
        assert f.attrs["input_sha256"] == json.loads(f.attrs["provenance"])["key"]["input"][
            "input_sha256"]


def test_checkpoint_from_other_parameters_refused(mnist, tmp_path, capsys):
    root, _, _ = mnist
    out = tmp_path / "f.h5"
    (tmp_path / "f.h5.partial").mkdir()
    (tmp_path / "f.h5.partial" / "state.json").write_text(json.dumps({"other": 1}))
    code, _, err = run(features_args(root, out, "mnist", "morlet"), capsys)
    assert code == 1 and "checkpoint" in err and "--overwrite" in err
    assert run(features_args(root, out, "mnist", "morlet", "--overwrite"), capsys)[0] == 0
    assert out.exists() and not (tmp_path / "f.h5.partial").exists()


def test_folder_dataset_and_mixed_sizes(tmp_path, capsys):
    same = make_folder(tmp_path / "same", [(20, 20)] * 3)
    code, _, err = run(features_args(same, tmp_path / "a.h5", "folder", "morlet"), capsys)
    assert code == 0, err
    feats, lab, prov = read_features(tmp_path / "a.h5")
    assert feats.shape[:2] == (6, 1) and lab.tolist() == [0, 0, 0, 1, 1, 1]
    assert prov["key"]["input"]["classes"] == ["bark", "wool"]

    mixed = make_folder(tmp_path / "mixed", [(20, 20), (24, 18)])
    code, _, err = run(features_args(mixed, tmp_path / "b.h5", "folder", "morlet"), capsys)
    assert code == 1 and "differ in size" in err and "--size H W" in err
    assert not (tmp_path / "b.h5").exists()
    code, _, err = run(features_args(mixed, tmp_path / "b.h5", "folder", "morlet",
                                     "--size", "16", "16", "--fit", "resize"), capsys)
    assert code == 0, err
    feats, _, prov = read_features(tmp_path / "b.h5")
    assert prov["key"]["input"]["size"] == [16, 16] and prov["key"]["input"]["fit"] == "resize"
    assert feats.shape[:2] == (4, 1)


def test_features_bad_input(mnist, tmp_path, capsys):
    root, _, _ = mnist
    out = tmp_path / "f.h5"
    cases = [
        (features_args(tmp_path / "nowhere", out), "does not exist"),
        (features_args(root / "train-labels-idx1-ubyte.gz", out), "is not a folder"),
        (features_args(tmp_path, out), "not found"),  # wrong layout: no IDX files
        (features_args(tmp_path, out, "cifar10"), "not found"),
        (features_args(tmp_path, out, "folder"), "no class sub-folders"),
        (features_args(root, out, "mnist", "wavelets"), "unknown transform 'wavelets'"),
        (features_args(root, tmp_path / "f.csv"), "--out must end in one of"),
        (features_args(root, tmp_path / "missing" / "f.h5"), "does not exist"),
        (features_args(root, out, "mnist", "scattering", "--limit", "0"), "--limit must be >= 1"),
        (features_args(root, out, "mnist", "scattering", "--batch-size", "0"),
         "--batch-size must be >= 1"),
        (features_args(root, out, "mnist", "scattering", "--device", "gpu0"),
         "is not a torch device"),
        (features_args(root, out, "mnist", "scattering", "--J", "9"), "--J=9"),   # the flag, not J
        (features_args(root, out, "mnist", "dwt", "--wavelet", "nope"), "--wavelet"),
    ]
    for argv, message in cases:
        code, _, err = run(argv, capsys)
        assert code == 1, (argv, err)
        assert message in err, (message, err)
        assert err.startswith("scatter features: error:")
    assert list(tmp_path.iterdir()) == []  # nothing written
    with pytest.raises(SystemExit) as exc:  # argparse usage error
        main(["features", "--dataset", "svhn", "--path", str(root), "--transform", "dwt",
              "--out", str(out)])
    assert exc.value.code == 2


# ------------------------------------------------------------------------------------ filters
@pytest.mark.parametrize("bank", ["morlet", "gabor", "log-gabor", "curvelet", "dwt"])
def test_filters_draws_every_bank(bank, tmp_path, capsys):
    out = tmp_path / f"{bank}.png"
    L = ["--L", "4"] if bank in ("morlet", "gabor", "log-gabor") else []
    code, stdout, err = run(["filters", "--bank", bank, "--J", "3", *L, "--size", "64",
                             "--out", out], capsys)
    assert code == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_filters_bad_input(tmp_path, capsys):
    for argv, message in [
        (["filters", "--bank", "haar", "--out", tmp_path / "b.png"], "unknown bank 'haar'"),
        (["filters", "--bank", "morlet", "--out", tmp_path / "b.txt"], "--out must end in .png"),
        (["filters", "--bank", "morlet", "--out", tmp_path / "no" / "b.png"], "does not exist"),
        (["filters", "--bank", "morlet", "--J", "0", "--out", tmp_path / "b.png"], "J"),
    ]:
        code, _, err = run(argv, capsys)
        assert code == 1 and message in err, (argv, err)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------- help
@pytest.mark.parametrize("argv", [["--help"], ["features", "--help"], ["filters", "--help"]])
def test_help_on_every_subcommand(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "usage: scatter" in text
    if argv[0] == "--help":     # what the README says it lists: the datasets and transforms
        for name in (*cli.DATASETS, *cli.TRANSFORMS, *cli.BANKS, ".zarr", "--workers"):
            assert name in text, name
    if argv[0] == "features":
        assert "--transform" in text and "--overwrite" in text and "--limit" in text
    if argv[0] == "filters":
        assert "--bank" in text


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_cuda_unavailable_message(mnist, tmp_path, capsys):
    code, _, err = run(features_args(mnist[0], tmp_path / "f.h5", "mnist", "scattering",
                                     "--device", "cuda"), capsys)
    assert code == 1 and "CUDA is not available" in err


def test_python_dash_m_scatter_exit_code(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "scatter", "features", "--dataset", "mnist",
                           "--path", str(tmp_path / "nowhere"), "--transform", "scattering",
                           "--out", str(tmp_path / "f.h5")], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert "does not exist" in proc.stderr


# ------------------------------------------------------------------------- file permissions
@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request):
    before = os.umask(request.param)
    yield request.param
    os.umask(before)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_outputs_respect_the_umask(mnist, tmp_path, capsys, umask, monkeypatch):
    """Outputs, checkpoint parts and figures get 0666 & ~umask (mkstemp's 0600 used to survive
    the rename: colleagues could not read them)."""
    import matplotlib.pyplot as plt

    from scatter import extract_features
    from scatter.demo import save_figure

    root, images, _ = mnist
    expected = 0o666 & ~umask
    for name in ("f.h5", "f.npz"):
        assert run(features_args(root, tmp_path / name, "mnist", "morlet"), capsys)[0] == 0
        assert _mode(tmp_path / name) == expected, name
    # a checkpoint part, kept by an interrupted run
    saved = []
    real = cli._atomic_save

    def save_then_stop(path, **arrays):
        real(path, **arrays)
        saved.append(path)
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_atomic_save", save_then_stop)
    assert run(features_args(root, tmp_path / "g.h5", "mnist", "morlet", "--batch-size", "8"), capsys)[0] == 130
    assert _mode(saved[0]) == expected and _mode(saved[0].parent / "state.json") == expected
    assert run(["filters", "--bank", "dwt", "--J", "2", "--size", "32", "--out", tmp_path / "b.png"],
               capsys)[0] == 0
    assert _mode(tmp_path / "b.png") == expected
    fig = plt.figure()
    assert _mode(save_figure(fig, tmp_path / "demo.png")) == expected
    plt.close(fig)
    extract_features(images[:4].astype(np.float32) / 255, lambda x: x.flatten(1), progress=False,
                     out=tmp_path / "x.npy")
    assert _mode(tmp_path / "x.npy") == expected


def test_limit_still_checks_that_images_and_labels_belong_together(tmp_path, capsys):
    """A test-images file beside train labels (24 vs 10 entries) used to be written with the
    wrong labels and exit code 0 under --limit: the headers' counts are compared always."""
    root = tmp_path / "swapped"
    make_mnist(root, 24)
    write_idx(root / "train-labels-idx1-ubyte.gz", np.zeros(10, dtype=np.uint8))
    for extra in ((), ("--limit", "5")):
        code, _, err = run(features_args(root, tmp_path / "f.h5", "mnist", "morlet", *extra), capsys)
        assert code != 0 and "24 images" in err and "10 labels" in err, err
        assert not (tmp_path / "f.h5").exists()


def test_damaged_checkpoint_named_with_what_to_do(mnist, tmp_path, capsys, monkeypatch):
    """A corrupted part gave NumPy's allow_pickle message with no file name, a corrupted
    state.json "different parameters": both now name the file and say what to do."""
    root, _, _ = mnist
    out = tmp_path / "f.h5"
    argv = features_args(root, out, "mnist", "morlet", "--batch-size", "5")
    with interrupted_at_third_batch(monkeypatch):
        assert run(argv, capsys)[0] == 130
    part = tmp_path / "f.h5.partial" / "batch_000001.npz"
    part.write_bytes(b"not a zip file at all")
    code, _, err = run(argv, capsys)
    assert code == 1 and str(part) in err and "--overwrite" in err and "allow_pickle" not in err
    assert not out.exists()
    part.unlink()                                   # as the message says: recomputed on resume
    assert run(argv, capsys)[0] == 0 and out.exists()
    # an unreadable state.json is not "different parameters"
    out.unlink()
    (tmp_path / "f.h5.partial").mkdir()
    (tmp_path / "f.h5.partial" / "state.json").write_text("{truncated")
    code, _, err = run(argv, capsys)
    assert code == 1 and "unreadable state.json" in err and "different parameters" not in err
    assert "--overwrite" in err


def test_resumed_progress_bar_counts_finished_batches(mnist, tmp_path, capsys, monkeypatch):
    root, _, _ = mnist
    argv = [a for a in features_args(root, tmp_path / "f.h5", "mnist", "morlet", "--batch-size", "5")
            if a != "--no-progress"]
    with interrupted_at_third_batch(monkeypatch):
        assert run(argv, capsys)[0] == 130
    code, _, err = run(argv, capsys)
    assert code == 0 and "2/5" in err and "5/5" in err and "0/3" not in err, err


def test_two_runs_on_one_output_refused(mnist, tmp_path, capsys):
    """The second run used to "resume" the first one's checkpoint while it was being written."""
    from scatter._files import exclusive_lock

    root, _, _ = mnist
    out = tmp_path / "f.h5"
    with exclusive_lock(tmp_path / ".f.h5.lock"):           # as a running command holds it
        code, _, err = run(features_args(root, out, "mnist", "morlet"), capsys)
    assert code == 1 and "another running" in err and not out.exists()
    assert run(features_args(root, out, "mnist", "morlet"), capsys)[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.h5"]   # the lock file is gone


@pytest.mark.parametrize("argv_extra, transform, dataset, flag", [
    (["--size", "16", "16"], "morlet", "mnist", "--size"),      # used to be ignored silently
    (["--fit", "resize"], "morlet", "mnist", "--fit"),
    (["--L", "4"], "curvelet", "mnist", "--L"),                 # curvelets have 16 angles
    (["--L", "4"], "dwt", "mnist", "--L"),
    (["--wavelet", "haar"], "scattering", "mnist", "--wavelet"),
    (["--max-order", "2"], "morlet", "mnist", "--max-order"),
])
def test_flags_that_do_not_apply_are_refused(mnist, tmp_path, capsys, argv_extra, transform, dataset,
                                             flag):
    root, _, _ = mnist
    argv = features_args(root, tmp_path / "f.h5", dataset, transform, *argv_extra)
    code, _, err = run(argv, capsys)
    assert code == 1 and f"{flag} does not apply" in err, err
    assert list(tmp_path.iterdir()) == []
    code, _, err = run(["filters", "--bank", "dwt", "--L", "4", "--out", tmp_path / "b.png"], capsys)
    assert code == 1 and "--L does not apply to --bank dwt" in err


def test_cifar10_with_limit_reads_the_batches_present(cifar, tmp_path, capsys):
    """CIFAR-10 needed all five batch files even with --limit; now the files present are read in
    order (or those named by --batches), and the provenance says which."""
    root, images, labels = cifar
    partial = tmp_path / "two"
    partial.mkdir()
    for name in ("data_batch_1", "data_batch_2"):
        (partial / name).write_bytes((root / name).read_bytes())
    out = tmp_path / "f.npz"
    code, _, err = run(features_args(partial, out, "cifar10", "dwt", "--limit", "15"), capsys)
    assert code == 0, err
    feats, lab, prov = read_features(out)
    assert feats.shape[0] == 15 and prov["key"]["input"]["batches"] == ["data_batch_1", "data_batch_2"]
    np.testing.assert_array_equal(lab, np.concatenate([labels, labels[:5]]))
    out.unlink()
    code, _, err = run(features_args(partial, out, "cifar10", "dwt", "--limit", "4"), capsys)
    assert code == 0 and read_features(out)[2]["key"]["input"]["batches"] == ["data_batch_1"]
    out.unlink()
    code, _, err = run(features_args(partial, out, "cifar10", "dwt", "--batches", "data_batch_2"), capsys)
    assert code == 0 and read_features(out)[2]["key"]["input"]["batches"] == ["data_batch_2"]
    out.unlink()
    # the whole training split (no --limit) still needs all five files, and says which are missing
    code, _, err = run(features_args(partial, out, "cifar10", "dwt"), capsys)
    assert code == 1 and "data_batch_3" in err
    code, _, err = run(features_args(partial, out, "mnist", "dwt", "--batches", "data_batch_1"), capsys)
    assert code == 1 and "--batches does not apply" in err


def test_outputs_carry_channel_metadata_class_names_and_compression(mnist, tmp_path, capsys):
    import h5py

    root, _, _ = mnist
    out = tmp_path / "f.h5"
    assert run(features_args(root, out, "mnist", "scattering", "--compression", "gzip"), capsys)[0] == 0
    meta = Scattering2D(2, (28, 28), L=4).meta()
    with h5py.File(out) as f:
        assert f["features"].compression == "gzip"
        for name in ("order", "j", "theta"):
            np.testing.assert_array_equal(f[f"channel_{name}"][...], meta[name])
        assert f["channel_order"].shape == (f["features"].shape[2],)
    folder = make_folder(tmp_path / "textures", [(20, 20)] * 2)
    out = tmp_path / "g.npz"
    assert run(features_args(folder, out, "folder", "morlet", "--compression", "gzip"), capsys)[0] == 0
    with np.load(out, allow_pickle=False) as data:
        assert data["class_names"].tolist() == ["bark", "wool"]
        assert data["file_names"].tolist() == ["bark/0.png", "bark/1.png", "wool/0.png", "wool/1.png"]
        assert data["channel_order"].tolist() == [0] + [1] * 8
    with zipfile.ZipFile(out) as zf:
        assert zf.getinfo("features.npy").compress_type == zipfile.ZIP_DEFLATED
    code, _, err = run(features_args(root, tmp_path / "h.npz", "mnist", "morlet", "--compression", "lzf"),
                       capsys)
    assert code == 1 and "--compression lzf" in err and not (tmp_path / "h.npz").exists()


@pytest.mark.parametrize("argv", [["--help"], ["features", "--help"], ["filters", "--help"]])
def test_help_does_not_import_torch(argv):
    """``scatter --help`` answers at once: neither the package nor the command line imports torch
    before a command runs (torch takes seconds to import on a cold machine)."""
    code = ("import sys\nfrom scatter.cli import main\ntry:\n    main(%r)\nexcept SystemExit as e:\n"
            "    assert e.code == 0\nprint('torch' in sys.modules)\n" % (argv,))
    run_ = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run_.returncode == 0, run_.stderr
    assert "usage: scatter" in run_.stdout and run_.stdout.strip().endswith("False")


def test_reading_a_dataset_does_not_import_scikit_learn(mnist, tmp_path):
    """What ``scatter features`` and each of its Dask workers import to read a dataset and run a
    transform (the command line, the dataset readers of scatter.models, the transform) leaves
    scikit-learn out: it took about a second of every command and every worker's start-up; the
    models that use it are imported at their first use, by name as before."""
    root, _, _ = mnist
    code = ("import sys\nimport numpy as np\nfrom scatter import cli\n"
            f"args = cli.build_parser().parse_args(['features', '--dataset', 'mnist', '--path', "
            f"{str(root)!r}, '--transform', 'scattering', '--out', 'x.h5', '--J', '2'])\n"
            "source = cli.load_dataset(args)\n"
            "print(cli._features(source.read(0, 2), cli._transform(args, source.image_shape)[0], "
            "args).shape)\nprint('sklearn' in sys.modules)\n"
            "from scatter.models import SparseCoding, natural_images\n"
            "import scatter.models.natural_images\nfrom scatter import models\n"
            "print('sklearn' in sys.modules, models.natural_images is natural_images)\n")
    run_ = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert run_.returncode == 0, run_.stderr
    assert run_.stdout.split("\n")[1:3] == ["False", "True True"], run_.stdout


def test_workers_on_a_local_dask_cluster_give_the_single_process_file(mnist, tmp_path, capsys,
                                                                      monkeypatch):
    """--workers 2: the batches run on a LocalCluster of two processes (loopback), each reading
    the dataset itself; the features are those of the single-process run, bit for bit, and a
    run interrupted in one process resumes on the cluster without recomputing its batches."""
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    root, _, _ = mnist
    single, multi = tmp_path / "single.h5", tmp_path / "multi.h5"
    assert run(features_args(root, single, "mnist", "scattering", "--batch-size", "5"), capsys)[0] == 0
    argv = features_args(root, multi, "mnist", "scattering", "--batch-size", "5")
    with interrupted_at_third_batch(monkeypatch):
        assert run(argv, capsys)[0] == 130
    argv += ["--workers", "2"]
    code, stdout, err = run(argv, capsys)
    assert code == 0, err
    assert "2 of 5 batches already done" in stdout and "computed 3 of 5" in stdout
    a, b = read_features(single), read_features(multi)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    code, _, err = run(features_args(root, tmp_path / "x.h5", "mnist", "morlet", "--workers", "2",
                                     "--scheduler", "tcp://127.0.0.1:1"), capsys)
    assert code == 1 and "not both" in err


def test_the_commands_own_dask_workers_keep_the_default_allocator(monkeypatch):
    """--workers N starts workers without Dask's MALLOC_TRIM_THRESHOLD_=65536, which makes every
    large tensor a fresh mmap, faulted in page by page in every batch (the transform ~25 % slower
    than in one process): a batch of 256 MNIST images through the scattering transform faults in
    about 600 pages in a worker task's thread (0 in a main thread), about 6,300 with Dask's
    default."""
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")

    def page_faults_per_batch() -> float:      # (local: shipped to the worker by value)
        """Minor page faults of this process per batch of 256 MNIST-sized images through the
        scattering transform, once warm."""
        import resource

        import torch

        from scatter import Scattering2D

        transform, x = Scattering2D(2, (28, 28), L=8), torch.rand(256, 1, 28, 28)
        with torch.no_grad():
            for _ in range(5):
                transform(x)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            for _ in range(5):
                transform(x)
        return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5

    # a LocalCluster started earlier in this process (Dask's default) leaves the variable in
    # os.environ, which the workers would inherit: the command keeps a variable the user set
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    cluster = cli._local_cluster(1)
    try:
        with distributed.Client(cluster) as client:
            env = client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_")
            faults = client.submit(page_faults_per_batch, pure=False).result()
            with contextlib.redirect_stderr(io.StringIO()) as note:
                cli._note_worker_allocator(client, "tcp://127.0.0.1")
            note = note.getvalue()
    finally:
        cluster.close()
    assert list(env.values()) == [None]
    assert faults < 2000, faults
    assert note == ""                       # nothing to say about these workers


def test_dask_tasks_are_runs_of_consecutive_batches():
    """Each Dask task computes consecutive batches holding about TASK_PIXELS pixels (Dask's
    cost per task, milliseconds, stays small beside 40 ms MNIST batches), but there are at
    least 4 tasks per worker thread where the batches allow it; no batch is left out or
    repeated, and a gap in the missing batches (a resumed run) starts a new task."""
    mnist = cli._task_groups(list(range(235)), 256, (28, 28), 1)
    assert [b for g in mnist for b in g] == list(range(235))
    assert {len(g) for g in mnist[:-1]} == {-(-cli.TASK_PIXELS // (256 * 28 * 28))}
    assert [len(g) for g in cli._task_groups(list(range(16)), 16, (256, 256), 1)] == [1] * 16
    assert cli._task_groups(list(range(24)), 1, (28, 28), 2) == [[3 * i, 3 * i + 1, 3 * i + 2]
                                                                  for i in range(8)]
    assert cli._task_groups([0, 1, 2, 5, 6, 7, 8, 9], 1, (28, 28), 1) == [[0, 1], [2], [5, 6],
                                                                          [7, 8], [9]]
    assert cli._task_groups([], 256, (28, 28), 4) == []


def test_a_rerun_dask_task_skips_the_batches_it_finished(mnist, tmp_path, capsys):
    """A task rerun by Dask after its worker was lost recomputes only its batches that have no
    part yet: a part already there is kept as it is (parts are written atomically)."""
    root, _, _ = mnist
    args = parsed(features_args(root, tmp_path / "f.h5", "mnist", "scattering", "--batch-size", "4"))
    source, _, _ = cli._load_inputs(args)
    targets = [tmp_path / f"batch_{b:06d}.npz" for b in range(3)]
    targets[1].write_bytes(b"finished by the lost worker")
    try:
        assert cli._compute_parts(args, source, [0, 1, 2], 4, targets) == [0, 1, 2]
    finally:
        cli._PROCESS_CACHE.clear()          # the transform it built, as a run leaves none
    assert targets[1].read_bytes() == b"finished by the lost worker"
    for b in (0, 2):
        part = cli._read_part(targets[b])
        np.testing.assert_array_equal(part["labels"], source.labels[4 * b:4 * b + 4])
        assert part["features"].shape[0] == 4


def test_scheduler_address_runs_on_an_existing_cluster(mnist, tmp_path, capsys, monkeypatch):
    """--scheduler ADDRESS: the batches run on the cluster at that address (here a LocalCluster
    this test starts on the loopback); the output equals the single-process one bit for bit."""
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    root, _, _ = mnist
    single, multi = tmp_path / "single.zarr", tmp_path / "multi.zarr"
    args = ("mnist", "morlet", "--batch-size", "7")
    pytest.importorskip("zarr", reason="zarr is not installed (the dask extra)")
    assert run(features_args(root, single, *args), capsys)[0] == 0
    import dask

    # Dask's default worker environment, as `dask worker` starts them (a value in this
    # process's environment would win; the nanny leaves its own there: restored afterwards)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 65536}):
        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None)
    with cluster:
        code, _, err = run(features_args(root, multi, *args, "--scheduler",
                                         cluster.scheduler_address), capsys)
        assert code == 0, err
        # the user is told that it slows the transform, and how to start workers without it
        assert "MALLOC_TRIM_THRESHOLD_=65536" in err and "README" in err
    np.testing.assert_array_equal(read_features(single)[0], read_features(multi)[0])
    np.testing.assert_array_equal(read_features(single)[1], read_features(multi)[1])


def test_zarr_output_equals_the_hdf5_one(mnist, tmp_path, capsys, umask):
    """--out *.zarr: the same features, labels and provenance as HDF5, chunked by batch, the
    per-channel metadata beside them, the folder's permissions from the umask; up to date on a
    second run, refused without --overwrite for other parameters, replaced with it."""
    zarr = pytest.importorskip("zarr", reason="zarr is not installed (the dask extra)")
    root, _, _ = mnist
    h5, store = tmp_path / "f.h5", tmp_path / "f.zarr"
    args = ("mnist", "scattering", "--batch-size", "10", "--compression", "gzip")
    assert run(features_args(root, h5, *args), capsys)[0] == 0
    assert run(features_args(root, store, *args), capsys)[0] == 0
    a, b = read_features(h5), read_features(store)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2]["key"] == b[2]["key"]
    group = zarr.open_group(str(store), mode="r")
    assert group["features"].chunks[0] == 10
    np.testing.assert_array_equal(group["channel_order"][...], Scattering2D(2, (28, 28), L=4).meta()["order"])
    assert _mode(store) == 0o777 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.h5", "f.zarr"]
    code, stdout, _ = run(features_args(root, store, *args), capsys)
    assert code == 0 and "up to date" in stdout
    code, _, err = run(features_args(root, store, "mnist", "morlet"), capsys)
    assert code == 1 and "--overwrite" in err
    assert run(features_args(root, store, "mnist", "morlet", "--overwrite"), capsys)[0] == 0
    assert read_features(store)[2]["key"]["transform"]["transform"] == "morlet"


@pytest.mark.parametrize("suffix", [".h5", ".zarr"])
def test_a_worker_killed_mid_run_does_not_change_the_output(mnist, tmp_path, capsys, suffix):
    """A Dask worker process killed while batches run: Dask reruns its tasks elsewhere (or on
    the restarted worker), each part (HDF5) or chunk (Zarr) is written atomically, and the
    output equals the single-process one bit for bit."""
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    if suffix == ".zarr":
        pytest.importorskip("zarr", reason="zarr is not installed (the dask extra)")
    import threading

    import psutil

    root, _, _ = mnist
    single, multi = tmp_path / f"single{suffix}", tmp_path / f"multi{suffix}"
    args = ("mnist", "scattering", "--batch-size", "1")          # 24 tasks
    assert run(features_args(root, single, *args), capsys)[0] == 0
    parts, killed = tmp_path / f"multi{suffix}.partial", []
    done = "batch_*.npz" if suffix == ".h5" else "batch_*.done"

    def kill_a_worker_after_the_first_part():
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            if parts.is_dir() and any(parts.glob(done)):
                workers = [p for p in psutil.Process().children(recursive=True)
                           if "spawn_main" in " ".join(p.cmdline())]
                if workers:
                    workers[-1].kill()
                    killed.append(len(list(parts.glob(done))))   # parts done then
            time.sleep(0.01)

    watcher = threading.Thread(target=kill_a_worker_after_the_first_part, daemon=True)
    watcher.start()
    code, _, err = run(features_args(root, multi, *args, "--workers", "2"), capsys)
    watcher.join(5)
    assert killed and killed[0] < 24, f"no worker was killed mid-run ({killed})"
    assert code == 0, err
    np.testing.assert_array_equal(read_features(single)[0], read_features(multi)[0])


def parsed(argv):
    """The command line's arguments for ``argv``, as ``main`` gives them to a command."""
    args = cli.build_parser().parse_args([str(a) for a in argv])
    args.argv = [str(a) for a in argv]
    return args


def test_sources_read_the_slices_of_the_whole_dataset(mnist, cifar, tmp_path):
    """A worker reads only its batch: each source's slice equals the same slice of the whole
    dataset as the loaders read it (MNIST gzipped and raw, CIFAR-10 across batch files, image
    folders), and the streamed SHA-256 is that of the whole arrays."""
    from scatter.models import load_image_folder
    from scatter._sources import CifarSource, FolderSource, IdxSource

    root, images, labels = mnist
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (raw / name).write_bytes(gzip.decompress((root / f"{name}.gz").read_bytes()))
    for folder in (root, raw):
        source = cli.load_dataset(parsed(features_args(folder, tmp_path / "x.h5", "mnist",
                                                       "scattering", "--limit", "20")))
        assert isinstance(source, IdxSource) and source.n == 20
        for start, stop in ((0, 7), (7, 14), (14, 20), (19, 20)):
            np.testing.assert_array_equal(source.read(start, stop), images[start:stop])
        np.testing.assert_array_equal(source.labels, labels[:20])
        digest = hashlib.sha256()
        for array in (images[:20], labels[:20]):
            digest.update(repr((array.dtype.str, array.shape)).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        assert source.info["input_sha256"] == digest.hexdigest()

    croot, cimages, clabels = cifar
    source = cli.load_dataset(parsed(features_args(croot, tmp_path / "x.h5", "cifar10", "dwt",
                                                   "--limit", "25")))
    assert isinstance(source, CifarSource) and source.counts == [10, 10, 5]
    whole = np.concatenate([cimages] * 3)[:25]
    for start, stop in ((0, 4), (8, 12), (9, 21), (20, 25)):     # within and across files
        np.testing.assert_array_equal(source.read(start, stop), whole[start:stop])
    assert pickle.loads(pickle.dumps(source))._cached is None    # no pixels shipped

    folder = make_folder(tmp_path / "textures", [(20, 20)] * 3)
    source = cli.load_dataset(parsed(features_args(folder, tmp_path / "x.h5", "folder", "morlet")))
    fimages, flabels, _ = load_image_folder(folder)
    assert isinstance(source, FolderSource) and source.file_names[3] == "wool/0.png"
    np.testing.assert_array_equal(source.read(2, 5), fimages[2:5])
    np.testing.assert_array_equal(source.labels, flabels)


def test_a_batch_reads_only_its_images(mnist, tmp_path, capsys, monkeypatch):
    """Memory per batch (per worker) is bounded by the batch size: computing the features, the
    command reads the dataset one batch at a time, never whole (the SHA-256 of the input
    streams it in chunks of at most 4096 images)."""
    from scatter import _sources

    reads, original = [], _sources.IdxSource.read

    def recorded(self, start, stop):
        reads.append(stop - start)
        return original(self, start, stop)

    monkeypatch.setattr(_sources.IdxSource, "read", recorded)
    monkeypatch.setattr(_sources, "_DIGEST_CHUNK", 8)
    root, _, _ = mnist
    assert run(features_args(root, tmp_path / "f.h5", "mnist", "morlet", "--batch-size", "5"),
               capsys)[0] == 0
    assert max(reads) <= 8 and reads.count(5) >= 4, reads


def test_dask_workers_write_the_zarr_chunks_and_a_killed_client_resumes(mnist, tmp_path, capsys):
    """--out *.zarr with --workers: each task writes its batch's chunk of the store itself
    (chunk-aligned, no locks) and marks it done; the whole command killed mid-run (client,
    scheduler and workers), the same command resumes without recomputing or rewriting the
    finished chunks, and the store equals the single-process one bit for bit."""
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    zarr = pytest.importorskip("zarr", reason="zarr is not installed (the dask extra)")
    root, _, _ = mnist
    single, multi = tmp_path / "single.zarr", tmp_path / "multi.zarr"
    args = ("mnist", "scattering", "--batch-size", "1")          # 24 chunks
    assert run(features_args(root, single, *args), capsys)[0] == 0
    argv = [str(a) for a in features_args(root, multi, *args, "--workers", "2")]
    ckpt = tmp_path / "multi.zarr.partial"
    job = subprocess.Popen([sys.executable, "-m", "scatter", *argv], start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(list(ckpt.glob("batch_*.done"))) < 2:
            assert job.poll() is None, job.stderr.read().decode()
            time.sleep(0.02)
    finally:
        os.killpg(job.pid, signal.SIGKILL)                          # the whole job, at once
        job.wait(30)
    done = sorted(int(p.stem.split("_")[1]) for p in ckpt.glob("batch_*.done"))
    assert 2 <= len(done) < 24, f"not killed mid-run: {len(done)} chunks done"
    store = ckpt / "store.zarr"

    def chunk_files(folder):
        return {p.relative_to(folder): p.stat().st_mtime_ns
                for b in done for p in (folder / "features" / "c" / str(b)).rglob("*")
                if p.is_file()}

    finished = chunk_files(store)
    assert len(finished) == len(done)
    code, stdout, err = run(argv, capsys)
    assert code == 0, err
    assert f"{len(done)} of 24 batches already done" in stdout
    assert f"computed {24 - len(done)} of 24" in stdout
    assert chunk_files(multi) == finished                        # not rewritten
    a, b = read_features(single), read_features(multi)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2]["key"] == b[2]["key"]
    assert zarr.open_group(str(multi), mode="r")["features"].chunks[0] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["multi.zarr", "single.zarr"]
