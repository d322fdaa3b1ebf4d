"""The errors synthc raises. Everything a user can fix is a SynthcError: the CLI
prints its message and exits 2 (no traceback unless --debug)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where something is in a recipe file (1-based line and column)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a recipe: where, at which recipe path, and what."""

    location: Location | None
    path: str  # dotted path inside the recipe, e.g. "steps.answers.n"; "" for the whole file
    message: str

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        at = f"{self.path}: " if self.path else ""
        return f"{where}{at}{self.message}"


def sorted_problems(problems: Sequence[Problem]) -> list[Problem]:
    """One copy of each problem, ordered by where it is written (file-level ones first)."""

    def order(problem: Problem) -> tuple[int, int, str, str]:
        where = problem.location
        return (
            where.line if where else 0,
            where.col if where else 0,
            problem.path,
            problem.message,
        )

    return sorted(set(problems), key=order)


class SynthcError(Exception):
    """Base of every error a user can act on."""

    exit_code = 2


class RecipeError(SynthcError):
    """A recipe is malformed. Carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class PlanError(SynthcError):
    """The recipe is well-formed but cannot be compiled into a plan."""


class StepFailed(SynthcError):
    """A step raised while running. Finished steps and paid calls are kept."""

    exit_code = 1

    def __init__(self, step: str, message: str):
        self.step = step
        super().__init__(f"step '{step}' failed: {message}")


class StoreError(SynthcError):
    """The on-disk state (.synthc/, recipe.lock, DuckDB) cannot be read or written."""


class BuildLocked(StoreError):
    """Another build holds the workdir lock."""
