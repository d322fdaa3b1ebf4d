"""Run a plan: walk its steps in order, skip what is fresh, run what is stale.

    for each selected step, in topological order:
        fingerprint = hash(config fingerprint, upstream data versions *as of this build*)
        fresh (same fingerprint, output on disk, no failed rows)?  -> skip
        else run the kind -> data version -> Parquet -> lock entry -> catalog

Upstream data versions come from this build when the upstream step re-ran, so a re-run
step whose rows did not change leaves its children fresh (early cutoff). Each step's
output is on disk before the lock names it, so a build killed at any instant resumes
from the last finished step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from synthc.errors import (
    BatchPending,
    DataFileError,
    DiskFull,
    EnvironmentFailure,
    PlanError,
    StepFailed,
    SynthcError,
)
from synthc.execute.context import BuildContext, BuildResult, ExecStepContext, finish_frame
from synthc.execute.gates import (
    GATE_TABLES,
    checks_frame,
    evaluate_gates,
    gate_references,
    report_gates,
)
from synthc.plan.checks import checks_current
from synthc.plan.model import FRESH, Plan, PlannedStep, step_fingerprint
from synthc.store.lock import LockEntry, LockState
from synthc.store.store import Store

if TYPE_CHECKING:
    import polars as pl

    from synthc.execute.reuse import Reuse
    from synthc.plan.model import CallEstimate


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def build(plan: Plan, ctx: BuildContext) -> BuildResult:
    """Build the stale selected steps of `plan` into `ctx.store`. Example::

        recipe = load_recipe("recipe.yaml")
        store = Store.for_recipe(recipe)
        plan = compile_plan(recipe, store.read_lock())
        result = build(plan, BuildContext(store=store, reporter=ConsoleReporter()))

    Raises StepFailed naming the step that raised (steps finished before it stay built)
    and BuildLocked when another build holds the workdir.
    """
    selected = select_steps(plan, ctx.select)
    started_at, clock = _now(), time.perf_counter()
    result = BuildResult()
    with ctx.store.build_lock(wait=ctx.wait_for_lock):
        ctx.store.remove_temp_files()
        status, error = "failed", None
        try:
            _run_steps(plan, ctx, selected, result)
            status = "ok"
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                status = "interrupted"
            elif isinstance(exc, BatchPending):
                status = "pending"  # calls wait in provider batches; the next build collects
            error = str(exc) if isinstance(exc, SynthcError) else f"{type(exc).__name__}: {exc}"
            raise
        finally:
            result.seconds = round(time.perf_counter() - clock, 3)
            clean = status == "ok" and not result.failures and not result.gate_failures
            result.exit_code = 0 if clean else 1
            first_run = not ctx.store.runs_path.exists()
            spend = ctx.budget.this_build() if ctx.budget is not None else None
            _record_run(ctx, started_at, status, result, error, spend)
            # Once per build, after the steps and the run log (`_runs` needs runs.jsonl):
            # per step it cost more than the steps of a small change.
            if first_run or not ctx.store.catalog_current():
                ctx.store.refresh_catalog()
    return result


def _record_run(
    ctx: BuildContext,
    started_at: str,
    status: str,
    result: BuildResult,
    error: str | None,
    spend: Mapping[str, float] | None,
) -> None:
    ctx.store.append_run(
        {
            "spend": dict(spend) if spend else None,  # model calls sent, tokens, usd
            "started_at": started_at,
            "finished_at": _now(),
            "status": status,
            "built": result.built,
            "skipped": result.skipped,
            "failures": result.failures,
            "gate_failures": result.gate_failures,
            "exit_code": result.exit_code,
            "seconds": result.seconds,
            "error": error,
        },
        _plan_vs_actual({**ctx.estimates, **result.estimates}, result),
    )


def _plan_vs_actual(
    estimates: Mapping[str, CallEstimate], result: BuildResult
) -> list[dict[str, Any]]:
    """Per built step with model calls: the plan's estimate beside what the step did."""
    records = []
    for name in result.built:
        did, estimate = result.calls.get(name), estimates.get(name)
        if did is None and estimate is None:
            continue
        planned = {} if estimate is None else {
            "planned_cached": estimate.cached,
            "planned_calls": estimate.to_make, "planned_calls_max": estimate.to_make_max,
            "planned_tokens": estimate.tokens, "planned_tokens_max": estimate.tokens_max,
            "planned_usd": estimate.usd, "planned_usd_max": estimate.usd_max,
            "planned_tokens_expected": estimate.tokens_expected,
            "planned_usd_expected": estimate.usd_expected,
            "planned_note": estimate.note,
        }  # fmt: skip
        records.append({"step": name, **planned, **(did or NO_CALLS)})
    return records


