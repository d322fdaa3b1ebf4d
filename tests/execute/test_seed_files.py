"""Seeds read faithfully: every value as written (leading zeros, wide integers, one type
per column), or an error that names the file and the line."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import yaml
from buildkit import write_jsonl

from synthc.api import build_recipe, query_recipe
from synthc.errors import RecipeError, StepFailed
from synthc.recipe.load import load_recipe


@pytest.fixture(autouse=True)
def in_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)  # messages name files as the user would type them


def seed_recipe(project: Path, seed: dict[str, object], exports: bool = True) -> Path:
    data: dict[str, object] = {
        "synthc": 1,
        "name": "seeds",
        "steps": {
            "seeds": {"kind": "seed", **seed},
            "copy": {"kind": "sql", "from": "seeds", "query": "select * exclude (_id) from seeds"},
        },
    }
    if exports:
        data["exports"] = {"copy": ["out/copy.jsonl", "out/copy.csv", "out/copy.parquet"]}
    path = project / "recipe.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def build_error(recipe: Path) -> StepFailed:
    with pytest.raises(StepFailed) as caught:
        build_recipe(recipe)
    assert caught.value.exit_code == 2
    return caught.value


def jsonl_rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_glob_shards_with_conflicting_types_name_both_files(project: Path) -> None:
    write_jsonl(project / "shards" / "a.jsonl", [{"meta": 1}])
    write_jsonl(project / "shards" / "b.jsonl", [{"meta": {"k": "v"}}])
    recipe = seed_recipe(project, {"path": "shards/*.jsonl"})
    message = str(build_error(recipe))
    assert message.endswith(
        "column 'meta' is a number (Int64) in shards/a.jsonl but an object "
        "(Struct({'k': String})) in shards/b.jsonl; make the files agree "
        "(or declare the column under the seed's `columns:`)"
    )
    assert not (project / "out").exists()


def test_glob_shards_widen_when_no_value_changes(project: Path) -> None:
    write_jsonl(project / "shards" / "a.jsonl", [{"n": 1, "m": {"a": 1}, "t": None}])
    write_jsonl(project / "shards" / "b.jsonl", [{"n": 2.5, "m": {"b": "x"}, "t": "x"}])
    recipe = seed_recipe(project, {"path": "shards/*.jsonl"})
    assert build_recipe(recipe).exit_code == 0
    assert jsonl_rows(project / "out" / "copy.jsonl") == [
        {"n": 1.0, "m": {"a": 1, "b": None}, "t": None},
        {"n": 2.5, "m": {"a": None, "b": "x"}, "t": "x"},
    ]


def test_one_column_keeps_one_type_inside_a_file(project: Path) -> None:
    (project / "rows.jsonl").write_text('{"n": "1"}\n\n{"n": 1}\n')
    message = str(build_error(seed_recipe(project, {"path": "rows.jsonl"})))
    assert message.endswith(
        "rows.jsonl:3: column 'n' holds an integer here but a string at line 1; a column "
        "keeps one type (write every value the same way, e.g. quote the numbers)"
    )


def test_csv_leading_zeros_stay_text(project: Path) -> None:
    (project / "zips.csv").write_text("zip,code,n,x,y\n02134,007,1,1.5,-0\n10001,1,2,2,00.5\n")
    recipe = seed_recipe(project, {"path": "zips.csv"})
    assert build_recipe(recipe).exit_code == 0
    assert jsonl_rows(project / "out" / "copy.jsonl") == [
        {"zip": "02134", "code": "007", "n": 1, "x": 1.5, "y": "-0"},
        {"zip": "10001", "code": "1", "n": 2, "x": 2.0, "y": "00.5"},
    ]
    assert (project / "out" / "copy.csv").read_text().splitlines()[1] == "02134,007,1,1.5,-0"
    parquet = pl.read_parquet(project / "out" / "copy.parquet")
    assert parquet.get_column("zip").to_list() == ["02134", "10001"]


def test_a_declared_column_type_wins(project: Path) -> None:
    write_jsonl(project / "rows.jsonl", [{"zip": 2134, "ok": "true"}])
    recipe = seed_recipe(
        project, {"path": "rows.jsonl", "columns": {"zip": "string", "ok": "boolean"}}
    )
    build_recipe(recipe)
    assert jsonl_rows(project / "out" / "copy.jsonl") == [{"zip": "2134", "ok": True}]
    (project / "zips.csv").write_text("zip\n1\nx\n")
    recipe = seed_recipe(project, {"path": "zips.csv", "columns": {"zip": "integer"}})
    assert str(build_error(recipe)).endswith(
        "zips.csv: row 2: column 'zip' is declared integer but holds 'x'"
    )


def test_integers_beyond_64_bits_reach_every_format(project: Path) -> None:
    wide = 2**70
    write_jsonl(project / "rows.jsonl", [{"n": wide, "s": "a"}, {"n": 1, "s": "b"}])
    recipe = seed_recipe(project, {"path": "rows.jsonl"})
    assert build_recipe(recipe).exit_code == 0
    assert jsonl_rows(project / "out" / "copy.jsonl") == [{"n": wide, "s": "a"}, {"n": 1, "s": "b"}]
    assert (project / "out" / "copy.csv").read_text() == f"n,s\n{wide},a\n1,b\n"
    assert pl.read_parquet(project / "out" / "copy.parquet").get_column("n").to_list() == [wide, 1]
    assert query_recipe(recipe, "select n from copy", "csv") == f"n\n{wide}\n1\n"
    assert query_recipe(recipe, "select n * 2 as d from copy", "jsonl").splitlines() == [
        f'{{"d":{wide * 2}}}',
        '{"d":2}',
    ]


def test_a_sum_exports_as_a_number(project: Path) -> None:
    write_jsonl(project / "rows.jsonl", [{"n": 2}, {"n": 3}])
    recipe = seed_recipe(project, {"path": "rows.jsonl"}, exports=False)
    data = yaml.safe_load(recipe.read_text())
    data["steps"]["copy"]["query"] = "select sum(n) as total from seeds"
    data["exports"] = {"copy": "out/total.jsonl"}
    recipe.write_text(yaml.safe_dump(data))
    build_recipe(recipe)
    assert jsonl_rows(project / "out" / "total.jsonl") == [{"total": 5}]  # was "5", a string


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("ragged.csv", "a,b\n1,2\n3,4,5\n", "ragged.csv:3: 3 field(s), but the header has 2"),
        ("bad.jsonl", '{"a": 1}\n{"a": \n', "bad.jsonl:2: not valid JSON (Expecting value"),
        ("text.parquet", "hello\n", "text.parquet: not a readable Parquet file"),
        ("arrays.jsonl", "[1, 2]\n", "arrays.jsonl:1: each row must be a JSON object"),
        ("nan.jsonl", '{"a": NaN}\n', "nan.jsonl:1: NaN is not a JSON number"),
        ("object.json", '{"a": 1}', "object.json: a .json data file holds an array of objects"),
        ("latin1.csv", "a\n\xe9\n", "latin1.csv: not UTF-8 text"),
    ],
)
def test_a_data_file_error_names_the_file_and_line(
    project: Path, name: str, content: str, message: str
) -> None:
    (project / name).write_bytes(content.encode("latin-1"))
    error = build_error(seed_recipe(project, {"path": name}, exports=False))
    assert str(error).startswith(f"step 'seeds' failed: {name}")
    assert message in str(error)


def test_inline_rows_that_mix_types_are_a_recipe_error(project: Path) -> None:
    recipe = seed_recipe(project, {"rows": [{"a": 1}, {"a": "x"}]}, exports=False)
    with pytest.raises(RecipeError) as caught:
        load_recipe(recipe)
    assert str(caught.value) == (
        f"{recipe}:8:10: steps.seeds.rows.1.a: column 'a' holds a string here but an "
        "integer at rows.0; a column keeps one type (write every value the same way, "
        "e.g. quote the numbers)"
    )


def test_a_byte_order_mark_is_not_part_of_the_first_column(project: Path) -> None:
    (project / "excel.csv").write_bytes(b"\xef\xbb\xbfzip,n\n02134,1\n")
    (project / "bom.jsonl").write_bytes(b'\xef\xbb\xbf{"zip": "02134", "n": 1}\n')
    for name in ("excel.csv", "bom.jsonl"):
        recipe = seed_recipe(project, {"path": name})
        assert build_recipe(recipe).exit_code == 0
        assert jsonl_rows(project / "out" / "copy.jsonl") == [{"zip": "02134", "n": 1}]


def test_numbers_no_column_can_hold_are_errors_at_their_line(project: Path) -> None:
    (project / "huge.jsonl").write_text(f'{{"n": 1}}\n{{"n": [{10**40}]}}\n')
    message = str(build_error(seed_recipe(project, {"path": "huge.jsonl"}, exports=False)))
    assert message.endswith(
        "huge.jsonl:2: column 'n' holds an integer of more than 38 digits; write it as a string"
    )
    (project / "inf.jsonl").write_text('{"x": 1e400}\n')
    message = str(build_error(seed_recipe(project, {"path": "inf.jsonl"}, exports=False)))
    assert message.endswith(
        "inf.jsonl:1: column 'x' holds a number beyond the range of a float; write it as a string"
    )
    recipe = seed_recipe(project, {"rows": [{"n": 10**40}]}, exports=False)
    with pytest.raises(
        RecipeError,
        match=r"steps.seeds.rows.0.n: column 'n' holds an integer of more than 38 digits",
    ):
        load_recipe(recipe)
