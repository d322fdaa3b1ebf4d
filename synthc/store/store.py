"""The store: immutable Parquet step outputs plus a DuckDB catalog derived from the lock.

Layout, next to the recipe (`<recipe>`: the recipe file's name without its extension,
so several recipes in one folder never share a catalog; `Recipe.workdir`)::

    recipe.lock                                  # what was built, per step
    .synthc/<recipe>/data/<step>/<version>.parquet          # a step's rows, named by content
    .synthc/<recipe>/data/<step>/<version>.<table>.parquet  # its tables (_calls, _failures...)
    .synthc/<recipe>/runs.jsonl                  # one line per build, append-only
    .synthc/<recipe>/synthc.duckdb               # views over the above; derived
    .synthc/<recipe>/build.lock                  # held by the running build
    .synthc/<recipe>/report.html                 # `synthc report`
    .synthc/<recipe>/sql-checks.json             # SQL checks that passed (sqlmemo); derived
    .synthc/cache/                               # the call cache, shared by the folder's recipes

Parquet files are written to a temp file, fsynced and renamed, and the lock names a file
only after it is on disk. The DuckDB file holds nothing that cannot be rebuilt from the
lock: it is rebuilt into a temp file and renamed over the old one, so a reader opens
either the old catalog or the new, never a half-written one, and a missing or unreadable
catalog is simply rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthc.errors import BuildLocked, StoreError
from synthc.store.atomic import atomic_file, atomic_write_text, fsync_dir, writing
from synthc.store.formats import QUERY_FORMATS, format_frame
from synthc.store.lock import LockEntry, LockState, read_lock, write_lock

if TYPE_CHECKING:
    import duckdb
    import polars as pl
    from polars._typing import PolarsDataType

    from synthc.llm.batch import BatchLedger
    from synthc.recipe.load import Recipe
    from synthc.recipe.sqlmemo import SQLMemo

# Statement types `query` runs; everything else (DDL, DML, COPY, ATTACH, SET...) is refused.
READ_ONLY_STATEMENTS = ("SELECT", "EXPLAIN")
_CHUNK_ROWS = 100_000


def data_version(frame: pl.DataFrame) -> str:
    """sha256 of a frame's canonical serialization: its schema, then its rows as JSON Lines.

    The schema part (column names and dtypes, in order) keeps an `Int64` column apart from
    a `String` one that prints the same. The rows part is `write_ndjson()` bytes: polars
    writes them deterministically (column order as in the frame, floats in shortest
    round-trip form, no map ordering to vary), unlike Parquet bytes, which depend on the
    writer's version, compression and row-group layout. Rows are serialized in chunks so
    hashing a large frame does not hold a second copy of it as text. Row order counts:
    it is part of what a step outputs (and of what an export writes).
    """
    digest = hashlib.sha256()
    schema = [[name, str(dtype)] for name, dtype in frame.schema.items()]
    digest.update(json.dumps(schema, separators=(",", ":")).encode("utf-8"))
    digest.update(b"\n")
    for offset in range(0, frame.height, _CHUNK_ROWS):
        digest.update(frame.slice(offset, _CHUNK_ROWS).write_ndjson().encode("utf-8"))
    marks = _non_finite(frame)
    if marks is not None:  # only then: versions of frames of finite numbers stay as they were
        digest.update(b"\x00non-finite\n")
        for offset in range(0, marks.height, _CHUNK_ROWS):
            digest.update(marks.slice(offset, _CHUNK_ROWS).write_ndjson().encode("utf-8"))
    return digest.hexdigest()


def _non_finite(frame: pl.DataFrame) -> pl.DataFrame | None:
    """JSON Lines writes inf, -inf and NaN as null, like a missing value; so a frame that
    holds any (in a float column, or a list, array or struct with floats inside) gets
    them spelled out, as text where they are and null elsewhere. None when it holds none."""
    import polars as pl

    columns = []
    for name, dtype in frame.schema.items():
        found = _odd(pl.col(name), dtype)
        if found is not None and frame.select(found.any()).item():
            columns.append(_spelled(pl.col(name), dtype).alias(name))
    return frame.select(columns) if columns else None


def _odd(value: pl.Expr, dtype: PolarsDataType) -> pl.Expr | None:
    """Per row: whether `value` (of `dtype`) holds a non-finite float anywhere inside;
    None when its type cannot hold one."""
    import polars as pl

    if dtype.is_float():
        return value.is_nan() | value.is_infinite()
    if isinstance(dtype, pl.Array):
        return _odd(value.cast(pl.List(dtype.inner)), pl.List(dtype.inner))
    if isinstance(dtype, pl.List):
        inner = _odd(pl.element(), dtype.inner)
        return None if inner is None else value.list.eval(inner).list.any()
    if isinstance(dtype, pl.Struct):
        parts = [_odd(value.struct.field(f.name), f.dtype) for f in dtype.fields]
        found = [part for part in parts if part is not None]
        return pl.any_horizontal(found) if found else None
    return None


def _spelled(value: pl.Expr, dtype: PolarsDataType) -> pl.Expr:
    """`value` with each non-finite float as its text and everything else null."""
    import polars as pl

    if dtype.is_float():
        return pl.when(value.is_nan() | value.is_infinite()).then(value.cast(pl.String))
    if isinstance(dtype, pl.Array):
        return _spelled(value.cast(pl.List(dtype.inner)), pl.List(dtype.inner))
    if isinstance(dtype, pl.List):
        return value.list.eval(_spelled(pl.element(), dtype.inner))
    if isinstance(dtype, pl.Struct):
        fields = [f for f in dtype.fields if _odd(pl.element(), f.dtype) is not None]
        return pl.struct(
            [_spelled(value.struct.field(f.name), f.dtype).alias(f.name) for f in fields]
        )
    return pl.lit(None, dtype=pl.String)


def _atomic_write_parquet(frame: pl.DataFrame, path: Path) -> None:
    with atomic_file(path) as handle:
        # zstd level 1: as small as the default level here, and faster to write.
        frame.write_parquet(handle, compression="zstd", compression_level=1, statistics=True)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Store:
    """A recipe's on-disk state: its `.synthc/<recipe>/` folder and the lock file beside
    the recipe.

    Example::

        store = Store.for_recipe(recipe)
        print(store.query("select count(*) from answers", "csv"))
    """

    def __init__(self, workdir: Path, lock_path: Path, recipe_name: str = "") -> None:
        self.workdir = Path(workdir).absolute()
        self.lock_path = Path(lock_path).absolute()
        self.recipe_name = recipe_name or self.lock_path.stem

    @classmethod
    def for_recipe(cls, recipe: Recipe) -> Store:
        return cls(recipe.workdir, recipe.lock_path, recipe.name)

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def catalog_path(self) -> Path:
        return self.workdir / "synthc.duckdb"

    def batch_ledger(self) -> BatchLedger:
        """The provider batches out for this recipe (`batches.json`, written atomically)."""
        from synthc.llm.batch import LEDGER_FILE, BatchLedger

        return BatchLedger(self.workdir / LEDGER_FILE, atomic_write_text)

    def remember_sql_checks(self, memo: SQLMemo | None) -> None:
        """Write what `memo` learned (SQL checks that passed) for the next run, once this
        recipe has a workdir. Best effort: where it cannot be written, the next run
        checks its SQL again."""
        if memo is None or not memo.learned or not self.workdir.is_dir():
            return
        from synthc.recipe.sqlmemo import MEMO_FILE

        with contextlib.suppress(OSError, StoreError):
            atomic_write_text(self.workdir / MEMO_FILE, memo.to_text())

    @property
    def runs_path(self) -> Path:
        return self.workdir / "runs.jsonl"

    @property
    def run_steps_path(self) -> Path:
        """Per build and step: the calls the plan expected beside those made (`_run_steps`)."""
        return self.workdir / "run_steps.jsonl"

    def step_path(self, step: str, version: str) -> Path:
        return self.data_dir / step / f"{version}.parquet"

    def aux_path(self, step: str, version: str, table: str) -> Path:
        return self.data_dir / step / f"{version}.{table}.parquet"

    def aux_tables(self, step: str, version: str) -> dict[str, Path]:
        """Tables a step emitted alongside the output with this data version, by name."""
        found: dict[str, Path] = {}
        for path in sorted((self.data_dir / step).glob(f"{version}.*.parquet")):
            found[path.name[len(version) + 1 : -len(".parquet")]] = path
        return found

    # -- step outputs ---------------------------------------------------------------

    def write_step(
        self, step: str, frame: pl.DataFrame, aux: Mapping[str, pl.DataFrame] | None = None
    ) -> str:
        """Write a step's rows (and its emitted tables) durably; return the data version.

        An output with this data version already on disk is not rewritten: same name,
        same content.
        """
        version = data_version(frame)
        path = self.step_path(step, version)
        if not path.exists():
            _atomic_write_parquet(frame, path)
        for table, aux_frame in (aux or {}).items():
            _atomic_write_parquet(aux_frame, self.aux_path(step, version, table))
        return version

    def write_aux(self, step: str, version: str, table: str, frame: pl.DataFrame | None) -> None:
        """Replace (or, given None, delete) one emitted table of a stored output."""
        path = self.aux_path(step, version, table)
        if frame is None:
            path.unlink(missing_ok=True)
        else:
            _atomic_write_parquet(frame, path)

    def has_step(self, step: str, entry: LockEntry) -> bool:
        return self.step_path(step, entry.data_version).exists()

    def read_step(self, step: str, entry: LockEntry | None = None) -> pl.DataFrame:
        """The rows of a built step (the version the lock names unless `entry` is given)."""
        import polars as pl

        if entry is None:
            entry = self.read_lock().steps.get(step)
            if entry is None:
                raise StoreError(f"step '{step}' has not been built yet; run `synthc build`")
        path = self.step_path(step, entry.data_version)
        if not path.exists():
            raise StoreError(
                f"{path}: the output of step '{step}' is missing; run `synthc build` to rebuild it"
            )
        return pl.read_parquet(path)

    # -- lock -----------------------------------------------------------------------

    def read_lock(self) -> LockState:
        return read_lock(self.lock_path)

    def write_lock(self, state: LockState) -> None:
        write_lock(self.lock_path, state, self.recipe_name)

    @contextmanager
    def build_lock(self, wait: bool = False) -> Iterator[None]:
        """Hold `.synthc/<recipe>/build.lock` for a build; a second build fails fast (or waits).

        This is `fcntl.flock`, the OS lock filelock itself uses on POSIX, taken directly
        because importing filelock costs ~70 ms on every no-op build. (synthc is POSIX
        only already: its atomic writes fsync folders.) The OS drops the lock when the
        holder dies, so a killed build never leaves it held.
        """
        import fcntl

        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / "build.lock"
        with path.open("a") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise BuildLocked(
                    f"another synthc build is running on {self.recipe_name} (lock file {path}); "
                    "wait for it to finish or pass --wait"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def remove_temp_files(self, older_than_s: float = 600.0) -> int:
        """Delete temp files a killed build left behind; call it holding the build lock.

        Step outputs and the lock are only written by a build, so their temp files are
        garbage once this build holds the lock. A catalog temp file may belong to a
        `query` rebuilding the catalog right now, so only old ones go.
        """
        import time

        removed = 0
        leftovers = [
            *self.data_dir.glob("*/.*.tmp"),
            *self.lock_path.parent.glob(f".{self.lock_path.name}.*.tmp"),
        ]
        cutoff = time.time() - older_than_s
        for path in self.workdir.glob(".synthc.*.duckdb.tmp*"):
            with contextlib.suppress(FileNotFoundError):  # a query finished with it just now
                if path.stat().st_mtime < cutoff:
                    leftovers.append(path)
        for path in leftovers:
            path.unlink(missing_ok=True)
            removed += 1
        return removed

    # -- run log --------------------------------------------------------------------

    def append_run(
        self, record: Mapping[str, Any], steps: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        """Append one build's record to runs.jsonl, and its `steps` (plan vs actual per
        step, each tagged with the run's `started_at`) to run_steps.jsonl. Neither file is
        ever rewritten, so no record is lost."""
        run = {"run": record.get("started_at"), "recorded_at": _now_precise()}
        if steps:
            _append_lines(self.run_steps_path, [{**run, **step} for step in steps])
        _append_lines(self.runs_path, [record])

    def spent(self) -> dict[str, float]:
        """What the recipe's builds spent on model calls, summed from runs.jsonl:
        `calls`, `tokens`, `usd` (a recipe-scoped `budget:` counts it)."""
        total = {"calls": 0.0, "tokens": 0.0, "usd": 0.0}
        try:
            lines = self.runs_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return total
        for line in lines:
            try:
                spend = json.loads(line).get("spend") or {}
            except (ValueError, AttributeError):
                continue  # a line a killed build left half-written
            for key in total:
                total[key] += float(spend.get(key) or 0)
        return total

    # -- catalog --------------------------------------------------------------------

    def refresh_catalog(self, state: LockState | None = None) -> None:
        """Rebuild synthc.duckdb from the lock into a temp file, then rename it into place."""
        import duckdb

        state = self.read_lock() if state is None else state
        with writing(self.catalog_path):
            self.workdir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".synthc.", suffix=".duckdb.tmp", dir=self.workdir)
        os.close(fd)
        os.unlink(tmp)  # duckdb must create the file itself
        try:
            with writing(self.catalog_path):
                con = duckdb.connect(tmp)
                try:
                    for statement in self.catalog_statements(state):
                        con.execute(statement)
                    con.execute("checkpoint")
                finally:
                    con.close()
                with open(tmp, "rb") as handle:
                    os.fsync(handle.fileno())
                os.replace(tmp, self.catalog_path)
        finally:
            Path(tmp).unlink(missing_ok=True)
            Path(tmp + ".wal").unlink(missing_ok=True)
        fsync_dir(self.workdir)

    def catalog_current(self) -> bool:
        """Whether the catalog exists and was built after the lock was last written (a
        build refreshes it once, at its end; a killed build leaves it older)."""
        try:
            catalog = self.catalog_path.stat().st_mtime_ns
        except FileNotFoundError:
            return False
        try:
            return catalog >= self.lock_path.stat().st_mtime_ns
        except FileNotFoundError:
            return True

    def catalog_statements(self, state: LockState) -> list[str]:
        """The DDL of the catalog: a view per built step and per emitted table, `_lineage`
        (each row's step and parent) and `_runs` (the build log)."""
        statements: list[str] = []
        aux: dict[str, list[tuple[str, Path]]] = {}
        lineage: list[str] = []
        for step in sorted(state.steps):
            entry = state.steps[step]
            path = self.step_path(step, entry.data_version)
            if not path.exists():
                continue  # the next build rebuilds it; a view would fail every query
            tables = self.aux_tables(step, entry.data_version)
            statements.append(_step_view(step, path, tables.get(ATTRIBUTES)))
            for table, aux_path in tables.items():
                if not table.startswith("__"):  # private to the build (the reuse memo)
                    aux.setdefault(table, []).append((step, aux_path))
            if "_id" in entry.columns:
                parent = "_parent_id" if "_parent_id" in entry.columns else "null::varchar"
                lineage.append(
                    f"select _id, {parent} as _parent_id, {_sql_string(step)} as _step "
                    f"from {_sql_name(step)}"
                )
        for table in sorted(aux):
            if table in state.steps:
                continue  # a step's own name wins over an emitted table of the same name
            statements.append(_aux_view(table, aux[table]))
        for table, declared in EMPTY_TABLES.items():
            if table not in aux and table not in state.steps:
                statements.append(_empty_view(table, declared))
        if lineage and "_lineage" not in state.steps:
            # Every row of every step with its parent: walk it to see where a row came from.
            statements.append("create or replace view _lineage as " + " union all ".join(lineage))
        statements.append(self._runs_view())
        statements.append(self._run_steps_view())
        return statements

    def _runs_view(self) -> str:
        if self.runs_path.exists() and self.runs_path.stat().st_size > 0:
            source = (
                f"select * from read_json({_sql_string(str(self.runs_path))}, "
                "format='newline_delimited', ignore_errors=true)"
            )
        else:
            source = (
                "select null::varchar as started_at, null::varchar as finished_at, "
                "null::varchar as status, null::varchar[] as built, null::varchar[] as skipped, "
                "null::integer as exit_code where false"
            )
        return f"create or replace view _runs as {source}"

    def _run_steps_view(self) -> str:
        if self.run_steps_path.exists() and self.run_steps_path.stat().st_size > 0:
            source = (
                f"select * from read_json({_sql_string(str(self.run_steps_path))}, "
                f"format='newline_delimited', ignore_errors=true, columns={RUN_STEP_COLUMNS})"
            )
        else:
            columns = ", ".join(f"null::{kind} as {name}" for name, kind in _RUN_STEP_TYPES.items())
            source = f"select {columns} where false"
        return f"create or replace view _run_steps as {source}"

    # -- query ----------------------------------------------------------------------

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to the catalog, rebuilt first if missing, unreadable or
        older than the lock (it is derived data)."""
        import duckdb

        if self.catalog_current():
            try:
                return duckdb.connect(str(self.catalog_path), read_only=True)
            except duckdb.Error:
                self.catalog_path.unlink(missing_ok=True)
        self.refresh_catalog()
        try:
            return duckdb.connect(str(self.catalog_path), read_only=True)
        except duckdb.Error as exc:
            raise StoreError(f"{self.catalog_path}: cannot open the catalog: {exc}") from exc

    def query_frame(self, sql: str) -> pl.DataFrame:
        """Run read-only SQL over the step views; the last statement's rows as a frame."""
        import duckdb
        import polars as pl

        statements = _read_only_statements(sql)
        con = self.connect()
        try:
            result = None
            for statement in statements:
                result = con.sql(statement)
            return result.pl() if result is not None else pl.DataFrame()
        except duckdb.CatalogException as exc:  # e.g. a step that is not built (yet)
            built = ", ".join(sorted(self.read_lock().steps)) or "none yet: run `synthc build`"
            raise StoreError(f"query failed: {exc}\nbuilt steps: {built}") from exc
        except duckdb.Error as exc:
            raise StoreError(f"query failed: {exc}") from exc
        finally:
            con.close()

    def query(self, sql: str, format: str = "table") -> str:
        """Run read-only SQL and return its rows as text in `format` (table|csv|json|jsonl).

        Write statements (create, insert, copy, attach, set...) raise StoreError and leave
        the store untouched. Example::

            print(store.query("select _id, instruction from answers limit 5", "jsonl"))
        """
        if format not in QUERY_FORMATS:
            raise StoreError(f"unknown format '{format}'; use one of: {', '.join(QUERY_FORMATS)}")
        return format_frame(self.query_frame(sql), format)


# `_run_steps`: per build and model-calling step, the estimate the build was planned
# with (`planned_*`: calls, tokens, dollars; `_max` null when unbounded) beside what it
# did (calls made, cache hits, tokens and dollars of the calls made).
_RUN_STEP_TYPES = {
    "run": "varchar", "recorded_at": "varchar", "step": "varchar",
    "planned_cached": "bigint", "planned_calls": "bigint", "planned_calls_max": "bigint",
    "planned_tokens": "bigint", "planned_tokens_max": "bigint",
    "planned_usd": "double", "planned_usd_max": "double", "planned_note": "varchar",
    "planned_tokens_expected": "bigint", "planned_usd_expected": "double",
    "calls": "bigint", "cache_hits": "bigint", "tokens": "bigint", "usd": "double",
}  # fmt: skip
RUN_STEP_COLUMNS = "{" + ", ".join(f"'{k}': '{v}'" for k, v in _RUN_STEP_TYPES.items()) + "}"


def _now_precise() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="microseconds")


