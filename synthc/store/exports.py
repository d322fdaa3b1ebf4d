"""Exports: each `exports:` target written from a built step's rows, atomically: the plain
formats (jsonl, csv, parquet) here, the trainer formats (messages, preference, datasets)
through `synthc.store.formats`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from synthc.errors import StoreError
from synthc.store.atomic import atomic_write_bytes
from synthc.store.formats import chat_rows, jsonl_bytes, preference_rows, write_datasets_folder
from synthc.store.lock import LockState

if TYPE_CHECKING:
    import polars as pl

    from synthc.recipe.load import Export, Recipe
    from synthc.store.store import Store


def export_frame(frame: pl.DataFrame, fmt: str) -> bytes:
    """A step's rows as an export file's bytes.

    Parquet keeps every column, lineage included (`_id`, `_parent_id`, `_step`, `_model`,
    `_call_key`), since it is the format for tools that join back to the store. Text
    formats (jsonl, json, csv) are what fine-tuning and eval tooling read, so they carry
    exactly the user's columns: every column but synthc's lineage columns (a user column
    that merely starts with `_` is kept).
    """
    import io

    if fmt == "parquet":
        buffer = io.BytesIO()
        frame.write_parquet(buffer, statistics=True)
        return buffer.getvalue()
    from synthc.store.store import format_frame

    return format_frame(user_columns(frame), fmt).encode("utf-8")


def user_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows without synthc's lineage columns."""
    from synthc.rows import LINEAGE_COLUMNS

    return frame.drop([c for c in LINEAGE_COLUMNS if c in frame.columns])


def write_exports(recipe: Recipe, lock: LockState, store: Store | None = None) -> list[Path]:
    """Write every `exports:` target of the recipe from the built steps; return the paths.

    Paths are relative to the recipe folder; a plain path's format follows its extension
    (.jsonl, .ndjson, .csv, .parquet), a mapping names its `format:`. Each file is written
    atomically, so a reader never sees a half-written export. Raises StoreError for a
    step that is not built, or a trainer format whose columns the rows lack.
    """
    from synthc.store.store import Store

    store = store or Store.for_recipe(recipe)
    written: list[Path] = []
    for step, exports in recipe.exports.items():
        entry = lock.steps.get(step)
        if entry is None:
            raise StoreError(f"exports: step '{step}' has not been built; run `synthc build` first")
        frame = store.read_step(step, entry)
        for index, export in enumerate(exports):
            target = recipe.root / export.path
            where = f"exports.{step}" + (f".{index}" if len(exports) > 1 else "")
            _write_one(recipe, step, frame, export, target, where)
            written.append(target)
    return written


def _write_one(
    recipe: Recipe, step: str, frame: pl.DataFrame, export: Export, target: Path, where: str
) -> None:
    if export.format == "messages":
        rows = chat_rows(frame, export, recipe.steps[step], where)
        atomic_write_bytes(target, jsonl_bytes(rows))
    elif export.format == "preference":
        rows = preference_rows(frame, export, recipe.steps[step], where)
        atomic_write_bytes(target, jsonl_bytes(rows))
    elif export.format == "datasets":
        write_datasets_folder(frame, user_columns(frame), target, export)
    elif export.format in ("jsonl", "csv", "parquet"):
        atomic_write_bytes(target, export_frame(frame, export.format))
    else:  # the recipe's checks refuse this; a Recipe built in code may still hold it
        raise StoreError(
            f"{where}: cannot tell the format of '{export.path}'; use the extension "
            ".jsonl, .csv or .parquet, or name a `format:`"
        )
