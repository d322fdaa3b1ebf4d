"""Plain-text and JSON renderings of a Plan. Byte-identical for the same recipe and lock,
so golden tests can compare them and users can diff them."""

from __future__ import annotations

import json
from typing import Any

from synthc.fingerprint import short
from synthc.plan import FRESH, Plan


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
                "model": planned.model,
                "columns": list(planned.columns) if planned.columns is not None else None,
                "config_fingerprint": planned.config_fingerprint,
                "fingerprint": planned.fingerprint,
            }
        )
    return rows


def plan_json(plan: Plan) -> str:
    payload = {
        "recipe": plan.recipe.name,
        "steps": plan_rows(plan),
        "stale": sum(1 for p in plan.steps if p.status != FRESH),
    }
    return json.dumps(payload, indent=2, sort_keys=True) + "\n"


def plan_table(plan: Plan) -> str:
    """A fixed-width table: step, kind, from, status, why, config fingerprint (short)."""
    header = ("step", "kind", "from", "status", "why", "config")
    body = [
        (
            p.name,
            p.kind,
            ", ".join(p.inputs) or "-",
            p.status,
            p.stale_reason or "-",
            short(p.config_fingerprint)[:8],
        )
        for p in plan.steps
    ]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *body]
    ]
    stale = sum(1 for p in plan.steps if p.status != FRESH)
    summary = (
        "everything is fresh; `synthc build` has nothing to do"
        if stale == 0
        else f"{stale} of {len(plan.steps)} step(s) to build"
    )
    return "\n".join([f"recipe: {plan.recipe.name}", *lines, summary]) + "\n"
