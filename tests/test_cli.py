"""The `synthc` command as a user runs it: exit codes, stdout for data, stderr for the rest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RECIPE = """\
synthc: 1
name: cli
steps:
  seeds:
    kind: seed
    rows:
      - {question: "How do I reset my password?", topic: account}
      - {question: "Where is my invoice?", topic: billing}
  billing:
    kind: filter
    from: seeds
    where: "topic = 'billing'"
exports:
  billing: [out/billing.jsonl, out/billing.csv, out/billing.parquet]
"""


def synthc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "synthc", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE)
    return path


def test_build_prints_progress_on_stderr_and_nothing_on_stdout(recipe: Path) -> None:
    done = synthc("build", str(recipe))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "built 2 step(s)" in done.stderr
    again = synthc("build", str(recipe))
    assert "built 0 step(s); 2 fresh" in again.stderr


def test_plan_check_exits_1_until_built(recipe: Path) -> None:
    assert synthc("plan", str(recipe), "--check").returncode == 1
    synthc("build", str(recipe))
    done = synthc("plan", str(recipe), "--check")
    assert done.returncode == 0
    assert "everything is fresh" in done.stdout


def test_plan_json_is_data_on_stdout(recipe: Path) -> None:
    plan = json.loads(synthc("plan", str(recipe), "--json").stdout)
    assert [s["step"] for s in plan["steps"]] == ["seeds", "billing"]
    assert plan["steps"][1]["from"] == ["seeds"]
    assert plan["stale"] == 2


def test_query_formats(recipe: Path) -> None:
    synthc("build", str(recipe))
    rows = synthc("query", str(recipe), "select question from billing", "-f", "jsonl").stdout
    assert [json.loads(line) for line in rows.splitlines()] == [
        {"question": "Where is my invoice?"}
    ]
    csv = synthc(
        "query",
        str(recipe),
        "select topic, count(*) n from seeds group by 1 order by 1",
        "-f",
        "csv",
    )
    assert csv.stdout.splitlines() == ["topic,n", "account,1", "billing,1"]


def test_query_refuses_writes_and_leaves_the_store_alone(recipe: Path) -> None:
    synthc("build", str(recipe))
    done = synthc("query", str(recipe), "create table evil as select 1")
    assert done.returncode == 2
    assert "read-only" in done.stderr
    assert "Traceback" not in done.stderr
    tables = synthc(
        "query", str(recipe), "select table_name from information_schema.tables", "-f", "csv"
    )
    assert "evil" not in tables.stdout


def test_plan_check_counts_an_export_edited_after_the_build(recipe: Path) -> None:
    assert synthc("build", str(recipe)).returncode == 0
    assert synthc("plan", str(recipe), "--check").returncode == 0
    (recipe.parent / "out" / "billing.csv").write_text("question,topic\nedited,by hand\n")
    done = synthc("plan", str(recipe), "--check")
    assert done.returncode == 1
    assert "export out/billing.csv  stale: changed since it was written" in done.stdout
    assert synthc("build", str(recipe)).returncode == 0
    assert "edited" not in (recipe.parent / "out" / "billing.csv").read_text()
    assert synthc("plan", str(recipe), "--check").returncode == 0


def test_export_writes_every_format(recipe: Path) -> None:
    synthc("build", str(recipe))
    done = synthc("export", str(recipe))
    assert done.returncode == 0, done.stderr
    out = recipe.parent / "out"
    assert json.loads((out / "billing.jsonl").read_text().splitlines()[0]) == {
        "question": "Where is my invoice?",
        "topic": "billing",
    }
    assert (out / "billing.csv").read_text().splitlines()[0] == "question,topic"
    assert (out / "billing.parquet").stat().st_size > 0
    card = (out / "README.md").read_text()
    assert card.startswith("---\npretty_name: cli\n")
    assert "path: billing.parquet" in card


def test_export_before_build_says_what_to_do(recipe: Path) -> None:
    done = synthc("export", str(recipe))
    assert done.returncode == 2
    assert "synthc build" in done.stderr


def test_invalid_recipe_exits_2_with_location_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(RECIPE.replace("from: seeds", "from: sedes"))
    done = synthc("validate", str(bad))
    assert done.returncode == 2
    assert f"{bad}:11:11: steps.billing.from: unknown step 'sedes'" in done.stderr
    assert "seeds" in done.stderr
    assert "Traceback" not in done.stderr
    debug = synthc("--debug", "validate", str(bad))
    assert "Traceback" in debug.stderr


def test_missing_recipe_file_is_a_clear_error(tmp_path: Path) -> None:
    done = synthc("plan", str(tmp_path / "nope.yaml"))
    assert done.returncode == 2
    assert "nope.yaml" in done.stderr
    assert "Traceback" not in done.stderr


def test_help_lists_every_command_with_an_example() -> None:
    for command in ("init", "validate", "plan", "build", "preview", "query", "export"):
        done = synthc(command, "--help")
        assert done.returncode == 0
        assert "Example:" in done.stdout


def test_help_does_not_import_the_heavy_libraries() -> None:
    code = (
        "import sys; from synthc.cli import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('polars', 'duckdb', 'litellm', 'jsonschema') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_table_keeps_one_line_per_row(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        'synthc: 1\nname: lines\nsteps:\n  notes:\n    kind: seed\n    rows: [{text: "Dear James,\\n\\nThanks!"}]\n'
    )
    synthc("build", str(recipe))
    table = synthc("query", str(recipe), "select text from notes").stdout
    assert table.splitlines()[2] == "| Dear James, ⏎  ⏎ Thanks! |"
    jsonl = synthc("query", str(recipe), "select text from notes", "-f", "jsonl").stdout
    assert json.loads(jsonl) == {"text": "Dear James,\n\nThanks!"}


def test_an_empty_export_is_a_warning_counted_in_the_summary(recipe: Path) -> None:
    recipe.write_text(RECIPE.replace("topic = 'billing'", "topic = 'refunds'"))
    done = synthc("build", str(recipe))
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert (
        "warning: exports: out/billing.jsonl, out/billing.csv, out/billing.parquet empty: "
        f"step 'billing' has 0 rows (see `synthc report {recipe}` for what removed them)"
    ) in lines
    assert lines[-1].endswith("; 1 warning(s) above")
    assert (recipe.parent / "out" / "billing.jsonl").read_text() == ""
    exported = synthc("export", str(recipe))
    assert "warning: exports: out/billing.jsonl" in exported.stderr


def test_a_damaged_call_cache_is_one_line_that_says_what_to_do(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "synthc: 1\nname: damaged\nsteps:\n  seeds:\n    kind: seed\n    rows: [{q: a}]\n"
        "  answers:\n    kind: generate\n    from: seeds\n    model: openai/gpt-4o-mini\n"
        '    prompt: "{{ q }}"\n'
    )
    cache = tmp_path / ".synthc" / "cache"
    cache.mkdir(parents=True)
    (cache / "cache.db").write_bytes(b"not a database, just bytes" * 200)
    expected = (
        f"error: the call cache at {cache} is damaged (file is not a database): move it "
        f"aside (mv {cache} {cache}.damaged); nothing else is lost, calls it held are paid "
        "for again"
    )
    for command in (("build", str(recipe)), ("cache", "stats", str(recipe))):
        done = subprocess.run(
            [sys.executable, "-m", "synthc", *command],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "OPENAI_API_KEY": "sk-test-not-used"},
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert done.stderr.strip().splitlines()[-1] == expected


def loaded_by_a_no_op_build(folder: Path, recipe_text: str, modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` a rebuild with nothing changed imports (in a fresh process)."""
    recipe = folder / "recipe.yaml"
    recipe.write_text(recipe_text, encoding="utf-8")
    assert synthc("build", str(recipe)).returncode == 0
    code = (
        "import sys\nfrom synthc.cli import cli\n"
        f"try:\n    cli(['build', {str(recipe)!r}])\nexcept SystemExit:\n    pass\n"
        f"print('loaded:' + ','.join(m for m in {modules!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "fresh" in done.stderr
    loaded = done.stdout.strip().splitlines()[-1].removeprefix("loaded:")
    return [m for m in loaded.split(",") if m]


def test_a_no_op_build_of_a_recipe_without_sql_never_loads_duckdb(tmp_path: Path) -> None:
    """Step names are checked against DuckDB's keywords without DuckDB (~40 MB)."""
    text = (
        "synthc: 1\nname: nosql\nsteps:\n  seeds:\n    kind: seed\n    rows: [{text: a}]\n"
        "  unique_rows:\n    kind: dedup\n    from: seeds\n    column: text\n"
    )
    assert loaded_by_a_no_op_build(tmp_path, text, ("duckdb",)) == []


def test_a_no_op_build_imports_neither_polars_nor_numpy(tmp_path: Path) -> None:
    """A rebuild with nothing changed costs Python's start-up and little else; not even
    DuckDB, though the recipe has SQL: the checks that passed last time are remembered."""
    text = (
        "synthc: 1\nname: noop\nsteps:\n  seeds:\n    kind: seed\n    rows: [{text: a}, {text: bb}]\n"
        "  long:\n    kind: filter\n    from: seeds\n    where: length(text) > 1\n"
    )
    modules = ("polars", "numpy", "litellm", "duckdb")
    assert loaded_by_a_no_op_build(tmp_path, text, modules) == []


def test_a_long_query_result_through_a_pipe_arrives_whole(recipe: Path) -> None:
    """The process ends without the interpreter's teardown, but only once its output
    is flushed: 200,000 rows through a pipe all arrive."""
    synthc("build", str(recipe))
    done = synthc("query", str(recipe), "select range n from range(200000)", "-f", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "199999"
    assert len(done.stdout.splitlines()) == 200_001


def test_the_command_still_runs_atexit_handlers_and_keeps_its_exit_code(tmp_path: Path) -> None:
    marker = tmp_path / "atexit-ran"
    code = (
        "import atexit, pathlib, sys\n"
        f"atexit.register(pathlib.Path({str(marker)!r}).write_text, 'yes')\n"
        f"sys.argv = ['synthc', 'validate', {str(tmp_path / 'missing.yaml')!r}]\n"
        "from synthc.cli import run\nrun()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "error:" in done.stderr
    assert marker.read_text() == "yes"