def _append_lines(path: Path, records: Sequence[Mapping[str, Any]]) -> None:
    """Append JSON lines to `path`, fsynced."""
    text = "".join(json.dumps(dict(r), sort_keys=True, default=str) + "\n" for r in records)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+b") as handle:
            # A build killed mid-append leaves a partial line; start ours on a fresh one.
            end = handle.seek(0, os.SEEK_END)
            if end and handle.seek(end - 1) is not None and handle.read(1) != b"\n":
                text = "\n" + text
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())


# Auxiliary tables that exist even when no step emitted rows into them, so a monitoring
# query (`select count(*) from _failures`) answers 0 instead of a Catalog Error.
EMPTY_TABLES: dict[str, dict[str, str]] = {
    "_calls": {"call_key": "varchar", "step": "varchar", "row_id": "varchar",
               "model": "varchar", "prompt_tokens": "bigint", "completion_tokens": "bigint",
               "cost_usd": "double", "latency_s": "double", "cached": "boolean",
               "attempts": "bigint", "error": "varchar", "finish_reason": "varchar",
               "batch_id": "varchar", "parent_id": "varchar"},
    "_failures": {"row_id": "varchar", "step": "varchar", "call_key": "varchar",
                  "model": "varchar", "error_class": "varchar", "error_kind": "varchar",
                  "message": "varchar", "attempts": "bigint", "parent_id": "varchar"},
    "_rejections": {"candidate": "varchar", "reason": "varchar", "max_rouge_l": "double",
                    "most_similar": "varchar", "round": "bigint", "call_key": "varchar"},
    "_dedup_matches": {"removed_id": "varchar", "kept_id": "varchar", "similarity": "double",
                       "reason": "varchar"},
    "_checks": {"kind": "varchar", "severity": "varchar", "status": "varchar",
                "figure": "double", "message": "varchar"},
}  # fmt: skip


