"""benchmarks/transfer.py: its helpers, its command line, and a --quick smoke run on the provided
datasets (runs in the normal suite; skipped where ../shared/data is absent)."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "transfer.py"


@pytest.fixture(scope="module")
def transfer():
    spec = importlib.util.spec_from_file_location("transfer_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_balanced_subsets_and_channel_adaptation(transfer):
    labels = np.repeat(np.arange(10), 50)
    index = transfer.balanced_subset(labels, 100, np.random.default_rng(0))
    assert len(np.unique(index)) == 100 and np.all(np.bincount(labels[index]) == 10)
    other = transfer.balanced_subset(labels, 100, np.random.default_rng(1))
    assert not np.array_equal(index, other)
    with pytest.raises(ValueError, match="multiple"):
        transfer.balanced_subset(labels, 105, np.random.default_rng(0))

    rgb = torch.randn(4, 3, 7, 7)
    grey = transfer.adapt_channels(rgb, 1)
    image = torch.rand(1, 1, 16, 16)
    # Same response to a grey image whichever way the weights are adapted.
    conv = torch.nn.functional.conv2d
    assert torch.allclose(conv(image, grey), conv(image.expand(1, 3, 16, 16), rgb), atol=1e-5)
    back = transfer.adapt_channels(grey, 3)
    assert torch.allclose(conv(image.expand(1, 3, 16, 16), back), conv(image, grey), atol=1e-5)


def test_kth_splits_match_the_linear_rows(transfer):
    labels = np.repeat(np.arange(10), 81)
    splits = list(transfer.kth_splits(labels, 40, 3, seed=5))
    for train, test in splits:
        assert np.all(np.bincount(labels[train]) == 40)
        assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(labels)
    assert not np.array_equal(splits[0][0], splits[1][0])
    linear = transfer._linear_module()
    if linear is None or not hasattr(linear, "kth_splits"):
        pytest.skip("benchmarks/transfer_linear.py not written yet")
    for (a, b), (c, d) in zip(splits, linear.kth_splits(labels, 40, 3, seed=5)):
        assert np.array_equal(a, c) and np.array_equal(b, d)


def test_morlet_stem_and_cnn_share_the_hybrid_grid(transfer):
    w = transfer.morlet_stem_weight(3)
    assert w.shape == (35, 3, 7, 7)
    assert torch.allclose(w.flatten(1).norm(dim=1), torch.ones(35), atol=1e-5)
    # Wavelets (first 32) have zero mean; the low-passes are positive.
    assert float(w[:32].sum(dim=(1, 2, 3)).abs().max()) < 1e-5
    assert float(w[32:].sum()) > 0
    net = transfer.StemCNN(1, 10, (7, 7), 2, 8, weight=transfer.morlet_stem_weight(1), freeze=True)
    assert net(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert not net[0][0].weight.requires_grad


def test_tables_and_atomic_writes(transfer, tmp_path):
    rows = [dict(method="hybrid: scattering + ResNet head", dataset="cifar10-100", accuracy=a,
                 seconds=1.0, notes="n") for a in (0.3, 0.4)]
    rows.append(dict(method="x", dataset="mnist", accuracy=None, seconds=0.0, notes="pending"))
    summary = transfer.summarise(rows)
    table = transfer.markdown(summary)
    assert "35.00 ± 5.00" in table and "pending" in table and "Oyallon" in table
    out = tmp_path / "sub" / "t.md"
    transfer.write_atomic(out, table)
    assert out.read_text() == table and [p.name for p in out.parent.iterdir()] == ["t.md"]
    # the umask's permissions, as open(path, "w") gives (mkstemp alone leaves 0600)
    mask = os.umask(0o027)
    try:
        transfer.write_atomic(out, table)
    finally:
        os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o640


def run_script(*argv, timeout=120):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, argv)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_command_line_errors(transfer, tmp_path, capsys):
    proc = run_script("--data", tmp_path / "absent", "--quick")
    assert proc.returncode == 2 and "dataset folder not found" in proc.stderr
    for argv, message in ((["--datasets", "imagenet"], "imagenet"),
                          (["--out", str(tmp_path / "t.csv")], ".md or .json"),
                          (["--threads", "0"], "--threads")):
        with pytest.raises(SystemExit) as exit_info:
            transfer.parse_args(argv + ["--data", str(tmp_path)])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_quick_run(shared_data, tmp_path):
    md, js = tmp_path / "t.md", tmp_path / "t.json"
    proc = run_script("--quick", "--threads", "1", "--data", shared_data, "--out", md,
                      "--out", js, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(js.read_text())
    columns = {r["dataset"] for r in result["rows"]}
    assert columns == {"mnist", "cifar10", "cifar10-100", "kth-tips"}
    deep = [r for r in result["rows"] if r["notes"] != "pending"]
    methods = {r["method"] for r in deep}
    for expected in ("hybrid: scattering + ResNet head", "CNN: learned first layer",
                     "CNN: first layer frozen to Morlet", "CNN: first layer frozen to random weights",
                     "CNN: first layer frozen, transferred from cifar10",
                     "CNN: first layer frozen, transferred from mnist"):
        assert expected in methods
    assert all(0 <= r["accuracy"] <= 1 for r in deep if r["accuracy"] is not None)
    table = md.read_text()
    assert table in proc.stdout and "| method | mnist | cifar10 | cifar10-100 | kth-tips |" in table
