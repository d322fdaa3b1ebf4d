"""Plain-text and JSON renderings of a Plan. Byte-identical for the same recipe and lock,
so golden tests can compare them and users can diff them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from synthc.fingerprint import short
from synthc.llm.calls import EXPECTED_COMPLETION_SHARE
from synthc.plan.model import FRESH, Plan, PlannedStep
from synthc.steps import registry

if TYPE_CHECKING:
    from synthc.plan.model import CallEstimate


def step_engine(plan: Plan, planned: PlannedStep) -> str:
    """Where a step runs: "local" (this process), or with `engine: ray`, "ray" for a
    model-calling step (its cache misses go to the cluster) or a step whose heavy passes
    run in blocks (dedup), and "driver" for the rest."""
    if plan.recipe.engine == "local":
        return "local"
    kind = registry()[planned.kind]
    return "ray" if kind.calls_model or kind.parallel_blocks else "driver"


def plan_rows(plan: Plan) -> list[dict[str, Any]]:
    """One dict per step, in plan order: the shape of `synthc plan --json`."""
    rows = []
    for planned in plan.steps:
        rows.append(
            {
                "step": planned.name,
                "kind": planned.kind,
                "from": list(planned.inputs),
                "status": planned.status,
                "reason": planned.stale_reason,
                "checks_stale": planned.checks_stale,
                "model": planned.model,
                "engine": step_engine(plan, planned),
                "columns": list(planned.columns) if planned.columns is not None else None,
                "unchecked": list(planned.unchecked),
                "config_fingerprint": planned.config_fingerprint,
                "fingerprint": planned.fingerprint,
            }
        )
    return rows


def plan_json(plan: Plan, estimates: Mapping[str, CallEstimate] | None = None) -> str:
    rows = plan_rows(plan)
    for row in rows:
        estimate = (estimates or {}).get(row["step"])
        row["calls"] = (
            None
            if estimate is None
            else {
                "cached": estimate.cached,
                "to_make": estimate.to_make,
                "to_make_max": estimate.to_make_max,
                "tokens": estimate.tokens,
                "tokens_max": estimate.tokens_max,
                "usd": estimate.usd,
                "usd_max": estimate.usd_max,
                "tokens_expected": estimate.tokens_expected,
                "usd_expected": estimate.usd_expected,
                "exact": estimate.exact,
                "note": estimate.note,
                "pending": estimate.pending,
                "batches": list(estimate.batches),
            }
        )
    payload = {
        "recipe": plan.recipe.name,
        "steps": rows,
        "stale": sum(1 for p in plan.steps if p.status != FRESH),
        "exports": [
            {"step": e.step, "target": e.target, "status": "stale", "reason": e.reason}
            for e in plan.stale_exports
        ],
    }
    return json.dumps(payload, indent=2, sort_keys=True) + "\n"


def plan_table(plan: Plan, estimates: Mapping[str, CallEstimate] | None = None) -> str:
    """A fixed-width table: step, kind, from, status, why, config fingerprint (short),
    on Ray the engine of each step, and with `estimates` a column of model calls cached
    and to make."""
    header: tuple[str, ...] = ("step", "kind", "from", "status", "why", "config")
    body: list[tuple[str, ...]] = [
        (
            p.name,
            p.kind,
            ", ".join(p.inputs) or "-",
            p.status,
            p.stale_reason or ("checks changed: gates re-evaluated" if p.checks_stale else "-"),
            short(p.config_fingerprint)[:8],
        )
        for p in plan.steps
    ]
    if plan.recipe.engine != "local":
        header = (*header, "engine")
        body = [(*row, step_engine(plan, p)) for row, p in zip(body, plan.steps, strict=True)]
    if estimates:
        header = (*header, "model calls")
        body = [
            (*row, estimates[p.name].describe() if p.name in estimates else "-")
            for row, p in zip(body, plan.steps, strict=True)
        ]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *body]
    ]
    stale = sum(1 for p in plan.steps if p.status != FRESH)
    regate = sum(1 for p in plan.steps if p.checks_stale)
    rewrite = len(plan.stale_exports)
    if stale == 0 and regate == 0 and rewrite == 0:
        summary = "everything is fresh; `synthc build` has nothing to do"
    else:
        summary = f"{stale} of {len(plan.steps)} step(s) to build"
        summary += f", {regate} to re-check" if regate else ""
        summary += f", {rewrite} export(s) to rewrite" if rewrite else ""
    if estimates:
        summary += "; " + estimate_summary(estimates.values())
    return (
        "\n".join(
            [
                f"recipe: {plan.recipe.name}",
                *lines,
                *_export_lines(plan),
                summary,
                *([COMPLETION_NOTE] if _to_make(estimates) else []),
                *unchecked_notes(plan),
            ]
        )
        + "\n"
    )


COMPLETION_NOTE = (
    "note: costs are bounds, from answers of no tokens to answers of max_tokens; the "
    "expected figure counts each answer at the observed mean length of the step's answers "
    f"where known, else {EXPECTED_COMPLETION_SHARE:.0%} of max_tokens"
)


def _to_make(estimates: Mapping[str, CallEstimate] | None) -> bool:
    """Whether any step's cost is a range (calls to make on a priced model)."""
    return any(
        e.usd is not None and e.usd_max != e.usd and not e.note for e in (estimates or {}).values()
    )


def _export_lines(plan: Plan) -> list[str]:
    width = max((len(e.target) for e in plan.stale_exports), default=0)
    return [f"export {e.target.ljust(width)}  stale: {e.reason}" for e in plan.stale_exports]


def unchecked_notes(plan: Plan) -> list[str]:
    """A line per step whose column references wait for the build (an input's columns
    are unknown before it runs, e.g. a JSON answer without a schema)."""
    return [
        f"note: {p.name}: {', '.join(p.unchecked)} checked when the build reaches it "
        f"(the columns of {', '.join(repr(i) for i in p.step.inputs)} are known only then)"
        for p in plan.steps
        if p.unchecked
    ]


def estimate_summary(estimates: Iterable[CallEstimate]) -> str:
    """One line: calls to make across steps and what they would cost, with their bounds."""
    estimates = [e for e in estimates if not e.note]
    low = sum(e.to_make for e in estimates)
    high = _total([e.to_make_max for e in estimates])
    calls = str(low) if high == low else (f"≥{low}" if high is None else f"{low}–{high}")
    priced = [e for e in estimates if e.usd is not None]
    usd_low = sum(e.usd or 0.0 for e in priced)
    usd_expected = sum(e.usd_expected or 0.0 for e in priced)
    usd_high = _total([e.usd_max for e in priced])
    if usd_high is not None and abs(usd_high - usd_low) < 5e-5:
        cost = f"~${usd_low:.4f}"
    else:
        bounds = f"≥${usd_low:.4f}" if usd_high is None else f"${usd_low:.4f}–${usd_high:.4f}"
        cost = f"~${usd_expected:.4f} expected ({bounds})"
    if len(priced) < len(estimates):
        cost += " plus unpriced or not yet known calls"
    pending = sum(e.pending for e in estimates)
    waiting = f"; {pending} call(s) pending in provider batches" if pending else ""
    return f"{calls} model call(s) to make, {cost}{waiting}"


def _total(values: list[Any]) -> Any:
    """The sum, or None when any value is None (no upper bound)."""
    return None if any(v is None for v in values) else sum(values)
