"""`filter`: keep the rows of the single upstream step for which `where:` is true.

`where` is a DuckDB boolean expression over the upstream row (`quality >= 7`,
`length(instruction) between 10 and 500`). Rows pass through unchanged, `_id` included,
in their upstream order; a row where the expression is NULL is dropped, as in SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from synthc.steps.kind import StepContext, StepKind

if TYPE_CHECKING:
    import polars as pl


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def run(ctx: StepContext) -> pl.DataFrame:
    where = str(ctx.config["where"])
    if len(ctx.inputs) != 1:
        raise ValueError(f"a filter reads exactly one step; `from:` lists {len(ctx.inputs)}")
    (upstream, frame), *_ = ctx.inputs.items()
    # The step name is the table, so `where` may use it in a subquery (`x > (select avg(x) from up)`).
    # The condition sits on its own lines, so a trailing `-- comment` cannot swallow the `)`.
    query = f"select * from {_quote(upstream)} where (\n{where}\n)"
    try:
        kept = ctx.sql(query, {upstream: frame})
    except Exception as exc:
        raise ValueError(
            f"where: {where!r} is not a valid condition on '{upstream}': {exc}"
        ) from exc
    if kept.columns != frame.columns:  # e.g. a `where` that smuggles in a comment and a join
        raise ValueError(f"where: {where!r} must be a condition, not change the columns")
    return kept


def columns(
    config: Mapping[str, Any], inputs: Mapping[str, Sequence[str] | None]
) -> Sequence[str] | None:
    """A filter passes its upstream's columns through unchanged."""
    if len(inputs) != 1:
        return None
    return next(iter(inputs.values()))


KIND = StepKind(name="filter", version=1, run=run, columns=columns)
