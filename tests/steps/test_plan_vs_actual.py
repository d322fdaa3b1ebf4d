"""Each build keeps the estimate it was planned with beside what it did (`_run_steps`),
and `synthc report` shows both, so a user learns how good `plan`'s figures are."""

from __future__ import annotations

import subprocess
import sys

from test_plan_bounds import CHAINS, SCORE

from synthc.api import estimate_recipe, plan_recipe
from synthc.recipe.load import load_recipe
from synthc.report.gather import build_report
from synthc.report.html import render_html
from synthc.report.summary import render_summary
from synthc.store.store import Store


def test_a_build_records_its_planned_bounds_beside_the_calls_it_made(project, script):
    script([("good item", SCORE)])
    proj = project(CHAINS["self_instruct_distill_judge"])
    assert proj.build().exit_code == 0
    made = proj.requests()
    rows = proj.query(
        "select step, planned_calls, planned_calls_max, calls, cache_hits from _run_steps"
    ).rows(named=True)
    assert {row["step"] for row in rows} == {"tasks", "answers", "scored"}
    low = sum(row["planned_calls"] for row in rows)
    highs = [row["planned_calls_max"] for row in rows]
    assert low <= made and (None in highs or made <= sum(highs)), rows
    assert sum(row["calls"] for row in rows) == made  # the server's count, step by step
    recipe = load_recipe(proj.path)
    report = build_report(recipe, Store.for_recipe(recipe))
    summary = render_summary(report)
    for row in rows:
        line = next(line for line in summary.splitlines() if line.startswith(f"  {row['step']} "))
        assert f"{row['calls']} calls made ({row['cache_hits']} from cache)" in line
        planned = row["planned_calls"]
        high = row["planned_calls_max"]
        shown = (
            f"{planned}"
            if planned == high
            else f"≥{planned}"
            if high is None
            else f"{planned}–{high}"
        )
        assert f"planned {shown} calls" in line, (line, row)
    assert 'id="plan-vs-actual-table"' in render_html(report)


def test_the_build_log_says_how_many_calls_were_made_and_how_many_came_from_the_cache(
    project,
):
    rows = [{"topic": f"topic number {i}"} for i in range(12)]
    steps = {
        "seeds": {"kind": "seed", "rows": rows},
        "answers": {"kind": "generate", "from": "seeds", "prompt": "Write about {{ topic }}"},
    }
    proj = project(steps)
    assert proj.build().exit_code == 0
    first = proj.requests()
    proj.edit("seeds", rows=[*rows, {"topic": "one more"}, {"topic": "and another"}])
    done = subprocess.run(
        [sys.executable, "-m", "synthc", "build", str(proj.path)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    made = proj.requests() - first
    assert (first, made) == (12, 2)
    assert "answers: 14 rows; 2 calls made, 12 from cache" in done.stderr
    assert "; 2 model calls made, 12 from cache;" in done.stderr


def test_each_built_step_records_exactly_what_plan_printed_before_the_build(project, script):
    """The build counts a step's estimate as it reaches it, from its own call keys (a
    single-pass `generate`) or by probing the cache first (a JSON `generate`, which may
    repair): either way `_run_steps` holds what `synthc plan` said, after a change too."""
    script([("as JSON", '{"title": "a title"}')])
    rows = [{"topic": f"topic number {i}"} for i in range(12)]
    steps = {
        "seeds": {"kind": "seed", "rows": rows},
        "answers": {"kind": "generate", "from": "seeds", "prompt": "Write about {{ topic }}"},
        "titles": {
            "kind": "generate", "from": "answers", "parse": "json",
            "prompt": "A title for {{ output }} as JSON",
        },
    }  # fmt: skip
    proj = project(steps)
    assert proj.build().exit_code == 0
    proj.edit("seeds", rows=[*rows, {"topic": "one more"}, {"topic": "and another"}])
    planned = estimate_recipe(plan_recipe(proj.path))
    before = proj.requests()
    assert proj.build().exit_code == 0
    assert proj.requests() - before == 4  # two answers, two titles
    recorded = proj.query(
        "select step, planned_cached, planned_calls, planned_calls_max, planned_tokens,"
        " planned_usd, calls from _run_steps order by recorded_at desc, step limit 2"
    ).rows(named=True)
    assert {row["step"]: row["calls"] for row in recorded} == {"answers": 2, "titles": 2}
    answers = next(row for row in recorded if row["step"] == "answers")
    estimate = planned["answers"]
    assert (answers["planned_cached"], answers["planned_calls"]) == (12, 2)
    assert answers["planned_calls_max"] == estimate.to_make_max == 2
    assert (answers["planned_tokens"], answers["planned_usd"]) == (estimate.tokens, estimate.usd)
    titles = next(row for row in recorded if row["step"] == "titles")
    assert titles["planned_cached"] == 12 and titles["planned_calls"] == 2


def test_a_forced_rebuild_of_a_fresh_step_records_no_estimate_as_plan_gave_none(project):
    rows = [{"topic": f"topic number {i}"} for i in range(5)]
    steps = {
        "seeds": {"kind": "seed", "rows": rows},
        "answers": {"kind": "generate", "from": "seeds", "prompt": "Write about {{ topic }}"},
    }
    proj = project(steps)
    assert proj.build().exit_code == 0
    assert proj.build(force=True).exit_code == 0
    latest = proj.query(
        "select planned_calls, calls, cache_hits from _run_steps where step = 'answers'"
        " order by recorded_at desc limit 1"
    ).row(0, named=True)
    assert latest == {"planned_calls": None, "calls": 0, "cache_hits": 5}
    recipe = load_recipe(proj.path)
    summary = render_summary(build_report(recipe, Store.for_recipe(recipe)))
    assert "no estimate (the step was fresh when the build was planned)" in summary