TOKEN_COLUMNS = ("prompt_tokens", "completion_tokens")
NO_CALLS = {"calls": 0, "cache_hits": 0, "tokens": 0, "usd": 0.0}


def call_figures(step_ctx: ExecStepContext) -> dict[str, Any] | None:
    """What a step's model calls did, from its `_calls` table: calls made (each call
    key sent at least once), cache hits, and the tokens and dollars of the calls made."""
    import polars as pl

    calls = step_ctx.emitted.get("_calls")
    if calls is None:
        return None
    # A step's rows with the same prompt share one call: each appears in `_calls`.
    made = calls.filter(~pl.col("cached") & (pl.col("attempts") > 0)).unique(
        "call_key", keep="first", maintain_order=True
    )
    tokens = sum(int(made.get_column(name).sum() or 0) for name in TOKEN_COLUMNS)
    return {
        "calls": made.height,
        "cache_hits": int(calls.get_column("cached").sum()),
        "tokens": tokens,
        "usd": round(float(made.get_column("cost_usd").fill_null(0.0).sum()), 8),
    }


def describe_calls(figures: Mapping[str, Any]) -> str:
    """ "100 calls made, 10000 from cache" """
    return f"{figures['calls']} calls made, {figures['cache_hits']} from cache"


def _run_steps(plan: Plan, ctx: BuildContext, selected: set[str], result: BuildResult) -> None:
    store = ctx.store
    previous = store.read_lock()
    state = _prune(previous, plan)
    if plan.file_hints != state.file_hints:  # size/mtime hints: the next plan skips re-hashing
        state = replace(state, file_hints=dict(plan.file_hints))
    if state != previous:
        store.write_lock(state)
    versions: dict[str, str] = {}  # step -> data version its children read in this build
    blocked: dict[str, str] = {}  # step -> why it may not run (a gate failed upstream)
    for planned in plan.steps:
        name, entry = planned.name, state.steps.get(planned.name)
        if name not in selected:
            if entry is not None and store.has_step(name, entry):
                versions[name] = entry.data_version
            continue
        stop = next((blocked[up] for up in planned.inputs if up in blocked), None)
        if stop is not None:
            ctx.reporter.warning(f"{name}: not run: {stop}")
            blocked[name] = stop
            result.blocked.append(name)
            continue
        entry = _settle(plan, planned, ctx, entry, versions, result)
        if entry is not state.steps.get(name):
            state = replace(state, steps={**state.steps, name: entry})
            store.write_lock(state)
        versions[name] = entry.data_version
        result.rows[name] = entry.rows
        if report_gates(ctx.reporter, name, entry.checks, quiet_pass=name in result.skipped):
            result.gate_failures.append(name)
            blocked[name] = f"'{name}' failed an error-level check"


def _settle(
    plan: Plan,
    planned: PlannedStep,
    ctx: BuildContext,
    entry: LockEntry | None,
    versions: Mapping[str, str],
    result: BuildResult,
) -> LockEntry:
    """Skip, re-gate or run one selected step; return its (possibly new) lock entry."""
    upstream = _upstream_versions(planned, versions, ctx.select)
    fingerprint = step_fingerprint(planned.config_fingerprint, upstream)
    rerun = ctx.force or ctx.refresh  # refreshing the cache of a step that does not run is moot
    if entry is not None and not rerun and _is_fresh(ctx.store, planned, entry, fingerprint):
        result.skipped.append(planned.name)
        if checks_current(planned, entry, versions, plan.recipe):
            ctx.reporter.step_skipped(planned.name, f"fresh ({entry.rows} rows)")
            return entry
        return _regate(plan, planned, ctx, entry, versions)  # only the checks changed
    entry = _run_one(plan, planned, ctx, entry, upstream, fingerprint, versions, result)
    result.built.append(planned.name)
    result.failures += entry.failures
    return entry


def _prune(state: LockState, plan: Plan) -> LockState:
    """Drop lock entries of steps no longer in the plan (their Parquet stays until gc)."""
    names = {planned.name for planned in plan.steps}
    if all(name in names for name in state.steps):
        return state
    kept = {name: entry for name, entry in state.steps.items() if name in names}
    return replace(state, steps=kept)


def _upstream_versions(
    planned: PlannedStep, versions: Mapping[str, str], selectors: Sequence[str]
) -> dict[str, str]:
    upstream: dict[str, str] = {}
    for name in planned.inputs:
        if name not in versions:
            hint = f"; select '+{planned.name}' to build it too" if selectors else ""
            raise StepFailed(planned.name, f"its input '{name}' has not been built{hint}")
        upstream[name] = versions[name]
    return upstream


def _is_fresh(store: Store, planned: PlannedStep, entry: LockEntry, fingerprint: str) -> bool:
    return (
        entry.fingerprint == fingerprint
        and entry.failures == 0
        and store.has_step(planned.name, entry)
    )


