"""Fixtures for the report tests: a built support project, and headless Chromium."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from reportkit import build_project, evaluate_gates, record_calls, record_gates, write_project

from synthc.recipe import Recipe
from synthc.store import Store

HERE = Path(__file__).parent
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def built(tmp_path: Path) -> tuple[Recipe, Store]:
    """The support project, built, with gate results and call stats recorded in its lock."""
    recipe, store, result = build_project(write_project(tmp_path / "support"))
    # The leakage gate on `final` fails (error severity): a build that evaluates gates
    # exits 1 for it, and records every verdict in the lock.
    assert result.exit_code == 0 or getattr(result, "gate_failures", None) == ["final"]
    if not store.read_lock().steps["final"].checks:  # a build that does not evaluate gates
        record_gates(store, "final", evaluate_gates(recipe, store, "final"))
    record_calls(store, "good", calls=30, hits=90, tokens=48_000, cost=0.0312)
    return recipe, store


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed by install_chromium.sh when missing and we are root."""
    if not CHROMIUM.exists():
        if os.geteuid() != 0:
            pytest.fail(
                f"{CHROMIUM} is missing and the tests are not running as root, so they cannot "
                "install it: run tests/report/install_chromium.sh as root "
                "(apt-get install chromium) and re-run the tests"
            )
        done = subprocess.run(
            ["bash", str(HERE / "install_chromium.sh")], capture_output=True, text=True
        )
        if done.returncode != 0 or not CHROMIUM.exists():
            pytest.fail(f"installing chromium failed:\n{done.stdout}\n{done.stderr}")
    return CHROMIUM


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """test-artifacts/ at the repository root (gitignored): screenshots land here."""
    folder = HERE.parent.parent / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder
