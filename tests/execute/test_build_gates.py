"""Quality gates in a build: verdicts land in the lock and `_checks`; an error-level
failure stops the steps downstream and makes the build exit non-zero."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from buildkit import LINEAR, load, run_build, write_jsonl, write_recipe

from synthc.api import build_recipe
from synthc.errors import RecipeError, StepFailed
from synthc.store.store import Store


def gated(project: Path, *checks: dict[str, object]) -> Path:
    write_jsonl(project / "seeds.jsonl", ({"q": f"question {i}", "n": i} for i in range(20)))
    steps = json.loads(json.dumps(LINEAR))
    steps["big"]["checks"] = list(checks)
    return write_recipe(project, steps, exports={"summary": ["out/summary.jsonl"]})


def recorded(recipe: Path, step: str) -> list[dict[str, object]]:
    return [dict(c) for c in Store.for_recipe(load(recipe)).read_lock().steps[step].checks]


def test_a_failed_error_gate_blocks_downstream_and_fails_the_build(project: Path) -> None:
    recipe = gated(project, {"rows": {"min": 100}})
    result, reporter = run_build(recipe)
    assert result.exit_code == 1
    assert result.gate_failures == ["big"] and result.blocked == ["summary"]
    assert result.built == ["seeds", "doubled", "big"]
    [check] = recorded(recipe, "big")
    assert check["status"] == "fail" and check["figure"] == 15 and check["config"] == {"min": 100}
    assert any(
        "big: check rows fail: 15 rows, fewer than min 100" in e[1] for e in reporter.of("error")
    )
    assert not any("check rows" in e[1] for e in reporter.of("warning"))
    assert not (project / "out").exists()
    assert build_recipe(recipe).exit_code == 1  # the CLI's path: no exports either
    assert not (project / "out").exists()
    store = Store.for_recipe(load(recipe))
    assert (
        store.query("select _step, kind, status from _checks", "csv")
        == "_step,kind,status\nbig,rows,fail\n"
    )
    again, _ = run_build(recipe)  # nothing changed: still failing, still blocked
    assert again.exit_code == 1 and again.built == [] and again.blocked == ["summary"]


def test_the_cli_prints_a_failed_gate_as_an_error_naming_the_blocked_exports(
    project: Path,
) -> None:
    recipe = gated(project, {"rows": {"min": 100}}, {"rows": {"min": 1000, "severity": "warn"}})
    done = subprocess.run(
        [sys.executable, "-m", "synthc", "build", str(recipe)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert "error: big: check rows fail: 15 rows, fewer than min 100" in lines
    assert "warning: big: check rows warn: 15 rows, fewer than min 1000" in lines
    assert (
        "error: exports not written: out/summary.jsonl ('big' failed an error-level check); "
        "files from an earlier build are left as they were"
    ) in lines
    assert "1 error-level check(s) failed" in lines[-1]


def test_a_warning_gate_lets_the_build_go_on(project: Path) -> None:
    recipe = gated(project, {"rows": {"min": 100, "severity": "warn"}})
    result, _ = run_build(recipe)
    assert result.exit_code == 0 and result.gate_failures == [] and "summary" in result.built
    assert recorded(recipe, "big")[0]["status"] == "warn"


def test_editing_only_a_check_regates_without_rerunning_the_step(project: Path) -> None:
    recipe = gated(project, {"rows": {"min": 100}})
    run_build(recipe)
    data = yaml.safe_load(recipe.read_text())
    data["steps"]["big"]["checks"] = [{"rows": {"min": 10}}]
    recipe.write_text(yaml.safe_dump(data, sort_keys=False))
    result, _ = run_build(recipe)
    assert result.exit_code == 0
    assert result.built == ["summary"]  # big was re-gated, not re-run
    assert "big" in result.skipped
    assert recorded(recipe, "big")[0]["status"] == "pass"


def test_a_sql_gate_records_failing_rows(project: Path) -> None:
    recipe = gated(project, {"sql": {"query": "select q, m from big where m > 36 order by m"}})
    result, _ = run_build(recipe)
    assert result.gate_failures == ["big"]
    [check] = recorded(recipe, "big")
    assert check["figure"] == 1
    assert check["failing_rows"] == [{"q": "question 19", "m": 38}]


def test_a_check_naming_a_missing_column_is_refused_before_the_build(project: Path) -> None:
    recipe = gated(project, {"distinct_n": {"column": "nope", "n": 2, "min": 0.1}})
    with pytest.raises(RecipeError, match=r"steps.big.checks.0.distinct_n.column: 'nope' is not"):
        run_build(recipe)
    assert not Store.for_recipe(load(recipe)).lock_path.exists()  # nothing ran


def test_a_check_that_cannot_be_evaluated_fails_the_step(project: Path) -> None:
    # A reference file's columns are only read when the gate runs.
    write_jsonl(project / "ref.jsonl", [{"a": "x", "b": "y"}])
    recipe = gated(project, {"leakage": {"column": "q", "reference": "ref.jsonl"}})
    with pytest.raises(StepFailed, match=r"step 'big' failed: checks\[0\] \(leakage\)"):
        run_build(recipe)


def test_a_balance_gate_in_a_build_records_its_categories(project: Path) -> None:
    regions = ["north", "south", "east", "west"]
    write_jsonl(
        project / "seeds.jsonl", ({"q": f"q{i}", "region": regions[i % 4]} for i in range(40))
    )
    steps = {
        "seeds": {"kind": "seed", "path": "seeds.jsonl"},
        "collapsed": {
            "kind": "sql",
            "from": "seeds",
            "query": "select _id, q, 'north' as region from seeds",
            "checks": [{"balance": {"attribute": "region", "reference": "seeds"}}],
        },
    }
    recipe = write_recipe(project, steps)
    result, _ = run_build(recipe)
    assert result.gate_failures == ["collapsed"]
    [check] = recorded(recipe, "collapsed")
    assert check["details"]["coverage"] == 0.25 and check["figure"] == 0.75
    table = Store.for_recipe(load(recipe)).query_frame(
        "select category, output_rows, expected_share from _balance order by category"
    )
    assert table.rows() == [("east", 0, 0.25), ("north", 40, 0.25), ("south", 0, 0.25),
                            ("west", 0, 0.25)]  # fmt: skip


def test_a_changed_balance_check_rewrites_its_table_without_rerunning(project: Path) -> None:
    write_jsonl(project / "seeds.jsonl", ({"q": f"q{i}", "region": "nw"[i % 2]} for i in range(10)))
    check = {"balance": {"attribute": "region", "shares": "uniform"}}
    steps = {"seeds": {"kind": "seed", "path": "seeds.jsonl", "checks": [check]}}
    recipe = write_recipe(project, steps)
    run_build(recipe)
    store = Store.for_recipe(load(recipe))
    assert store.query_frame("select count(*) as n from _balance")["n"][0] == 2
    steps["seeds"]["checks"] = [{"rows": {"min": 1}}]
    write_recipe(project, steps)
    result, _ = run_build(recipe)
    assert result.built == [] and result.skipped == ["seeds"]
    assert "_balance" not in Store.for_recipe(load(recipe)).aux_tables(
        "seeds", store.read_lock().steps["seeds"].data_version
    )
