"""Static checks of the SQL a recipe holds, done by DuckDB's own parser and binder before
any model is called.

- `statement_problem`: a `query:`/`sql:` field is one read-only SELECT (or WITH ... SELECT),
  as DuckDB classifies it. A second statement, COPY, ATTACH, CREATE, INSTALL/LOAD or SET
  is refused: synthc writes a step's output itself, and a dry run must stay dry.
- `condition_problem`: a filter's `where:` is one expression, so it cannot close the
  parenthesis synthc wraps it in and append a query of its own.
- `Binder.bind`: the query is bound over empty tables with the upstream steps' inferred
  columns, so an unknown column, table or function is reported with DuckDB's message.
  Column types are unknown before a build, so every column is typed NULL, which DuckDB
  casts to anything: a type mismatch is never reported, only names.

With an `SQLMemo` (`sqlmemo.py`), a check that passed before on the same inputs is not
run again, and DuckDB is imported only when one has to run.

Reading local files from recipe SQL stays allowed (a recipe is trusted like a Makefile);
binding reads their schema, never writes. Extensions are neither installed nor loaded here,
so checking a recipe never reaches the network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthc.recipe.sqlmemo import SQLMemo

if TYPE_CHECKING:
    import duckdb

# DuckDB errors that say the SQL itself is wrong. Others (a remote file that needs an
# extension, an unreadable file) are left for the build, which reports them in full.
_REPORTED_ERRORS = ("ParserException", "BinderException", "CatalogException")
_NO_FILES = "No files found that match the pattern"  # a local file or glob that is not there


def quote_name(name: str) -> str:
    """A SQL identifier, double-quoted so any step or column name (`unique`, `order`) works."""
    return '"' + name.replace('"', '""') + '"'


def duckdb_message(exc: BaseException) -> str:
    """DuckDB's message on one line: its lines up to the "LINE 1: ..." caret block, so its
    hints ("Candidate bindings: ...", "Did you mean ...?") stay."""
    lines = []
    for line in str(exc).strip().splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            lines.append(line.strip())
    return "; ".join(lines) or type(exc).__name__


def statement_problem(text: str) -> str | None:
    """None if `text` is exactly one SELECT (or WITH ... SELECT), else what is wrong with it.

    Example: `statement_problem("copy t to 'x.csv'")` says a COPY is not allowed.
    """
    import duckdb

    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        return f"does not parse: {duckdb_message(exc)}"
    if not statements:
        return "holds no SQL statement; write one SELECT"
    if len(statements) > 1:
        return (
            f"holds {len(statements)} statements; recipe SQL is one read-only SELECT "
            "(or WITH ... SELECT): remove the ';' and what follows it"
        )
    kind = statements[0].type.name
    if kind != "SELECT":
        return (
            f"is a statement of type {kind}; recipe SQL is one read-only SELECT (or WITH ... SELECT): "
            "synthc stores each step's rows itself and never runs statements that change state"
        )
    return None


def _parses(sql: str) -> bool:
    """Whether DuckDB's parser reads `sql` (what it says when not is the binding's to report)."""
    import duckdb

    try:
        duckdb.extract_statements(sql)
    except duckdb.Error:
        return False
    return True


def error_line(sql: str) -> int | None:
    """The line of `sql` DuckDB's parser stops at ("LINE 3: ..."), or None if it parses."""
    import duckdb

    try:
        duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        found = re.search(r"^LINE (\d+):", str(exc), re.MULTILINE)
        return int(found.group(1)) if found else None
    return None


def condition_line(condition: str) -> int | None:
    """`error_line` for a filter condition (DuckDB names no line for an expression)."""
    line = error_line(f"select\n{condition}")
    return None if line is None else max(1, line - 1)


