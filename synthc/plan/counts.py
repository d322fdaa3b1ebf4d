"""Row and call counts a plan can promise before its inputs exist: bounds propagated
through the steps by kind.

A step's rows and calls are a `Bounds(low, high)`; `high` is None when no upper bound
is known (an `explode`, a sql query). The bounds assume each call is answered; JSON
answers may take up to `MAX_REPAIRS` follow-up calls each, which only the upper bound
counts. `plan` prints them labelled exact, ≥ or as a range, never as a bare number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from synthc.steps._methods import MAX_REPAIRS
from synthc.steps.self_instruct import TASKS_PER_REQUEST


@dataclass(frozen=True)
class Bounds:
    """At least `low`, at most `high` (None: no upper bound known)."""

    low: int
    high: int | None

    @classmethod
    def exactly(cls, count: int) -> Bounds:
        return cls(count, count)

    @property
    def exact(self) -> bool:
        return self.low == self.high

    def times(self, factor: int) -> Bounds:
        return Bounds(self.low * factor, None if self.high is None else self.high * factor)

    def plus(self, other: Bounds) -> Bounds:
        high = None if self.high is None or other.high is None else self.high + other.high
        return Bounds(self.low + other.low, high)

    def at_most(self) -> Bounds:
        """From none up to this many (a filter, a dedup)."""
        return Bounds(0, self.high)

    def with_repairs(self) -> Bounds:
        """Calls whose JSON answers may each take `MAX_REPAIRS` more."""
        return Bounds(self.low, None if self.high is None else self.high * (1 + MAX_REPAIRS))

    def describe(self) -> str:
        if self.exact:
            return str(self.low)
        if self.high is None:
            return f"≥{self.low}"
        return f"{self.low}–{self.high}"


UNKNOWN = Bounds(0, None)


def step_rows(kind: str, config: Mapping[str, Any], inputs: Sequence[Bounds]) -> Bounds:
    """The rows a step outputs, from the rows of its inputs (in `from:` order)."""
    rows = inputs[0] if len(inputs) == 1 else None
    if kind in ("judge", "distill") and rows is not None:
        return rows
    if kind == "generate" and rows is not None:
        return UNKNOWN if config.get("explode") else rows.times(_int(config, "n", 1))
    if kind in ("filter", "dedup") and rows is not None:
        return rows.at_most()
    if kind == "augment" and rows is not None:
        kept = 1 if config.get("keep_original", True) else 0
        llm, other = _augment_variants(config)
        return Bounds(rows.low * (kept + llm), _mul(rows.high, kept + llm + other))
    if kind == "adversarial":
        return Bounds(0, _mul(_batches(config, inputs).high, _int(config, "per_category", 10)))
    if kind == "self_instruct":
        return Bounds(0, _self_instruct_tasks(config, inputs))
    return UNKNOWN


def step_calls(kind: str, config: Mapping[str, Any], inputs: Sequence[Bounds]) -> Bounds:
    """The model calls a step makes (cached or not), from the rows of its inputs."""
    rows = inputs[0] if len(inputs) == 1 else UNKNOWN
    if kind == "generate":
        calls = rows.times(_int(config, "n", 1))
        return calls.with_repairs() if config.get("parse") == "json" else calls
    if kind == "judge":
        judges = config.get("judges")
        return rows.times(len(judges) if isinstance(judges, list) and judges else 1).with_repairs()
    if kind == "distill":
        return rows.times(2 if config.get("student") else 1)
    if kind == "augment":
        return rows.times(_augment_variants(config)[0])
    if kind == "adversarial":
        batches = _batches(config, inputs)
        prompts = Bounds(0, _mul(batches.high, _int(config, "per_category", 10)))
        calls = batches
        if config.get("target"):
            calls = calls.plus(prompts)
        if config.get("judge"):
            calls = calls.plus(prompts.with_repairs())
        return calls
    if kind == "self_instruct":
        return _self_instruct_calls(config, inputs)
    return Bounds.exactly(0)


def _int(config: Mapping[str, Any], name: str, default: int) -> int:
    value = config.get(name, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _mul(high: int | None, factor: int) -> int | None:
    return None if high is None else high * factor


def _augment_variants(config: Mapping[str, Any]) -> tuple[int, int]:
    """(variants per row from model calls, variants per row without calls)."""
    llm = other = 0
    for op in config.get("ops") or []:
        for name, settings in op.items() if isinstance(op, Mapping) else ():
            settings = settings if isinstance(settings, Mapping) else {}
            if name == "paraphrase":
                llm += _int(settings, "n", 1)
            elif name == "translate":
                targets = settings.get("to")
                llm += len(targets) if isinstance(targets, list) else 1
            elif name == "reformat":
                llm += 1
            else:
                other += 1
    return llm, other


def _batches(config: Mapping[str, Any], inputs: Sequence[Bounds]) -> Bounds:
    """Adversarial generation calls: one per category, per upstream row if any."""
    categories = config.get("categories")
    count = len(categories) if isinstance(categories, list) else 1
    rows = inputs[0] if len(inputs) == 1 else Bounds.exactly(1)
    return rows.times(count)


def _self_instruct_tasks(config: Mapping[str, Any], inputs: Sequence[Bounds]) -> int | None:
    """Most new tasks: every request's tasks accepted, capped by `target`."""
    per_request = math.ceil(_int(config, "per_round", 20) / TASKS_PER_REQUEST)
    most = _int(config, "rounds", 1) * per_request * TASKS_PER_REQUEST
    target = config.get("target")
    if isinstance(target, int) and inputs:
        most = min(most, max(0, target - inputs[0].low))
    return most


def _self_instruct_calls(config: Mapping[str, Any], inputs: Sequence[Bounds]) -> Bounds:
    per_request = math.ceil(_int(config, "per_round", 20) / TASKS_PER_REQUEST)
    rounds = _int(config, "rounds", 1)
    target = config.get("target")
    seeds = inputs[0] if inputs else Bounds.exactly(0)
    if isinstance(target, int) and seeds.high is not None and seeds.high >= target:
        return Bounds.exactly(0) if seeds.low >= target else Bounds(0, rounds * per_request)
    # Every round runs unless `target` is reached; the first always does (seeds fall short).
    first = per_request if isinstance(target, int) else rounds * per_request
    calls = Bounds(first, rounds * per_request)
    extra = sum(1 for name in ("with_input", "with_output") if config.get(name))
    tasks = _self_instruct_tasks(config, inputs)
    return calls.plus(Bounds(0, _mul(tasks, extra))) if extra else calls