def _run_one(
    plan: Plan,
    planned: PlannedStep,
    ctx: BuildContext,
    previous: LockEntry | None,
    upstream: Mapping[str, str],
    fingerprint: str,
    versions: Mapping[str, str],
    result: BuildResult,
) -> LockEntry:
    """Run one step, gate it and persist it: Parquet first, then (by the caller) the lock
    and catalog. What its model calls did goes in `result.calls`. A row-local step runs
    only the input rows that changed since `previous` (`synthc.execute.reuse`)."""
    from synthc.steps import registry

    kind = registry().get(planned.kind)
    if kind is None or kind.run is None:
        raise StepFailed(planned.name, f"step kind '{planned.kind}' is not implemented yet")
    clock = time.perf_counter()
    ctx.reporter.step_started(planned.name, planned.kind)
    step_ctx = ExecStepContext.create(plan, planned, ctx, upstream, fingerprint)
    try:
        with _estimated(plan, planned, ctx, step_ctx, result) as kept:
            local = kind.row_local(planned.config)
            ran = _run_rows(ctx, planned, previous, step_ctx, kept) if local else kind.run(step_ctx)
            frame = finish_frame(planned.name, ran)
        references = gate_references(planned, ctx.store, versions, plan.recipe)
        checks = evaluate_gates(planned, step_ctx, frame, references, versions)
        if checks:
            step_ctx.emit("_checks", checks_frame(checks))
        version = ctx.store.write_step(planned.name, frame, step_ctx.emitted)
    except SynthcError as exc:
        if isinstance(exc, StepFailed | EnvironmentFailure | BatchPending):
            raise  # a full disk, a damaged cache or a pending batch: not the step's fault
        code = exc.exit_code if isinstance(exc, DataFileError) else 1  # the user's file: 2
        raise StepFailed(planned.name, str(exc), code) from exc
    except Exception as exc:
        if (full := DiskFull.check(ctx.store.workdir, exc)) is not None:
            raise full from exc
        raise StepFailed(planned.name, _describe(exc)) from exc
    seconds = round(time.perf_counter() - clock, 3)
    entry = _lock_entry(planned, step_ctx, upstream, fingerprint, version, frame, seconds)
    entry = replace(entry, checks=checks)
    summary = f"{frame.height} rows"
    if (figures := call_figures(step_ctx)) is not None:
        result.calls[planned.name] = figures
        summary += f"; {describe_calls(figures)}"
    ctx.reporter.step_finished(planned.name, summary)
    return entry


def _run_rows(
    ctx: BuildContext,
    planned: PlannedStep,
    previous: LockEntry | None,
    step_ctx: ExecStepContext,
    kept: Callable[[pl.DataFrame], None],
) -> pl.DataFrame:
    """A row-local step: the rows the last build made for unchanged input rows, and the
    kind run on the others; beside them, the memo the next build reuses rows by. `kept`
    is told the kept rows' calls (the build's estimate of the step counts them)."""
    from synthc.execute import reuse
    from synthc.steps import registry

    kind = registry()[planned.kind]
    assert kind.run is not None
    # --refresh and -B run every row; the memo they leave serves the next build
    last = None if ctx.force or ctx.refresh else previous
    split = reuse.prepare(ctx.store, planned, last, step_ctx.inputs)
    frame = None
    if split.kept is not None:
        _keep(step_ctx, split, kept)
        step_ctx.inputs = {split.input_name: split.todo}
        try:
            fresh = kind.run(step_ctx) if split.todo.height else split.kept.clear()
        finally:
            step_ctx.inputs = {split.input_name: split.inputs}
        # Tables beyond the calls' would cover only the rows run: a full run makes them whole.
        whole = set(step_ctx.emitted) <= {"_calls", "_failures"}
        frame = reuse.merge(split, fresh) if whole else None
        if frame is None:  # other columns than last time: run every row, as without a memo
            ctx.reporter.warning(f"{planned.name}: running every input row (could not keep any)")
            step_ctx.emitted.clear()
            step_ctx.stats.clear()
            step_ctx.failures = 0
    if frame is None:
        frame = kind.run(step_ctx)
    memo = reuse.memo(split, step_ctx.emitted.get("_failures"))
    if memo is not None:
        step_ctx.emitted[reuse.MEMO_TABLE] = memo
    return frame


