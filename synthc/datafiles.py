"""Reading the user's data files (seeds, `against:` and `reference:` files): JSON Lines,
JSON arrays, CSV and Parquet, single paths or globs, and their column names without
reading the rows. Every stage that touches a user's file comes through here.
"""

from __future__ import annotations

import csv
import glob
import itertools
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl


FORMATS = {
    ".jsonl": "ndjson",
    ".ndjson": "ndjson",
    ".json": "json",
    ".csv": "csv",
    ".parquet": "parquet",
}


_GLOB_CHARS = re.compile(r"[*?\[]")


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


FILE_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".parquet", ".json")


def looks_like_file(reference: str) -> bool:
    """True when a `reference`/`against` string names a file rather than a step."""
    return "/" in reference or reference.endswith(FILE_SUFFIXES)
