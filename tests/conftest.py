"""Shared fixtures: the provided datasets in ../shared/data (skipped with a reason if absent)."""
from __future__ import annotations

import os
from pathlib import Path

# The suite's linear algebra is small (scikit-learn fits on a few thousand samples): OpenBLAS's
# threads only contend with torch's on a 2-core machine (a 1200 x 144 logistic regression took
# 0.85 s with them, 0.015 s without). Set before NumPy/SciPy load their BLAS, and limit the ones
# already loaded.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy  # noqa: E402,F401
import pytest  # noqa: E402
import scipy.linalg  # noqa: E402,F401
from threadpoolctl import threadpool_limits  # noqa: E402

_BLAS_LIMIT = threadpool_limits(limits=1, user_api="blas")

# The tests' tensors are small: torch's intra-op threads only add barrier waits (on a busy 2-core
# machine, small ops ran 10-60x slower with 2 threads than with 1). Benchmarks set their own.
import torch  # noqa: E402

torch.set_num_threads(1)

SHARED_DATA = Path(os.environ.get("SCATTER_SHARED_DATA",
                                  Path(__file__).resolve().parents[1].parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to the project's provided datasets; skips the test where they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"provided datasets not found at {SHARED_DATA} (a user's clone has no ../shared)")
    return SHARED_DATA


@pytest.fixture
def two_threads():
    """torch with two intra-op threads for one test (the suite runs with one): on Linux the
    CPU engines then run a batch's chunks on worker threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)
