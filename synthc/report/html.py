"""The report as one self-contained HTML page: inline CSS, inline SVG charts, no script,
no web fonts, no external URL, so it opens anywhere offline and can be attached to a
pull request or archived with the data.

Every value is escaped with `html.escape`; the page is built by small functions, one per
section, from the plain `Report` data.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

from synthc.plan.model import span
from synthc.report.svg import chart, pipeline

if TYPE_CHECKING:
    from synthc.report.model import GateResult, Plot, Removal, Report, StepReport

STATUS_LABEL = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}

CSS = """
:root{--bg:#f6f7f9;--card:#fff;--ink:#1b1f24;--muted:#5b6572;--line:#e3e6ea;--head:#f0f2f5;
--pass:#1a7f37;--pass-bg:#dafbe1;--warn:#9a6700;--warn-bg:#fff8c5;--fail:#cf222e;--fail-bg:#ffebe9;
--s0:#4f5bd5;--s1:#e8913a;--s2:#2a9d8f;--s3:#c2417a;--code:#f3f4f6;--accent:#4f5bd5}
@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--card:#171a21;--ink:#e6e8eb;--muted:#9aa4b1;
--line:#2a2f39;--head:#1d212a;--pass:#3fb950;--pass-bg:#12261a;--warn:#d29922;--warn-bg:#2b2110;
--fail:#f85149;--fail-bg:#2d1416;--code:#1d212a;--s0:#8c95f0;--s1:#f0a45d}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 system-ui,-apple-system,
"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:28px 28px 64px}
header{display:flex;justify-content:space-between;align-items:flex-end;gap:24px;flex-wrap:wrap;
border-bottom:1px solid var(--line);padding-bottom:16px;margin-bottom:20px}
.brand{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:var(--accent);font-weight:600}
h1{margin:2px 0 0;font-size:26px;font-weight:650}
h2{font-size:17px;margin:34px 0 12px;font-weight:650}
h3{font-size:14px;margin:0 0 6px}
.meta{color:var(--muted);font-size:13px;text-align:right}
.meta div{margin:1px 0}
#gates{scroll-margin-top:56px}
nav{display:flex;gap:14px;margin-top:6px;font-size:13px}
nav a{color:var(--muted);text-decoration:none}nav a:hover{color:var(--accent)}
.notice{background:var(--warn-bg);color:var(--ink);border:1px solid var(--warn);border-radius:10px;
padding:10px 14px;margin:0 0 16px}
code,pre{font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{background:var(--code);padding:1px 5px;border-radius:4px}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}
.tile{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.tile .label{color:var(--muted);font-size:12px}
.tile .value{font-size:22px;font-weight:650;margin-top:2px;font-variant-numeric:tabular-nums}
.tile .sub{color:var(--muted);font-size:12px}
.tile.tone-fail .value{color:var(--fail)}.tile.tone-warn .value{color:var(--warn)}
.tile.tone-pass .value{color:var(--pass)}
.t-pass{color:var(--pass);font-weight:600}.t-warn{color:var(--warn);font-weight:600}
.t-fail{color:var(--fail);font-weight:600}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;overflow:hidden}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:8px 12px;text-align:left;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--head);font-size:12px;font-weight:600;color:var(--muted);white-space:nowrap}
tr:last-child td{border-bottom:0}
td.num,th.num{text-align:right;white-space:nowrap}
.desc{color:var(--muted);font-size:12.5px}
.badge{display:inline-block;min-width:44px;text-align:center;font-size:11px;font-weight:700;
letter-spacing:.04em;padding:2px 8px;border-radius:999px}
.status-pass .badge,.badge.pass{color:var(--pass);background:var(--pass-bg)}
.status-warn .badge,.badge.warn{color:var(--warn);background:var(--warn-bg)}
.status-fail .badge,.badge.fail{color:var(--fail);background:var(--fail-bg)}
tr.status-fail td:first-child{box-shadow:inset 3px 0 var(--fail)}
tr.status-warn td:first-child{box-shadow:inset 3px 0 var(--warn)}
tr.status-pass td:first-child{box-shadow:inset 3px 0 var(--pass)}
.pill{font-size:11.5px;padding:1px 8px;border-radius:999px;border:1px solid var(--line);color:var(--muted)}
.pill.stale,.pill.missing{color:var(--warn);border-color:var(--warn)}
.muted{color:var(--muted)}
.empty{padding:16px;color:var(--muted)}
.removals{display:grid;gap:12px}
.removal{padding:14px 16px}
.reason{margin-top:10px}
.reason-head{display:flex;justify-content:space-between;gap:12px;font-weight:600}
.examples{margin:6px 0 0;padding:0;list-style:none}
.examples li{border-left:2px solid var(--line);padding:3px 0 3px 10px;margin:4px 0;font-size:13px}
.gate-detail .detail{display:block;color:var(--muted);font-size:12px;margin-top:2px}
.gate-detail .row{border-left:2px solid var(--fail);padding-left:8px;margin-top:4px}
.nowrap{white-space:nowrap}
.examples .detail{display:block;color:var(--muted);font-size:12px}
.examples .rid{color:var(--muted);font-size:11.5px;margin-right:6px}
.bar{height:6px;border-radius:3px;background:var(--line);margin-top:6px;overflow:hidden}
.bar span{display:block;height:100%;background:var(--s1)}
.metrics{margin-bottom:14px}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:14px}
figure{margin:0;padding:14px 16px 10px}
figcaption{color:var(--muted);font-size:12.5px;margin-top:4px}
.legend{display:flex;gap:14px;font-size:12.5px;margin:2px 0 6px;flex-wrap:wrap}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px}
svg.chart{display:block;max-width:100%;height:auto}
svg .grid{stroke:var(--line);stroke-width:1}
svg .tick{fill:var(--muted);font-size:11px}
svg .axis-title{fill:var(--muted);font-size:11.5px}
.s0{fill:var(--s0);background:var(--s0)}.s1{fill:var(--s1);background:var(--s1)}
.s2{fill:var(--s2);background:var(--s2)}.s3{fill:var(--s3);background:var(--s3)}
details summary{cursor:pointer;padding:10px 16px;font-weight:600}
pre{margin:0;padding:12px 16px;background:var(--code);overflow:auto;border-top:1px solid var(--line)}
.two{display:grid;grid-template-columns:1fr 1fr;gap:14px}
@media (max-width:800px){.two{grid-template-columns:1fr}.plots{grid-template-columns:1fr}}
.graph{padding:14px 16px;margin-bottom:14px;overflow-x:auto}
svg.pipeline{display:block;max-width:100%;height:auto}
svg .node rect{fill:var(--card);stroke:var(--line);stroke-width:1.5}
svg .node.stale rect,svg .node.missing rect{stroke:var(--warn);stroke-dasharray:4 3}
svg .node .name{fill:var(--ink);font-size:13px;font-weight:600}
svg .node .sub{fill:var(--muted);font-size:11.5px}
svg .edge{fill:none;stroke:var(--muted);stroke-width:1.3;opacity:.6}
svg .arrow{fill:none;stroke:var(--muted);stroke-width:1.3;opacity:.6}
svg .dot.pass{fill:var(--pass)}svg .dot.warn{fill:var(--warn)}svg .dot.fail{fill:var(--fail)}
footer{margin-top:40px;color:var(--muted);font-size:12px}
"""


def render_html(report: Report) -> str:
    """The report as one self-contained HTML document (no script, no external resource).

    The gates table has id `gates` with one row per gate, classed `status-pass`,
    `status-warn` or `status-fail`; the charts are inline `<svg>` under id `plots`.
    """
    sections = [
        _header(report),
        _tiles(report),
        _gates(report),
        _steps(report),
        _plan_vs_actual(report),
        _removals(report),
        _samples(report),
        _privacy(report),
        _balance(report),
        _judges(report),
        _plots(report),
        _recipe(report),
        "<footer>Generated by synthc from the lock and the store; "
        "rebuild it with <code>synthc report</code>.</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(report.recipe_name)} · synthc report</title>"
        f"<style>{CSS}</style></head><body><main>" + "\n".join(sections) + "</main></body></html>\n"
    )


def _header(report: Report) -> str:
    lines = [f"<div>{escape(report.recipe_path)}</div>"]
    lines.append(
        f"<div>built {escape(report.built_at)}</div>"
        if report.built_at
        else "<div>not built yet: run <code>synthc build</code></div>"
    )
    lines.append(_last_run(report.last_run))
    nav = "".join(
        f'<a href="#{anchor}">{label}</a>'
        for anchor, label in (
            ("gates", "Gates"),
            ("steps", "Steps"),
            ("removed", "Removed"),
            ("plots", "Metrics"),
            ("recipe", "Recipe"),
        )
    )
    return (
        '<header><div><div class="brand">synthc report</div>'
        f"<h1>{escape(report.recipe_name)}</h1><nav>{nav}</nav></div>"
        f'<div class="meta">{"".join(lines)}</div></header>' + _stale_notice(report)
    )


def _last_run(run: Mapping[str, Any]) -> str:
    if not run.get("status"):
        return ""
    text = f"last build: {run['status']}"
    if run.get("exit_code"):
        text += f", exit {run['exit_code']}"
    if run.get("gate_failures"):
        text += f" (gates failed on {', '.join(map(str, run['gate_failures']))})"
    tone = "t-fail" if run.get("exit_code") else ""
    return f'<div class="{tone}">{escape(text)}</div>'


def _stale_notice(report: Report) -> str:
    """A banner when the recipe changed since the build the report shows."""
    behind = [s for s in report.steps if s.status != "fresh"]
    if not behind or not report.built_at:
        return ""
    names = ", ".join(f"{s.name} ({s.status})" for s in behind)
    return (
        f'<div class="notice">{len(behind)} of {len(report.steps)} steps are not fresh: '
        f"{escape(names)}. This report shows the last build; run <code>synthc build</code> "
        "to bring it up to date.</div>"
    )


def _tile(label: str, value: str, sub: str = "", tone: str = "") -> str:
    sub_html = f'<div class="sub">{sub}</div>' if sub else ""
    return (
        f'<div class="tile {tone}"><div class="label">{escape(label)}</div>'
        f'<div class="value">{escape(value)}</div>{sub_html}</div>'
    )


def _verdict(counts: dict[str, int]) -> tuple[str, str]:
    """The gates tile's headline and tone: the worst status wins."""
    if counts["fail"]:
        return f"{counts['fail']} failing", "tone-fail"
    if counts["warn"]:
        return f"{counts['warn']} warning", "tone-warn"
    if counts["pass"]:
        return "all pass", "tone-pass"
    return "none", ""