def _empty_view(table: str, declared: Mapping[str, str]) -> str:
    columns = ", ".join(f"null::{kind} as {_sql_name(name)}" for name, kind in declared.items())
    return f"create or replace view {_sql_name(table)} as select {columns}, null::varchar as _step where false"


ATTRIBUTES = "_attributes"  # a step's derived balance attributes, one row per step row


def _step_view(step: str, path: Path, attributes: Path | None) -> str:
    """A step's view: its rows, and beside them, row for row, any derived attributes its
    balance gates computed (so `group by topic` works on the step itself)."""
    rows = f"read_parquet({_sql_string(str(path))})"
    if attributes is None:
        return f"create or replace view {_sql_name(step)} as select * from {rows}"
    return (
        f"create or replace view {_sql_name(step)} as select rows.*, attributes.* exclude (_id) "
        f"from {rows} as rows positional join read_parquet({_sql_string(str(attributes))}) "
        "as attributes"
    )


def _aux_view(table: str, sources: list[tuple[str, Path]]) -> str:
    # polars' footer reader: pyarrow.parquet would add ~56 MB to a build's peak RSS.
    import polars as pl

    selects = []
    for step, path in sources:
        has_step = "_step" in pl.read_parquet_schema(path)
        extra = "" if has_step else f", {_sql_string(step)} as _step"
        selects.append(f"select *{extra} from read_parquet({_sql_string(str(path))})")
    return f"create or replace view {_sql_name(table)} as " + " union all by name ".join(selects)


