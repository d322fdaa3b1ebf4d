"""`seed`: the rows a recipe starts from.

Exactly one of:

- `rows:` a list of mappings written in the recipe;
- `path:` a .jsonl/.ndjson, .json (array of objects), .csv or .parquet file, or a glob
  of them (matches read in sorted order and unioned by column name);
- `sql:` a DuckDB SELECT. Relative paths inside it resolve against the recipe folder
  (DuckDB's `file_search_path` is set to it), whatever the shell's working directory.

`id_column:` names a unique column whose value identifies each row; without it a row's
id is a hash of its content. Either way inserting a seed never changes other rows' ids.
"""

from __future__ import annotations

import csv
import glob
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthc.steps import ROW_ID, StepContext, StepKind

if TYPE_CHECKING:
    import polars as pl

FORMATS = {".jsonl": "ndjson", ".ndjson": "ndjson", ".json": "json", ".csv": "csv"}
FORMATS[".parquet"] = "parquet"
_GLOB_CHARS = re.compile(r"[*?\[]")
# Quoted literals in a `sql:` seed that name a data file: hashed so editing one re-runs it.
_SQL_FILE_LITERAL = re.compile(r"'([^']+\.(?:jsonl|ndjson|json|csv|tsv|parquet)(?:\.gz)?)'", re.I)


def is_glob(path: str) -> bool:
    return bool(_GLOB_CHARS.search(path))


def resolve_paths(root: Path, path: str) -> list[Path]:
    """The files a `path:` names: itself, or a glob's matches in sorted order.

    The compiler should hash a glob as the sorted list of (relative path, sha256) of its
    matches, so adding, removing or editing a matched file makes the step stale.
    """
    full = Path(path) if Path(path).is_absolute() else root / path
    if not is_glob(path):
        return [full]
    return sorted(Path(match) for match in glob.glob(str(full), recursive=True))


def _read_file(path: Path) -> pl.DataFrame:
    import polars as pl

    fmt = FORMATS.get(path.suffix.lower())
    if fmt == "ndjson":
        return pl.read_ndjson(path, infer_schema_length=None)
    if fmt == "json":
        return pl.read_json(path, infer_schema_length=None)
    if fmt == "csv":
        return pl.read_csv(path, infer_schema_length=10_000)
    if fmt == "parquet":
        return pl.read_parquet(path)
    raise ValueError(
        f"path: cannot read '{path.name}'; supported extensions are {', '.join(sorted(FORMATS))}"
    )


def read_files(root: Path, path: str) -> pl.DataFrame:
    """Read a data file or a glob of them (relative to `root`), unioned by column name."""
    import polars as pl

    files = resolve_paths(root, path)
    if not files:
        raise ValueError(f"path: '{path}' matches no files in {root}")
    if any(not f.exists() for f in files):
        raise ValueError(f"path: '{path}' does not exist (looked in {root})")
    frames = [_read_file(f) for f in files]
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")


def _rows_frame(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    import polars as pl

    if not rows:
        return pl.DataFrame()
    return pl.DataFrame([dict(row) for row in rows], infer_schema_length=None)


def run(ctx: StepContext) -> pl.DataFrame:
    from synthc.rows import seed_row_ids

    config = ctx.config
    if config.get("rows") is not None:
        frame = _rows_frame(config["rows"])
    elif config.get("path") is not None:
        frame = read_files(ctx.recipe.root, str(config["path"]))
    elif config.get("sql") is not None:
        try:
            frame = ctx.sql(str(config["sql"]), {})
        except Exception as exc:
            raise ValueError(f"sql: {exc}") from exc
    else:
        raise ValueError("a seed step needs one of `rows`, `path` or `sql`")
    id_column = config.get("id_column")
    if id_column is None and ROW_ID in frame.columns:
        id_column = ROW_ID  # the data brings its own ids: keep them as the identity
    ids = seed_row_ids(frame, id_column)
    return frame.with_columns(ids).select(ROW_ID, *[c for c in frame.columns if c != ROW_ID])


SCHEMA_SAMPLE_ROWS = 100  # as many rows as polars reads to infer a JSON Lines schema


def _file_columns(path: Path) -> list[str] | None:
    """A file's column names, read cheaply: the compiler asks on every `plan`, so JSON
    Lines and CSV headers are read with the standard library (importing polars alone
    costs ~0.1 s)."""
    fmt = FORMATS.get(path.suffix.lower())
    try:
        if fmt == "ndjson":
            return _jsonl_columns(path)
        if fmt == "csv":
            with path.open(newline="", encoding="utf-8") as handle:
                return next(csv.reader(handle), None)
        if fmt == "parquet":
            import polars as pl

            return list(pl.scan_parquet(path).collect_schema())
    except Exception:  # unreadable here: the build reports it with the real error
        return None
    return None


def _jsonl_columns(path: Path) -> list[str] | None:
    names: dict[str, None] = {}
    with path.open(encoding="utf-8") as handle:
        rows = (line for line in handle if line.strip())
        for line in itertools.islice(rows, SCHEMA_SAMPLE_ROWS):
            row = json.loads(line)
            if not isinstance(row, dict):
                return None
            names.update(dict.fromkeys(str(key) for key in row))
    return list(names)


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
    version=1,
    run=run,
    columns=columns,
    files=files,
)