def condition_problem(text: str) -> str | None:
    """None if `text` is one SQL expression (a filter condition), else what is wrong.

    A `)` that closes the parenthesis synthc wraps the condition in, a second statement or
    a comma-separated list are refused here, before the condition is ever run.
    """
    import duckdb

    try:
        duckdb.SQLExpression(text)
    except duckdb.InvalidInputException:
        return "is a list of expressions; a condition is one expression (join them with `and`)"
    except duckdb.Error as exc:
        message = duckdb_message(exc)
        if "more than one statement" in message:
            return "holds more than one statement; a condition is one expression, not a query"
        if _breaks_out(text):
            return (
                "closes the parenthesis synthc puts around a condition and adds to the query; "
                "a condition is one expression"
            )
        return f"is not a valid condition: {message}"
    return None


def _breaks_out(condition: str) -> bool:
    """True when `condition` is no expression but parses once wrapped as synthc wraps it."""
    import duckdb

    try:
        duckdb.extract_statements(f"select * from t where ({condition})")
    except duckdb.Error:
        return False
    return True


@dataclass(frozen=True)
class SQLProblem:
    """DuckDB's error about a query, on one line, and where in the query it points
    (1-based line and column of its caret), when it says."""

    message: str
    line: int | None = None
    col: int | None = None


def caret_position(error: str, sql: str) -> tuple[int, int] | None:
    """(line, column) in `sql` of the caret under DuckDB's "LINE n: ..." excerpt.

    DuckDB shows a window of a long line, cut with "..."; the window is found in the
    line to map the caret back. None when the error shows no caret or it cannot be mapped.
    """
    found = re.search(r"^(LINE (\d+): )(.*)\n( *)\^", error, re.MULTILINE)
    if found is None:
        return None
    line = int(found.group(2))
    lines = sql.split("\n")
    if not 1 <= line <= len(lines):
        return None
    source, excerpt = lines[line - 1], found.group(3)
    offset = len(found.group(4)) - len(found.group(1))
    if excerpt.startswith("..."):
        start = source.find(excerpt[3:].removesuffix("..."))
        if start < 0:
            return None
        offset += start - 3
    return (line, offset + 1) if 0 <= offset < len(source) else None


