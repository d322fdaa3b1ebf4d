"""Row reuse: a stale row-local step runs its kind only on the input rows that changed.

A kind that declares `row_local` for a configuration promises that each output row comes
from one input row, named by its `_parent_id`; that what an input row yields depends only
on that row and the step's configuration; that every output column is text; that the
rows come out in input order, each input row's rows together; and that it emits no
table but `_calls` and `_failures` (`generate` with text answers and `distill` keep it;
`judge` does not: its statistics span every row).

For such a step whose configuration is unchanged since the last build (same config
fingerprint, same input step), an input row identical to one the last build completed
(same `_id` and every column alike: a 128-bit hash of its canonical JSON) yields exactly
the rows it yielded then, and every call it made is in the call cache. So the build
keeps those rows and their `_calls` records, stored as the cache hits a full re-run
would record, runs the kind only on the new and changed rows, and merges both in input
order. The output, its data version, `_calls` and the step's statistics are those of a
full re-run; the unchanged rows just cost no prompt render, call key or cache lookup
(measured in `bench/e2e.py`: adding 1% rows to 10,000).

What the last build completed is a private table beside its output (`__reuse`: input
hash and `_id` per input row without a failed call), so a failed row is retried and
everything else is kept. `--force` and `--refresh` re-run every row; a memo that is
missing or unreadable means a full run, never an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xxhash import xxh3_128_hexdigest

from synthc.errors import StoreError

if TYPE_CHECKING:
    import polars as pl

    from synthc.plan.model import PlannedStep
    from synthc.store.lock import LockEntry
    from synthc.store.store import Store

_CHUNK_ROWS = 100_000
MEMO_TABLE = "__reuse"  # private: the catalog and reports never show it
CALLS_TABLE = "_calls"


@dataclass
class Reuse:
    """What a row-local step keeps from its last build, and what it still has to run."""

    input_name: str
    inputs: pl.DataFrame  # the whole input, in order
    hashes: pl.Series  # one per input row
    todo: pl.DataFrame  # the input rows the kind runs on
    kept: pl.DataFrame | None = None  # the last build's rows of the unchanged input rows
    calls: pl.DataFrame | None = None  # their `_calls` records, as cache hits

    @property
    def reused(self) -> int:
        """Input rows whose rows are kept."""
        return self.inputs.height - self.todo.height


def input_hashes(frame: pl.DataFrame) -> pl.Series:
    """One hash per row: XXH3-128 of its canonical JSON, every column included."""
    import polars as pl

    from synthc.rows import row_lines

    hashes = [
        xxh3_128_hexdigest(line.encode())
        for chunk in frame.iter_slices(_CHUNK_ROWS)  # bounds the JSON text held at once
        for line in row_lines(chunk)
    ]
    return pl.Series("input_hash", hashes, pl.String)


def prepare(
    store: Store,
    planned: PlannedStep,
    entry: LockEntry | None,
    inputs: Mapping[str, pl.DataFrame],
) -> Reuse:
    """Split a row-local step's input into rows the last build completed (their rows and
    calls kept) and rows to run; everything is to run when nothing can be proved kept."""
    import polars as pl

    ((name, frame),) = inputs.items()
    reuse = Reuse(name, frame, input_hashes(frame), frame)
    if entry is None or not _same_step(planned, entry) or frame.height == 0:
        return reuse
    if frame.get_column("_id").is_duplicated().any():
        return reuse  # rows are told apart by `_id`; a SQL step may repeat one
    memo_path = store.aux_path(planned.name, entry.data_version, MEMO_TABLE)
    calls_path = store.aux_path(planned.name, entry.data_version, CALLS_TABLE)
    try:
        memo = pl.read_parquet(memo_path, columns=["input_hash"])
        known = reuse.hashes.is_in(memo.get_column("input_hash").implode())
        if not known.any():
            return reuse
        parents = frame.get_column("_id").filter(known).implode()
        kept = store.read_step(planned.name, entry).filter(pl.col("_parent_id").is_in(parents))
        calls = pl.read_parquet(calls_path) if calls_path.exists() else None
    except (OSError, StoreError, pl.exceptions.PolarsError):
        return reuse  # a damaged or missing memo (or output) only costs the full run
    if calls is not None:
        if "parent_id" not in calls.columns:
            return reuse
        calls = as_cache_hits(calls.filter(pl.col("parent_id").is_in(parents)))
    reuse.todo, reuse.kept, reuse.calls = frame.filter(~known), kept, calls
    return reuse


def _same_step(planned: PlannedStep, entry: LockEntry) -> bool:
    return (
        entry.kind == planned.kind
        and entry.config_fingerprint == planned.config_fingerprint
        and list(entry.upstream) == list(planned.inputs)
        and len(planned.inputs) == 1
    )


def as_cache_hits(calls: pl.DataFrame) -> pl.DataFrame:
    """`_calls` records as a re-run answered from the cache records them."""
    import polars as pl

    hits = {"cached": True, "attempts": 0, "latency_s": 0.0, "queued_s": 0.0, "batch_id": None}
    schema = calls.schema
    return calls.with_columns(
        pl.lit(value, dtype=schema[name]).alias(name)
        for name, value in hits.items()
        if name in schema
    )


def merge(reuse: Reuse, fresh: pl.DataFrame) -> pl.DataFrame | None:
    """The kept rows and the rows the kind made, in input order (each input row's rows
    together, as a full run orders them); None when their columns differ."""
    import polars as pl

    kept = reuse.kept
    if kept is None:
        return fresh
    if fresh.height and fresh.schema != kept.schema:
        return None
    order = pl.DataFrame({"_parent_id": reuse.inputs.get_column("_id")}).with_row_index("__at")
    merged = pl.concat([kept, fresh]) if fresh.height else kept
    merged = merged.join(order, on="_parent_id", how="left", maintain_order="left")
    return merged.sort("__at", maintain_order=True).drop("__at")


def memo(reuse: Reuse, failures: pl.DataFrame | None) -> pl.DataFrame | None:
    """The input rows this build completed (none failed), for the next build; None when
    a failure does not say which input row it belongs to."""
    import polars as pl

    ids = reuse.inputs.get_column("_id")
    done = pl.DataFrame({"input_hash": reuse.hashes, "_id": ids})
    if failures is None or failures.height == 0:
        return done
    if "parent_id" not in failures.columns:
        return None
    return done.filter(~pl.col("_id").is_in(failures.get_column("parent_id").implode()))
