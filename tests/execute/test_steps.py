"""The seed, filter and sql step kinds, built through the executor as a user would."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from buildkit import plan_of, run_build, step_frame, write_jsonl, write_recipe

from synthc.errors import RecipeError, StepFailed
from synthc.execute.build import BuildContext, build
from synthc.steps import seed as seed_kind
from synthc.store.store import Store


def seed_rows(project: Path, seeds: dict[str, object]) -> list[dict[str, object]]:
    recipe = write_recipe(project, {"seeds": {"kind": "seed", **seeds}})
    run_build(recipe)
    return step_frame(recipe, "seeds").drop("_id").to_dicts()


def test_seed_reads_inline_rows(project: Path) -> None:
    rows = seed_rows(project, {"rows": [{"q": "a", "n": 1}, {"q": "b"}]})
    assert rows == [{"q": "a", "n": 1}, {"q": "b", "n": None}]


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "parquet"])
def test_seed_reads_each_file_format(project: Path, suffix: str) -> None:
    frame = pl.DataFrame({"q": ["a", "b"], "n": [1, 2]})
    path = project / "data" / f"seeds.{suffix}"
    path.parent.mkdir()
    {"jsonl": frame.write_ndjson, "csv": frame.write_csv, "parquet": frame.write_parquet}[suffix](
        path
    )
    assert seed_rows(project, {"path": f"data/seeds.{suffix}"}) == frame.to_dicts()


def test_seed_glob_unions_matches_in_sorted_order(project: Path) -> None:
    write_jsonl(project / "parts" / "b.jsonl", [{"q": "from b", "extra": 1}])
    write_jsonl(project / "parts" / "a.jsonl", [{"q": "from a"}])
    rows = seed_rows(project, {"path": "parts/*.jsonl"})
    assert rows == [{"q": "from a", "extra": None}, {"q": "from b", "extra": 1}]


def test_seed_sql_resolves_paths_against_the_recipe_folder(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_jsonl(project / "data" / "x.jsonl", [{"n": 1}, {"n": 2}, {"n": 3}])
    monkeypatch.chdir(tmp_path)  # not the recipe folder
    rows = seed_rows(
        project, {"sql": "select n * 10 as n10 from 'data/x.jsonl' where n > 1 order by n"}
    )
    assert rows == [{"n10": 20}, {"n10": 30}]


def test_seed_files_and_columns_hooks(project: Path) -> None:
    assert seed_kind.files({"path": "data/*.jsonl"}) == [("path", "data/*.jsonl")]
    assert seed_kind.files(
        {"sql": "select * from 'a.csv' join read_parquet('b/c.parquet') using (k)"}
    ) == [
        ("sql", "a.csv"),
        ("sql", "b/c.parquet"),
    ]
    assert seed_kind.files({"rows": [{"a": 1}]}) == []
    assert seed_kind.columns({"rows": [{"a": 1}, {"b": 2}]}, {}) == ["_id", "a", "b"]
    write_jsonl(project / "s.jsonl", [{"q": "a", "n": 1}])
    assert seed_kind.columns_in(project, {"path": "s.jsonl"}) == ["_id", "q", "n"]
    assert seed_kind.columns({"path": str(project / "s.jsonl")}, {}) == ["_id", "q", "n"]
    assert seed_kind.columns({"sql": "select 1"}, {}) is None


def test_seed_file_gone_at_build_time_fails_naming_the_step(project: Path) -> None:
    write_jsonl(project / "parts" / "a.jsonl", [{"q": "a"}])
    recipe = write_recipe(project, {"seeds": {"kind": "seed", "path": "parts/*.jsonl"}})
    plan = plan_of(recipe)  # the loader checks the glob matches; then the file goes away
    (project / "parts" / "a.jsonl").unlink()
    store = Store.for_recipe(plan.recipe)
    with pytest.raises(
        StepFailed, match=re.escape("step 'seeds' failed: path: 'parts/*.jsonl' matches no files")
    ):
        build(plan, BuildContext(store=store))


def test_filter_keeps_ids_and_order(project: Path) -> None:
    seeds = {"kind": "seed", "rows": [{"n": i} for i in range(10)]}
    recipe = write_recipe(
        project, {"seeds": seeds, "odd": {"kind": "filter", "from": "seeds", "where": "n % 2 = 1"}}
    )
    run_build(recipe)
    source = step_frame(recipe, "seeds")
    kept = step_frame(recipe, "odd")
    assert kept.to_dicts() == source.filter(pl.col("n") % 2 == 1).to_dicts()


def test_filter_with_an_unknown_column_is_refused_before_the_build(project: Path) -> None:
    seeds = {"kind": "seed", "rows": [{"n": 1}]}
    bad = {"kind": "filter", "from": "seeds", "where": "nn > 1"}
    recipe = write_recipe(project, {"seeds": seeds, "bad": bad})
    with pytest.raises(RecipeError) as failure:
        run_build(recipe)
    message = str(failure.value)
    assert re.match(r"^\S+recipe.yaml:\d+:\d+: steps.bad.where: 'nn > 1' does not bind", message)
    assert 'Referenced column "nn" not found' in message
    assert not (project / ".synthc").exists() or not list(project.rglob("*.parquet"))


def test_filter_failing_on_its_rows_names_the_step_and_duckdbs_message(project: Path) -> None:
    seeds = {"kind": "seed", "rows": [{"n": "one"}]}
    bad = {"kind": "filter", "from": "seeds", "where": "cast(n as integer) > 1 -- numbers only"}
    recipe = write_recipe(project, {"seeds": seeds, "bad": bad})
    with pytest.raises(StepFailed) as failure:
        run_build(recipe)
    message = str(failure.value)
    assert message.startswith("step 'bad' failed: where: 'cast(n as integer) > 1 -- numbers only'")
    assert "Conversion Error" in message
    assert step_frame(recipe, "seeds").height == 1  # the finished step stays built


def test_sql_keeps_a_unique_id_and_derives_one_otherwise(project: Path) -> None:
    steps = {
        "seeds": {
            "kind": "seed",
            "rows": [{"t": "a", "n": 1}, {"t": "a", "n": 2}, {"t": "b", "n": 3}],
        },
        "kept": {"kind": "sql", "from": "seeds", "query": "select _id, n * 2 as m from seeds"},
        "grouped": {
            "kind": "sql",
            "from": "seeds",
            "query": "select t, sum(n) as s from seeds group by t order by t",
        },
        "doubled": {
            "kind": "sql",
            "from": "seeds",
            "query": "select * from seeds union all select * from seeds",
        },
    }
    recipe = write_recipe(project, steps)
    run_build(recipe)
    assert (
        step_frame(recipe, "kept")["_id"].to_list() == step_frame(recipe, "seeds")["_id"].to_list()
    )
    grouped = step_frame(recipe, "grouped")
    assert grouped.columns == ["_id", "t", "s"] and grouped["_id"].n_unique() == 2
    doubled = step_frame(recipe, "doubled")
    assert doubled.height == 6 and doubled["_id"].n_unique() == 6


def test_sql_joins_several_steps_by_name(project: Path) -> None:
    steps = {
        "people": {"kind": "seed", "rows": [{"k": 1, "name": "ada"}, {"k": 2, "name": "bob"}]},
        "ages": {"kind": "seed", "rows": [{"k": 1, "age": 36}, {"k": 2, "age": 40}]},
        "joined": {
            "kind": "sql",
            "from": ["people", "ages"],
            "query": "select p.name, a.age from people p join ages a using (k) order by p.name",
        },
    }
    recipe = write_recipe(project, steps)
    run_build(recipe)
    assert step_frame(recipe, "joined").drop("_id").to_dicts() == [
        {"name": "ada", "age": 36},
        {"name": "bob", "age": 40},
    ]


def test_sql_error_lists_the_visible_tables(project: Path) -> None:
    steps = {
        "seeds": {"kind": "seed", "rows": [{"n": 1}]},
        "bad": {"kind": "sql", "from": "seeds", "query": "select * from seedz"},
    }
    with pytest.raises(
        RecipeError,
        match=r"steps.bad.query: .*seedz.*Did you mean \"seeds\".*\(tables visible: seeds\)",
    ):
        run_build(write_recipe(project, steps))
