"""Exports: each `exports:` target written from a built step's rows, atomically, and
recorded in the lock: the plain formats (jsonl, json, csv, parquet) here, the trainer
formats (messages, preference, datasets) through `synthc.store.trainer`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthc.errors import StoreError
from synthc.fingerprint import file_sha256, fingerprint
from synthc.store.atomic import atomic_write_bytes
from synthc.store.lock import LockState
from synthc.store.trainer import (
    chat_rows,
    jsonl_bytes,
    preference_rows,
    split_files,
    write_datasets_folder,
)

if TYPE_CHECKING:
    import polars as pl

    from synthc.recipe.load import Export, Recipe
    from synthc.store.store import Store

PLAIN_FORMATS = ("jsonl", "json", "csv", "parquet")
TRAINER_FORMATS = ("messages", "preference", "datasets")


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
    from synthc.store.formats import format_frame

    return format_frame(user_columns(frame), fmt).encode("utf-8")


def user_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows without synthc's lineage columns."""
    from synthc.rows import LINEAGE_COLUMNS

    return frame.drop([c for c in LINEAGE_COLUMNS if c in frame.columns])


# Bump when the bytes an export format produces for the same rows change, so every
# export written before is rewritten.
EXPORT_SETTINGS_VERSION = 1


@dataclass(frozen=True)
class ExportStatus:
    """One export target and why it is not current (None when its bytes are current)."""

    step: str
    target: str  # as written in the recipe
    reason: str | None


def _settings(recipe: Recipe, step: str, export: Export) -> str:
    """What, besides the rows, decides an export's bytes: its format and, for a trainer
    format, the columns it reads and the splits."""
    settings: dict[str, Any] = {"format": export.format, "version": EXPORT_SETTINGS_VERSION}
    if export.format in TRAINER_FORMATS:
        settings["columns"] = export.columns(recipe.steps[step])
        if export.format == "datasets":
            settings["splits"] = dict(export.splits)
    return fingerprint(settings)


def _files(target: Path, export: Export) -> list[Path]:
    """The files an export consists of: the target, or a datasets folder's split files."""
    return split_files(target, export.splits) if export.format == "datasets" else [target]


def _digest(files: list[Path]) -> str:
    """The sha256 of an export file, or of a datasets folder's split files together."""
    if len(files) == 1:
        return file_sha256(files[0])
    lines = "".join(f"{file.name} {file_sha256(file)}\n" for file in files)
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def export_status(recipe: Recipe, lock: LockState) -> list[ExportStatus]:
    """Each export target in recipe order, with why it must be rewritten: current only
    when the lock records it from the step's current data version and settings, and the
    files on disk still have the bytes synthc wrote."""
    found = []
    for step, exports in recipe.exports.items():
        for export in exports:
            reason = _stale_reason(recipe, lock, step, export)
            found.append(ExportStatus(step, export.path, reason))
    return found


def _stale_reason(recipe: Recipe, lock: LockState, step: str, export: Export) -> str | None:
    entry, record = lock.steps.get(step), lock.exports.get(export.path)
    files = _files(recipe.root / export.path, export)
    if entry is None:
        return f"step '{step}' is not built"
    if not all(file.is_file() for file in files):
        return "missing"
    if record is None or record.get("step") != step:
        return "not written by synthc from this step"
    if record.get("data_version") != entry.data_version:
        return f"written from an older build of '{step}'"
    known = export.format in PLAIN_FORMATS + TRAINER_FORMATS
    if not known or record.get("settings") != _settings(recipe, step, export):
        return "export settings changed"
    try:
        digest = _digest(files)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if digest != record.get("sha256"):
        return "changed since it was written"
    return None


def without_flagged_rows(
    store: Store, step: str, version: str, frame: pl.DataFrame
) -> pl.DataFrame:
    """`frame` less the rows the step's privacy gate flagged (its `_privacy_matches`
    table): a copy of a private row or a replayed PII value is never exported or shown,
    even when the gate is only a warning. Rows holding a canary are left out too."""
    import polars as pl

    from synthc.quality.privacy import PRIVACY_MATCHES

    frame = without_canaries(store, frame)
    path = store.aux_tables(step, version).get(PRIVACY_MATCHES)
    if path is None or "_id" not in frame.columns:
        return frame
    flagged = pl.read_parquet(path, columns=["output_id"]).get_column("output_id")
    return frame.filter(~pl.col("_id").is_in(flagged.implode()))


