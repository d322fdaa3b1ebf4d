"""Fixtures for the store and executor tests (helpers live in buildkit.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from buildkit import LINEAR, write_jsonl, write_recipe


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty recipe folder."""
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.fixture
def linear(project: Path) -> Path:
    """seed (from a jsonl of 20 rows) -> sql -> filter -> sql aggregate."""
    write_jsonl(project / "seeds.jsonl", ({"q": f"question {i}", "n": i} for i in range(20)))
    return write_recipe(project, LINEAR, exports={"big": ["out/big.jsonl", "out/big.parquet"]})
