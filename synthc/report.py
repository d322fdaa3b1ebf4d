"""The quality report: what a build produced, what it removed and why, what it cost,
and whether its gates passed.

`build_report(recipe, store)` gathers everything into a `Report` of plain frozen data
(the only function here that reads the store); `render_html` (synthc.report_html) and
`render_summary` turn it into one self-contained HTML page and a terminal summary;
`write_report` writes the page to `.synthc/report.html`. Example::

    recipe = load_recipe("recipe.yaml")
    report = build_report(recipe, Store.for_recipe(recipe))
    print(render_summary(report))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthc.lock import LockEntry, LockState, atomic_write_text
from synthc.report_html import render_html

if TYPE_CHECKING:
    import polars as pl

    from synthc.recipe import Recipe
    from synthc.store import Store

__all__ = [
    "GateResult",
    "Plot",
    "Removal",
    "RemovalGroup",
    "Report",
    "Series",
    "StepReport",
    "TextMetrics",
    "build_report",
    "render_html",
    "render_summary",
    "report_recipe",
    "write_report",
]

EXAMPLES_PER_REASON = 3
PREVIEW_CHARS = 160
PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass(frozen=True)
class Removal:
    """One removed row, as the report shows it."""

    row_id: str
    text: str  # a preview of the row's text columns
    detail: str = ""  # e.g. "similarity 0.83 to 3f2a…: <its text>"


@dataclass(frozen=True)
class RemovalGroup:
    """Rows a step removed (or lost) for one reason, with a few examples."""

    reason: str
    count: int
    examples: tuple[Removal, ...] = ()


@dataclass(frozen=True)
class StepReport:
    """One step of the recipe and what its last build produced."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    description: str | None = None
    status: str = "missing"  # fresh | stale | missing, against the recipe as it is now
    stale_reason: str | None = None
    rows: int | None = None  # None: never built
    rows_in: int | None = None  # rows of the `from:` steps, for steps that remove rows
    removed: int | None = None
    removals: tuple[RemovalGroup, ...] = ()
    seconds: float = 0.0
    model: str | None = None
    calls: int = 0  # model calls sent (cache misses)
    cache_hits: int = 0  # requests answered from the cache
    tokens: int = 0
    cost_usd: float = 0.0
    failures: int = 0
    built_at: str = ""

    @property
    def hit_rate(self) -> float | None:
        """Share of model requests answered from the cache; None for steps that made none."""
        return _rate(self.cache_hits, self.calls)


@dataclass(frozen=True)
class GateResult:
    """A quality gate's outcome, as recorded in the lock."""

    step: str
    kind: str
    severity: str  # error | warn
    status: str  # pass | warn | fail
    figure: float | None = None
    threshold: str = ""
    message: str = ""
    column: str | None = None
    examples: tuple[str, ...] = ()  # previews of failing rows
    details: tuple[tuple[str, float], ...] = ()  # secondary figures (e.g. length_jsd)


@dataclass(frozen=True)
class TextMetrics:
    """Headline metrics of one text column of a final step (see synthc.report_metrics)."""

    step: str
    column: str
    rows: int
    figures: tuple[tuple[str, float], ...]  # (metric name, value) in METRIC_NAMES order
    reference: str | None = None  # the reference the divergences are measured against


@dataclass(frozen=True)
class Series:
    """One named sequence of values over a plot's bins (shares of rows, 0..1)."""

    label: str
    values: tuple[float, ...]
    total: int  # rows behind the shares


@dataclass(frozen=True)
class Plot:
    """Bars over labelled bins.

    kind: "histogram" (ordered bins, values are shares of rows), "counts" (ordered bins,
    values are row counts) or "bars" (categories, values are shares of rows).
    """

    key: str  # stable id, e.g. "length-final-instruction"
    title: str
    caption: str
    x_label: str
    bins: tuple[str, ...]
    series: tuple[Series, ...]
    kind: str = "histogram"


@dataclass(frozen=True)
class Report:
    """Everything the report shows, as plain data; rendering reads nothing else."""

    recipe_name: str
    recipe_path: str
    recipe_text: str
    steps: tuple[StepReport, ...]
    gates: tuple[GateResult, ...] = ()
    plots: tuple[Plot, ...] = ()
    metrics: tuple[TextMetrics, ...] = ()
    exports: tuple[tuple[str, str], ...] = ()  # (step, path as written)
    models: tuple[str, ...] = ()
    built_at: str = ""
    last_run: Mapping[str, Any] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        return sum(s.calls for s in self.steps)

    @property
    def cache_hits(self) -> int:
        return sum(s.cache_hits for s in self.steps)

    @property
    def tokens(self) -> int:
        return sum(s.tokens for s in self.steps)

    @property
    def cost_usd(self) -> float:
        return sum(s.cost_usd for s in self.steps)

    @property
    def hit_rate(self) -> float | None:
        return _rate(self.cache_hits, self.calls)

    @property
    def rows_removed(self) -> int:
        """Rows filters and dedup removed, plus rows rejected or lost by generating steps."""
        return sum(
            max(step.removed, 0)
            if step.removed is not None
            else sum(g.count for g in step.removals)
            for step in self.steps
        )

    def gate_counts(self) -> dict[str, int]:
        """How many gates passed, warned and failed."""
        counts = {PASS: 0, WARN: 0, FAIL: 0}
        for gate in self.gates:
            counts[gate.status] = counts.get(gate.status, 0) + 1
        return counts


def _rate(hits: int, misses: int) -> float | None:
    return hits / (hits + misses) if hits + misses else None


# -- building -----------------------------------------------------------------------


