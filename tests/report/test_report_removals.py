"""Removals read from emitted tables: self_instruct's `_rejections` and `_failures`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from synthc.report.removals import removals


@dataclass
class FrameCatalog:
    """Catalog double: DuckDB over in-memory frames, as the store's views would be."""

    frames: dict[str, pl.DataFrame]
    root: Path = Path(".")
    tables: set[str] = field(init=False)

    def __post_init__(self) -> None:
        self.tables = set(self.frames)

    def frame(self, sql: str) -> pl.DataFrame:
        con = duckdb.connect()
        for name, frame in self.frames.items():
            con.register(name, frame)
        return con.sql(sql).pl()

    def rows(self, name: str) -> int | None:
        return self.frames[name].height if name in self.frames else None


REJECTIONS = pl.DataFrame(
    {
        "candidate": ["Write a poem.", "Write a poem!", "Summarise this.", "Hi"],
        "reason": ["novelty", "novelty", "novelty", "too_short"],
        "max_rouge_l": [0.91, 0.95, 0.74, None],
        "most_similar": ["Write a poem about cats.", "Write a poem.", "Summarise it.", None],
        "round": [1, 1, 2, 2],
        "_step": ["tasks"] * 4,
    }
)
FAILURES = pl.DataFrame(
    {
        "row_id": ["r1", "r2"],
        "model": ["openai/gpt-4o-mini"] * 2,
        "error_class": ["RateLimitError", "Timeout"],
        "error_kind": ["rate_limited", "transient"],
        "message": ["429 after 5 attempts", "timed out after 30s"],
        "_step": ["tasks", "tasks"],
    }
)


def test_self_instruct_rejections_are_grouped_by_reason_with_their_candidates():
    catalog = FrameCatalog({"_rejections": REJECTIONS})
    rows_in, groups = removals(catalog, "tasks", "self_instruct", ("seeds",), {})
    assert rows_in is None  # a generator: nothing upstream to subtract from
    assert [(g.reason.split(":")[0], g.count) for g in groups] == [
        ("not novel", 3),
        ("too short", 1),
    ]
    first = groups[0].examples[0]
    assert first.text == "Write a poem."
    assert "max_rouge_l: 0.91" in first.detail and "Write a poem about cats." in first.detail
    short = groups[1].examples[0]
    assert (short.text, short.detail) == ("Hi", "round: 2")  # no "None" for missing values


def test_failed_model_calls_are_listed_by_error_kind_for_any_step():
    catalog = FrameCatalog({"_failures": FAILURES, "_rejections": REJECTIONS.head(0)})
    _, groups = removals(catalog, "tasks", "generate", ("seeds",), {})
    assert [g.reason for g in groups] == [
        "model call failed: rate_limited",
        "model call failed: transient",
    ]
    (example,) = groups[0].examples
    assert example.row_id == "r1" and example.text == "429 after 5 attempts"
    assert "RateLimitError" in example.detail


def test_rows_of_other_steps_are_not_counted():
    other = FAILURES.with_columns(pl.lit("elsewhere").alias("_step"))
    _, groups = removals(FrameCatalog({"_failures": other}), "tasks", "generate", (), {})
    assert groups == ()
