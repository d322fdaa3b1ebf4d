"""Trainer formats for exports: chat `messages` and `prompt/chosen/rejected` JSONL, and a
folder of Parquet splits that Hugging Face `datasets` loads.

    exports:
      final:
        - out/final.jsonl
        - {path: out/sft.jsonl, format: messages, prompt: question, response: answer}
        - {path: out/dpo.jsonl, format: preference, prompt: question}
        - {path: out/hf, format: datasets, splits: {train: 0.9, test: 0.1}}

`messages` is what TRL's SFTTrainer and OpenAI fine-tuning read; `preference` is what
TRL's DPOTrainer reads. A `datasets` row's split follows from a hash of its `_id` alone,
so rows added by a later build never move an existing row to another split.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthc.errors import StoreError
from synthc.store.atomic import atomic_write_bytes
from synthc.store.formats import one_line

if TYPE_CHECKING:
    import polars as pl

    from synthc.recipe.load import Export, Step

# A datasets folder holds one file per split, named as the Hugging Face Hub names them,
# so `load_dataset(folder)` finds the splits by file name.
SPLIT_FILE = "data/{split}-00000-of-00001.parquet"


def chat_rows(frame: pl.DataFrame, export: Export, step: Step, where: str) -> list[dict[str, Any]]:
    """`{"messages": [system?, user, assistant]}` per row, from the declared columns; a
    row whose system column is empty has no system message."""
    columns = export.columns(step)
    nullable = (export.system,) if export.system else ()
    values = _columns(frame, list(columns.values()), where, nullable)
    return [
        {
            "messages": [
                {"role": role, "content": values[column][index]}
                for role, column in columns.items()
                if values[column][index] is not None
            ]
        }
        for index in range(frame.height)
    ]


def preference_rows(
    frame: pl.DataFrame, export: Export, step: Step, where: str
) -> list[dict[str, Any]]:
    """`{"prompt", "chosen", "rejected"}` per row (see `Export.columns` for the defaults)."""
    names = export.columns(step)
    values = _columns(frame, list(names.values()), where)
    return [
        {key: values[column][index] for key, column in names.items()}
        for index in range(frame.height)
    ]


def jsonl_bytes(rows: list[dict[str, Any]]) -> bytes:
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return one_line(text).encode("utf-8")


def _columns(
    frame: pl.DataFrame, columns: list[str], where: str, nullable: tuple[str, ...] = ()
) -> dict[str, list[Any]]:
    """Each named column's values as text; a missing column or an empty cell is an error,
    since a trainer would fail on it (or, worse, train on "None")."""
    from synthc.rows import LINEAGE_COLUMNS

    missing = [column for column in columns if column not in frame.columns]
    if missing:
        have = ", ".join(c for c in frame.columns if c not in LINEAGE_COLUMNS)
        raise StoreError(
            f"{where}: no column {', '.join(repr(c) for c in missing)} in the step's rows "
            f"(columns: {have}); name the columns to use, e.g. `prompt: question`"
        )
    values: dict[str, list[Any]] = {}
    for column in columns:
        cells = frame.get_column(column).to_list()
        empty = sum(cell is None for cell in cells)
        if empty and column not in nullable:
            raise StoreError(
                f"{where}: {empty} row(s) have no '{column}'; drop them first "
                f"(e.g. a sql step with `where {column} is not null`)"
            )
        values[column] = [
            cell if isinstance(cell, str) or cell is None else json.dumps(cell) for cell in cells
        ]
    return values


def split_of(row_id: str, splits: Mapping[str, float]) -> str:
    """The split a row belongs to: a point in [0, 1) hashed from its id alone, placed
    on the splits' cumulative shares in the order they are written."""
    point = int.from_bytes(hashlib.sha256(row_id.encode("utf-8")).digest()[:8], "big") / 2**64
    total = 0.0
    for name, share in splits.items():
        total += share
        if point < total:
            return name
    return next(reversed(list(splits)))  # shares summing to 1 - ε leave a sliver at the top


def split_files(folder: Path, splits: Mapping[str, float]) -> list[Path]:
    """The files of a datasets folder, one per split, in the order the splits are written."""
    return [folder / SPLIT_FILE.format(split=split) for split in splits]


def write_datasets_folder(
    frame: pl.DataFrame, user: pl.DataFrame, folder: Path, export: Export
) -> None:
    """One Parquet file per split under `folder/data/` (rows in the step's order); split
    files of splits no longer declared are removed, so `load_dataset` sees only these."""
    import io

    import polars as pl

    names = [split_of(row_id, export.splits) for row_id in frame.get_column("_id").to_list()]
    assigned = user.with_columns(pl.Series("__split", names))
    files = split_files(folder, export.splits)
    for split, file in zip(export.splits, files, strict=True):
        rows = assigned.filter(pl.col("__split") == split).drop("__split")
        buffer = io.BytesIO()
        rows.write_parquet(buffer)
        atomic_write_bytes(file, buffer.getvalue())
    wanted = {file.name for file in files}
    for stale in (folder / "data").glob("*-00000-of-00001.parquet"):
        if stale.name not in wanted:
            stale.unlink()
