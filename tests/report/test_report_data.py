"""build_report: what the report says about a real build, step by step."""

from __future__ import annotations

from pathlib import Path

import yaml
from reportkit import EVAL_ROWS, STEPS, build_project, write_project

from synthc.recipe.load import load_recipe
from synthc.report.gather import build_report
from synthc.report.html import render_html
from synthc.store.store import Store


def test_steps_appear_in_plan_order_with_their_rows(built):
    recipe, store = built
    report = build_report(recipe, store)
    lock = store.read_lock()
    assert [s.name for s in report.steps] == ["seeds", "good", "deduped", "final"]
    assert [s.rows for s in report.steps] == [lock.steps[s.name].rows for s in report.steps]
    assert {s.status for s in report.steps} == {"fresh"}
    assert report.steps[1].description == "Keep the questions that scored 3 or more."


def test_filter_removals_are_the_upstream_rows_missing_from_the_output(built):
    recipe, store = built
    good = next(s for s in build_report(recipe, store).steps if s.name == "good")
    seeds, kept = store.read_step("seeds"), store.read_step("good")
    assert good.rows_in == seeds.height
    assert good.removed == seeds.height - kept.height == 18
    (group,) = good.removals
    assert group.count == 18
    assert "score >= 3" in group.reason
    assert len(group.examples) == 3
    removed_ids = set(seeds["_id"]) - set(kept["_id"])
    assert {e.row_id for e in group.examples} <= removed_ids
    assert all("score: " in e.text for e in group.examples)


def test_dedup_removals_come_from_the_matches_table_with_the_row_they_duplicate(built):
    recipe, store = built
    deduped = next(s for s in build_report(recipe, store).steps if s.name == "deduped")
    matches = store.query_frame("select reason, count(*) as n from _dedup_matches group by reason")
    assert deduped.removed == sum(matches["n"]) == 10
    assert sum(g.count for g in deduped.removals) == deduped.removed
    assert build_report(recipe, store).rows_removed == 18 + 10
    against = next(g for g in deduped.removals if "reference" in g.reason)
    (example,) = against.examples
    assert example.text.startswith("HOW DO I CHANGE MY PASSWORD")
    assert "data/eval.jsonl#1" in example.detail
    assert "how do i change my password settings" in example.detail
    near = next(g for g in deduped.removals if g.reason.startswith("near-duplicate"))
    assert all(e.detail.startswith("similarity 0.") for e in near.examples)


def test_gate_results_come_from_the_lock(built):
    recipe, store = built
    gates = build_report(recipe, store).gates
    assert [(g.step, g.kind, g.status) for g in gates] == [
        ("final", "rows", "pass"),
        ("final", "distinct_n", "pass"),
        ("final", "leakage", "fail"),
        ("final", "fidelity", "warn"),
    ]
    rows, distinct, leakage, fidelity = gates
    assert (rows.figure, rows.threshold) == (store.read_step("final").height, "≥ 10")
    assert distinct.threshold == "≥ 0.3" and distinct.column == "instruction"
    assert leakage.threshold == "≤ 0" and leakage.figure is not None and leakage.figure > 0
    assert leakage.examples and all("mobile app" in e for e in leakage.examples)
    assert {name for name, _ in fidelity.details} == {"length_jsd", "unigram_jsd", "topic_jsd"}


def test_a_recorded_config_says_which_column_and_side_of_the_threshold():
    from synthc.report.gates import gate_result

    raw = {"kind": "rows", "status": "fail", "figure": 900, "threshold": 500,
           "config": {"max": 500}, "failing_rows": [{"_id": "a", "text": "t"}]}  # fmt: skip
    gate = gate_result("s", raw)
    assert (gate.threshold, gate.severity, gate.examples) == ("≤ 500", "error", ("text: t",))
    column = gate_result("s", {"kind": "leakage", "config": {"column": "q"}, "passed": True})
    assert (column.column, column.status) == ("q", "pass")


def test_a_threshold_reads_as_the_condition_that_passes():
    from synthc.report.gates import describe_threshold

    assert describe_threshold("rows", 10, {"min": 10}) == "≥ 10"
    assert describe_threshold("rows", 500, {"max": 500}) == "≤ 500"
    assert describe_threshold("tail_coverage", 0.8) == "≥ 0.8"
    assert describe_threshold("leakage", 0.0) == "≤ 0"
    assert describe_threshold("rows", {"min": 100}) == "min 100"
    assert describe_threshold("sql", None) == ""


