"""Row ids: content (or a user id column) for seeds, (step, parent, sample) for derived rows."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from buildkit import run_build, step_frame, write_jsonl, write_recipe
from hypothesis import given
from hypothesis import strategies as st

from synthc.errors import StepFailed
from synthc.rows import derived_row_ids, seed_row_ids


def test_inserting_a_seed_keeps_every_other_rows_id() -> None:
    rows = pl.DataFrame({"q": ["a", "b", "c"], "n": [1, 2, 3]})
    inserted = pl.concat([rows.head(1), pl.DataFrame({"q": ["new"], "n": [9]}), rows.tail(2)])
    before = dict(zip(rows["q"], seed_row_ids(rows), strict=True))
    after = dict(zip(inserted["q"], seed_row_ids(inserted), strict=True))
    assert {q: after[q] for q in before} == before
    assert len(set(after.values())) == 4


def test_identical_rows_get_distinct_ids_by_occurrence() -> None:
    ids = seed_row_ids(pl.DataFrame({"q": ["a", "a", "b", "a"]}))
    assert ids.n_unique() == 4
    assert ids[0] == seed_row_ids(pl.DataFrame({"q": ["a"]}))[0]


def test_content_ids_ignore_column_order() -> None:
    one = pl.DataFrame({"a": [1], "b": ["x"]})
    assert seed_row_ids(one)[0] == seed_row_ids(one.select("b", "a"))[0]


def test_ids_are_16_hex_characters_never_positions() -> None:
    ids = seed_row_ids(pl.DataFrame({"q": ["a", "b"]}))
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
    assert seed_row_ids(pl.DataFrame({"q": ["b", "a"]})).to_list() == ids.reverse().to_list()


def test_an_id_column_is_the_identity_and_must_be_unique() -> None:
    frame = pl.DataFrame({"key": ["k1", "k2"], "text": ["x", "y"]})
    edited = frame.with_columns(pl.Series("text", ["changed", "y"]))
    assert seed_row_ids(frame, "key").to_list() == seed_row_ids(edited, "key").to_list()
    with pytest.raises(
        ValueError, match="id_column 'key' must be unique, but 'k1' appears 2 times"
    ):
        seed_row_ids(pl.DataFrame({"key": ["k1", "k2", "k1"]}), "key")
    with pytest.raises(ValueError, match="id_column 'nope' is not a column; the columns are: key"):
        seed_row_ids(pl.DataFrame({"key": ["k1"]}), "nope")


@given(st.lists(st.text(max_size=8), min_size=1, max_size=20), st.integers(0, 5))
def test_derived_ids_depend_on_step_parent_and_sample(parents: list[str], sample: int) -> None:
    ids = derived_row_ids("answers", parents, sample)
    assert (
        ids.to_list()
        == derived_row_ids("answers", list(reversed(parents)), sample).reverse().to_list()
    )
    other_step = derived_row_ids("other", parents, sample)
    other_sample = derived_row_ids("answers", parents, sample + 1)
    assert not set(ids) & set(other_step)
    assert not set(ids) & set(other_sample)


def test_derived_ids_take_one_sample_index_per_row() -> None:
    ids = derived_row_ids("s", ["p", "p", "p"], [0, 1, 2])
    assert ids.n_unique() == 3
    assert ids[1] == derived_row_ids("s", ["p"], 1)[0]


def test_seed_step_ids_survive_an_inserted_row(project: Path) -> None:
    rows = [{"q": f"q{i}"} for i in range(5)]
    write_jsonl(project / "seeds.jsonl", rows)
    recipe = write_recipe(project, {"seeds": {"kind": "seed", "path": "seeds.jsonl"}})
    run_build(recipe)
    before = dict(step_frame(recipe, "seeds").select("q", "_id").iter_rows())
    write_jsonl(project / "seeds.jsonl", [rows[0], {"q": "inserted"}, *rows[1:]])
    run_build(recipe)
    after = dict(step_frame(recipe, "seeds").select("q", "_id").iter_rows())
    assert {q: after[q] for q in before} == before


def test_a_duplicate_id_column_fails_the_build_naming_the_step(project: Path) -> None:
    seeds = {"kind": "seed", "rows": [{"k": "a"}, {"k": "a"}], "id_column": "k"}
    recipe = write_recipe(project, {"seeds": seeds})
    with pytest.raises(
        StepFailed,
        match="step 'seeds' failed: id_column 'k' must be unique, but 'a' appears 2 times",
    ):
        run_build(recipe)
