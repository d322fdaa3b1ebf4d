"""Fuzz: random small seed files (JSON Lines, CSV, Parquet) with random types, nulls,
nesting, unicode, wide integers and leading zeros, built seed -> sql -> export in every
format. Each value comes back as written, or the build stops with exit 2 and a message
naming the file: never a traceback, never a silently changed value."""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from synthc.api import build_recipe
from synthc.errors import SynthcError

COLUMNS = ("a", "b", "c")
EXPORTS = ("out/copy.jsonl", "out/copy.csv", "out/copy.parquet")

text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6)
integers = st.integers(-(2**70), 2**70) | st.integers(-5, 5)
leading_zeros = st.from_regex(r"0[0-9]{1,5}", fullmatch=True)
floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
scalars = st.none() | st.booleans() | integers | floats | text | leading_zeros
nested = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("xyz"), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def tables(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> list[dict[str, Any]]:
    size = draw(st.integers(1, 5))
    columns = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=3, unique=True))
    kinds = {name: draw(st.sampled_from(["one", "mixed"])) for name in columns}
    rows: list[dict[str, Any]] = [{"i": index} for index in range(size)]
    for name in columns:
        if kinds[name] == "one":
            typed = draw(st.sampled_from([integers, floats, text, leading_zeros, st.booleans()]))
            strategy = st.none() | typed
        else:
            strategy = values
        for row in rows:
            if draw(st.booleans()) or kinds[name] == "one":
                row[name] = draw(strategy)
    return rows


def same(original: Any, back: Any) -> bool:
    """Equal as data: a missing object field reads back as null (a table has every
    column); integers beside floats read back as floats."""
    if original is None:
        return back is None or (
            isinstance(back, dict) and all(same(None, v) for v in back.values())
        )
    if isinstance(original, bool) or isinstance(back, bool):
        return original is back
    if isinstance(original, int | float) and isinstance(back, int | float):
        return original == back
    if isinstance(original, list):
        return (
            isinstance(back, list)
            and len(back) == len(original)
            and all(same(o, b) for o, b in zip(original, back, strict=True))
        )
    if isinstance(original, dict):
        return isinstance(back, dict) and all(
            same(original.get(k), back.get(k)) for k in set(original) | set(back)
        )
    return bool(original == back)


def csv_same(written: str, back: Any) -> bool:
    """A CSV cell as written ("" is null) against the value read back."""
    if written == "":
        return back is None
    if isinstance(back, str):
        return back == written
    if isinstance(back, bool):
        return written == str(back).lower()
    if isinstance(back, int | Decimal):
        return Decimal(written) == back
    return isinstance(back, float) and float(written) == back


def build_and_read(folder: Path, seed_file: str) -> tuple[dict[int, dict[str, Any]], ...] | str:
    """Build seed -> sql -> exports; rows of each export by `i`, or the error message."""
    recipe = folder / "recipe.yaml"
    data = {
        "synthc": 1,
        "name": "fuzz",
        "steps": {
            "seeds": {"kind": "seed", "path": seed_file},
            "copy": {
                "kind": "sql",
                "from": "seeds",
                "query": "select * exclude (_id) from seeds order by i",
            },
        },
        "exports": {"copy": list(EXPORTS)},
    }
    recipe.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        result = build_recipe(recipe)
    except SynthcError as exc:  # anything else is a traceback: the test fails
        assert exc.exit_code == 2, str(exc)
        assert seed_file in str(exc), str(exc)
        return str(exc)
    assert result.exit_code == 0
    as_jsonl = [json.loads(line) for line in (folder / EXPORTS[0]).read_text().splitlines()]
    with (folder / EXPORTS[1]).open(newline="", encoding="utf-8") as handle:
        as_csv = list(csv.DictReader(handle))
    as_parquet = pl.read_parquet(folder / EXPORTS[2]).to_dicts()
    return tuple({int(row["i"]): row for row in rows} for rows in (as_jsonl, as_csv, as_parquet))


def check_round_trip(rows: list[dict[str, Any]], built: Any) -> None:
    if isinstance(built, str):
        event("refused with a located error")
        return
    event("built")
    as_jsonl, as_csv, as_parquet = built
    for row in rows:
        for column in COLUMNS:
            value = row.get(column)
            assert same(value, as_jsonl[row["i"]].get(column)), (column, value, as_jsonl)
            assert same(value, as_parquet[row["i"]].get(column)), (column, value, as_parquet)
            if column in as_csv[row["i"]] and not isinstance(value, list | dict):
                cell = as_csv[row["i"]][column]
                assert csv_cell_matches(value, cell), (column, value, cell)


def csv_cell_matches(value: Any, cell: str) -> bool:
    """A scalar against the CSV export's cell (CSV has no types)."""
    if value is None:
        return cell == ""
    if isinstance(value, bool):
        return cell == str(value).lower()
    if isinstance(value, float):
        return float(cell) == value
    if isinstance(value, int):
        return Decimal(cell) == value
    return bool(cell == value)


# No shrinking: each example is a full build, and shrinking one failure costs minutes.
FUZZ = settings(
    max_examples=25,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def workdir() -> Any:
    folder = Path(tempfile.mkdtemp(prefix="synthc-fuzz-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@FUZZ
@given(rows=tables(nested))
def test_json_lines_seeds_round_trip(workdir: Path, rows: list[dict[str, Any]]) -> None:
    folder = fresh(workdir / "jsonl")
    (folder / "seed.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    )
    check_round_trip(rows, build_and_read(folder, "seed.jsonl"))


@FUZZ
@given(rows=tables(scalars))
def test_csv_seeds_round_trip(workdir: Path, rows: list[dict[str, Any]]) -> None:
    folder = fresh(workdir / "csv")
    columns = ["i", *sorted({k for r in rows for k in r} - {"i"})]
    cells = [{k: _csv_text(r.get(k)) for k in columns} for r in rows]
    with (folder / "seed.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(cells)
    built = build_and_read(folder, "seed.csv")
    if isinstance(built, str):
        event("refused with a located error")
        return
    as_jsonl, as_csv, as_parquet = built
    for row in cells:
        index = int(row["i"])
        for column in columns:
            written = row[column]
            assert csv_same(written, as_jsonl[index].get(column)), (column, written, as_jsonl)
            assert csv_same(written, as_parquet[index].get(column)), (column, written, as_parquet)
            back = as_jsonl[index].get(column)
            assert csv_cell_matches(back, as_csv[index][column]), (column, back, as_csv)


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    return str(value)


@FUZZ
@given(rows=tables(nested))
def test_parquet_seeds_round_trip(workdir: Path, rows: list[dict[str, Any]]) -> None:
    folder = fresh(workdir / "parquet")
    try:
        pl.DataFrame(rows, infer_schema_length=None).write_parquet(folder / "seed.parquet")
    except Exception:
        event("polars cannot write these rows as one Parquet table")
        return
    stored = pl.read_parquet(folder / "seed.parquet").to_dicts()  # what the file really holds
    check_round_trip(stored, build_and_read(folder, "seed.parquet"))
