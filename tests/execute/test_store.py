"""The store: immutable Parquet outputs, a derived DuckDB catalog, read-only queries, exports."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import threading
from pathlib import Path

import duckdb
import polars as pl
import pytest
from buildkit import load, run_build, step_frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from polars.testing.parametric import dataframes

from synthc.errors import BuildLocked, StoreError
from synthc.recipe.load import export_of
from synthc.store.exports import write_exports
from synthc.store.store import Store, data_version, format_frame

SIMPLE_DTYPES = [pl.Int64, pl.Float64, pl.String, pl.Boolean, pl.List(pl.String)]


def make_store(folder: Path) -> Store:
    return Store(folder / ".synthc", folder / "recipe.lock", "test")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frame=dataframes(allowed_dtypes=SIMPLE_DTYPES, max_cols=5, max_size=30, allow_nan=True))
def test_a_written_step_reads_back_as_the_same_frame(tmp_path: Path, frame: pl.DataFrame) -> None:
    store = make_store(tmp_path)
    version = store.write_step("step", frame)
    back = pl.read_parquet(store.step_path("step", version))
    assert_frame_equal(back, frame)
    assert data_version(back) == version


def test_inf_and_nan_are_not_mistaken_for_missing_values(tmp_path: Path) -> None:
    # JSON Lines writes inf, -inf and NaN as null: the same version would make the store
    # keep the first frame's file for the second, and a rebuild cut off wrongly.
    inf, nan = float("inf"), float("nan")
    frames = [pl.DataFrame({"x": [1.0, value]}) for value in (None, inf, -inf, nan)]
    frames += [pl.DataFrame({"v": [[1.0, value]]}) for value in (None, inf, nan)]
    frames += [
        pl.DataFrame({"s": [{"a": 1.0, "b": "t"}, {"a": value, "b": "u"}]})
        for value in (None, inf, nan)
    ]
    frames += [pl.DataFrame({"l": [[{"a": value}]]}) for value in (None, -inf)]
    frames += [
        pl.DataFrame({"a": [[1.0, value]]}, schema={"a": pl.Array(pl.Float64, 2)})
        for value in (None, inf)
    ]
    store = make_store(tmp_path)
    versions = [store.write_step("step", frame) for frame in frames]
    assert len(set(versions)) == len(frames)
    for frame, version in zip(frames, versions, strict=True):
        assert_frame_equal(pl.read_parquet(store.step_path("step", version)), frame)
    finite = pl.DataFrame({"x": [1.0, None]})  # no non-finite value: the version it always had
    assert data_version(finite) == data_version(finite.clone())


def test_data_version_is_stable_and_sees_every_change() -> None:
    frame = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    assert data_version(frame) == data_version(frame.clone())
    assert data_version(frame) == data_version(pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}))
    changed = [
        frame.with_columns(pl.col("a").cast(pl.Int32)),  # same text, other dtype
        frame.with_columns(pl.col("a").cast(pl.String)),
        frame.reverse(),  # order is part of the output
        frame.rename({"b": "c"}),
        frame.head(2),
        frame.with_columns(pl.Series("b", ["x", "y", "Z"])),
    ]
    versions = {data_version(f) for f in changed}
    assert len(versions) == len(changed)
    assert data_version(frame) not in versions


def test_data_version_of_a_large_frame_hashes_in_chunks_the_same_way() -> None:
    big = pl.DataFrame({"i": range(250_000)})
    assert data_version(big) == data_version(pl.DataFrame({"i": list(range(250_000))}))
    assert data_version(big) != data_version(big.head(249_999))


def test_query_returns_rows_in_each_format(linear: Path) -> None:
    run_build(linear)
    store = Store.for_recipe(load(linear))
    sql = "select q, m from big order by m limit 2"
    assert store.query(sql, "csv") == "q,m\nquestion 5,10\nquestion 6,12\n"
    assert store.query(sql, "jsonl").splitlines() == [
        '{"q":"question 5","m":10}',
        '{"q":"question 6","m":12}',
    ]
    assert json.loads(store.query(sql, "json")) == [
        {"q": "question 5", "m": 10},
        {"q": "question 6", "m": 12},
    ]
    table = store.query(sql, "table")
    assert "question 5" in table and "| q " in table
    with pytest.raises(StoreError, match="unknown format 'xml'"):
        store.query(sql, "xml")


def test_csv_writes_nested_cells_as_json() -> None:
    frame = pl.DataFrame({"tags": [["a", "b"], []], "n": [1, 2]})
    assert format_frame(frame, "csv") == 'tags,n\n"[""a"", ""b""]",1\n[],2\n'


@pytest.mark.parametrize(
    "sql",
    [
        "create table evil as select 1",
        "insert into big select * from big",
        "drop view big",
        "copy (select 1) to 'leak.csv'",
        "attach 'other.duckdb'",
        "select 1; delete from big",
        "set threads = 1",
        "explain analyze copy (select 1) to 'leak.csv'",
        "EXPLAIN ANALYZE create table evil as select 1",
        "explain (analyze, format json) copy (select 1) to 'leak.csv'",
    ],
)
def test_query_refuses_writes_and_leaves_the_store_untouched(linear: Path, sql: str) -> None:
    run_build(linear)
    store = Store.for_recipe(load(linear))
    before = {p: p.read_bytes() for p in store.workdir.rglob("*") if p.is_file()}
    with pytest.raises(StoreError, match="read-only: refusing"):
        store.query(sql)
    after = {p: p.read_bytes() for p in store.workdir.rglob("*") if p.is_file()}
    assert after == before
    assert not (linear.parent / "leak.csv").exists()


def test_query_allows_explain_and_several_selects(linear: Path) -> None:
    run_build(linear)
    store = Store.for_recipe(load(linear))
    assert "physical_plan" in store.query("explain select * from big", "csv")
    assert "analyzed_plan" in store.query("explain analyze select count(*) from big", "csv")
    assert store.query("select 1 as a; select 2 as b", "csv") == "b\n2\n"


def test_query_reports_bad_sql_as_a_store_error(linear: Path) -> None:
    store = Store.for_recipe(load(linear))
    with pytest.raises(StoreError, match="built steps: none yet: run `synthc build`"):
        store.query("select * from seeds")
    run_build(linear)
    with pytest.raises(
        StoreError, match=r"(?s)no_such_table.*built steps: big, doubled, seeds, summary"
    ):
        store.query("select * from no_such_table")
    with pytest.raises(StoreError, match=r"query failed: Conversion Error"):
        store.query("select 'a'::int as y")


def test_catalog_has_a_view_per_step_and_the_run_log(linear: Path) -> None:
    run_build(linear)
    run_build(linear)
    store = Store.for_recipe(load(linear))
    con = duckdb.connect(str(store.catalog_path), read_only=True)
    views = {
        row[0]
        for row in con.execute("select view_name from duckdb_views() where not internal").fetchall()
    }
    assert {"seeds", "doubled", "big", "summary", "_runs", "_lineage"} <= views
    lineage = con.execute("select _step, count(*) from _lineage group by _step order by _step")
    assert lineage.fetchall() == [("big", 15), ("doubled", 20), ("seeds", 20), ("summary", 1)]
    runs = con.execute("select status, exit_code, len(built) from _runs").fetchall()
    assert runs == [("ok", 0, 4), ("ok", 0, 0)]


def test_a_broken_catalog_is_rebuilt_on_query(linear: Path) -> None:
    run_build(linear)
    store = Store.for_recipe(load(linear))
    store.catalog_path.write_bytes(b"not a duckdb file")
    assert store.query("select count(*) as n from seeds", "csv") == "n\n20\n"
    store.catalog_path.unlink()
    assert store.query("select count(*) as n from big", "csv") == "n\n15\n"


def test_the_catalog_is_built_once_per_build_and_follows_a_lock_written_after_it(
    linear: Path,
) -> None:
    run_build(linear)
    store = Store.for_recipe(load(linear))
    built_at = store.catalog_path.stat().st_mtime_ns
    run_build(linear)  # nothing changed: the catalog is not rebuilt
    assert store.catalog_path.stat().st_mtime_ns == built_at
    # What a build killed after locking a step leaves: a lock newer than the catalog.
    state = store.read_lock()
    store.write_lock(dataclasses.replace(state, steps={"seeds": state.steps["seeds"]}))
    assert store.query("select count(*) as n from seeds", "csv") == "n\n20\n"
    with pytest.raises(StoreError, match="built steps: seeds"):
        store.query("select * from big")


def test_emitted_tables_get_a_view_unioned_across_steps(project: Path) -> None:
    store = make_store(project)
    from synthc.store.lock import LockEntry, LockState

    entries = {}
    for step in ("a", "b"):
        frame = pl.DataFrame({"_id": [f"{step}1"], "x": [1]})
        calls = pl.DataFrame({"call_key": [f"k-{step}"], "tokens": [3]})
        version = store.write_step(step, frame, {"_calls": calls})
        entries[step] = LockEntry(
            kind="sql",
            fingerprint="f",
            config_fingerprint="c",
            config={},
            model=None,
            files={},
            upstream={},
            data_version=version,
            rows=1,
            columns=("_id", "x"),
        )
    store.refresh_catalog(LockState(steps=entries))
    rows = store.query_frame("select _step, call_key from _calls order by _step").rows()
    assert rows == [("a", "k-a"), ("b", "k-b")]


def test_auxiliary_tables_exist_and_are_empty_when_no_step_emitted_rows(linear: Path) -> None:
    run_build(linear)
    store = Store.for_recipe(load(linear))
    for table in ("_failures", "_rejections", "_dedup_matches", "_checks", "_calls"):
        assert store.query(f"select count(*) as n from {table}", "csv") == "n\n0\n"
    columns = store.query_frame("select * from _failures").columns
    assert columns[:3] == ["row_id", "step", "call_key"] and columns[-1] == "_step"
    assert (
        store.query_frame("select removed_id, kept_id, similarity from _dedup_matches").height == 0
    )


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_files_synthc_writes_honour_the_umask(linear: Path, umask: int, mode: int) -> None:
    from synthc.api import build_recipe

    old = os.umask(umask)
    try:
        build_recipe(linear)
    finally:
        os.umask(old)
    out = linear.parent / "out"
    written = [
        linear.with_suffix(".lock"),
        out / "big.jsonl",
        out / "big.parquet",
        out / "README.md",
    ]
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in written} == {
        p.name: oct(mode) for p in written
    }


def test_rewriting_a_file_keeps_the_mode_its_owner_gave_it(linear: Path) -> None:
    from synthc.api import build_recipe, export_recipe

    build_recipe(linear)
    export = linear.parent / "out" / "big.jsonl"
    export.chmod(0o640)
    export.write_text("stale")
    export_recipe(linear)
    assert export.stat().st_mode & 0o777 == 0o640
    assert export.read_text() != "stale"


def test_exports_write_each_format_atomically(linear: Path) -> None:
    run_build(linear)
    recipe = load(linear)
    store = Store.for_recipe(recipe)
    written = write_exports(recipe, store.read_lock())
    out = linear.parent / "out"
    assert written == [out / "big.jsonl", out / "big.parquet"]
    lines = (out / "big.jsonl").read_text().splitlines()
    assert len(lines) == 15
    assert json.loads(lines[0]) == {"q": "question 5", "m": 10}  # lineage columns left out
    assert_frame_equal(pl.read_parquet(out / "big.parquet"), step_frame(linear, "big"))
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_exports_refuse_unbuilt_steps_and_unknown_formats(linear: Path) -> None:
    recipe = load(linear)
    with pytest.raises(StoreError, match="step 'big' has not been built"):
        write_exports(recipe, Store.for_recipe(recipe).read_lock())


def test_a_second_build_is_refused_while_one_holds_the_lock(linear: Path) -> None:
    store = Store.for_recipe(load(linear))
    with store.build_lock():
        with pytest.raises(BuildLocked, match="another synthc build is running on test"):
            run_build(linear)
        with pytest.raises(BuildLocked, match="pass --wait"), store.build_lock():
            pass
    result, _ = run_build(linear)
    assert result.built == ["seeds", "doubled", "big", "summary"]


def test_wait_blocks_until_the_other_build_finishes(linear: Path) -> None:
    store = Store.for_recipe(load(linear))
    holding = threading.Event()
    release = threading.Event()

    def other_build() -> None:
        with store.build_lock():
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=other_build)
    thread.start()
    holding.wait(5)
    threading.Timer(0.3, release.set).start()
    result, _ = run_build(linear, wait_for_lock=True)
    thread.join()
    assert result.exit_code == 0 and len(result.built) == 4


def test_unknown_format_extension_is_refused(linear: Path) -> None:
    run_build(linear)
    # The recipe schema already refuses such a path; write_exports must too when called directly.
    recipe = dataclasses.replace(load(linear), exports={"big": (export_of("out/big.xlsx"),)})
    with pytest.raises(StoreError, match=re.escape("cannot tell the format of 'out/big.xlsx'")):
        write_exports(recipe, Store.for_recipe(recipe).read_lock())


@given(st.lists(st.text(max_size=5), max_size=10))
def test_format_jsonl_round_trips_text(values: list[str]) -> None:
    frame = pl.DataFrame({"t": values}, schema={"t": pl.String})
    text = format_frame(frame, "jsonl")
    assert [json.loads(line)["t"] for line in text.split("\n") if line] == values
