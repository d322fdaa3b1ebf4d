"""Fixtures for the report tests: a built support project, and headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from reportkit import build_project, record_calls, write_project

from synthc.recipe.load import Recipe
from synthc.store.store import Store

HERE = Path(__file__).parent
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def built(tmp_path: Path) -> tuple[Recipe, Store]:
    """The support project, built (its gates evaluated by the build), with model-call stats
    recorded in the lock as a model-calling step would."""
    recipe, store, result = build_project(write_project(tmp_path / "support"))
    # The leakage gate on `final` fails (error severity): the build exits 1 for it and
    # records every gate's verdict in the lock.
    assert (result.exit_code, result.gate_failures) == (1, ["final"])
    assert len(store.read_lock().steps["final"].checks) == 4
    record_calls(store, "good", calls=30, hits=90, tokens=48_000, cost=0.0312)
    return recipe, store


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, which `make browser` installs (`make ci` runs it)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium, as root) "
            "and re-run the tests"
        )
    return CHROMIUM


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """test-artifacts/ at the repository root (gitignored): screenshots land here."""
    folder = HERE.parent.parent / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder
