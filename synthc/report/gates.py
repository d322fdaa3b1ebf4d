"""Gate results for the report, read from a step's lock entry (`LockEntry.checks`).

The build records each `CheckResult` (synthc.quality.gates) as a mapping: kind,
severity, config (the check as declared), status (pass | warn | fail), figure,
threshold, message, details (secondary figures) and failing_rows (rows as mappings, or
their ids). The config says which column was checked and which side of the threshold
passes; without one, the recipe's `checks:` at the same position stand in. Missing keys
read as blank rather than failing the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from synthc.quality.gates import GATE_KINDS
from synthc.report.model import EXAMPLES_PER_REASON, FAIL, PASS, WARN, GateResult, number, preview

if TYPE_CHECKING:
    from synthc.recipe.load import Check
    from synthc.store.lock import LockEntry


def gate_results(
    step: str, entry: LockEntry | None, declared: Sequence[Check] = ()
) -> list[GateResult]:
    """A step's gate results from its lock entry, with the declared checks' columns."""
    if entry is None:
        return []
    results = []
    for index, raw in enumerate(entry.checks):
        check = declared[index] if index < len(declared) else None
        if check is not None and check.kind != raw.get("kind", check.kind):
            check = None  # the recipe changed since the build: do not guess
        results.append(gate_result(step, dict(raw), check))
    return results


def gate_result(step: str, raw: Mapping[str, Any], check: Check | None = None) -> GateResult:
    """One recorded result as a `GateResult`; `check` is its declaration, when known."""
    kind = str(raw.get("kind") or (check.kind if check else "?"))
    severity = str(raw.get("severity") or (check.severity if check else "error"))
    status = str(raw.get("status") or "").lower()
    if status not in (PASS, WARN, FAIL):
        passed = raw.get("passed", raw.get("ok"))
        status = PASS if passed else (WARN if severity == "warn" else FAIL)
    figure = raw.get("figure", raw.get("value"))
    recorded = raw.get("config")
    config = recorded if isinstance(recorded, Mapping) else (check.config if check else {})
    details = raw.get("details") or {}
    column = raw.get("column") or config.get("column") or config.get("text")
    return GateResult(
        step=step,
        kind=kind,
        severity=severity,
        status=status,
        figure=float(figure) if isinstance(figure, int | float) else None,
        threshold=describe_threshold(kind, raw.get("threshold"), config),
        message=str(raw.get("message") or ""),
        column=column,
        examples=_examples(raw.get("failing_rows") or raw.get("examples") or (), column),
        details=tuple((str(k), float(v)) for k, v in details.items() if isinstance(v, int | float)),
    )


def describe_threshold(kind: str, threshold: Any, config: Mapping[str, Any] | None = None) -> str:
    """A threshold as a condition: `{"min": 100}` -> "min 100"; 0.3 for fidelity -> "≤ 0.3"."""
    if threshold is None or threshold == "":
        return ""
    if isinstance(threshold, Mapping):
        return ", ".join(f"{k} {number(v)}" for k, v in threshold.items())
    if not isinstance(threshold, int | float):
        return str(threshold)
    gate = GATE_KINDS.get(kind)  # a lock from another version may name one this lacks
    at_least = gate is not None and gate.must_reach(threshold, config or {})
    return f"{'≥' if at_least else '≤'} {number(threshold)}"


def _examples(rows: Any, column: str | None) -> tuple[str, ...]:
    """Previews of the first failing rows, showing the checked column when they have it."""
    if not isinstance(rows, list | tuple):
        return ()
    return tuple(
        preview(row, [column] if column and column in row else None)
        if isinstance(row, Mapping)
        else str(row)
        for row in list(rows)[:EXAMPLES_PER_REASON]
    )
