"""Row reuse: a row-local step (generate with text answers, distill) whose config is
unchanged runs only the input rows that changed since the last build, and what it
writes is exactly what a full re-run writes (`synthc.execute.reuse`)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from synthc.errors import SynthcError
from synthc.progress import RecordingReporter
from synthc.recipe.load import load_recipe
from synthc.store.store import Store

TIMING = ("latency_s", "queued_s", "cached", "attempts")


def write_seeds(project_path: Path, topics: list[str]) -> None:
    lines = "".join(json.dumps({"topic": t}) + "\n" for t in topics)
    (project_path.parent / "seeds.jsonl").write_text(lines, encoding="utf-8")


def generate_steps(**changes: object) -> dict[str, dict[str, object]]:
    answers = {"kind": "generate", "from": "seeds", "system": "Be brief.",
               "prompt": "Say something about {{ topic }}", "n": 2, **changes}  # fmt: skip
    return {"seeds": {"kind": "seed", "path": "seeds.jsonl"}, "answers": answers}


def version(proj, step: str = "answers") -> str:
    return proj.lock().steps[step].data_version


def calls_of(proj, step: str = "answers") -> pl.DataFrame:
    store = Store.for_recipe(load_recipe(proj.path))
    entry = store.read_lock().steps[step]
    return pl.read_parquet(store.aux_path(step, entry.data_version, "_calls"))


TOPICS = [f"topic {i}" for i in range(30)]


def test_only_new_and_changed_rows_are_asked_and_the_output_is_a_full_builds(project, server):
    proj = project(generate_steps())
    write_seeds(proj.path, TOPICS)
    proj.build()
    assert proj.requests() == 60
    # three new rows, one changed, one deleted, one moved to the end
    edited = [*TOPICS[:5], "topic 5, edited", *TOPICS[6:9], *TOPICS[10:29], TOPICS[9]]
    edited += ["new a", "new b", "new c"]
    write_seeds(proj.path, edited)
    server.reset()
    reporter = RecordingReporter()
    result = proj.build(reporter=reporter)
    assert server.stats.total == 8  # (3 new + 1 changed) x n=2, counted at the server
    assert (result.calls["answers"]["calls"], result.calls["answers"]["cache_hits"]) == (8, 56)
    assert any("28 of 32 input rows unchanged" in m[1] for m in reporter.of("message"))

    full = project(generate_steps(), folder="full")  # the same recipe built once, from scratch
    write_seeds(full.path, edited)
    full.build()
    assert version(full) == version(proj)
    assert full.step("answers").equals(proj.step("answers"))
    mine, theirs = calls_of(proj).drop(TIMING), calls_of(full).drop(TIMING)
    assert mine.sort("row_id", "call_key").equals(theirs.sort("row_id", "call_key"))
    assert set(proj.step("answers")["_call_key"]) == set(calls_of(proj)["call_key"])
    assert proj.lock().steps["answers"].stats["cache_hits"] == 56


def test_a_failed_row_is_retried_alone_and_the_others_are_kept(project, server):
    proj = project(generate_steps(n=1))
    write_seeds(proj.path, [*TOPICS[:10], "broken [[status=400]]"])
    proj.build()
    assert proj.step("answers").height == 10
    server.reset()
    proj.build()  # the step stays stale while a row failed: only that row is asked again
    asked = set(server.stats.per_prompt)
    assert asked == {"Say something about broken [[status=400]]"}
    assert proj.step("answers").height == 10


def test_a_changed_prompt_asks_every_row(project, server):
    proj = project(generate_steps(n=1))
    write_seeds(proj.path, TOPICS[:10])
    proj.build()
    proj.edit("answers", prompt="Tell me about {{ topic }}")
    server.reset()
    proj.build()
    assert server.stats.total == 10


def test_refresh_asks_every_row(project, server):
    proj = project(generate_steps(n=1))
    write_seeds(proj.path, TOPICS[:10])
    proj.build()
    write_seeds(proj.path, TOPICS[:11])
    server.reset()
    proj.build(refresh=True)
    assert server.stats.total == 11
    write_seeds(proj.path, TOPICS[:12])
    reporter = RecordingReporter()
    proj.build(reporter=reporter)  # the refreshed build left a memo: one row to run
    assert any("11 of 12 input rows unchanged" in m[1] for m in reporter.of("message"))


def test_a_damaged_memo_costs_a_full_run_not_an_error(project, server):
    proj = project(generate_steps(n=1))
    write_seeds(proj.path, TOPICS[:10])
    proj.build()
    store = Store.for_recipe(load_recipe(proj.path))
    memo = store.aux_path("answers", version(proj), "__reuse")
    assert memo.exists()
    memo.write_bytes(b"not parquet")
    write_seeds(proj.path, TOPICS[:12])
    server.reset()
    reporter = RecordingReporter()
    proj.build(reporter=reporter)
    assert server.stats.total == 2  # the others answered from the cache
    assert not any("unchanged since" in m[1] for m in reporter.of("message"))
    full = project(generate_steps(n=1), folder="full")
    write_seeds(full.path, TOPICS[:12])
    full.build()
    assert version(full) == version(proj)


def test_distill_runs_only_new_rows_for_teacher_and_student(project, server):
    steps = {
        "seeds": {"kind": "seed", "path": "seeds.jsonl"},
        "answers": {"kind": "distill", "from": "seeds", "teacher": "srv",
                    "student": "srv2", "prompt": "Explain {{ topic }}"},
    }  # fmt: skip
    proj = project(steps, models={"srv2": {"params": {"temperature": 0.1}}})
    write_seeds(proj.path, TOPICS[:10])
    proj.build()
    write_seeds(proj.path, [*TOPICS[:10], "one more"])
    server.reset()
    proj.build()
    assert server.stats.total == 2  # teacher and student, for the new row only
    full = project(steps, folder="full", models={"srv2": {"params": {"temperature": 0.1}}})
    write_seeds(full.path, [*TOPICS[:10], "one more"])
    full.build()
    assert version(full) == version(proj)


def test_the_memo_stays_private_and_calls_name_their_input_row(project):
    proj = project(generate_steps(n=1))
    write_seeds(proj.path, TOPICS[:3])
    proj.build()
    calls = proj.query("select parent_id from _calls order by parent_id")
    assert sorted(calls["parent_id"]) == sorted(proj.step("seeds")["_id"])
    with pytest.raises(SynthcError, match="__reuse"):
        proj.query("select * from __reuse")


def test_exploded_answers_keep_their_order_and_ids(project, script, server):
    script([("List about", lambda prompt: f"first of {prompt}\nsecond of {prompt}")])
    steps = generate_steps(prompt="List about {{ topic }}", explode=True)
    proj = project(steps)
    write_seeds(proj.path, TOPICS[:6])
    proj.build()
    write_seeds(proj.path, [TOPICS[5], "fresh one", *TOPICS[:4]])  # reordered, one new
    server.reset()
    proj.build()
    assert server.stats.total == 2  # the new row, n=2
    full = project(steps, folder="full")
    write_seeds(full.path, [TOPICS[5], "fresh one", *TOPICS[:4]])
    full.build()
    assert proj.step("answers").height == 6 * 2 * 2
    assert version(full) == version(proj)