class Binder:
    """Binds queries over empty tables on one private in-memory DuckDB connection (opening
    one costs milliseconds, and a recipe may hold a thousand queries). Each query sees
    only the tables it is given, in a schema of its own. Use it as a context manager.

    With a `memo`, a query that bound before over the same tables, with the files it
    reads unchanged, is answered from it (DuckDB is then never imported); each new
    successful binding is remembered with the files DuckDB opened for it.
    """

    def __init__(self, root: Path | None = None, memo: SQLMemo | None = None):
        self.root = root  # relative file paths in queries resolve against it
        self.memo = memo
        self._con: duckdb.DuckDBPyConnection | None = None
        self._schemas = 0
        self._logs_files = False  # DuckDB logs the files it opens (it can since 1.3)

    def __enter__(self) -> Binder:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._con is not None:
            self._con.close()

    def bind(
        self, query: str, tables: Mapping[str, Sequence[str]]
    ) -> tuple[list[str] | None, SQLProblem | None]:
        """(the columns `query` returns, None) or (None, DuckDB's error about the SQL,
        with the line and column it points at when it says).

        `tables` maps names to columns (typed NULL). Only errors about the SQL itself are
        returned (syntax, unknown column, table or function); (None, None) means the
        query could not be checked here (a remote file, an unreadable one).
        """
        if self.memo is not None:
            remembered = self.memo.bound_columns(query, tables, self.root)
            if remembered is not None:
                return remembered, None
        con = self._connection()
        # `con.sql` runs any statement but a SELECT at once. The loader refuses those, but
        # its verdict may come from a memo file, so a binding checks for itself.
        if _parses(query) and (problem := statement_problem(query)):
            return None, SQLProblem(f"the SQL {problem}")
        self._schemas += 1
        schema = f"bind_{self._schemas}"
        con.execute(f"CREATE SCHEMA {schema}")
        try:
            con.execute(f"SET schema = '{schema}'")
            for name, columns in tables.items():
                selected = ", ".join(f"NULL AS {quote_name(c)}" for c in columns) or "NULL AS _"
                con.execute(f"CREATE VIEW {quote_name(name)} AS SELECT {selected} WHERE false")
            relation = con.sql(query)  # binds the query; a relation runs only when fetched
            columns = list(relation.columns) if relation is not None else []
            opened = self._opened_files(con)
            if self.memo is not None and opened is not None:
                self.memo.remember_binding(query, tables, self.root, columns, opened)
            return columns, None
        except Exception as exc:  # DuckDB's exceptions are the only ones raised here
            message = duckdb_message(exc)
            if type(exc).__name__ in _REPORTED_ERRORS or _NO_FILES in message:
                return None, SQLProblem(message, *(self._position(con, query) or (None, None)))
            return None, None
        finally:
            con.execute("SET schema = 'main'")
            con.execute(f"DROP SCHEMA {schema} CASCADE")

    def _opened_files(self, con: duckdb.DuckDBPyConnection) -> list[str] | None:
        """The files DuckDB opened since the last call (None when it cannot say)."""
        if not self._logs_files:
            return None
        found = con.execute(
            "SELECT DISTINCT json_extract_string(message, '$.path') FROM duckdb_logs "
            "WHERE type = 'FileSystem' AND json_extract_string(message, '$.op') = 'OPEN'"
        ).fetchall()
        con.execute("CALL truncate_duckdb_logs()")
        return [str(path) for (path,) in found if path is not None]

    @staticmethod
    def _position(con: duckdb.DuckDBPyConnection, query: str) -> tuple[int, int] | None:
        """Where DuckDB's error points in `query`: `con.sql` leaves the caret out of
        its message, PREPARE (which binds and never runs) keeps it."""
        try:
            con.execute(f"PREPARE synthc_bind_check AS {query}")
        except Exception as exc:  # the same error, now with its caret
            return caret_position(str(exc), query)
        con.execute("DEALLOCATE synthc_bind_check")
        return None

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            import duckdb

            config: dict[str, Any] = {
                "threads": 1,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            }
            self._con = duckdb.connect(":memory:", config=config)
            if self.root is not None:
                folder = str(self.root).replace("'", "''")
                self._con.execute(f"SET file_search_path = '{folder}'")
            if self.memo is not None:
                try:  # without this log a binding that reads files is not remembered
                    self._con.execute("CALL enable_logging('FileSystem')")
                    self._logs_files = True
                except duckdb.Error:
                    pass
        return self._con


# DuckDB's keywords that cannot name a table unquoted (its "reserved" and "type_function"
# categories, DuckDB 2.0). Kept here so that loading a recipe without SQL never imports
# DuckDB (~40 MB, ~0.1 s of a no-op build); tests/recipe/test_sqlcheck.py compares the
# list with DuckDB's own parser, so an upgrade that changes it fails a test.
_TABLE_KEYWORDS_TEXT = """
    all analyse analyze and anti any array as asc asof asymmetric at authorization
    binary both by case cast check collate collation column concurrently constraint
    create cross default deferrable desc describe distinct do else end except false
    fetch for foreign freeze from full glob group having ilike in initially inner
    intersect into is isnull join lambda lateral leading left like limit natural not
    notnull null offset on only or order outer overlaps pivot pivot_longer
    pivot_wider placing positional primary qualify references returning right select
    semi show similar some summarize symmetric table tablesample then to trailing
    true union unique unpack unpivot using variadic verbose when where window with
"""
TABLE_KEYWORDS = frozenset(_TABLE_KEYWORDS_TEXT.split())
PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@cache
def unusable_table_name(name: str) -> bool:
    """True when `name` cannot be written unquoted as a table in SQL (`unique`, `select`).
    A plain ASCII identifier is looked up in `TABLE_KEYWORDS`; anything else is asked of
    DuckDB's parser."""
    if PLAIN_NAME.match(name):
        return name.lower() in TABLE_KEYWORDS
    return parser_refuses_table_name(name)


def parser_refuses_table_name(name: str) -> bool:
    """Whether DuckDB's parser refuses `SELECT * FROM <name>`."""
    import duckdb

    try:
        duckdb.extract_statements(f"SELECT * FROM {name}")
    except duckdb.Error:
        return True
    return False
