"""Reading the user's data files (seeds, `against:` and `reference:` files): JSON Lines,
JSON arrays, CSV and Parquet, single paths or globs, and their column names without
reading the rows. Every stage that touches a user's file comes through here.
"""

from __future__ import annotations

import codecs
import csv
import glob
import io
import itertools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthc.datatypes import (
    Kind,
    apply_declared,
    check_row_kinds,
    check_storable,
    kind_name,
    read_csv_faithfully,
    union_shards,
    wide_integers,
)
from synthc.errors import DataFileError

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


def shown(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def read_files(root: Path, path: str, declared: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Read a data file or a glob of them (relative to `root`), unioned by column name.

    Shards must agree on each column's type, or differ only where widening is lossless
    (a null column, integers beside floats, struct fields missing in one shard);
    otherwise DataFileError names both files and the column. `declared` maps column ->
    one of DECLARED_TYPES and wins over what the reader infers.
    """
    files = resolve_paths(root, path)
    if not files:
        raise DataFileError(f"path: '{path}' matches no files in {root}")
    if any(not f.exists() for f in files):
        raise DataFileError(f"path: '{path}' does not exist (looked in {root})")
    frames = [(shown(f), read_file(f, declared)) for f in files]
    frame = frames[0][1] if len(frames) == 1 else union_shards(frames)
    if absent := [name for name in declared or {} if name not in frame.columns]:
        raise DataFileError(
            f"columns: '{absent[0]}' is declared but '{path}' has no such column; "
            f"its columns are: {', '.join(frame.columns) or '(none)'}"
        )
    return frame


def read_file(path: Path, declared: Mapping[str, str] | None = None) -> pl.DataFrame:
    """One data file as a frame, read faithfully: every value as written, or a
    DataFileError naming the file and, where known, the line."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataFileError(
            f"{shown(path)}: cannot read this file; supported extensions are "
            f"{', '.join(sorted(FORMATS))}"
        )
    if path.is_dir():
        raise DataFileError(f"{shown(path)}: is a folder, not a data file")
    try:
        if fmt == "csv":
            frame = read_csv_faithfully(path, shown(path), declared or {})
        elif fmt == "parquet":
            frame = _read_parquet(path)
        else:
            frame = _read_json(path, lines=fmt == "ndjson")
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{shown(path)}: not UTF-8 text ({exc.reason})") from None
    frame = apply_declared(wide_integers(frame), declared or {}, shown(path))
    check_storable(frame, shown(path))
    return frame


def _read_parquet(path: Path) -> pl.DataFrame:
    import polars as pl

    try:
        return pl.read_parquet(path)
    except Exception as exc:  # polars raises several types for a damaged file
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise DataFileError(f"{shown(path)}: not a readable Parquet file ({first})") from None


def _read_json(path: Path, lines: bool) -> pl.DataFrame:
    """JSON Lines or a JSON array of objects. Python's parser checks every row first (it
    knows the line of a problem, and a column must keep one type: polars would turn
    `1` into `"1"` next to a string); polars then builds the frame natively."""
    import polars as pl

    rows = _json_rows(path, lines)
    kinds: dict[str, tuple[Kind, str]] = {}
    for where, row in rows:
        label = f"line {where.rpartition(':')[2]}" if lines else where.rpartition(": ")[2]
        check_row_kinds(kinds, row, where, label)
    if not rows:
        return pl.DataFrame()
    source: Path | io.BytesIO = path
    with path.open("rb") as handle:
        if handle.read(3) == codecs.BOM_UTF8:  # polars stops at a byte-order mark
            source = io.BytesIO(handle.read())
    try:
        if lines:
            return pl.read_ndjson(source, infer_schema_length=None)
        return pl.read_json(source, infer_schema_length=None)
    except Exception as exc:  # a case the checks above missed: still say which file
        raise DataFileError(f"{shown(path)}: cannot read it: {exc}") from None


def _json_rows(path: Path, lines: bool) -> list[tuple[str, dict[str, Any]]]:
    """(location, row) for every row; a row that is not a JSON object is an error."""
    found: list[tuple[str, Any]] = []
    name = shown(path)  # once: resolving a path per row cost ~0.1 ms
    with path.open(encoding="utf-8-sig") as handle:
        if lines:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    found.append((f"{name}:{number}", _loads(line, path, number)))
        else:
            data = _loads(handle.read(), path, None)
            if not isinstance(data, list):
                raise DataFileError(
                    f"{shown(path)}: a .json data file holds an array of objects, "
                    f"not {kind_name(data)}"
                )
            found = [(f"{name}: row {i + 1}", row) for i, row in enumerate(data)]
    for where, row in found:
        if not isinstance(row, dict):
            raise DataFileError(
                f'{where}: each row must be a JSON object ({{"column": value, ...}}), '
                f"not {kind_name(row)}"
            )
    return found


def _loads(text: str, path: Path, line: int | None) -> Any:
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        where = f"{shown(path)}:{line if line is not None else exc.lineno}"
        column = exc.pos + 1 if line is not None else exc.colno
        raise DataFileError(f"{where}: not valid JSON ({exc.msg} at column {column})") from None
    except ValueError as exc:
        where = f"{shown(path)}:{line}" if line is not None else shown(path)
        raise DataFileError(f"{where}: {exc}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; write null or a string instead")


# One decoder for every row: `json.loads(text, parse_constant=...)` builds a new decoder
# and scanner per call, which was 60% of reading a 100,000-line file.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


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
            with path.open(newline="", encoding="utf-8-sig") as handle:
                return next(csv.reader(handle), None)
        if fmt == "parquet":
            import polars as pl

            return list(pl.scan_parquet(path).collect_schema())
    except Exception:  # unreadable here: the build reports it with the real error
        return None
    return None


def _jsonl_columns(path: Path) -> list[str] | None:
    names: dict[str, None] = {}
    with path.open(encoding="utf-8-sig") as handle:
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
