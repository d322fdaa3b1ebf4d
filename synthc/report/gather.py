"""The quality report: what a build produced, what it removed and why, what it cost,
and whether its gates passed.

`build_report(recipe, store)` gathers everything into a `Report` of plain frozen data
(the only function here that reads the store); `render_html` (synthc.report.html) and
`render_summary` (synthc.report.summary) turn it into one self-contained HTML page and a
terminal summary; `write_report` (synthc.report.write) writes the page to
`.synthc/<recipe>/report.html`. Example::

    recipe = load_recipe("recipe.yaml")
    report = build_report(recipe, Store.for_recipe(recipe))
    print(render_summary(report))
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from synthc.report.model import (
    SAMPLE_ROWS,
    PlanVsActual,
    Report,
    StepReport,
    _lit,
    _name,
    preview,
    redact_recipe,
    shown_recipe,
)
from synthc.store.lock import LockEntry, LockState

if TYPE_CHECKING:
    import polars as pl

    from synthc.recipe.load import Recipe
    from synthc.store.store import Store


# -- building -----------------------------------------------------------------------


def build_report(recipe: Recipe, store: Store) -> Report:
    """Gather a recipe's last build into a `Report`: steps, removals, cost, gates, plots.

    Reads the lock and the catalog (read-only); never runs a step or calls a model.
    Steps not built yet appear with `rows=None`. Example::

        report = build_report(recipe, Store.for_recipe(recipe))
        print(report.gate_counts())
    """
    from synthc.report.gates import gate_results
    from synthc.report.judges import judge_statistics
    from synthc.report.plots import build_figures
    from synthc.report.privacy import balance_plots, privacy_flags

    lock = store.read_lock()
    order, status = _plan_status(recipe, store, lock)
    tables = _catalog_tables(store) if lock.steps else set()
    reader = _Reader(recipe, store, lock, tables)
    steps = tuple(reader.step(name, *status.get(name, ("missing", None))) for name in order)
    gates = tuple(
        gate
        for name in order
        for gate in gate_results(name, lock.steps.get(name), recipe.steps[name].checks)
    )
    built = [e.built_at for e in lock.steps.values() if e.built_at]
    figures = build_figures(recipe, store, lock, tables)
    return Report(
        recipe_name=recipe.name,
        recipe_path=str(recipe.path),
        recipe_text=redact_recipe(shown_recipe(recipe)),
        steps=steps,
        gates=gates,
        plots=figures.plots,
        metrics=figures.metrics,
        exports=tuple(
            (step, export.path) for step, exports in recipe.exports.items() for export in exports
        ),
        privacy=privacy_flags(recipe, store, tables),
        balance=tuple(balance_plots(recipe, store, tables)),
        judges=judge_statistics(recipe, store, tables),
        models=tuple(sorted({e.model for e in lock.steps.values() if e.model})),
        built_at=max(built, default=""),
        last_run=_last_run(store, tables),
        plan_vs_actual=_plan_vs_actual(store, tables, order),
    )


def _plan_status(
    recipe: Recipe, store: Store, lock: LockState
) -> tuple[list[str], dict[str, tuple[str, str | None]]]:
    """Steps in plan order with their status; file order when the recipe cannot compile."""
    from synthc.errors import SynthcError
    from synthc.plan.compile import compile_plan

    try:
        plan = compile_plan(recipe, lock, output_exists=lambda s, v: store.step_path(s, v).exists())
    except SynthcError:
        return list(recipe.steps), {}
    return list(plan.names), {p.name: (p.status, p.stale_reason) for p in plan.steps}


def _catalog_tables(store: Store) -> set[str]:
    frame = store.query_frame("select table_name from information_schema.tables")
    return set(frame.get_column("table_name").to_list()) if frame.height else set()


def _last_run(store: Store, tables: set[str]) -> dict[str, Any]:
    if "_runs" not in tables:
        return {}
    frame = store.query_frame(
        "select * from _runs where finished_at is not null order by finished_at desc limit 1"
    )
    if not frame.height:
        return {}
    row = frame.row(0, named=True)
    keep = ("started_at", "finished_at", "status", "exit_code", "seconds", "gate_failures")
    return {key: row[key] for key in keep if key in row and row[key] is not None}


def _plan_vs_actual(store: Store, tables: set[str], order: list[str]) -> tuple[PlanVsActual, ...]:
    """Each step's latest `_run_steps` record (the last build that ran it), in plan order."""
    if "_run_steps" not in tables:
        return ()
    frame = store.query_frame(
        "select * from _run_steps where step is not null "
        "qualify row_number() over (partition by step order by recorded_at desc) = 1"
    )
    latest = {row["step"]: row for row in frame.iter_rows(named=True)}
    return tuple(_plan_vs_actual_row(name, latest[name]) for name in order if name in latest)


