"""benchmarks/learnable.py: a --quick smoke run on the provided CIFAR-10 batches (skipped where
they are absent), its table and its JSON."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "cifar-10-batches-py" / "data_batch_5").is_file(),
                    reason="the provided CIFAR-10 batches (../shared/data) are absent")
def test_quick_run_writes_every_row(tmp_path):
    spec = importlib.util.spec_from_file_location("learnable_under_test",
                                                  ROOT / "benchmarks" / "learnable.py")
    learnable = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(learnable)
    md, js = tmp_path / "t.md", tmp_path / "t.json"
    png = tmp_path / "learned.png"
    assert learnable.main(["--quick", "--threads", "1", "--data", str(DATA), "--out", str(md),
                           "--out", str(js), "--figure", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = md.read_text()
    for row in learnable.ROWS:
        assert f"| {row} |" in text
    results = json.loads(js.read_text())
    learned = [r for r in results if r["row"].startswith("learned")]
    assert learned and all(r["moved"] and r["moved"]["xi"] > 0 for r in learned)
    assert all(0 <= r["accuracy"] <= 100 for r in results)