def _keep(step_ctx: ExecStepContext, split: Reuse, told: Callable[[pl.DataFrame], None]) -> None:
    """Record the kept rows' calls as a re-run answered from the cache records them, and
    tell `told` (the build's estimate) about them."""
    from synthc.steps._methods import record_kept_calls

    calls, kept = split.calls, split.kept
    assert kept is not None
    step_ctx.reporter.message(
        f"{step_ctx.name}: {split.reused} of {split.inputs.height} input rows unchanged since "
        f"the last build; their {kept.height} rows kept, "
        f"{split.todo.height} input rows to run"
    )
    if calls is None or calls.height == 0:
        return
    record_kept_calls(step_ctx, calls)
    told(calls)


@contextmanager
def _estimated(
    plan: Plan,
    planned: PlannedStep,
    ctx: BuildContext,
    step_ctx: ExecStepContext,
    result: BuildResult,
) -> Iterator[Callable[[pl.DataFrame], None]]:
    """Around a step's run: with `ctx.estimate_steps`, the estimate `plan` would give a
    model-calling step it found stale, kept in `result.estimates` once the step has run
    (a fresh step re-run by --force or --refresh had none, as in `plan`). Yields what
    to tell the `_calls` of rows kept from the last build (`_run_rows`)."""
    from synthc.steps import registry

    stale = planned.status != FRESH
    wanted = ctx.estimate_steps and stale and planned.name not in ctx.estimates
    if not (wanted and registry()[planned.kind].calls_model):
        yield lambda calls: None
        return
    from synthc.execute.estimate import estimated_as_built

    inputs, refresh = step_ctx.inputs, ctx.refresh
    with estimated_as_built(plan, planned, inputs, ctx.llm, ctx.store, refresh) as as_built:
        yield as_built.kept
        result.estimates[planned.name] = as_built.estimate()


def _describe(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if isinstance(exc, ValueError | KeyError) else f"{type(exc).__name__}: {text}"


def _lock_entry(
    planned: PlannedStep,
    step_ctx: ExecStepContext,
    upstream: Mapping[str, str],
    fingerprint: str,
    version: str,
    frame: pl.DataFrame,
    seconds: float,
) -> LockEntry:
    return LockEntry(
        kind=planned.kind,
        fingerprint=fingerprint,
        config_fingerprint=planned.config_fingerprint,
        config=dict(planned.config),
        model=planned.model,
        models=dict(planned.models),
        model_params={name: dict(p) for name, p in planned.model_params.items()},
        files=dict(planned.files),
        upstream=dict(upstream),
        data_version=version,
        rows=frame.height,
        columns=tuple(frame.columns),
        seconds=seconds,
        built_at=_now(),
        failures=step_ctx.failure_count(),
        stats=dict(step_ctx.stats),
    )


def select_steps(plan: Plan, selectors: Sequence[str]) -> set[str]:
    """The step names `selectors` pick ("a", "a+", "+a", "+a+"); all steps when empty."""
    names = [planned.name for planned in plan.steps]
    if not selectors:
        return set(names)
    children: dict[str, set[str]] = {name: set() for name in names}
    for planned in plan.steps:
        for parent in planned.inputs:
            children.setdefault(parent, set()).add(planned.name)
    parents = {planned.name: set(planned.inputs) for planned in plan.steps}
    chosen: set[str] = set()
    for selector in selectors:
        name = selector.strip("+")
        if name not in parents:
            raise PlanError(
                f"--select {selector}: there is no step '{name}'; the steps are: {', '.join(names)}"
            )
        chosen.add(name)
        if selector.endswith("+"):
            chosen |= _closure(name, children)
        if selector.startswith("+"):
            chosen |= _closure(name, parents)
    return chosen


def _closure(start: str, edges: Mapping[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in edges.get(todo.pop(), set()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _regate(
    plan: Plan,
    planned: PlannedStep,
    ctx: BuildContext,
    entry: LockEntry,
    versions: Mapping[str, str],
) -> LockEntry:
    """Re-evaluate a fresh step's changed checks on its stored rows (a gate never changes data)."""
    frame = ctx.store.read_step(planned.name, entry)
    step_ctx = ExecStepContext(
        name=planned.name,
        kind=planned.kind,
        config=planned.config,
        recipe=plan.recipe,
        inputs={},
        reporter=ctx.reporter,
        llm=ctx.llm,
        fingerprint=entry.fingerprint,
        model_params=planned.model_params,
    )
    references = gate_references(planned, ctx.store, versions, plan.recipe)
    checks = evaluate_gates(planned, step_ctx, frame, references, versions)
    table = checks_frame(checks) if checks else None
    ctx.store.write_aux(planned.name, entry.data_version, "_checks", table)
    for gate_table in GATE_TABLES:
        emitted = step_ctx.emitted.get(gate_table)
        ctx.store.write_aux(planned.name, entry.data_version, gate_table, emitted)
    ctx.reporter.step_skipped(planned.name, f"fresh ({entry.rows} rows); checks re-evaluated")
    return replace(entry, checks=checks)
