"""benchmarks/rotation.py: its helpers and a --quick run (stability, cost, figure; MNIST and
KTH-TIPS where ../shared/data holds them)."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "rotation.py"
DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="module")
def rotation():
    spec = importlib.util.spec_from_file_location("rotation_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scattering2d_angle_groups(rotation):
    from scatter import Scattering2D
    S = Scattering2D(2, (16, 16), L=4)
    blocks = rotation.angle_blocks(S)
    # S0; S1 by j1; S2 by (j1, j2, t2 - t1): 1 + 2 + 4 groups, each of its L angles but S0
    assert [b - a for a, b in blocks] == [1] + [4] * 6
    x = torch.randn(2, 16, 16, dtype=torch.float64)
    coefs = S(x).numpy()
    grouped = rotation.invariant_maps(rotation.scattering2d_by_angle(S, coefs), blocks)
    naive = rotation.theta_average_scattering2d(S, coefs)
    assert np.allclose(np.sort(grouped.ravel()), np.sort(naive.ravel()))


def test_angular_spectrum_rings_are_invariant_to_angle_shifts_and_ring_moves(rotation):
    rings = rotation.ring_index(7, 4, 28)
    assert rings.shape == (7, 7) and rings.min() == 0
    coefs = np.random.default_rng(0).standard_normal((2, 9, 7, 7))
    blocks = [(0, 1), (1, 9)]
    a = rotation.angular_spectrum_rings(coefs, blocks, rings)
    shifted = coefs.copy()
    shifted[:, 1:9] = np.roll(coefs[:, 1:9], 3, axis=1)           # a cyclic shift of the angles
    assert np.allclose(rotation.angular_spectrum_rings(shifted, blocks, rings), a)
    moved = coefs.copy()                                             # positions swapped within a ring
    i, j = np.argwhere(rings == 2)[:2]
    moved[..., i[0], i[1]], moved[..., j[0], j[1]] = coefs[..., j[0], j[1]], coefs[..., i[0], i[1]]
    assert np.allclose(rotation.angular_spectrum_rings(moved, blocks, rings), a)


@pytest.mark.slow
def test_quick_run(tmp_path):
    pytest.importorskip("scipy.ndimage", reason="the studies rotate images with scipy")
    pytest.importorskip("skimage", reason="the studies use scikit-image's bundled images")
    studies = "stability,cost,figure" + (",mnist" if (DATA / "mnist").is_dir() else "")
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--study", studies, "--figures",
                           str(tmp_path), "--json", str(out), "--data", str(DATA)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    results = {r["study"]: r for r in json.loads(out.read_text())}
    assert results["stability"]["ratio_to_scattering2d"]["roto joint"] < 0.3
    assert results["cost"]["rows"][0]["first_layer_rel_diff"] < 1e-10
    assert (tmp_path / "rototranslation.png").is_file() and (tmp_path / "rotation_stability.png").is_file()
    assert "| transform |" in proc.stdout


def test_unknown_study_is_refused():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--study", "stability,bogus"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "unknown --study bogus" in proc.stderr
