"""Step names as SQL tables: synthc's keyword list agrees with DuckDB's own parser."""

from __future__ import annotations

import duckdb

from synthc.recipe.sqlcheck import parser_refuses_table_name, unusable_table_name


def test_step_names_are_refused_exactly_when_duckdb_cannot_read_them_as_a_table() -> None:
    keywords = [k for (k,) in duckdb.sql("select keyword_name from duckdb_keywords()").fetchall()]
    names = [*keywords, *(k.upper() for k in keywords), "answers", "seeds_2", "_rows", "Order"]
    names += ["a-b", "2nd", "émile", "a b"]
    disagree = [n for n in names if unusable_table_name(n) != parser_refuses_table_name(n)]
    assert disagree == []
    assert unusable_table_name("unique") and not unusable_table_name("answers")
