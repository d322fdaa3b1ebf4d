"""Golden plans: the same recipe prints a byte-identical plan, in topological order with
ties broken by name. Regenerate with SYNTHC_REGEN_GOLDEN=1 and review the diff."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from synthc.api import plan_recipe
from synthc.plan.render import plan_json, plan_table

CASES = sorted(p for p in (Path(__file__).parents[1] / "cases" / "plan").iterdir() if p.is_dir())


@pytest.fixture(params=CASES, ids=[c.name for c in CASES])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the case folder, so a plan never sees state from another run."""
    source: Path = request.param
    work = tmp_path / source.name
    shutil.copytree(source, work, ignore=shutil.ignore_patterns("plan.txt", ".synthc", "*.lock"))
    return source, work / "recipe.yaml"


def test_plan_matches_golden(case: tuple[Path, Path]) -> None:
    source, recipe = case
    text = plan_table(plan_recipe(recipe))
    golden = source / "plan.txt"
    if os.environ.get("SYNTHC_REGEN_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_compiling_twice_gives_the_same_plan(case: tuple[Path, Path]) -> None:
    _, recipe = case
    assert plan_json(plan_recipe(recipe)) == plan_json(plan_recipe(recipe))
