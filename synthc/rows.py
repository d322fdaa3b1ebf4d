"""Row identity: every row carries `_id`, a 16-hex-character hash that is never a position.

- A seed row's id is a hash of its content (or of the user's id column), so inserting,
  deleting or reordering seeds leaves every other row's id unchanged.
- A derived row's id is hash(step, parent `_id`, sample index), so the same parent and
  sample always give the same child wherever it lands in the frame.

Hashing is per row in Python with XXH3-64 (a frozen, specified algorithm: the same bytes
give the same id on every platform and xxhash version), about 0.6 µs a row. Ids need no
cryptographic strength, only stability and rare collisions: with 64 bits, the chance of
any collision among a million rows is about 3 in 10^8. Polars' own `hash()` is
faster but its values are not promised stable across polars versions, and ids live in
locks and exports for years.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from xxhash import xxh3_64_hexdigest

if TYPE_CHECKING:  # imported on use: every build (a no-op one too) loads this module
    import polars as pl

ROW_ID_CHARS = 16
_CHUNK_ROWS = 100_000
_SEP = "\x1f"  # ASCII unit separator: cannot be confused with a character of a step name


def _digest(text: str) -> str:
    return xxh3_64_hexdigest(text.encode("utf-8"))


def row_lines(frame: pl.DataFrame) -> list[str]:
    """Each row's canonical text: its JSON object with columns in name order."""
    if frame.width == 0:
        return ["{}"] * frame.height
    text = frame.select(sorted(frame.columns)).write_ndjson()
    return text.split("\n")[: frame.height]


def content_row_ids(frame: pl.DataFrame, salt: str = "seed") -> pl.Series:
    """Ids from each row's content; the k-th copy of an identical row gets occurrence k.

    A row's id is hash(salt, its canonical JSON); a repeat of an earlier identical row
    gets hash(that id, k) instead, so identical rows still have distinct ids. `salt`
    keeps ids of different origins apart (a seed and a SQL step yielding the same row
    content still get different ids). Rows are serialized in chunks to bound memory.
    """
    import polars as pl

    content = frame.drop("_id", strict=False)
    chunks = [
        pl.Series(
            "_id", [_digest(f"{salt}{_SEP}{line}") for line in row_lines(chunk)], dtype=pl.String
        )
        for chunk in content.iter_slices(_CHUNK_ROWS)
    ]
    ids = pl.concat(chunks) if chunks else pl.Series("_id", [], dtype=pl.String)
    occurrence = ids.to_frame().select(pl.col("_id").cum_count().over("_id") - 1).to_series()
    if not occurrence.len() or occurrence.max() == 0:
        return ids
    return pl.Series(
        "_id",
        [
            _digest(f"{row_id}{_SEP}{k}") if k else row_id
            for row_id, k in zip(ids.to_list(), occurrence.to_list(), strict=True)
        ],
        dtype=pl.String,
    )


def seed_row_ids(frame: pl.DataFrame, id_column: str | None = None) -> pl.Series:
    """Row ids for seed rows.

    With `id_column`, each id is a hash of that column's value, which must be present and
    unique (a `ValueError` names the first duplicate). Without it, a hash of the row's
    content, with an occurrence index for identical rows. Example::

        frame.with_columns(seed_row_ids(frame, "task_id"))
    """
    if id_column is None:
        return content_row_ids(frame)
    if id_column not in frame.columns:
        raise ValueError(
            f"id_column '{id_column}' is not a column; the columns are: {', '.join(frame.columns)}"
        )
    values = frame.get_column(id_column)
    if values.null_count():
        raise ValueError(f"id_column '{id_column}' has {values.null_count()} empty value(s)")
    duplicated = values.filter(values.is_duplicated())
    if duplicated.len():
        first = duplicated[0]
        count = int((values == first).sum())
        raise ValueError(
            f"id_column '{id_column}' must be unique, but {first!r} appears {count} times"
        )
    import polars as pl

    keys = values.cast(pl.String).to_list()
    return pl.Series("_id", [_digest(f"id{_SEP}{key}") for key in keys], dtype=pl.String)


def derived_row_ids(
    step: str, parent_ids: pl.Series | Sequence[str], sample_index: int | pl.Series | Sequence[int]
) -> pl.Series:
    """Ids for rows a step derives from parents: hash(step, parent `_id`, sample index).

    `sample_index` is one int for every row or one per row (e.g. the k-th of `n` samples).
    """
    import polars as pl

    parents = list(parent_ids)
    if isinstance(sample_index, int):
        samples: list[int] = [sample_index] * len(parents)
    else:
        samples = list(sample_index)
    ids = [
        _digest(f"{step}{_SEP}{parent}{_SEP}{sample}")
        for parent, sample in zip(parents, samples, strict=True)
    ]
    return pl.Series("_id", ids, dtype=pl.String)


# Columns synthc adds to every step's rows.
ROW_ID = "_id"


LINEAGE_COLUMNS = ("_id", "_parent_id", "_step", "_model", "_call_key")
