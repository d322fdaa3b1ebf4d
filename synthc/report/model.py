"""The report's data model: plain frozen records (`Report`, `StepReport`, `GateResult`,
`Plot`, ...) and the small formatting helpers every page shares. Pages (summary,
HTML, card) import only this module; `gather` fills it in.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from synthc.plan.model import cost_text, span

if TYPE_CHECKING:
    from synthc.recipe.load import Recipe


PASS, WARN, FAIL = "pass", "warn", "fail"
EXAMPLES_PER_REASON = 3
SAMPLE_ROWS = 3  # rows shown per step


PREVIEW_CHARS = 160


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
    truncated: int = 0  # answers cut at max_tokens (finish_reason "length")
    samples: tuple[str, ...] = ()  # previews of the step's first rows
    samples_withheld: bool = False  # private seed rows no privacy gate vetted: none shown
    built_at: str = ""

    @property
    def answers(self) -> int:
        """Model answers the step used, sent or from the cache."""
        return self.calls + self.cache_hits

    @property
    def hit_rate(self) -> float | None:
        """Share of model requests answered from the cache; None for steps that made none."""
        return _rate(self.cache_hits, self.calls)


@dataclass(frozen=True)
class PlanVsActual:
    """A step's last build: the calls, tokens and dollars the plan expected beside what
    the build did (`_run_steps`). `*_max` is None where the plan gave no upper bound."""

    step: str
    run: str  # the build's started_at
    planned_calls: int | None
    planned_calls_max: int | None
    planned_tokens: int | None
    planned_tokens_max: int | None
    planned_usd: float | None
    planned_usd_max: float | None
    planned_usd_expected: float | None  # None in records older than the expectation
    calls: int
    cache_hits: int
    tokens: int
    usd: float

    @property
    def planned(self) -> str:
        """ "4–12 calls, ~$0.0002 expected, $0.0001–$0.0004" """
        if self.planned_calls is None:
            return "no estimate (the step was fresh when the build was planned)"
        calls = span(self.planned_calls, self.planned_calls_max, str)
        return f"{calls} calls, {self.planned_cost}"

    @property
    def planned_cost(self) -> str:
        return cost_text(self.planned_usd, self.planned_usd_expected, self.planned_usd_max)

    @property
    def actual(self) -> str:
        """ "6 calls made (2 from cache), $0.0002" """
        return f"{self.calls} calls made ({self.cache_hits} from cache), ${self.usd:.4f}"

    @property
    def within(self) -> bool | None:
        """Whether the calls made lie in the planned bounds (None: no plan recorded)."""
        if self.planned_calls is None:
            return None
        high = self.planned_calls_max
        return self.planned_calls <= self.calls and (high is None or self.calls <= high)


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
    """Headline metrics of one text column of a final step (see synthc.report.metrics)."""

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
class JudgeAgreement:
    """How several judges of one `judge` step agreed (see synthc.quality.agreement)."""

    step: str
    judges: tuple[str, ...]
    rows: int  # rows two or more judges scored
    alpha: float | None  # Krippendorff's alpha, interval; None when undefined
    spearman: tuple[tuple[str, float | None], ...]  # ("a~b", rho) per pair of judges

    @property
    def low(self) -> bool:
        """Below 0.667, the least alpha Krippendorff accepts for tentative conclusions,
        or a pair of judges ranking rows in opposite orders."""
        negative = any(rho is not None and rho < 0 for _, rho in self.spearman)
        return self.alpha is None or self.alpha < 0.667 or negative

    @property
    def alpha_text(self) -> str:
        """ "0.912", or "n/a" when alpha is undefined."""
        return _three_places(self.alpha)

    def spearman_text(self, separator: str = ", ") -> str:
        """ "srv~other 0.874, srv~third n/a" """
        return separator.join(f"{pair} {_three_places(rho)}" for pair, rho in self.spearman)


def _three_places(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


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
    # (step, what its privacy gate flagged, by kind) and each balance gate's plot
    privacy: tuple[tuple[str, tuple[RemovalGroup, ...]], ...] = ()
    balance: tuple[Plot, ...] = ()
    judges: tuple[JudgeAgreement, ...] = ()  # judge steps with several judges
    models: tuple[str, ...] = ()
    built_at: str = ""
    last_run: Mapping[str, Any] = field(default_factory=dict)
    # each model-calling step's last build: plan vs actual, in plan order
    plan_vs_actual: tuple[PlanVsActual, ...] = ()

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
    def truncated(self) -> int:
        return sum(s.truncated for s in self.steps)

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


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _name(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def number(value: Any) -> str:
    """A figure as the report prints it: floats to 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _rate(hits: int, misses: int) -> float | None:
    return hits / (hits + misses) if hits + misses else None


_SECRET_LINE = re.compile(
    r"^(\s*[\w-]*(?:api_key|secret|token|password|authorization)\s*:\s*).+$", re.I | re.M
)
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][\w+.-]*://)[^/\s@'\"]+@")
_URL_QUERY = re.compile(r"(?P<url>\b[a-zA-Z][\w+.-]*://[^\s?#'\"]*)\?[^\s#'\"]*")
_KEY_VARIABLE = re.compile(r"(?:KEY|TOKEN|SECRET|PASSWORD)$", re.I)
REDACTED = "<redacted>"


def redact_recipe(text: str) -> str:
    """A recipe's text as the card and the report publish it: literal keys, URL
    credentials and query strings (`https://user:pw@host/v1?key=...`), and any value of a
    key variable in the environment replaced. `api_key_env` names a variable and stays."""
    text = _SECRET_LINE.sub(lambda match: match.group(1) + REDACTED, text)
    text = _URL_USERINFO.sub(lambda match: match.group("scheme") + REDACTED + "@", text)
    text = _URL_QUERY.sub(lambda match: match.group("url") + "?" + REDACTED, text)
    return redact_key_values(text)


def redact_key_values(text: str) -> str:
    """`text` with the value of every key-like environment variable (`*_KEY`, `*_TOKEN`,
    `*_SECRET`, `*_PASSWORD`, 6 characters or more) replaced."""
    for name, value in os.environ.items():
        if _KEY_VARIABLE.search(name) and len(value) >= 6:
            text = text.replace(value, REDACTED)
    return text


def shown_recipe(recipe: Recipe) -> str:
    """The recipe's text as the report and the card show it: the inline `rows:` of a
    `private: true` seed are withheld (replaced by their count), since those rows are
    exactly what must not be published."""
    lines = recipe.path.read_text(encoding="utf-8").splitlines()
    spans = []
    for name, step in recipe.steps.items():
        where = recipe.positions.get(f"steps.{name}.rows")
        if step.kind != "seed" or not step.config.get("private") or where is None:
            continue
        key = next((i for i in range(where.line - 1, -1, -1) if "rows:" in lines[i]), None)
        if key is None:
            continue
        indent = len(lines[key]) - len(lines[key].lstrip())
        end = key + 1
        while end < len(lines) and _inside(lines[end], indent):
            end += 1
        count = len(step.config.get("rows") or ())
        spans.append((key, end, " " * indent + f"rows: []  # {count} private rows withheld"))
    for key, end, replacement in sorted(spans, reverse=True):
        lines[key:end] = [replacement]
    return "\n".join(lines) + "\n"


def _inside(line: str, indent: int) -> bool:
    """Whether `line` continues a block value whose key is indented by `indent`."""
    depth = len(line) - len(line.lstrip())
    return not line.strip() or depth > indent or (depth == indent and line.lstrip()[:2] == "- ")
