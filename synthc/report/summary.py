"""The report as a terminal summary: one line per step, then the gates and the footer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from synthc.report.model import (
    FAIL,
    PASS,
    WARN,
    Report,
    number,
)

if TYPE_CHECKING:
    pass


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
        *(
            f"{step.name}: {_cut(step.truncated, step.answers)}"
            for step in report.steps
            if step.truncated
        ),
        *_plan_vs_actual(report),
        *_judges(report),
        f"gates: {counts[PASS]} pass · {counts[WARN]} warn · {counts[FAIL]} fail",
    ]
    for gate in report.gates:
        if gate.status != PASS:
            figure = "" if gate.figure is None else f" {number(gate.figure)}"
            limit = f" ({gate.threshold})" if gate.threshold else ""
            message = f": {gate.message}" if gate.message else ""
            lines.append(f"  {gate.status.upper()} {gate.step} {gate.kind}{figure}{limit}{message}")
    return lines


def _plan_vs_actual(report: Report) -> list[str]:
    """ "plan vs actual (each step's last build):" then a line per model-calling step."""
    if not report.plan_vs_actual:
        return []
    width = max(len(item.step) for item in report.plan_vs_actual)
    return [
        "plan vs actual (each step's last build):",
        *(
            f"  {item.step.ljust(width)}  planned {item.planned} · {item.actual}"
            + ("" if item.within is not False else "  (outside the planned calls)")
            for item in report.plan_vs_actual
        ),
    ]


def _judges(report: Report) -> list[str]:
    """ "judges of scored (srv, other) over 8 rows: alpha 0.912 · srv~other 0.874" per
    judge step with several judges, flagged when they agree too little to trust."""
    flag = "  (low agreement: below 0.667 or a pair ranking rows oppositely)"
    return [
        f"judges of {found.step} ({', '.join(found.judges)}) over {found.rows:,} rows: "
        f"alpha {found.alpha_text} · {found.spearman_text(' · ')}{flag if found.low else ''}"
        for found in report.judges
    ]


def _cut(truncated: int, answers: int) -> str:
    """ "5 of 18 answers cut at max_tokens" """
    return f"{truncated:,} of {answers:,} answers cut at max_tokens (finish_reason=length)"


def _built(report: Report) -> str:
    if not report.built_at:
        return "not built yet; run `synthc build`"
    return f"built {report.built_at}"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
