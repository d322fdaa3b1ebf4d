"""Incremental builds: only what is stale re-runs, and unchanged outputs stop the wave."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from buildkit import LINEAR, load, plan_of, run_build, step_frame, write_recipe

from synthc.errors import PlanError, StepFailed, StoreError
from synthc.execute.build import select_steps
from synthc.execute.context import ExecStepContext
from synthc.progress import NullReporter
from synthc.store.store import Store

ALL = ["seeds", "doubled", "big", "summary"]


def edit_step(recipe: Path, step: str, **changes: object) -> None:
    data = yaml.safe_load(recipe.read_text())
    data["steps"][step].update(changes)
    recipe.write_text(yaml.safe_dump(data, sort_keys=False))


def test_a_second_build_runs_nothing(linear: Path) -> None:
    first, _ = run_build(linear)
    second, reporter = run_build(linear)
    assert first.built == ALL
    assert second.built == [] and second.skipped == ALL
    assert [e[1] for e in reporter.of("skipped")] == ALL
    assert second.rows == first.rows == {"seeds": 20, "doubled": 20, "big": 15, "summary": 1}


def test_editing_a_filter_reruns_it_and_its_descendants_only(linear: Path) -> None:
    run_build(linear)
    edit_step(linear, "big", where="m >= 20")
    result, _ = run_build(linear)
    assert result.built == ["big", "summary"]
    assert result.skipped == ["seeds", "doubled"]
    assert step_frame(linear, "summary").drop("_id").to_dicts() == [{"rows": 10, "total": 290}]


def test_an_edit_that_changes_no_rows_leaves_descendants_fresh(linear: Path) -> None:
    run_build(linear)
    edit_step(linear, "big", where="m > 9")  # same rows as m >= 10
    result, _ = run_build(linear)
    assert result.built == ["big"]  # early cutoff: summary reads the same data version
    assert result.skipped == ["seeds", "doubled", "summary"]
    assert plan_of(linear).step("summary").status == "fresh"


def test_touching_a_seed_file_without_changing_it_reruns_nothing(linear: Path) -> None:
    run_build(linear)
    seeds = linear.parent / "seeds.jsonl"
    os.utime(seeds, ns=(1, 1))
    seeds.write_bytes(seeds.read_bytes())  # rewritten, same bytes, new mtime
    result, _ = run_build(linear)
    assert result.built == []
    hints = Store.for_recipe(load(linear)).read_lock().file_hints
    assert hints[str(seeds)]["mtime_ns"] == seeds.stat().st_mtime_ns  # no re-hash next time


def test_changing_a_seed_file_reruns_from_the_seed(linear: Path) -> None:
    run_build(linear)
    seeds = linear.parent / "seeds.jsonl"
    seeds.write_text(seeds.read_text() + json.dumps({"q": "question 20", "n": 20}) + "\n")
    result, _ = run_build(linear)
    assert result.built == ALL
    assert result.rows["big"] == 16


def test_adding_a_seed_that_the_filter_drops_stops_at_the_filter(linear: Path) -> None:
    run_build(linear)
    seeds = linear.parent / "seeds.jsonl"
    seeds.write_text(seeds.read_text() + json.dumps({"q": "tiny", "n": 0}) + "\n")
    result, _ = run_build(linear)
    assert result.built == ["seeds", "doubled", "big"]
    assert result.skipped == ["summary"]


def test_force_reruns_the_selected_steps(linear: Path) -> None:
    run_build(linear)
    result, _ = run_build(linear, select=["big"], force=True)
    assert result.built == ["big"] and result.skipped == []
    everything, _ = run_build(linear, force=True)
    assert everything.built == ALL


def test_refresh_reruns_the_selected_steps_and_tells_them(linear: Path) -> None:
    run_build(linear)
    result, _ = run_build(linear, select=["doubled"], refresh=True)
    assert result.built == ["doubled"]  # same rows: big and summary stay fresh anyway


def test_selectors_pick_descendants_and_ancestors(linear: Path) -> None:
    plan = plan_of(linear)
    assert select_steps(plan, []) == set(ALL)
    assert select_steps(plan, ["big"]) == {"big"}
    assert select_steps(plan, ["doubled+"]) == {"doubled", "big", "summary"}
    assert select_steps(plan, ["+big"]) == {"seeds", "doubled", "big"}
    assert select_steps(plan, ["+doubled+"]) == set(ALL)
    with pytest.raises(
        PlanError, match="there is no step 'nope'; the steps are: seeds, doubled, big, summary"
    ):
        select_steps(plan, ["nope+"])


def test_a_selected_step_needs_its_inputs_built(linear: Path) -> None:
    with pytest.raises(
        StepFailed, match="input 'doubled' has not been built; select '\\+big' to build it too"
    ):
        run_build(linear, select=["big"])
    result, _ = run_build(linear, select=["+big"])
    assert result.built == ["seeds", "doubled", "big"]
    rest, _ = run_build(linear)
    assert rest.built == ["summary"]


def test_a_failing_step_keeps_finished_steps_and_the_next_build_resumes(linear: Path) -> None:
    edit_step(linear, "big", where="cast(q as integer) > 1")  # fails on the rows, not before
    with pytest.raises(StepFailed, match="step 'big' failed"):
        run_build(linear)
    store = Store.for_recipe(load(linear))
    assert sorted(store.read_lock().steps) == ["doubled", "seeds"]
    runs = [json.loads(line) for line in store.runs_path.read_text().splitlines()]
    assert runs[-1]["status"] == "failed" and runs[-1]["exit_code"] == 1
    assert "step 'big' failed" in runs[-1]["error"]
    edit_step(linear, "big", where="m >= 10")
    result, _ = run_build(linear)
    assert result.built == ["big", "summary"]


def test_a_removed_step_leaves_the_lock_but_keeps_its_parquet(linear: Path) -> None:
    run_build(linear)
    store = Store.for_recipe(load(linear))
    summary = store.step_path("summary", store.read_lock().steps["summary"].data_version)
    steps = {k: v for k, v in LINEAR.items() if k != "summary"}
    write_recipe(linear.parent, steps)
    result, _ = run_build(linear)
    assert result.built == []
    assert sorted(store.read_lock().steps) == ["big", "doubled", "seeds"]
    assert summary.exists()
    with pytest.raises(StoreError, match="summary"):
        store.query("select * from summary")


def test_a_deleted_output_is_rebuilt(linear: Path) -> None:
    run_build(linear)
    store = Store.for_recipe(load(linear))
    entry = store.read_lock().steps["doubled"]
    store.step_path("doubled", entry.data_version).unlink()
    result, _ = run_build(linear)
    assert result.built == ["doubled"]  # same rows again: big and summary stay fresh


def test_step_context_randomness_is_seeded_by_recipe_step_and_keys(linear: Path) -> None:
    recipe = load(linear)

    def context(name: str) -> ExecStepContext:
        return ExecStepContext(
            name=name,
            kind="sql",
            config={},
            recipe=recipe,
            inputs={},
            reporter=NullReporter(),
            llm=None,
            fingerprint="f",
        )

    draw = context("a").rng("row1").integers(0, 1 << 30, 4)
    assert np.array_equal(draw, context("a").rng("row1").integers(0, 1 << 30, 4))
    assert not np.array_equal(draw, context("a").rng("row2").integers(0, 1 << 30, 4))
    assert not np.array_equal(draw, context("b").rng("row1").integers(0, 1 << 30, 4))


def test_step_context_emit_appends_and_counts_failures(linear: Path) -> None:
    ctx = ExecStepContext(
        name="s",
        kind="sql",
        config={},
        recipe=load(linear),
        inputs={},
        reporter=NullReporter(),
        llm=None,
        fingerprint="f",
    )
    ctx.emit("_failures", pl.DataFrame({"_id": ["a"], "error": ["boom"]}))
    ctx.emit("_failures", pl.DataFrame({"_id": ["b"], "error": ["boom"], "extra": [1]}))
    assert ctx.emitted["_failures"].height == 2
    assert ctx.failure_count() == 2
    with pytest.raises(ValueError, match="must look like _calls"):
        ctx.emit("calls; drop", pl.DataFrame())
    with pytest.raises(ValueError, match="exactly one input"):
        ctx.input()
