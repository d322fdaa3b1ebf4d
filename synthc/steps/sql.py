"""`sql`: any DuckDB SELECT over the steps listed in `from:`, each a table by its name.

    query: "select * from answers union all by name select * from seeds"

Joins, unions, sampling and aggregates all work. A `_id` column the query keeps is the
row identity when it is present and unique; otherwise each row gets an id derived from
its content (an aggregate's rows have no single parent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from synthc.rows import ROW_ID
from synthc.steps.kind import StepContext, StepKind

if TYPE_CHECKING:
    import polars as pl


def run(ctx: StepContext) -> pl.DataFrame:
    from synthc.rows import content_row_ids

    query = str(ctx.config["query"])
    try:
        frame = ctx.sql(query, dict(ctx.inputs))
    except Exception as exc:
        tables = ", ".join(ctx.inputs) or "none: add `from:`"
        raise ValueError(f"query: {exc} (tables visible: {tables})") from exc
    if ROW_ID in frame.columns:
        ids = frame.get_column(ROW_ID)
        if ids.null_count() == 0 and ids.n_unique() == frame.height:
            return frame
        frame = frame.drop(ROW_ID)
    return frame.with_columns(content_row_ids(frame, salt=ctx.name))


def columns(
    config: Mapping[str, Any], inputs: Mapping[str, Sequence[str] | None]
) -> Sequence[str] | None:
    """Unknown before running: the query decides (the compiler may ask DuckDB to describe it)."""
    return None


KIND = StepKind(name="sql", version=1, run=run, columns=columns)