def test_cost_and_cache_hits_add_up_over_steps(built):
    recipe, store = built
    report = build_report(recipe, store)
    assert (report.calls, report.cache_hits, report.tokens) == (30, 90, 48_000)
    assert report.hit_rate == 0.75
    assert round(report.cost_usd, 4) == 0.0312
    assert report.models == ("openai/gpt-4o-mini",)


def test_plots_compare_lengths_with_the_checks_reference(built):
    recipe, store = built
    plots = {p.key: p for p in build_report(recipe, store).plots}
    length = plots["length-final-instruction"]
    assert [s.label for s in length.series] == ["final", "data/eval.jsonl"]
    assert [s.total for s in length.series] == [store.read_step("final").height, len(EVAL_ROWS)]
    for series in length.series:
        assert abs(sum(series.values) - 1.0) < 1e-9
    assert "clusters-final-instruction" in plots
    assert plots["values-final-product"].kind == "bars"  # a label column: value shares
    similarity = plots["similarity-deduped"]
    assert sum(sum(s.values) for s in similarity.series) == 10


def test_a_recipe_never_built_gives_an_empty_report(tmp_path: Path):
    recipe = load_recipe(write_project(tmp_path))
    report = build_report(recipe, Store.for_recipe(recipe))
    assert [s.rows for s in report.steps] == [None] * 4
    assert {s.status for s in report.steps} == {"missing"}
    assert report.gates == () and report.plots == () and report.built_at == ""


def test_editing_the_recipe_marks_steps_stale_in_the_report(tmp_path: Path):
    path = write_project(tmp_path)
    build_project(path)
    steps = {**STEPS, "good": {**STEPS["good"], "where": "score >= 5"}}
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "steps": steps}, sort_keys=False))
    recipe = load_recipe(path)
    report = build_report(recipe, Store.for_recipe(recipe))
    status = {s.name: s.status for s in report.steps}
    assert status == {"seeds": "fresh", "good": "stale", "deduped": "stale", "final": "stale"}
    assert "3 of 4 steps are not fresh: good (stale)" in render_html(report)


def test_text_metrics_are_reported_for_final_text_columns_against_their_reference(built):
    from synthc.quality.diversity import distinct_n
    from synthc.quality.fidelity import length_jsd

    recipe, store = built
    (metrics,) = build_report(recipe, store).metrics  # `product` is a label: no text metrics
    assert (metrics.step, metrics.column, metrics.reference) == (
        "final",
        "instruction",
        "data/eval.jsonl",
    )
    figures = dict(metrics.figures)
    texts = store.read_step("final")["instruction"]
    assert figures["distinct-2"] == distinct_n(texts, ns=(2,))[2]
    reference = [row["instruction"] for row in EVAL_ROWS]
    assert figures["length JSD"] == length_jsd(texts.to_list(), reference)
    assert 0 < figures["distinct-1"] <= 1 and figures["compression"] > 1


def test_loosening_a_threshold_turns_the_gate_green_in_the_report(tmp_path: Path):
    path = write_project(tmp_path)
    build_project(path)
    final = dict(STEPS["final"])
    final["checks"] = [
        {"leakage": {**c["leakage"], "max_rate": 0.2}} if "leakage" in c else c
        for c in final["checks"]
    ]
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "steps": {**STEPS, "final": final}}, sort_keys=False))
    recipe, store, result = build_project(path)
    assert result.exit_code == 0 and result.built == []  # re-gated, nothing re-run
    report = build_report(recipe, store)
    leakage = next(g for g in report.gates if g.kind == "leakage")
    assert (leakage.status, leakage.threshold) == ("pass", "≤ 0.2")
    assert {s.status for s in report.steps} == {"fresh"}


def test_a_reference_file_deleted_after_the_build_leaves_plots_without_it(built):
    recipe, store = built
    (recipe.root / "data" / "eval.jsonl").unlink()
    report = build_report(recipe, store)
    length = next(p for p in report.plots if p.key == "length-final-instruction")
    assert [s.label for s in length.series] == ["final"]
    deduped = next(s for s in report.steps if s.name == "deduped")
    against = next(g for g in deduped.removals if "reference" in g.reason)
    assert against.examples[0].detail == "similarity 1.00 to data/eval.jsonl#1"
