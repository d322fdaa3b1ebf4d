"""`seed`: the rows a recipe starts from.

Exactly one of:

- `rows:` a list of mappings written in the recipe;
- `path:` a .jsonl/.ndjson, .json (array of objects), .csv or .parquet file, or a glob
  of them (matches read in sorted order and unioned by column name);
- `sql:` a DuckDB SELECT. Relative paths inside it resolve against the recipe folder
  (DuckDB's `file_search_path` is set to it), whatever the shell's working directory.

`columns:` declares column types (`{zip: string}`): a declared column is read as that
type, whatever the file's values look like.

`id_column:` names a unique column whose value identifies each row; without it a row's
id is a hash of its content. Either way inserting a seed never changes other rows' ids.

`private: true` marks the rows as private: the compiler refuses to render rows derived
from them into prompts for a remote model unless the recipe says `allow_remote: true`.
With `holdout: 0.2` a share of them, chosen by hashing (recipe seed, step, row id), is
held out: those rows are not in the step's output (so no step downstream can render
them) but in its `_holdout` table, where the `privacy` gate compares outputs with them.
With `canaries: 5` five copies of used rows, each with a random suffix
(synthc.quality.canaries, seeded by recipe seed and step), are added to the output and
recorded in its `_canaries` table: the `privacy` gate fails on any output that holds a
word of a suffix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthc.datafiles import _file_columns, read_files, resolve_paths
from synthc.datatypes import apply_declared, wide_integers
from synthc.rows import ROW_ID
from synthc.steps.kind import StepContext, StepKind

if TYPE_CHECKING:
    import polars as pl

# Quoted literals in a `sql:` seed that name a data file: hashed so editing one re-runs it.
_SQL_FILE_LITERAL = re.compile(r"'([^']+\.(?:jsonl|ndjson|json|csv|tsv|parquet)(?:\.gz)?)'", re.I)


def _rows_frame(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    import polars as pl

    if not rows:
        return pl.DataFrame()
    # The recipe check already refused rows whose columns mix types; wide integers
    # become decimals here as they do in files.
    return wide_integers(pl.DataFrame([dict(row) for row in rows], infer_schema_length=None))


def run(ctx: StepContext) -> pl.DataFrame:
    from synthc.rows import seed_row_ids

    config = ctx.config
    declared = config.get("columns") or {}
    if config.get("rows") is not None:
        frame = apply_declared(_rows_frame(config["rows"]), declared, "rows")
    elif config.get("path") is not None:
        frame = read_files(ctx.recipe.root, str(config["path"]), declared)
    elif config.get("sql") is not None:
        try:
            frame = ctx.sql(str(config["sql"]), {})
        except Exception as exc:
            raise ValueError(f"sql: {exc}") from exc
        frame = apply_declared(frame, declared, "sql")
    else:
        raise ValueError("a seed step needs one of `rows`, `path` or `sql`")
    id_column = config.get("id_column")
    if id_column is None and ROW_ID in frame.columns:
        id_column = ROW_ID  # the data brings its own ids: keep them as the identity
    ids = seed_row_ids(frame, id_column)
    frame = frame.with_columns(ids).select(ROW_ID, *[c for c in frame.columns if c != ROW_ID])
    if not config.get("private"):
        return frame
    share = float(config.get("holdout") or 0.0)
    held = holdout_mask(frame.get_column(ROW_ID).to_list(), share, ctx.recipe.seed, ctx.name)
    ctx.emit(HOLDOUT_TABLE, frame.filter(held))  # empty without `holdout:`: still private
    used = frame.filter(~held)
    if not config.get("canaries"):
        return used
    import polars as pl

    from synthc.quality.canaries import CANARY_TABLE, CanarySettings, plant_canaries
    from synthc.rows import content_row_ids

    settings = CanarySettings.parse(config["canaries"])
    planted, table = plant_canaries(
        used, settings, ctx.rng("canaries"), lambda rows: content_row_ids(rows, salt="canary")
    )
    ctx.emit(CANARY_TABLE, table)
    return pl.concat([used, planted])


HOLDOUT_TABLE = "_holdout"


def holdout_mask(row_ids: Sequence[str], share: float, seed: int, step: str) -> pl.Series:
    """True for the rows held out: hash(seed, step, row id) below `share` of 2^64.

    A row's fate depends on its own id only, so adding or removing seed rows never moves
    another row in or out of the holdout.
    """
    import polars as pl
    from xxhash import xxh3_64_intdigest

    cut = int(share * 2**64)
    prefix = f"holdout\x1f{seed}\x1f{step}\x1f"
    return pl.Series(
        "held", [xxh3_64_intdigest(f"{prefix}{row_id}".encode()) < cut for row_id in row_ids]
    )


def columns(
    config: Mapping[str, Any], inputs: Mapping[str, Sequence[str] | None]
) -> Sequence[str] | None:
    """Output columns: inline rows' keys, or a file's schema (read cheaply); else None.

    The compiler passes `path:` already resolved against the recipe's folder.
    """
    return columns_in(None, config)


def columns_in(root: Path | None, config: Mapping[str, Any]) -> list[str] | None:
    """`columns` with `path:` resolved against `root` (the recipe folder)."""
    if config.get("rows") is not None:
        names: dict[str, None] = {}
        for row in config["rows"]:
            names.update(dict.fromkeys(str(k) for k in row))
        return [ROW_ID, *[n for n in names if n != ROW_ID]]
    path = config.get("path")
    if path is None or (root is None and not Path(str(path)).is_absolute()):
        return None
    found: dict[str, None] = {}
    files = resolve_paths(root or Path("/"), str(path))
    for file in files:
        file_columns = _file_columns(file) if file.exists() else None
        if file_columns is None:
            return None
        found.update(dict.fromkeys(file_columns))
    return [ROW_ID, *[n for n in found if n != ROW_ID]] if files else None


def files(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Files the compiler hashes: `path` (a glob is returned as written), and data files
    named by quoted literals in `sql`."""
    if config.get("path") is not None:
        return [("path", str(config["path"]))]
    if config.get("sql") is not None:
        return [("sql", name) for name in _SQL_FILE_LITERAL.findall(str(config["sql"]))]
    return []


KIND = StepKind(
    name="seed",
    version=2,  # 2: values read faithfully (CSV leading zeros, wide integers, one type a column)
    run=run,
    columns=columns,
    files=files,
)
