"""The plan's data model: `PlannedStep`, `Plan`, the step statuses, the full step
fingerprint, and `CallEstimate` (what `plan` says a stale step will call). Plain
frozen data; the compiler (`synthc.plan.compile`) fills it in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from synthc.errors import Problem
from synthc.fingerprint import fingerprint
from synthc.recipe.load import Recipe, Step
from synthc.store.exports import ExportStatus
from synthc.store.lock import LockState

FRESH, STALE, MISSING = "fresh", "stale", "missing"


@dataclass(frozen=True)
class PlannedStep:
    name: str
    kind: str
    step: Step
    inputs: tuple[str, ...]  # upstream steps whose rows this step reads (`from`, `against`)
    config: Mapping[str, Any] = field(default_factory=dict)  # defaults applied
    model: str | None = None  # model identity for the cache and fingerprint
    models: Mapping[str, str] = field(default_factory=dict)  # other model fields -> identity
    # other models by name as written -> the params their calls are sent with, layered
    # once here (recipe, alias, step) so a changed alias param makes the step stale
    model_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    columns: tuple[str, ...] | None = None  # output columns, where known before running
    # fields whose column references wait for the build: an input's columns are unknown
    unchecked: tuple[str, ...] = ()
    files: Mapping[str, str] = field(default_factory=dict)  # path as written -> sha256
    # files the step's checks compare against: not part of the step's fingerprint (a gate
    # never changes data), but a changed one re-evaluates the gates
    check_files: Mapping[str, str] = field(default_factory=dict)
    config_fingerprint: str = ""
    fingerprint: str | None = None  # None while an upstream step is not fresh
    status: str = MISSING
    stale_reason: str | None = None
    checks_stale: bool = False  # fresh, but its gates will be re-evaluated (checks changed)


@dataclass(frozen=True)
class Plan:
    recipe: Recipe
    steps: tuple[PlannedStep, ...]  # topological order, ties broken by name
    state: LockState = field(default_factory=LockState)
    # file -> {size, mtime_ns, sha256}; the executor saves it in the lock
    file_hints: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # export targets of fresh steps whose files are not what the lock says they hold
    # (exports of stale steps are rewritten with their step anyway)
    stale_exports: tuple[ExportStatus, ...] = ()
    # problems the checking passes found; `compile_plan` raises them all at once
    problems: tuple[Problem, ...] = ()
    # steps that did not load (their problems were reported by the loader): their
    # columns are unknown, and naming them in `from:` is not a further problem
    broken: frozenset[str] = frozenset()

    def step(self, name: str) -> PlannedStep:
        for planned in self.steps:
            if planned.name == name:
                return planned
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.steps)

    def with_steps(self, steps: Mapping[str, PlannedStep]) -> Plan:
        return replace(self, steps=tuple(steps[p.name] for p in self.steps))

    def with_problems(self, problems: Sequence[Problem]) -> Plan:
        return replace(self, problems=(*self.problems, *problems))


Pass = Callable[[Plan], Plan]


def step_fingerprint(config_fingerprint: str, upstream: Mapping[str, str]) -> str:
    """A step's full fingerprint: its own config plus the data versions it reads.

    The executor calls this after upstream steps have run, so a re-run upstream step
    whose rows did not change leaves this step fresh (early cutoff).
    """
    return fingerprint({"config": config_fingerprint, "upstream": dict(upstream)})


NOT_CALLED = "not called: estimating"


@dataclass
class CallEstimate:
    """One step's model calls in a build: cached, to make, and what those would cost.

    `to_make` is a lower bound and `to_make_max` an upper one (None: no upper bound
    known); they are equal when the count is exact. Tokens and dollars carry bounds
    (`tokens`/`usd`: the fewest calls answering with nothing; `*_max`: the most calls
    answering up to `max_tokens`) and an expectation between them (`*_expected`: the
    fewest calls at the expected answer length). None where unknown: no prompt of the
    step can be rendered yet.
    """

    step: str
    cached: int = 0
    to_make: int = 0
    to_make_max: int | None = 0
    tokens: int | None = 0  # estimated prompt + completion tokens of the calls to make
    tokens_max: int | None = 0
    usd: float | None = 0.0  # None when a model is not in litellm's price table
    usd_max: float | None = 0.0
    tokens_expected: int | None = 0
    usd_expected: float | None = 0.0
    note: str | None = None  # why there is no estimate, when there is none
    pending: int = 0  # calls submitted in provider batches, not answered yet (not to make)
    batches: tuple[str, ...] = ()  # the batches carrying them

    @property
    def exact(self) -> bool:
        return self.note is None and self.to_make_max == self.to_make

    def describe(self) -> str:
        if self.note:
            return self.note
        if self.exact and not self.to_make:
            return f"{self.cached} cached, 0 to make{self.pending_note()}"
        calls = span(self.to_make, self.to_make_max, str)
        tokens = "?" if self.tokens_expected is None else str(self.tokens_expected)
        return (f"{self.cached} cached, {calls} to make (~{tokens} tokens, {self.cost})"
                f"{self.pending_note()}")  # fmt: skip

    @property
    def cost(self) -> str:
        return cost_text(self.usd, self.usd_expected, self.usd_max)

    def pending_note(self) -> str:
        """ ", N calls pending in batch(es) ..." when some are; a build collects them."""
        if not self.pending:
            return ""
        shown = ", ".join(self.batches[:3]) + (", ..." if len(self.batches) > 3 else "")
        return f", {self.pending} calls pending in batch(es) {shown}"


def span(low: Any, high: Any, show: Callable[[Any], str]) -> str:
    """ "5", "5–9" or "≥5"; "?" when even the lower figure is unknown."""
    if low is None:
        return "?"
    if high == low:
        return show(low)
    return f"≥{show(low)}" if high is None else f"{show(low)}–{show(high)}"


def cost_text(low: float | None, expected: float | None, high: float | None) -> str:
    """ "~$0.0020 expected, $0.0004–$0.0051": the expectation, then the bounds."""
    if low is None:
        return "cost not known"
    bounds = span(low, high, lambda usd: f"${usd:.4f}")
    if expected is None or high == low:
        return bounds
    return f"~${expected:.4f} expected, {bounds}"