def build_report(recipe: Recipe, store: Store) -> Report:
    """Gather a recipe's last build into a `Report`: steps, removals, cost, gates, plots.

    Reads the lock and the catalog (read-only); never runs a step or calls a model.
    Steps not built yet appear with `rows=None`. Example::

        report = build_report(recipe, Store.for_recipe(recipe))
        print(report.gate_counts())
    """
    from synthc.report_gates import gate_results
    from synthc.report_plots import build_figures

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
        recipe_text=recipe.path.read_text(encoding="utf-8"),
        steps=steps,
        gates=gates,
        plots=figures.plots,
        metrics=figures.metrics,
        exports=tuple((step, path) for step, paths in recipe.exports.items() for path in paths),
        models=tuple(sorted({e.model for e in lock.steps.values() if e.model})),
        built_at=max(built, default=""),
        last_run=_last_run(store, tables),
    )


def _plan_status(
    recipe: Recipe, store: Store, lock: LockState
) -> tuple[list[str], dict[str, tuple[str, str | None]]]:
    """Steps in plan order with their status; file order when the recipe cannot compile."""
    from synthc.errors import SynthcError
    from synthc.plan import compile_plan

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


def preview(row: Mapping[str, Any], columns: Sequence[str] | None = None) -> str:
    """A one-line preview of a row's user columns (nulls left out), cut to PREVIEW_CHARS.

    Asked for one column, it is that column's value; otherwise `name: value` pairs.
    """
    names = [
        c
        for c in (columns or row.keys())
        if c in row and not str(c).startswith("_") and row[c] is not None
    ]
    if columns is not None and len(columns) == 1 and names:
        text = _cell(row[names[0]])
    else:
        text = " · ".join(f"{name}: {_cell(row[name])}" for name in names)
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def _cell(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


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
        from synthc.report_removals import removals

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
            **self.call_stats(name, entry),
        )

    def call_stats(self, name: str, entry: LockEntry) -> dict[str, Any]:
        """Calls sent, cache hits, tokens and cost: the lock's stats, else `_calls`."""
        stats = dict(entry.stats)
        if not stats and "_calls" in self.tables:
            frame = self.frame(
                "select count(*) filter (where not cached) as calls, "
                "count(*) filter (where cached) as cache_hits, "
                "coalesce(sum(prompt_tokens), 0) as prompt_tokens, "
                "coalesce(sum(completion_tokens), 0) as completion_tokens, "
                "coalesce(sum(cost_usd) filter (where not cached), 0) as cost_usd "
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
        }

    def frame(self, sql: str) -> pl.DataFrame:
        return self.store.query_frame(sql)

    def rows(self, name: str) -> int | None:
        entry = self.lock.steps.get(name)
        return entry.rows if entry is not None else None


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _name(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


# -- terminal summary ---------------------------------------------------------------


def render_summary(report: Report) -> str:
    """A short plain-text summary for the terminal: steps, removals, cost, cache, gates."""
    header = ("step", "kind", "rows", "removed", "calls", "cache hit", "cost", "status")
    lines = [header]
    for step in report.steps:
        lines.append(
            (
                step.name,
                step.kind,
                _count(step.rows),
                _count(step.removed) if step.removed else "-",
                str(step.calls) if step.hit_rate is not None else "-",
                _percent(step.hit_rate),
                f"${step.cost_usd:.4f}" if step.hit_rate is not None else "-",
                step.status,
            )
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    table = [
        "  ".join(
            c.ljust(w) if i in (0, 1, len(header) - 1) else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in lines
    ]
    return "\n".join([f"{report.recipe_name}: {_built(report)}", "", *table, "", *_footer(report)])


def _footer(report: Report) -> list[str]:
    counts = report.gate_counts()
    lines = [
        f"cost ${report.cost_usd:.4f} · {report.calls:,} calls sent · "
        f"{report.cache_hits:,} from cache ({_percent(report.hit_rate)}) · {report.tokens:,} tokens",
        f"gates: {counts[PASS]} pass · {counts[WARN]} warn · {counts[FAIL]} fail",
    ]
    for gate in report.gates:
        if gate.status != PASS:
            figure = "" if gate.figure is None else f" {number(gate.figure)}"
            limit = f" ({gate.threshold})" if gate.threshold else ""
            message = f": {gate.message}" if gate.message else ""
            lines.append(f"  {gate.status.upper()} {gate.step} {gate.kind}{figure}{limit}{message}")
    return lines


def number(value: Any) -> str:
    """A figure as the report prints it: floats to 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _built(report: Report) -> str:
    if not report.built_at:
        return "not built yet; run `synthc build`"
    return f"built {report.built_at}"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def write_report(recipe: Recipe, store: Store | None = None, out_path: Path | None = None) -> Path:
    """Build the report and write its HTML atomically; return the path written.

    The default path is `.synthc/report.html` next to the recipe. Example::

        path = write_report(load_recipe("recipe.yaml"))
    """
    from synthc.store import Store

    store = store or Store.for_recipe(recipe)
    return _write_html(build_report(recipe, store), store, out_path)


def _write_html(report: Report, store: Store, out_path: str | Path | None) -> Path:
    target = Path(out_path) if out_path is not None else store.workdir / "report.html"
    atomic_write_text(target, render_html(report))
    return target


def report_recipe(path: str | Path, out_path: str | Path | None = None) -> tuple[Path, str]:
    """`synthc report R`: write the recipe's HTML report; return its path and the summary.

    Reads only the lock and the store (never builds). Example::

        page, summary = report_recipe("recipes/quickstart.yaml")
        print(summary)
    """
    from synthc.recipe import load_recipe
    from synthc.store import Store

    recipe = load_recipe(path)
    store = Store.for_recipe(recipe)
    report = build_report(recipe, store)
    return _write_html(report, store, out_path), render_summary(report)
