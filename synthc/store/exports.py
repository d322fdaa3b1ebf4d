"""Exports: each `exports:` target written from a built step's rows in its format
(jsonl, json, csv, parquet), atomically.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from synthc.errors import StoreError
from synthc.fingerprint import file_sha256, fingerprint
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
    from synthc.store.formats import format_frame

    return format_frame(user, fmt).encode("utf-8")


# Bump when the bytes an export format produces for the same rows change, so every
# export written before is rewritten.
EXPORT_SETTINGS_VERSION = 1


@dataclass(frozen=True)
class ExportStatus:
    """One export target and why it is not current (None when its bytes are current)."""

    step: str
    target: str  # as written in the recipe
    reason: str | None


def export_format(step: str, relative: str) -> str:
    fmt = EXPORT_FORMATS.get(Path(relative).suffix.lower())
    if fmt is None:
        raise StoreError(
            f"exports.{step}: cannot tell the format of '{relative}'; "
            f"use one of the extensions {', '.join(sorted(EXPORT_FORMATS))}"
        )
    return fmt


def _settings(fmt: str) -> str:
    return fingerprint({"format": fmt, "version": EXPORT_SETTINGS_VERSION})


def export_status(recipe: Recipe, lock: LockState) -> list[ExportStatus]:
    """Each export target in recipe order, with why it must be rewritten: current only
    when the lock records it from the step's current data version and settings, and the
    file on disk still has the bytes synthc wrote."""
    found = []
    for step, paths in recipe.exports.items():
        for relative in paths:
            found.append(ExportStatus(step, relative, _stale_reason(recipe, lock, step, relative)))
    return found


def _stale_reason(recipe: Recipe, lock: LockState, step: str, relative: str) -> str | None:
    entry, record = lock.steps.get(step), lock.exports.get(relative)
    target = recipe.root / relative
    if entry is None:
        return f"step '{step}' is not built"
    if not target.is_file():
        return "missing"
    if record is None or record.get("step") != step:
        return "not written by synthc from this step"
    if record.get("data_version") != entry.data_version:
        return f"written from an older build of '{step}'"
    fmt = EXPORT_FORMATS.get(target.suffix.lower())
    if fmt is None or record.get("settings") != _settings(fmt):
        return "export settings changed"
    try:
        digest = file_sha256(target)
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
    even when the gate is only a warning."""
    import polars as pl

    from synthc.quality.privacy import PRIVACY_MATCHES

    path = store.aux_tables(step, version).get(PRIVACY_MATCHES)
    if path is None or "_id" not in frame.columns:
        return frame
    flagged = pl.read_parquet(path, columns=["output_id"]).get_column("output_id")
    return frame.filter(~pl.col("_id").is_in(flagged.implode()))


def write_exports(
    recipe: Recipe, lock: LockState, store: Store | None = None, *, only_stale: bool = False
) -> list[Path]:
    """Write the `exports:` files of the recipe from the built steps; return the paths.

    Paths are relative to the recipe folder; the format follows the extension (.jsonl,
    .ndjson, .json, .csv, .parquet). Each file is written atomically, so a reader never
    sees a half-written export, and recorded in the lock (step, data version, settings,
    sha256). With `only_stale`, current targets are left alone. Raises StoreError for a
    step that is not built.
    """
    from synthc.store.store import Store

    store = store or Store.for_recipe(recipe)
    stale = {s.target for s in export_status(recipe, lock) if s.reason} if only_stale else None
    written: list[Path] = []
    targets = {p for paths in recipe.exports.values() for p in paths}
    records = {k: v for k, v in lock.exports.items() if k in targets}
    for step, paths in recipe.exports.items():
        entry = lock.steps.get(step)
        if entry is None:
            raise StoreError(f"exports: step '{step}' has not been built; run `synthc build` first")
        todo = [(p, export_format(step, p)) for p in paths if stale is None or p in stale]
        if not todo:
            continue
        frame = without_flagged_rows(store, step, entry.data_version, store.read_step(step, entry))
        for relative, fmt in todo:
            target = recipe.root / relative
            if target.is_dir():
                raise StoreError(
                    f"exports.{step}: '{relative}' is a folder; an export target must be a file"
                )
            data = export_frame(frame, fmt)
            atomic_write_bytes(target, data)
            records[relative] = {
                "step": step,
                "data_version": entry.data_version,
                "format": fmt,
                "settings": _settings(fmt),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            written.append(target)
    if records != lock.exports:
        store.write_lock(replace(store.read_lock(), exports=records))
    return written