def without_canaries(store: Store, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` less any row holding a word of a canary suffix that a private seed of the
    last build planted (its `_canaries` table): a canary row, or a copy of one, is never
    exported or shown, whether or not a privacy gate looked at the step."""
    import polars as pl

    from synthc.quality.canaries import CANARY_TABLE

    lock = store.read_lock()
    paths = [
        path
        for name, entry in lock.steps.items()
        if (path := store.aux_tables(name, entry.data_version).get(CANARY_TABLE)) is not None
    ]
    texts = [c for c, t in frame.schema.items() if t == pl.String and not c.startswith("_")]
    if not paths or not texts or not frame.height:
        return frame
    suffixes = pl.concat([pl.read_parquet(p, columns=["suffix"]) for p in paths])["suffix"]
    words = sorted({word for suffix in suffixes.to_list() for word in suffix.split()})
    holds = pl.any_horizontal(
        pl.col(c).str.to_lowercase().str.contains_any(words).fill_null(False) for c in texts
    )
    return frame.filter(~holds)


def write_exports(
    recipe: Recipe, lock: LockState, store: Store | None = None, *, only_stale: bool = False
) -> list[Path]:
    """Write the `exports:` targets of the recipe from the built steps; return the paths.

    Paths are relative to the recipe folder; a plain path's format follows its extension
    (.jsonl, .ndjson, .json, .csv, .parquet), a mapping may name a trainer `format:`. Each
    file is written atomically, so a reader never sees a half-written export, and each
    target is recorded in the lock (step, data version, settings, sha256). With
    `only_stale`, current targets are left alone. Raises StoreError for a step that is
    not built, or a trainer format whose columns the rows lack.
    """
    from synthc.store.store import Store

    store = store or Store.for_recipe(recipe)
    stale = {s.target for s in export_status(recipe, lock) if s.reason} if only_stale else None
    targets = {export.path for exports in recipe.exports.values() for export in exports}
    records = {k: v for k, v in lock.exports.items() if k in targets}
    written: list[Path] = []
    for step, exports in recipe.exports.items():
        entry = lock.steps.get(step)
        if entry is None:
            raise StoreError(f"exports: step '{step}' has not been built; run `synthc build` first")
        todo = [(i, e) for i, e in enumerate(exports) if stale is None or e.path in stale]
        if not todo:
            continue
        frame = without_flagged_rows(store, step, entry.data_version, store.read_step(step, entry))
        for index, export in todo:
            target = recipe.root / export.path
            where = f"exports.{step}" + (f".{index}" if len(exports) > 1 else "")
            _write_one(recipe, step, frame, export, target, where)
            records[export.path] = {
                "step": step,
                "data_version": entry.data_version,
                "format": export.format,
                "settings": _settings(recipe, step, export),
                "sha256": _digest(_files(target, export)),
            }
            written.append(target)
    if records != lock.exports:
        store.write_lock(replace(store.read_lock(), exports=records))
    return written


def _write_one(
    recipe: Recipe, step: str, frame: pl.DataFrame, export: Export, target: Path, where: str
) -> None:
    if export.format == "datasets":
        write_datasets_folder(frame, user_columns(frame), target, export)
        return
    if target.is_dir():
        raise StoreError(f"{where}: '{export.path}' is a folder; an export target must be a file")
    if export.format == "messages":
        rows = chat_rows(frame, export, recipe.steps[step], where)
        atomic_write_bytes(target, jsonl_bytes(rows))
    elif export.format == "preference":
        rows = preference_rows(frame, export, recipe.steps[step], where)
        atomic_write_bytes(target, jsonl_bytes(rows))
    elif export.format in PLAIN_FORMATS:
        atomic_write_bytes(target, export_frame(frame, export.format))
    else:  # the recipe's checks refuse this; a Recipe built in code may still hold it
        raise StoreError(
            f"{where}: cannot tell the format of '{export.path}'; use the extension "
            ".jsonl, .csv or .parquet, or name a `format:`"
        )