def _tiles(report: Report) -> str:
    finals = [s for s in report.steps if s.rows is not None and s.name in _final_names(report)]
    rows = sum(s.rows or 0 for s in finals)
    removed = report.rows_removed
    counts = report.gate_counts()
    gates = (
        f'<span class="t-pass">{counts["pass"]} pass</span> · '
        f'<span class="t-warn">{counts["warn"]} warn</span> · '
        f'<span class="t-fail">{counts["fail"]} fail</span>'
    )
    rate = "–" if report.hit_rate is None else f"{report.hit_rate:.0%}"
    return (
        '<section class="tiles">'
        + "".join(
            [
                _tile("final rows", f"{rows:,}", escape(", ".join(s.name for s in finals))),
                _tile("steps", str(len(report.steps)), escape(_status_line(report))),
                _tile("rows removed", f"{removed:,}", "by filters, dedup and rejections"),
                _tile("cost", f"${report.cost_usd:,.4f}", f"{report.tokens:,} tokens"),
                _tile(
                    "cache hit rate", rate, f"{report.cache_hits:,} cached · {report.calls:,} sent"
                ),
                _tile("gates", *_gate_tile(counts, gates)),
            ]
        )
        + "</section>"
    )


def _gate_tile(counts: dict[str, int], badges: str) -> tuple[str, str, str]:
    verdict, tone = _verdict(counts)
    return verdict, badges if any(counts.values()) else "no checks declared", tone


