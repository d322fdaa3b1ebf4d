"""render_html, render_summary and write_report: what a user sees in the page and the terminal."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from htmlkit import external_references, gate_rows, parse, svgs_in_plots

from synthc.report.gather import build_report
from synthc.report.html import render_html
from synthc.report.model import GateResult, Report, StepReport
from synthc.report.summary import render_summary
from synthc.report.write import write_report


def test_the_gates_table_has_one_row_per_gate_with_its_status(built):
    html = render_html(build_report(*built))
    rows = gate_rows(html)
    assert len(rows) == 4
    assert [r.classes & {"status-pass", "status-warn", "status-fail"} for r in rows] == [
        {"status-pass"},
        {"status-pass"},
        {"status-fail"},
        {"status-warn"},
    ]
    assert "leakage" in rows[2].text and "FAIL" in rows[2].text and "≤ 0" in rows[2].text
    assert "mobile app" in rows[2].text  # the failing rows are listed
    assert "≤ 0.3" in rows[3].text and "WARN" in rows[3].text and "unigram_jsd" in rows[3].text


def test_the_plots_section_draws_svg_charts(built):
    html = render_html(build_report(*built))
    svgs = svgs_in_plots(html)
    assert len(svgs) >= 3
    bars = [e for e in parse(html) if e.tag == "rect" and e.inside("section#plots")]
    assert bars and all(e.classes & {"s0", "s1", "s2", "s3"} for e in bars)


def test_the_pipeline_graph_draws_every_step_and_marks_failing_gates(built):
    elements = parse(render_html(build_report(*built)))
    nodes = [e for e in elements if e.tag == "g" and "node" in e.classes]
    assert [n.text.split(" (")[0] for n in nodes] == ["seeds", "good", "deduped", "final"]
    assert len([e for e in elements if e.tag == "path" and "edge" in e.classes]) == 3
    dots = [e for e in elements if e.tag == "circle" and "dot" in e.classes]
    assert [d.classes for d in dots] == [{"dot", "fail"}]  # final: the leakage gate failed


def test_the_metrics_table_has_a_row_per_text_column(built):
    elements = parse(render_html(build_report(*built)))
    rows = [e for e in elements if e.tag == "tr" and e.inside("table#metrics")]
    assert len(rows) == 2  # the header and final.instruction
    assert "final.instruction" in rows[1].text and "against data/eval.jsonl" in rows[1].text


def test_the_page_needs_no_network(built):
    html = render_html(build_report(*built))
    assert external_references(html) == []
    assert "<script" not in html
    assert "http://" not in html and "https://" not in html


def test_the_page_shows_steps_removals_and_cost(built):
    html = render_html(build_report(*built))
    text = " ".join(e.text for e in parse(html) if e.tag == "main")
    for expected in ("seeds", "good", "deduped", "final", "removed 18 of 61 rows", "$0.0312"):
        assert expected in text
    assert "near-copy of a reference" in text
    assert "75%" in text  # cache hit rate


def test_values_from_the_recipe_are_escaped(built):
    recipe, store = built
    report = build_report(recipe, store)
    hostile = replace(report.steps[0], description='<script>alert("x")</script>')
    html = render_html(replace(report, steps=(hostile, *report.steps[1:])))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_a_report_without_gates_says_how_to_add_them():
    report = Report("empty", "/r/recipe.yaml", "synthc: 1\n", steps=(StepReport("s", "seed", ()),))
    html = render_html(report)
    assert gate_rows(html) == []
    assert "Add <code>checks:</code>" in html
    assert external_references(html) == []


def test_the_summary_lists_every_step_removals_cost_and_gates(built):
    summary = render_summary(build_report(*built))
    lines = summary.splitlines()
    for step in ("seeds", "good", "deduped", "final"):
        assert any(line.startswith(step + " ") for line in lines)
    good = next(line for line in lines if line.startswith("good "))
    assert "18" in good and "75%" in good and "$0.0312" in good
    assert "gates: 2 pass · 1 warn · 1 fail" in summary
    assert "FAIL final leakage 0.09091 (≤ 0): 3 row(s) share a 13-gram" in summary
    assert "30 calls sent · 90 from cache (75%)" in summary


def test_the_summary_of_an_unbuilt_recipe_says_to_build():
    report = Report("r", "/r/recipe.yaml", "", steps=(StepReport("s", "seed", ()),))
    assert "run `synthc build`" in render_summary(report)


def test_a_gate_result_without_status_is_judged_by_passed_and_severity():
    from synthc.report.gates import gate_result

    assert gate_result("s", {"kind": "rows", "passed": False, "severity": "warn"}).status == "warn"
    assert gate_result("s", {"kind": "rows", "passed": False}).status == "fail"
    assert gate_result("s", {"kind": "rows", "passed": True}) == GateResult(
        "s", "rows", "error", "pass"
    )


def test_write_report_writes_the_page_under_synthc_by_default(built, tmp_path: Path):
    recipe, store = built
    path = write_report(recipe, store)
    assert path == recipe.workdir / "report.html"
    assert len(gate_rows(path.read_text(encoding="utf-8"))) == 4
    elsewhere = write_report(recipe, store, tmp_path / "pages" / "quality.html")
    assert elsewhere.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")
    assert not list(elsewhere.parent.glob(".*.tmp"))


def test_report_recipe_writes_the_page_and_returns_the_summary(built, tmp_path: Path):
    from synthc.report.write import report_recipe

    recipe, _ = built
    page, summary = report_recipe(recipe.path, tmp_path / "r.html")
    assert page == tmp_path / "r.html" and len(gate_rows(page.read_text())) == 4
    assert summary.startswith("support-faq: built ")
    default, _ = report_recipe(str(recipe.path))
    assert default == recipe.workdir / "report.html" and default.is_file()


def test_the_summary_is_a_stable_aligned_table():
    report = Report(
        "demo",
        "/r/recipe.yaml",
        "",
        steps=(
            StepReport("seeds", "seed", (), status="fresh", rows=1200),
            StepReport(
                "answers", "generate", ("seeds",), status="fresh", rows=2400,
                calls=600, cache_hits=1800, tokens=512_000, cost_usd=1.2345,
            ),
            StepReport(
                "good", "filter", ("answers",), status="stale", rows=2000, rows_in=2400, removed=400
            ),
        ),
        gates=(
            GateResult("good", "rows", "error", "pass", 2000.0, "≥ 1000", "2000 rows"),
            GateResult("good", "leakage", "error", "fail", 0.02, "≤ 0", "48 rows leak"),
        ),
        built_at="2026-11-21T10:00:00+00:00",
    )  # fmt: skip
    assert render_summary(report) == (
        "demo: built 2026-11-21T10:00:00+00:00\n"
        "\n"
        "step     kind       rows  removed  calls  cache hit     cost  status\n"
        "seeds    seed      1,200        -      -          -        -  fresh\n"
        "answers  generate  2,400        -    600        75%  $1.2345  fresh\n"
        "good     filter    2,000      400      -          -        -  stale\n"
        "\n"
        "cost $1.2345 · 600 calls sent · 1,800 from cache (75%) · 512,000 tokens\n"
        "gates: 1 pass · 0 warn · 1 fail\n"
        "  FAIL good leakage 0.02 (≤ 0): 48 rows leak"
    )


def test_a_filter_that_removes_every_row_still_renders(tmp_path: Path):
    from reportkit import STEPS, build_project, write_project

    steps = {**STEPS, "good": {**STEPS["good"], "where": "score > 100"}}
    steps["final"] = {k: v for k, v in STEPS["final"].items() if k != "checks"}
    recipe, store, result = build_project(write_project(tmp_path, steps))
    assert result.exit_code == 0
    report = build_report(recipe, store)
    good = next(s for s in report.steps if s.name == "good")
    assert (good.rows, good.removed) == (0, 61)
    html = render_html(report)
    assert "removed 61 of 61 rows (100%)" in html
    assert "final.instruction" not in html  # no rows: no plots, no metrics
    assert [s.rows for s in report.steps] == [61, 0, 0, 0]
