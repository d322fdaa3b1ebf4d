"""Fixtures for the recipe loader tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from synthc.recipe.load import Recipe

REPO_ROOT = Path(__file__).resolve().parents[2]
RECIPES = Path(__file__).resolve().parent / "recipes"
INVALID = REPO_ROOT / "tests" / "cases" / "invalid"


@pytest.fixture
def in_repo_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run from the repository root, so recipe paths (and messages) are relative to it."""
    monkeypatch.chdir(REPO_ROOT)
    yield REPO_ROOT


@pytest.fixture
def write_recipe(tmp_path: Path) -> Callable[[str], Path]:
    """Write recipe text to a file in a fresh folder and return its path."""

    def write(text: str, name: str = "recipe.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def without_positions(recipe: Recipe) -> Recipe:
    """The recipe with every position and its file path blanked, for comparisons."""
    steps = {
        name: replace(
            step,
            location=None,
            checks=tuple(replace(check, location=None) for check in step.checks),
        )
        for name, step in recipe.steps.items()
    }
    return replace(recipe, steps=steps, positions={}, literal_starts={}, path=Path("."))
