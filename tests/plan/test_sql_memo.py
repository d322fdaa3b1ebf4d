"""SQL checks that passed are remembered (`.synthc/<recipe>/sql-checks.json`): a rebuild
or plan with nothing changed never imports DuckDB, and anything a check depends on
(the statement, the upstream columns, a file the query reads, the memo's own bytes)
changing makes it run again with the error a first run gives, at the same place."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from synthc.api import build_recipe, plan_recipe
from synthc.errors import RecipeError, StepFailed
from synthc.recipe.sqlmemo import MEMO_FILE, SQLMemo

RECIPE = """\
synthc: 1
name: memo
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
  labelled:
    kind: sql
    from: billing
    query: |
      select b.question, l.label
      from billing b join 'labels.csv' l on b.topic = l.topic
    checks:
      - sql:
          query: "select * from this where label is null"
"""

LABELS = "topic,label\nbilling,money\naccount,login\n"


@pytest.fixture
def built(tmp_path: Path) -> Path:
    (tmp_path / "labels.csv").write_text(LABELS, encoding="utf-8")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    assert build_recipe(recipe).exit_code == 0
    assert (tmp_path / ".synthc" / "recipe" / MEMO_FILE).is_file()
    return recipe


def loaded_modules(command: str, recipe: Path) -> list[str]:
    """Which of duckdb, numpy, polars and litellm `synthc <command> recipe` imports (in a
    fresh process)."""
    code = (
        "import sys\nfrom synthc.cli import cli\n"
        f"try:\n    cli([{command!r}, {str(recipe)!r}])\nexcept SystemExit:\n    pass\n"
        "print('loaded:' + ','.join(m for m in ('duckdb', 'numpy', 'polars', 'litellm') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=recipe.parent
    )
    assert "fresh" in done.stderr + done.stdout, done.stderr
    loaded = done.stdout.strip().splitlines()[-1].removeprefix("loaded:")
    return [m for m in loaded.split(",") if m]


def plan_error(recipe: Path) -> str:
    with pytest.raises(RecipeError) as caught:
        plan_recipe(recipe)
    return str(caught.value)


def first_run_error(recipe: Path) -> str:
    """The error of a run that remembers nothing: the memo file is removed first."""
    (recipe.parent / ".synthc" / "recipe" / MEMO_FILE).unlink(missing_ok=True)
    return plan_error(recipe)


def test_a_no_op_build_or_plan_with_sql_never_imports_duckdb(built: Path) -> None:
    """Nor numpy, though a step has a check (only checks on embeddings need it)."""
    assert loaded_modules("build", built) == []
    assert loaded_modules("plan", built) == []


def test_a_changed_statement_is_checked_again_with_its_located_error(built: Path) -> None:
    built.write_text(RECIPE.replace("select b.question, l.label", "select b.question, l.lable"))
    error = plan_error(built)
    assert f"{built}:16:12:" in error
    assert "steps.labelled.query" in error and "lable" in error
    assert error == first_run_error(built)


def test_a_changed_condition_is_checked_again(built: Path) -> None:
    built.write_text(RECIPE.replace("where: \"topic = 'billing'\"", 'where: "topik = 1"'))
    error = plan_error(built)
    assert f"{built}:12:12:" in error and "steps.billing.where" in error and "topik" in error
    assert error == first_run_error(built)


def test_changed_upstream_columns_bind_the_same_query_again(built: Path) -> None:
    built.write_text(RECIPE.replace("{question:", "{asked:"))  # the SQL is as it was
    error = plan_error(built)
    assert f"{built}:16:12:" in error and "steps.labelled.query" in error and "question" in error
    assert error == first_run_error(built)


def test_a_changed_file_the_query_reads_is_bound_again(built: Path) -> None:
    labels = built.parent / "labels.csv"
    labels.write_text("topic,tag\nbilling,money\naccount,login\n", encoding="utf-8")
    error = plan_error(built)
    assert f"{built}:16:12:" in error and "steps.labelled.query" in error and "label" in error
    assert error == first_run_error(built)
    labels.write_text(LABELS, encoding="utf-8")
    assert [s.status for s in plan_recipe(built).steps]  # binds again, cleanly


def test_a_removed_file_the_query_reads_is_reported(built: Path) -> None:
    (built.parent / "labels.csv").unlink()
    error = plan_error(built)
    assert "steps.labelled.query" in error and "labels.csv" in error
    assert error == first_run_error(built)


def test_a_file_reached_by_a_computed_name_is_watched(tmp_path: Path) -> None:
    """DuckDB folds `'lab' || 'els.csv'`; the file it opened is watched all the same."""
    (tmp_path / "labels.csv").write_text(LABELS, encoding="utf-8")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE.replace("'labels.csv'", "read_csv('lab' || 'els.csv')"))
    assert build_recipe(recipe).exit_code == 0
    loaded_modules("plan", recipe)  # the build's lock write touched the folder it watches
    assert loaded_modules("plan", recipe) == []
    (tmp_path / "labels.csv").write_text("topic,tag\nbilling,money\n", encoding="utf-8")
    assert "steps.labelled.query" in plan_error(recipe)


def test_a_query_run_from_another_folder_is_bound_again(built: Path, tmp_path: Path) -> None:
    """A relative name may resolve against the current folder too: a new one rebinds."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert "duckdb" in loaded_modules_in(elsewhere, built)
    assert "duckdb" not in loaded_modules_in(elsewhere, built)  # remembered there too


