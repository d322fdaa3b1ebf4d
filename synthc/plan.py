"""Compile a Recipe into a Plan: an ordered tuple of small passes `Plan -> Plan`.

`compile_plan(recipe, state)` is pure: it reads no files but through `state` hints and
the recipe's referenced files' hashes, and never calls a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from synthc.fingerprint import fingerprint
from synthc.lock import LockState
from synthc.recipe import Recipe, Step

FRESH, STALE, MISSING = "fresh", "stale", "missing"


@dataclass(frozen=True)
class PlannedStep:
    name: str
    kind: str
    step: Step
    inputs: tuple[str, ...]
    config: Mapping[str, Any] = field(default_factory=dict)  # defaults applied
    model: str | None = None  # model identity for the cache and fingerprint
    columns: tuple[str, ...] | None = None  # output columns, where known before running
    files: Mapping[str, str] = field(default_factory=dict)  # path as written -> sha256
    config_fingerprint: str = ""
    fingerprint: str | None = None  # None while an upstream step is not fresh
    status: str = MISSING
    stale_reason: str | None = None


@dataclass(frozen=True)
class Plan:
    recipe: Recipe
    steps: tuple[PlannedStep, ...]  # topological order, ties broken by name

    def step(self, name: str) -> PlannedStep:
        for planned in self.steps:
            if planned.name == name:
                return planned
        raise KeyError(name)


def step_fingerprint(config_fingerprint: str, upstream: Mapping[str, str]) -> str:
    """A step's full fingerprint: its own config plus the data versions it reads.

    The executor calls this after upstream steps have run, so a re-run upstream step
    whose rows did not change leaves this step fresh (early cutoff).
    """
    return fingerprint({"config": config_fingerprint, "upstream": dict(upstream)})


def compile_plan(recipe: Recipe, state: LockState | None = None) -> Plan:
    raise NotImplementedError
