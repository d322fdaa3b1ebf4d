"""Planted defects: each broken set fails the gate that should catch it, and a set drawn
from the reference distribution passes every gate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb
import polars as pl
import pytest
from textgen import collapsed_set, text_set

from synthc.quality.gates import evaluate_check

REFERENCE = text_set(seed=1)
EVAL = text_set(seed=99, count=50)

GATES: list[tuple[str, dict[str, Any]]] = [
    ("diversity", {"column": "text", "min_vendi": 20}),
    ("distinct_n", {"column": "text", "n": 2, "min": 0.2}),
    ("near_duplicates", {"column": "text", "threshold": 0.7, "max_rate": 0.1}),
    ("fidelity", {"column": "text", "reference": "real", "max_jsd": 0.1, "max_mmd": 0.003}),
    ("leakage", {"column": "text", "reference": "eval", "ngram": 13, "max_rate": 0}),
    ("tail_coverage", {"column": "text", "reference": "real", "min": 0.8}),
]


def run_sql(query: str, tables: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    con = duckdb.connect()
    for name, frame in tables.items():
        con.register(name, frame)
    return con.sql(query).pl()


def frame(texts: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"_id": [f"row{i}" for i in range(len(texts))], "text": texts})


def statuses(texts: list[str]) -> dict[str, str]:
    references = {"real": frame(REFERENCE), "eval": frame(EVAL)}
    return {
        kind: evaluate_check(kind, config, frame(texts), references, run_sql).status
        for kind, config in GATES
    }


def test_a_set_from_the_reference_distribution_passes_every_gate():
    assert statuses(text_set(seed=2)) == {kind: "pass" for kind, _ in GATES}


def test_a_mode_collapsed_set_fails_diversity():
    found = statuses(collapsed_set(seed=3))
    assert found["diversity"] == found["distinct_n"] == found["near_duplicates"] == "fail"


def test_copies_of_eval_rows_fail_leakage_and_are_listed_exactly():
    texts = text_set(seed=2)
    planted = {
        5: EVAL[0],
        77: EVAL[10].upper(),
        150: "Note: " + EVAL[20].replace(".", "!"),
        299: EVAL[49],
    }
    for row, text in planted.items():
        texts[row] = text
    references = {"eval": frame(EVAL)}
    config = {"column": "text", "reference": "eval", "ngram": 13, "max_rate": 0}
    result = evaluate_check("leakage", config, frame(texts), references, run_sql)
    assert result.status == "fail"
    assert result.failing_rows is not None
    assert result.failing_rows["_id"].to_list() == [f"row{i}" for i in sorted(planted)]


@pytest.mark.parametrize(
    "shifted",
    [text_set(seed=4, clauses=(4, 7)), text_set(seed=5, topics=["cooking", "tech"])],
    ids=["length-shift", "topic-shift"],
)
def test_a_length_or_topic_shifted_set_fails_fidelity(shifted):
    assert statuses(shifted)["fidelity"] == "fail"
