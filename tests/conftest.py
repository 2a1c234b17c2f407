"""Shared fixtures: the provided datasets in ../shared/data (skipped with a reason if absent)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(os.environ.get("SCATTER_SHARED_DATA",
                                  Path(__file__).resolve().parents[1].parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to the project's provided datasets; skips the test where they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"provided datasets not found at {SHARED_DATA} (a user's clone has no ../shared)")
    return SHARED_DATA