def _read_only_statements(sql: str) -> list[Any]:
    """Parse `sql` with DuckDB and refuse anything but reads, naming the offending statement."""
    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise StoreError(f"cannot parse the query: {exc}") from exc
    if not statements:
        raise StoreError("the query is empty")
    for statement in statements:
        kind = statement.type.name
        if kind == "EXPLAIN" and _explained_kind(statement.query) != "SELECT":
            kind = f"EXPLAIN {_explained_kind(statement.query)}"  # EXPLAIN ANALYZE runs it
        if kind not in READ_ONLY_STATEMENTS:
            text = statement.query.strip().rstrip(";")
            raise StoreError(
                f"`synthc query` is read-only: refusing a {kind} statement ({text[:80]}). "
                "Change data by editing the recipe and running `synthc build`."
            )
    return statements


def _explained_kind(text: str) -> str:
    """The statement type behind `EXPLAIN [ANALYZE] [(options)]` (ANALYZE runs it)."""
    import duckdb

    tokens = duckdb.tokenize(text)
    ends = [offset for offset, _ in tokens[1:]] + [len(text)]
    depth = 0
    for (offset, _), end in zip(tokens, ends, strict=True):
        word = text[offset:end].strip().lower()
        depth += (word == "(") - (word == ")" and depth > 0)
        if depth == 0 and word not in ("explain", "analyze", "analyse", ")"):
            try:
                kinds = {s.type.name for s in duckdb.extract_statements(text[offset:])}
            except duckdb.Error:
                return "UNPARSABLE"
            return kinds.pop() if len(kinds) == 1 else "MULTI"
    return "EMPTY"
