"""What a running step sees: `ExecStepContext`, the executor's implementation of
`synthc.steps.StepContext` (inputs, private DuckDB, seeded randomness, the LLM client,
auxiliary tables), and `finish_frame`, which adds lineage columns to a step's rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthc.plan.model import Plan, PlannedStep
from synthc.progress import NullReporter, Reporter

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from synthc.llm.calls import Budget
    from synthc.plan.model import CallEstimate
    from synthc.recipe.load import Recipe
    from synthc.steps.kind import StepLLM
    from synthc.store.store import Store


@dataclass
class ExecStepContext:
    """The executor's StepContext: what a running step sees (see synthc.steps.StepContext).

    Steps report model-call failures by emitting a `_failures` table (or setting
    `failures`); a step with failures stays stale, so the next build retries it. `stats`
    (calls, cache_hits, tokens, cost_usd...) lands in the lock entry as written.
    """

    name: str
    kind: str
    config: Mapping[str, Any]
    recipe: Recipe
    inputs: Mapping[str, pl.DataFrame]
    reporter: Reporter
    llm: StepLLM | None
    fingerprint: str  # this run's full step fingerprint
    model: str | None = None
    # params for calls to each other model the step names (teacher, judge, ...), layered
    # by the compiler: the step reads them, never layers them again
    model_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    refresh: bool = False  # bypass the LLM cache for this step
    map_blocks: Any = None  # where block work runs (see StepContext); None: here
    group_pairs: Any = None  # how band keys become candidate pairs (see StepContext)
    emitted: dict[str, pl.DataFrame] = field(default_factory=dict)
    failures: int = 0
    stats: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        plan: Plan,
        planned: PlannedStep,
        ctx: BuildContext,
        upstream: Mapping[str, str],
        fingerprint: str,
    ) -> ExecStepContext:
        """A context whose inputs are the upstream outputs this build fingerprinted."""
        import polars as pl

        inputs = {
            name: pl.read_parquet(ctx.store.step_path(name, version))
            for name, version in upstream.items()
        }
        return cls(
            name=planned.name,
            kind=planned.kind,
            config=planned.config,
            recipe=plan.recipe,
            inputs=inputs,
            reporter=ctx.reporter,
            llm=ctx.llm,
            fingerprint=fingerprint,
            model=planned.model,
            model_params=planned.model_params,
            refresh=ctx.refresh,
            map_blocks=ctx.map_blocks,
            group_pairs=ctx.group_pairs,
        )

    def input(self) -> pl.DataFrame:
        if len(self.inputs) != 1:
            raise ValueError(
                f"step '{self.name}' needs exactly one input (`from:`), it has {len(self.inputs)}"
            )
        return next(iter(self.inputs.values()))

    def sql(self, query: str, tables: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
        """Run DuckDB SQL over `tables` in a private in-memory database.

        Relative file paths in the query resolve against the recipe folder (DuckDB's
        `file_search_path`), not the shell's working directory. One thread: DuckDB's
        parallel operators may emit rows in a different order each run, and row order is
        part of a step's data version, so a parallel plan would defeat early cutoff.
        The query is checked to be one read-only SELECT again here, where DuckDB is
        loaded anyway: the load-time check may have been answered by `sql-checks.json`.
        """
        import duckdb

        from synthc.recipe.sqlcheck import statement_problem

        if problem := statement_problem(query):
            raise ValueError(f"the SQL {problem}")
        con = duckdb.connect(":memory:")
        try:
            con.execute("set threads = 1")
            con.execute(f"set file_search_path = '{_sql_literal(str(self.recipe.root))}'")
            for table, frame in tables.items():
                con.register(table, frame)
            relation = con.sql(query)
            if relation is None:
                raise ValueError("the query returns no rows; it must be a SELECT")
            return relation.pl()
        finally:
            con.close()

    def resolve_path(self, path: str) -> Path:
        return (self.recipe.root / path).absolute()

    def rng(self, *keys: Any) -> np.random.Generator:
        import numpy as np

        from synthc.fingerprint import fingerprint

        seed = fingerprint([self.recipe.seed, self.name, list(keys)])
        return np.random.default_rng(int(seed[:32], 16))

    def emit(self, table: str, frame: pl.DataFrame) -> None:
        """Record an auxiliary table; emitting the same table twice appends the rows."""
        import polars as pl

        if not table.startswith("_") or not table[1:].replace("_", "").isalnum():
            raise ValueError(f"emitted table name '{table}' must look like _calls or _failures")
        if table in self.emitted:
            frame = pl.concat([self.emitted[table], frame], how="diagonal_relaxed")
        self.emitted[table] = frame

    def failure_count(self) -> int:
        emitted = self.emitted.get("_failures")
        return max(self.failures, emitted.height if emitted is not None else 0)


def _sql_literal(text: str) -> str:
    return text.replace("'", "''")


def finish_frame(step: str, frame: Any) -> pl.DataFrame:
    """Check a step's output and give every row an `_id` (first column) if it has none."""
    import polars as pl

    from synthc.rows import content_row_ids

    if not isinstance(frame, pl.DataFrame):
        raise TypeError(f"the step returned {type(frame).__name__}, not a polars DataFrame")
    if "_id" not in frame.columns:
        frame = frame.with_columns(content_row_ids(frame, salt=step))
    return frame.select("_id", pl.exclude("_id"))


@dataclass
class BuildContext:
    """What a build may touch. The CLI builds one; tests build their own.

    `select` holds selectors: "step", "step+" (with its descendants), "+step" (with its
    ancestors), "+step+". Empty selects every step. `force` re-runs the selected steps
    even when fresh (their model calls still hit the cache); `refresh` re-runs them too,
    and tells the steps (`ctx.refresh`) to bypass the LLM cache. `budget` is the one
    `llm` spends from (the run log records what this build spent); `estimates` are the
    plan's call estimates, recorded per step beside what the step did (`_run_steps`).
    With `estimate_steps`, a model-calling step without one gets it as the build reaches
    it (`synthc.execute.estimate.estimated_as_built`), over the inputs it runs on.
    """

    store: Store
    reporter: Reporter = field(default_factory=NullReporter)
    llm: StepLLM | None = None
    budget: Budget | None = None
    estimates: Mapping[str, CallEstimate] = field(default_factory=dict)
    estimate_steps: bool = False
    select: Sequence[str] = ()
    force: bool = False
    refresh: bool = False
    wait_for_lock: bool = False
    map_blocks: Any = None  # the Ray executor's block map with `engine: ray`
    group_pairs: Any = None  # its shuffle of LSH band keys into candidate pairs


@dataclass
class BuildResult:
    """What a build did: the steps it ran and skipped, rows per step, failed rows."""

    built: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    failures: int = 0
    gate_failures: list[str] = field(default_factory=list)  # steps an error-level check failed
    blocked: list[str] = field(default_factory=list)  # not run: an upstream step failed a gate
    exit_code: int = 0
    seconds: float = 0.0
    # built step -> what its model calls did: calls made, cache hits, tokens, usd
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    # built step -> the estimate made as the build reached it (`BuildContext.estimate_steps`)
    estimates: dict[str, CallEstimate] = field(default_factory=dict)

    @property
    def calls_made(self) -> int:
        return sum(int(figures["calls"]) for figures in self.calls.values())

    @property
    def cache_hits(self) -> int:
        return sum(int(figures["cache_hits"]) for figures in self.calls.values())
