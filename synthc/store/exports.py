"""Exports: each `exports:` target written from a built step's rows in its format
(jsonl, json, csv, parquet), atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from synthc.errors import StoreError
from synthc.store.atomic import atomic_write_bytes
from synthc.store.lock import LockState

if TYPE_CHECKING:
    import polars as pl

    from synthc.recipe.load import Recipe
    from synthc.store.store import Store


EXPORT_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".parquet": "parquet",
}


def export_frame(frame: pl.DataFrame, fmt: str) -> bytes:
    """A step's rows as an export file's bytes.

    Parquet keeps every column, lineage included (`_id`, `_parent_id`, `_step`, `_model`,
    `_call_key`), since it is the format for tools that join back to the store. Text
    formats (jsonl, json, csv) are what fine-tuning and eval tooling read, so they carry
    exactly the user's columns: every column but synthc's lineage columns (a user column
    that merely starts with `_` is kept).
    """
    import io

    from synthc.rows import LINEAGE_COLUMNS

    if fmt == "parquet":
        buffer = io.BytesIO()
        frame.write_parquet(buffer, statistics=True)
        return buffer.getvalue()
    user = frame.drop([c for c in LINEAGE_COLUMNS if c in frame.columns])
    from synthc.store.store import format_frame

    return format_frame(user, fmt).encode("utf-8")


def without_flagged_rows(
    store: Store, step: str, version: str, frame: pl.DataFrame
) -> pl.DataFrame:
    """`frame` less the rows the step's privacy gate flagged (its `_privacy_matches`
    table): a copy of a private row or a replayed PII value is never exported or shown,
    even when the gate is only a warning."""
    import polars as pl

    from synthc.quality.privacy import PRIVACY_MATCHES

    path = store.aux_tables(step, version).get(PRIVACY_MATCHES)
    if path is None or "_id" not in frame.columns:
        return frame
    flagged = pl.read_parquet(path, columns=["output_id"]).get_column("output_id")
    return frame.filter(~pl.col("_id").is_in(flagged.implode()))


def write_exports(recipe: Recipe, lock: LockState, store: Store | None = None) -> list[Path]:
    """Write every `exports:` file of the recipe from the built steps; return the paths.

    Paths are relative to the recipe folder; the format follows the extension (.jsonl,
    .ndjson, .json, .csv, .parquet). Each file is written atomically, so a reader never
    sees a half-written export. Raises StoreError for a step that is not built.
    """
    from synthc.store.store import Store

    store = store or Store.for_recipe(recipe)
    written: list[Path] = []
    for step, paths in recipe.exports.items():
        entry = lock.steps.get(step)
        if entry is None:
            raise StoreError(f"exports: step '{step}' has not been built; run `synthc build` first")
        frame = without_flagged_rows(store, step, entry.data_version, store.read_step(step, entry))
        for relative in paths:
            target = recipe.root / relative
            fmt = EXPORT_FORMATS.get(target.suffix.lower())
            if fmt is None:
                raise StoreError(
                    f"exports.{step}: cannot tell the format of '{relative}'; "
                    f"use one of the extensions {', '.join(sorted(EXPORT_FORMATS))}"
                )
            atomic_write_bytes(target, export_frame(frame, fmt))
            written.append(target)
    return written