def _final_names(report: Report) -> set[str]:
    """The exported steps; without exports, the steps no other step reads."""
    if report.exports:
        return {step for step, _ in report.exports}
    read = {source for step in report.steps for source in step.inputs}
    return {s.name for s in report.steps if s.name not in read}


def _status_line(report: Report) -> str:
    counts: dict[str, int] = {}
    for step in report.steps:
        counts[step.status] = counts.get(step.status, 0) + 1
    return " · ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def _gates(report: Report) -> str:
    head = (
        "<tr><th>step</th><th>check</th><th>column</th><th class=num>figure</th>"
        "<th>threshold</th><th>severity</th><th>status</th><th>detail</th></tr>"
    )
    if not report.gates:
        body = (
            '<tr><td colspan="8" class="empty">No gates yet. Add <code>checks:</code> to a '
            "step (rows, distinct_n, near_duplicates, fidelity, leakage, …) to have the "
            "build verify its data.</td></tr>"
        )
    else:
        body = "".join(_gate_row(gate) for gate in report.gates)
    return (
        '<h2>Quality gates</h2><div class="card">'
        f'<table id="gates"><thead>{head}</thead><tbody>{body}</tbody></table></div>'
    )


def _gate_row(gate: GateResult) -> str:
    figure = "" if gate.figure is None else f"{gate.figure:.4g}"
    details = " · ".join(f"{name} {value:.4g}" for name, value in gate.details)
    extra = f'<span class="detail">{escape(details)}</span>' if details else ""
    extra += "".join(f'<span class="detail row">{escape(e)}</span>' for e in gate.examples)
    return (
        f'<tr class="gate status-{escape(gate.status)}"><td>{escape(gate.step)}</td>'
        f"<td><code>{escape(gate.kind)}</code></td><td>{escape(gate.column or '')}</td>"
        f'<td class="num">{figure}</td><td class="nowrap">{escape(gate.threshold)}</td>'
        f'<td class="muted">{escape(gate.severity)}</td>'
        f'<td><span class="badge">{STATUS_LABEL.get(gate.status, escape(gate.status))}</span></td>'
        f'<td class="gate-detail">{escape(gate.message)}{extra}</td></tr>'
    )