def loaded_modules_in(folder: Path, recipe: Path) -> list[str]:
    code = (
        "import sys\nfrom synthc.api import plan_recipe\n"
        f"plan_recipe({str(recipe)!r})\n"
        "print('loaded:' + ','.join(m for m in ('duckdb',) if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=folder
    )
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.strip().splitlines()[-1].removeprefix("loaded:")
    return [m for m in loaded.split(",") if m]


@pytest.mark.parametrize(
    "damage",
    [b"", b"{not json", b'{"synthc_sql_checks": 1, "duckdb": 3, "entries": []}', b"\xff\xfe"],
)
def test_a_damaged_memo_means_checking_again(built: Path, damage: bytes) -> None:
    memo = built.parent / ".synthc" / "recipe" / MEMO_FILE
    memo.write_bytes(damage)
    assert "duckdb" in loaded_modules("plan", built)  # checked again, and remembered
    assert loaded_modules("plan", built) == []
    built.write_text(RECIPE.replace("l.label", "l.lable"))
    assert "steps.labelled.query" in plan_error(built)


def test_a_damaged_entry_is_checked_again(built: Path) -> None:
    memo = built.parent / ".synthc" / "recipe" / MEMO_FILE
    memo.write_text(memo.read_text().replace('"columns": [', '"columns": [7, '))
    assert "duckdb" in loaded_modules("plan", built)
    assert loaded_modules("plan", built) == []


def test_the_memo_is_written_only_with_something_new(built: Path) -> None:
    memo = built.parent / ".synthc" / "recipe" / MEMO_FILE
    before = memo.stat().st_mtime_ns, memo.read_bytes()
    plan_recipe(built)
    assert (memo.stat().st_mtime_ns, memo.read_bytes()) == before  # nothing learned
    built.write_text(RECIPE.replace("where label is null", "where question is null"))
    plan_recipe(built)
    assert memo.read_bytes() != before[1]
    assert not [p for p in memo.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_memo_that_cannot_be_written_fails_nothing(built: Path) -> None:
    memo = built.parent / ".synthc" / "recipe" / MEMO_FILE
    memo.unlink()
    memo.mkdir()  # neither readable nor replaceable as a file
    assert [s.status for s in plan_recipe(built).steps] == ["fresh"] * 3
    built.write_text(RECIPE.replace("l.label", "l.lable"))
    assert "steps.labelled.query" in plan_error(built)


@pytest.mark.parametrize("forged_binding", [False, True], ids=["statement", "and-binding"])
def test_a_forged_memo_never_lets_a_statement_that_writes_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forged_binding: bool
) -> None:
    """The memo is trusted only to skip checks: a binding, and a build running SQL,
    check the statement again, so a memo claiming a COPY passed changes nothing."""
    from synthc.fingerprint import fingerprint
    from synthc.recipe.sqlcheck import statement_problem

    monkeypatch.chdir(tmp_path)  # where a COPY to a relative path would write
    copy = "copy (select 1 as x) to 'leak.csv'"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f'synthc: 1\nname: forged\nsteps:\n  rows:\n    kind: seed\n    sql: "{copy}"\n'
    )
    memo = SQLMemo()
    memo.text_problem(lambda text: None, copy)  # remembers any text as passed
    if forged_binding:
        memo.remember_binding(copy, {}, tmp_path, ["x"], [])
    forged = memo.to_text().replace(
        fingerprint(["text", "<lambda>", copy]),
        fingerprint(["text", statement_problem.__name__, copy]),
    )
    (tmp_path / ".synthc" / "recipe").mkdir(parents=True)
    (tmp_path / ".synthc" / "recipe" / MEMO_FILE).write_text(forged)
    if forged_binding:  # nothing left to check before the build runs it
        with pytest.raises(StepFailed, match="the SQL is a statement of type COPY"):
            build_recipe(recipe)
    else:
        with pytest.raises(
            RecipeError,
            match=r"recipe.yaml:6:\d+: steps.rows.sql: the SQL is a statement of type COPY",
        ):
            build_recipe(recipe)
    assert not (tmp_path / "leak.csv").exists()


def test_a_file_added_to_a_glob_the_query_reads_binds_it_again(tmp_path: Path) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "b.csv").write_text(LABELS, encoding="utf-8")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE.replace("'labels.csv'", "'parts/*.csv'"))
    assert build_recipe(recipe).exit_code == 0
    assert loaded_modules("plan", recipe) == []
    (parts / "a.csv").write_text("topic,tag\nbilling,money\n", encoding="utf-8")  # read first
    error = plan_error(recipe)
    assert "steps.labelled.query" in error and "label" in error
    assert error == first_run_error(recipe)
