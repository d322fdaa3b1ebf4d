"""`dedup`: drop exact, then near-duplicate rows of the upstream step, and (with
`against:`) near-copies of other steps or files, such as seeds or an evaluation set.

Rows pass through unchanged, in upstream order. Every removal is recorded in the
`_dedup_matches` table: removed_id, kept_id (a kept row, or the reference row:
its `_id` for a step, `path#line` for a file), similarity and reason
(exact | near | against).

Texts are compared normalised (case, width, punctuation and spacing folded); digits are
kept unless `normalize: {digits: fold}`, so "2 + 3" and "4 + 5" are not duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from synthc.datafiles import looks_like_file
from synthc.steps.kind import StepContext, StepKind

if TYPE_CHECKING:
    import polars as pl

DEFAULTS: Mapping[str, Any] = {
    "method": "minhash",
    "threshold": 0.7,
    "ngram": None,
    "num_perm": 128,
    "keep": "first",
    "against": [],
    "normalize": {"digits": "keep"},
}


def run(ctx: StepContext) -> pl.DataFrame:
    from synthc.quality.dedup import dedup
    from synthc.quality.minhash import candidate_pairs
    from synthc.quality.near import local_map

    config = ctx.config
    columns = config.get("columns") or [config["column"]]
    against = list(config.get("against") or [])
    frame = _upstream(ctx, against)
    references = [_reference(ctx, entry) for entry in against]
    kept, matches = dedup(
        frame,
        columns,
        method=str(config.get("method", "minhash")),
        threshold=float(config.get("threshold", 0.7)),
        ngram=config.get("ngram"),
        num_perm=int(config.get("num_perm", 128)),
        keep=str(config.get("keep", "first")),
        against=references,
        fold_digits=(config.get("normalize") or {}).get("digits") == "fold",
        map_blocks=ctx.map_blocks or local_map,
        group_pairs=ctx.group_pairs or candidate_pairs,
    )
    ctx.emit("_dedup_matches", matches)
    return kept


def _upstream(ctx: StepContext, against: list[str]) -> pl.DataFrame:
    """The `from:` frame: the compiler adds `against` steps to the inputs after it."""
    sources = [name for name in ctx.inputs if name not in against]
    if len(sources) != 1:
        raise ValueError(f"dedup reads exactly one step in `from:`, got {sources or 'none'}")
    return ctx.inputs[sources[0]]


def _reference(ctx: StepContext, entry: str) -> pl.DataFrame:
    """An `against` entry's rows: a step's output, or a file's rows identified as path#line."""
    import polars as pl

    from synthc.datafiles import read_file

    if entry in ctx.inputs and not looks_like_file(entry):
        return ctx.inputs[entry]
    path = ctx.resolve_path(entry)
    if not path.exists():
        raise ValueError(f"against: '{entry}' is neither a step nor a file (looked for {path})")
    rows = read_file(path)
    ids = pl.Series("_id", [f"{entry}#{line}" for line in range(1, rows.height + 1)])
    return rows.drop("_id", strict=False).with_columns(ids)


def columns(
    config: Mapping[str, Any], inputs: Mapping[str, Sequence[str] | None]
) -> Sequence[str] | None:
    """Dedup passes the `from:` step's columns through unchanged."""
    if len(inputs) != 1:
        return None
    return next(iter(inputs.values()))


def files(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """`against` entries that name files (the rest are steps)."""
    return [
        (f"against.{index}", str(entry))
        for index, entry in enumerate(config.get("against") or [])
        if isinstance(entry, str) and looks_like_file(entry)
    ]


KIND = StepKind(
    name="dedup",
    version=2,
    run=run,
    defaults=DEFAULTS,
    columns=columns,
    files=files,
    parallel_blocks=True,
)