def _steps(report: Report) -> str:
    head = (
        "<tr><th>step</th><th>kind</th><th>from</th><th class=num>rows</th>"
        "<th class=num>removed</th><th class=num>calls</th><th class=num>cache hit</th>"
        "<th class=num>tokens</th><th class=num>cost</th><th class=num>time</th>"
        "<th>status</th></tr>"
    )
    body = "".join(_step_row(step) for step in report.steps)
    graph = pipeline(report.steps, _worst_gates(report)) if report.steps else ""
    return (
        f'<h2 id="steps">Steps</h2><div class="card graph">{graph}</div>'
        '<div class="card"><table id="steps-table">'
        f"<thead>{head}</thead><tbody>{body}</tbody></table></div>"
    )


def _plan_vs_actual(report: Report) -> str:
    """What `plan` expected of each model-calling step beside what its last build did."""
    if not report.plan_vs_actual:
        return ""
    head = (
        "<tr><th>step</th><th class=num>planned calls</th><th class=num>calls made</th>"
        "<th class=num>from cache</th><th class=num>planned tokens</th><th class=num>tokens</th>"
        "<th class=num>planned cost</th><th class=num>cost</th></tr>"
    )
    rows = []
    for item in report.plan_vs_actual:
        calls = span(item.planned_calls, item.planned_calls_max, lambda v: f"{v:,}")
        tokens = span(item.planned_tokens, item.planned_tokens_max, lambda v: f"{v:,}")
        usd = item.planned_cost
        tone = ' class="status-fail"' if item.within is False else ""
        rows.append(
            f"<tr{tone}><td><strong>{escape(item.step)}</strong></td>"
            f'<td class="num">{escape(calls)}</td><td class="num">{item.calls:,}</td>'
            f'<td class="num">{item.cache_hits:,}</td><td class="num">{escape(tokens)}</td>'
            f'<td class="num">{item.tokens:,}</td><td class="num">{escape(usd)}</td>'
            f'<td class="num">${item.usd:.4f}</td></tr>'
        )
    return (
        '<h2 id="plan-vs-actual">Plan vs actual</h2><div class="card">'
        '<p class="muted">What <code>synthc plan</code> expected of each step when its last '
        "build started, beside what that build did.</p>"
        f'<table id="plan-vs-actual-table"><thead>{head}</thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _worst_gates(report: Report) -> dict[str, str]:
    """Each step's worst gate status, for the dot on its node."""
    rank = {"pass": 0, "warn": 1, "fail": 2}
    worst: dict[str, str] = {}
    for gate in report.gates:
        if rank.get(gate.status, 0) >= rank.get(worst.get(gate.step, "pass"), 0):
            worst[gate.step] = gate.status
    return worst


def _step_row(step: StepReport) -> str:
    def num(value: int | None, show: bool = True) -> str:
        return f"{value:,}" if value is not None and show else '<span class="muted">–</span>'

    desc = f'<div class="desc">{escape(step.description)}</div>' if step.description else ""
    rate = f"{step.hit_rate:.0%}" if step.hit_rate is not None else '<span class="muted">–</span>'
    cost = f"${step.cost_usd:.4f}" if step.hit_rate is not None else '<span class="muted">–</span>'
    reason = f' title="{escape(step.stale_reason)}"' if step.stale_reason else ""
    return (
        f"<tr><td><strong>{escape(step.name)}</strong>{desc}</td><td><code>{escape(step.kind)}</code></td>"
        f'<td class="muted">{escape(", ".join(step.inputs)) or "–"}</td>'
        f'<td class="num">{num(step.rows)}</td>'
        f'<td class="num">{num(step.removed, bool(step.removed and step.removed > 0))}</td>'
        f'<td class="num">{num(step.calls, step.hit_rate is not None)}</td><td class="num">{rate}</td>'
        f'<td class="num">{num(step.tokens, bool(step.tokens))}</td><td class="num">{cost}</td>'
        f'<td class="num">{step.seconds:.2f}s</td>'
        f'<td><span class="pill {escape(step.status)}"{reason}>{escape(step.status)}</span></td></tr>'
    )


def _removals(report: Report) -> str:
    cards = [_removal_card(step) for step in report.steps if step.removals]
    if not cards:
        return '<h2 id="removed">What was removed, and why</h2><div class="card empty">Nothing was removed.</div>'
    return f'<h2 id="removed">What was removed, and why</h2><div class="removals">{"".join(cards)}</div>'


def _removal_card(step: StepReport) -> str:
    summary = f"{step.kind} · rejected or lost {_rows(sum(g.count for g in step.removals))}"
    if step.rows_in:
        share = (step.removed or 0) / step.rows_in
        summary = (
            f"{step.kind} · removed {step.removed or 0:,} of {step.rows_in:,} rows ({share:.0%})"
            f'<div class="bar"><span style="width:{min(share, 1):.1%}"></span></div>'
        )
    groups = "".join(_reason(group.reason, group.count, group.examples) for group in step.removals)
    return (
        f'<div class="card removal"><h3>{escape(step.name)}</h3>'
        f'<div class="muted">{summary}</div>{groups}</div>'
    )


def _reason(reason: str, count: int, examples: tuple[Removal, ...]) -> str:
    items = "".join(
        "<li>"
        + (f'<span class="rid">{escape(e.row_id[:12])}</span>' if e.row_id else "")
        + escape(e.text)
        + (f'<span class="detail">{escape(e.detail)}</span>' if e.detail else "")
        + "</li>"
        for e in examples
    )
    return (
        f'<div class="reason"><div class="reason-head"><span>{escape(reason)}</span>'
        f'<span class="muted">{_rows(count)}</span></div><ul class="examples">{items}</ul></div>'
    )


def _samples(report: Report) -> str:
    """A few rows of each built step, and how many of its answers were cut at max_tokens."""
    cards = []
    for step in report.steps:
        if step.rows is None:
            continue
        cut = (
            f'<div class="detail" data-truncated="{step.truncated}">{step.truncated:,} of '
            f"{step.answers:,} answers cut at max_tokens (finish_reason=length)</div>"
            if step.truncated
            else ""
        )
        rows = "".join(f"<li>{escape(text)}</li>" for text in step.samples)
        empty = (
            '<li class="muted">withheld: rows of a private seed, not vetted by a privacy gate</li>'
            if step.samples_withheld
            else '<li class="muted">no rows</li>'
        )
        cards.append(
            f'<div class="card removal"><h3>{escape(step.name)}</h3>{cut}'
            f'<ul class="examples">{rows or empty}</ul></div>'
        )
    body = "".join(cards) or '<div class="card empty">Nothing is built yet.</div>'
    return f'<h2 id="samples">Sample rows</h2><div class="removals">{body}</div>'


def _privacy(report: Report) -> str:
    """What the privacy gates flagged: shown only when a step has a privacy check."""
    if not any(g.kind == "privacy" for g in report.gates):
        return ""
    head = '<section id="privacy"><h2>Privacy</h2>'
    if not report.privacy:
        empty = '<div class="card empty">No output replays PII or copies a private seed.</div>'
        return f"{head}{empty}</section>"
    cards = "".join(
        f'<div class="card removal"><h3>{escape(step)}</h3>'
        f'<div class="muted">flagged rows are left out of exports, the card and the sample rows</div>'
        + "".join(_reason(g.reason, g.count, g.examples) for g in groups)
        + "</div>"
        for step, groups in report.privacy
    )
    return f'{head}<div class="removals">{cards}</div></section>'


def _balance(report: Report) -> str:
    if not report.balance:
        return ""
    figures = "".join(_figure(plot) for plot in report.balance)
    return f'<section id="balance"><h2>Balance</h2><div class="plots">{figures}</div></section>'


def _judges(report: Report) -> str:
    """Agreement of several judges per judge step: alpha and pairwise Spearman."""
    if not report.judges:
        return ""
    head = (
        '<tr><th>step</th><th>judges</th><th class="num">rows</th>'
        '<th class="num">Krippendorff\'s α</th><th>Spearman ρ per pair</th></tr>'
    )
    body = "".join(
        f'<tr class="judges status-{"warn" if found.low else "pass"}">'
        f"<td>{escape(found.step)}</td><td>{escape(', '.join(found.judges))}</td>"
        f'<td class="num">{found.rows:,}</td><td class="num">{found.alpha_text}</td>'
        f"<td>{escape(found.spearman_text())}</td></tr>"
        for found in report.judges
    )
    note = (
        '<div class="muted">α: 1 full agreement, 0 chance, below 0 systematic disagreement; '
        "rows flagged under 0.667 or with a negative ρ.</div>"
    )
    return (
        '<section id="judges"><h2>Judge agreement</h2><div class="card">'
        f'<table id="judges-table"><thead>{head}</thead><tbody>{body}</tbody></table>'
        f"{note}</div></section>"
    )


def _rows(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


def _plots(report: Report) -> str:
    figures = "".join(_figure(plot) for plot in report.plots)
    body = (
        f'<div class="plots">{figures}</div>'
        if figures
        else '<div class="card empty">No text columns to plot yet.</div>'
    )
    return f'<section id="plots"><h2>Metrics</h2>{_metrics_table(report)}{body}</section>'


def _metrics_table(report: Report) -> str:
    """One row per text column of the final steps: diversity, length, fidelity figures."""
    from synthc.report.metrics import METRIC_NAMES

    if not report.metrics:
        return ""
    head = "<th>column</th><th class=num>rows</th>" + "".join(
        f"<th class=num>{escape(name)}</th>" for name in METRIC_NAMES
    )
    rows = []
    for metrics in report.metrics:
        values = dict(metrics.figures)
        cells = "".join(
            f'<td class="num">{values[name]:.3g}</td>'
            if name in values
            else '<td class="num muted">–</td>'
            for name in METRIC_NAMES
        )
        against = (
            f'<div class="desc">against {escape(metrics.reference)}</div>'
            if metrics.reference
            else ""
        )
        rows.append(
            f"<tr><td><strong>{escape(metrics.step)}.{escape(metrics.column)}</strong>{against}</td>"
            f'<td class="num">{metrics.rows:,}</td>{cells}</tr>'
        )
    return (
        '<div class="card metrics"><table id="metrics">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _figure(plot: Plot) -> str:
    legend = "".join(
        f'<span><i class="s{n}"></i>{escape(s.label)} <span class="muted">({s.total:,})</span></span>'
        for n, s in enumerate(plot.series)
    )
    return (
        f'<figure class="card plot" id="plot-{escape(plot.key)}"><h3>{escape(plot.title)}</h3>'
        f'<div class="legend">{legend}</div>{chart(plot)}'
        f"<figcaption>{escape(plot.caption)}</figcaption></figure>"
    )


def _recipe(report: Report) -> str:
    exports = "".join(
        f"<li><code>{escape(path)}</code> <span class='muted'>from {escape(step)}</span></li>"
        for step, path in report.exports
    )
    models = "".join(f"<li><code>{escape(model)}</code></li>" for model in report.models)
    return (
        '<h2 id="recipe">Recipe</h2><div class="two">'
        f'<div class="card removal"><h3>Exports</h3><ul>{exports or "<li class=muted>none</li>"}</ul></div>'
        f'<div class="card removal"><h3>Models</h3><ul>{models or "<li class=muted>no model calls</li>"}</ul></div>'
        '</div><div class="card" style="margin-top:14px"><details>'
        f"<summary>{escape(report.recipe_path.rsplit('/', 1)[-1])}</summary>"
        f"<pre>{escape(report.recipe_text)}</pre></details></div>"
    )
