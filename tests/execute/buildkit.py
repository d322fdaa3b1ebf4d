"""Helpers for the store and executor tests: write a recipe, build it, read its steps."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from synthc.execute.build import BuildContext, BuildResult, build
from synthc.plan.compile import compile_plan
from synthc.plan.model import Plan
from synthc.progress import RecordingReporter
from synthc.recipe.load import Recipe, load_recipe
from synthc.store.store import Store


def write_recipe(
    folder: Path,
    steps: Mapping[str, Mapping[str, Any]],
    exports: Mapping[str, list[str]] | None = None,
    name: str = "test",
) -> Path:
    """Write recipe.yaml into `folder` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"synthc": 1, "name": name, "seed": 7, "steps": dict(steps)}
    if exports:
        data["exports"] = dict(exports)
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(dict(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def load(path: Path) -> Recipe:
    return load_recipe(path)


def plan_of(path: Path) -> Plan:
    recipe = load(path)
    return compile_plan(recipe, Store.for_recipe(recipe).read_lock())


def run_build(path: Path, **options: Any) -> tuple[BuildResult, RecordingReporter]:
    """Load, compile and build the recipe at `path`, recording what the build reported."""
    recipe = load(path)
    store = Store.for_recipe(recipe)
    reporter = RecordingReporter()
    plan = compile_plan(recipe, store.read_lock())
    result = build(plan, BuildContext(store=store, reporter=reporter, **options))
    return result, reporter


def step_frame(path: Path, step: str) -> pl.DataFrame:
    return Store.for_recipe(load(path)).read_step(step)


LINEAR = {
    "seeds": {"kind": "seed", "path": "seeds.jsonl"},
    "doubled": {"kind": "sql", "from": "seeds", "query": "select _id, q, n * 2 as m from seeds"},
    "big": {"kind": "filter", "from": "doubled", "where": "m >= 10"},
    "summary": {
        "kind": "sql",
        "from": "big",
        "query": "select count(*) as rows, sum(m) as total from big",
    },
}