def _plan_vs_actual_row(step: str, row: dict[str, Any]) -> PlanVsActual:
    planned = {name: row[name] for name in PLANNED_FIELDS}
    return PlanVsActual(
        step=step,
        run=str(row["run"] or ""),
        **planned,
        calls=int(row["calls"] or 0),
        cache_hits=int(row["cache_hits"] or 0),
        tokens=int(row["tokens"] or 0),
        usd=float(row["usd"] or 0.0),
    )


PLANNED_FIELDS = ("planned_calls", "planned_calls_max", "planned_tokens", "planned_tokens_max",
                  "planned_usd", "planned_usd_max", "planned_usd_expected")  # fmt: skip


class _Reader:
    """Reads one step's figures and removals from the lock and the catalog."""

    def __init__(self, recipe: Recipe, store: Store, lock: LockState, tables: set[str]) -> None:
        self.recipe, self.store, self.lock, self.tables = recipe, store, lock, tables
        self.root = recipe.root

    def step(self, name: str, status: str, reason: str | None) -> StepReport:
        step = self.recipe.steps[name]
        entry = self.lock.steps.get(name)
        base = StepReport(
            name=name,
            kind=step.kind,
            inputs=step.inputs,
            description=step.description,
            status=status,
            stale_reason=reason,
        )
        if entry is None or name not in self.tables:
            return base
        from synthc.report.removals import removals

        rows_in, groups = removals(self, name, step.kind, step.inputs, step.config)
        removed = rows_in - entry.rows if rows_in is not None else None
        return replace(
            base,
            rows=entry.rows,
            rows_in=rows_in,
            removed=removed,
            removals=groups,
            seconds=entry.seconds,
            model=entry.model,
            failures=entry.failures,
            built_at=entry.built_at,
            samples=() if self.withheld(name) else self.samples(name),
            samples_withheld=self.withheld(name),
            **self.call_stats(name, entry),
        )

    def withheld(self, name: str) -> bool:
        """Rows of a private seed reach the step and no privacy gate of its own vets
        them: its rows are not shown (the report is as public as the card)."""
        from synthc.plan.checks import private_sources

        step = self.recipe.steps[name]
        vetted = any(check.kind == "privacy" for check in step.checks)
        return bool(private_sources(self.recipe, name)) and not vetted

    def samples(self, name: str) -> tuple[str, ...]:
        """Previews of the step's first rows, in its stored order; rows its privacy gate
        flagged are never shown (as they are never exported)."""
        flagged = (
            f"where _id not in (select output_id from _privacy_matches where _step = {_lit(name)}) "
            if "_privacy_matches" in self.tables
            else ""
        )
        frame = self.frame(f"select * from {_name(name)} {flagged}limit {SAMPLE_ROWS}")
        return tuple(preview(row) for row in frame.iter_rows(named=True))

    def call_stats(self, name: str, entry: LockEntry) -> dict[str, Any]:
        """Calls sent, cache hits, tokens and cost: the lock's stats, else `_calls`."""
        stats = dict(entry.stats)
        if not stats and "_calls" in self.tables:
            frame = self.frame(
                "select count(*) filter (where not cached) as calls, "
                "count(*) filter (where cached) as cache_hits, "
                "coalesce(sum(prompt_tokens), 0) as prompt_tokens, "
                "coalesce(sum(completion_tokens), 0) as completion_tokens, "
                "coalesce(sum(cost_usd) filter (where not cached), 0) as cost_usd, "
                f"{self.truncated_count} as truncated "
                f"from _calls where _step = {_lit(name)}"
            )
            stats = frame.row(0, named=True) if frame.height else {}
        tokens = stats.get("tokens")
        if tokens is None:
            tokens = int(stats.get("prompt_tokens") or 0) + int(stats.get("completion_tokens") or 0)
        return {
            "calls": int(stats.get("calls") or 0),
            "cache_hits": int(stats.get("cache_hits") or 0),
            "tokens": int(tokens or 0),
            "cost_usd": float(stats.get("cost_usd") or 0.0),
            "truncated": int(stats.get("truncated") or 0),
        }

    @property
    def truncated_count(self) -> str:
        """SQL counting `_calls` rows cut at max_tokens; 0 where no build recorded
        `finish_reason` (steps built before it was a column)."""
        columns = self.frame("select * from _calls limit 0").columns
        return (
            "count(*) filter (where finish_reason = 'length')"
            if "finish_reason" in columns
            else "0"
        )

    def frame(self, sql: str) -> pl.DataFrame:
        return self.store.query_frame(sql)

    def rows(self, name: str) -> int | None:
        entry = self.lock.steps.get(name)
        return entry.rows if entry is not None else None


# -- terminal summary ---------------------------------------------------------------
