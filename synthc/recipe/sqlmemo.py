"""Which of a recipe's SQL checks already passed, so a rebuild with nothing changed neither
imports DuckDB (~0.1 s, ~40 MB) nor binds its queries again.

An entry is remembered only for a check that passed, keyed by everything its verdict
depends on:

- a statement or condition (`sqlcheck.statement_problem`, `condition_problem`): the
  text, and the DuckDB installed (its compiled module's path, size and mtime);
- a binding (`sqlcheck.Binder.bind`): the query, the tables it sees and their columns,
  the folder relative paths resolve against, DuckDB; and the files it may read: every
  quoted name in the query taken as a path (against the recipe's folder and the current
  one; a glob with its sorted matches) and every file DuckDB opened while binding,
  each by size and mtime like the lock's `file_hints`. For a file opened under a
  name the query does not spell out (`read_csv('data/' || '*.csv')`), its folder is
  watched too, so a file added beside it binds the query again.

A changed query, table, column, file, or DuckDB finds no entry and is checked as if
for the first time, with the same errors; failures are never remembered. The file is
read leniently (a damaged memo is an empty one) and written whole by the store's
atomic writer, holding only the entries the last run used or learned.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from synthc.fingerprint import fingerprint

MEMO_FILE = "sql-checks.json"
MEMO_VERSION = 1  # bump when what a check verifies changes, so old verdicts are dropped

# Quoted text that may name a file: 'string', "identifier" (DuckDB reads `from "x.csv"`)
# and $$dollar quoted$$ strings.
_QUOTED = re.compile(r"'((?:[^']|'')*)'|\"((?:[^\"]|\"\")*)\"|\$(\w*)\$(.*?)\$\3\$", re.S)

Signature = list[int] | None  # [size, mtime_ns]; None: not there


def _signature(path: str) -> Signature:
    try:
        stat = os.stat(path)
    except (OSError, ValueError):  # missing, unreadable, or a name no file can have
        return None
    return [stat.st_size, stat.st_mtime_ns]


@cache
def duckdb_identity() -> list[Any]:
    """The DuckDB installed, without importing it: its compiled module's path and stat."""
    from importlib.util import find_spec

    try:
        spec = find_spec("_duckdb") or find_spec("duckdb")
    except (ImportError, ValueError):
        spec = None
    origin = spec.origin if spec is not None else None
    return [origin, _signature(origin) if origin else None]


def quoted_paths(query: str, root: Path | None, cwd: str) -> list[str]:
    """Absolute paths a query's quoted names could be read from: as written when
    absolute, else under `root` (DuckDB's `file_search_path`) and under `cwd`."""
    paths: list[str] = []
    for found in _QUOTED.finditer(query):
        single, double, _tag, dollar = found.groups()
        if single is not None:
            name = single.replace("''", "'")
        elif double is not None:
            name = double.replace('""', '"')
        else:
            name = dollar
        if not name or "://" in name or "\0" in name:
            continue  # a remote file is never bound here (no extensions are loaded)
        name = os.path.expanduser(name)
        if os.path.isabs(name):
            candidates = [name]
        else:
            candidates = [os.path.join(str(root), name)] if root is not None else []
            candidates.append(os.path.join(cwd, name))
        for candidate in map(os.path.normpath, candidates):
            if candidate not in paths:
                paths.append(candidate)
    return paths


class SQLMemo:
    """The SQL checks that passed in earlier runs (`entries`, by key) and those this run
    used or learned. `read` a memo file; `to_text` for the writer when `learned`."""

    def __init__(self, entries: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._earlier = dict(entries or {})
        self._kept: dict[str, Mapping[str, Any]] = {}
        self.learned = False

    @classmethod
    def read(cls, path: Path) -> SQLMemo:
        """The memo at `path`; an empty one when it is missing, damaged or was written
        for another DuckDB or another version of these checks."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if (
            not isinstance(data, dict)
            or data.get("synthc_sql_checks") != MEMO_VERSION
            or data.get("duckdb") != duckdb_identity()
            or not isinstance(data.get("entries"), dict)
        ):
            return cls()
        return cls({k: v for k, v in data["entries"].items() if isinstance(v, dict)})

    def to_text(self) -> str:
        """What the next run reads: only the entries this run used or learned."""
        payload = {
            "synthc_sql_checks": MEMO_VERSION,
            "duckdb": duckdb_identity(),
            "entries": self._kept,
        }
        return json.dumps(payload, sort_keys=True) + "\n"

    # -- statements and conditions: the text alone decides --------------------------

    def text_problem(self, check: Callable[[str], str | None], text: str) -> str | None:
        """`check(text)` (a `sqlcheck` parser check), unless it passed on this text before."""
        key = fingerprint(["text", check.__name__, text])
        if key in self._kept or key in self._earlier:
            self._keep(key, {})
            return None
        problem = check(text)
        if problem is None:
            self._keep(key, {}, learned=True)
        return problem

    # -- bindings: the query, its tables and the files it reads ---------------------

    def bound_columns(
        self, query: str, tables: Mapping[str, Sequence[str]], root: Path | None
    ) -> list[str] | None:
        """The columns `query` bound to before, when nothing it depends on has changed."""
        key = _binding_key(query, tables, root)
        entry = self._kept.get(key) or self._earlier.get(key)
        if entry is None:
            return None
        columns, files, globs = entry.get("columns"), entry.get("files"), entry.get("globs")
        if not (
            isinstance(columns, list)
            and all(isinstance(c, str) for c in columns)
            and isinstance(files, dict)
            and isinstance(globs, dict)
        ):
            return None  # damaged: bind again
        for path in quoted_paths(query, root, os.getcwd()):
            if path not in (globs if glob.has_magic(path) else files):
                return None  # a name in the query resolves somewhere new (another folder)
        if any(_signature(path) != signature for path, signature in files.items()):
            return None
        if any(_matches(pattern) != matches for pattern, matches in globs.items()):
            return None
        self._keep(key, entry)
        return list(columns)

    def remember_binding(
        self,
        query: str,
        tables: Mapping[str, Sequence[str]],
        root: Path | None,
        columns: Sequence[str],
        opened: Iterable[str],
    ) -> None:
        """`query` bound to `columns` over `tables`, DuckDB having opened `opened`."""
        cwd = os.getcwd()
        files: dict[str, Signature] = {}
        globs: dict[str, list[str]] = {}
        for path in quoted_paths(query, root, cwd):
            if glob.has_magic(path):
                globs[path] = _matches(path)
                files.update((match, _signature(match)) for match in globs[path])
            else:
                files[path] = _signature(path)
        for name in opened:
            path = os.path.normpath(os.path.join(cwd, name))
            if path not in files:  # reached by a name the query does not spell out
                files[path] = _signature(path)
                files.setdefault(os.path.dirname(path), _signature(os.path.dirname(path)))
        entry = {"columns": list(columns), "files": files, "globs": globs}
        self._keep(_binding_key(query, tables, root), entry, learned=True)

    def _keep(self, key: str, entry: Mapping[str, Any], learned: bool = False) -> None:
        self._kept[key] = entry
        self.learned = self.learned or learned


def _binding_key(query: str, tables: Mapping[str, Sequence[str]], root: Path | None) -> str:
    listed = [[name, list(columns)] for name, columns in tables.items()]
    return fingerprint(["binding", query, listed, str(root) if root is not None else None])


def _matches(pattern: str) -> list[str]:
    return sorted(glob.glob(pattern, recursive=True))
