"""Recipe-path level entry points: what the CLI calls, and the easiest way to use synthc
from Python. Each one is load -> compile -> (build | query | export)."""

from __future__ import annotations

from pathlib import Path

from synthc.lock import read_lock
from synthc.plan import Plan, compile_plan
from synthc.recipe import load_recipe


def validate_recipe(path: str | Path) -> Plan:
    """Load and compile `path` without looking at previous builds. Raises RecipeError."""
    return compile_plan(load_recipe(path))


def plan_recipe(path: str | Path) -> Plan:
    """Compile `path` against its lock and stored outputs: what `synthc build` would run."""
    recipe = load_recipe(path)
    data = recipe.workdir / "data"

    def output_exists(step: str, data_version: str) -> bool:
        return (data / step / f"{data_version}.parquet").exists()

    return compile_plan(recipe, read_lock(recipe.lock_path), output_exists=output_exists)
