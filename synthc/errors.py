"""The errors synthc raises. Everything a user can fix is a SynthcError: the CLI
prints its message and exits 2 (no traceback unless --debug)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


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

    def __init__(self, step: str, message: str, exit_code: int = 1):
        self.step = step
        self.exit_code = exit_code  # 2 when the user's input is at fault (a data file)
        super().__init__(f"step '{step}' failed: {message}")


class BatchPending(SynthcError):
    """`synthc build --no-wait` submitted model calls to a provider's batch API (or found
    them still running there): everything else is kept, and a later build collects the
    answers without submitting them again. Exit code 75 (EX_TEMPFAIL: try again later)."""

    exit_code = 75

    def __init__(self, message: str, calls: int, batches: tuple[str, ...]):
        super().__init__(message)
        self.calls = calls
        self.batches = batches


class StoreError(SynthcError):
    """The on-disk state (.synthc/<recipe>/, recipe.lock, DuckDB) cannot be read or written."""


class EnvironmentFailure(StoreError):
    """The machine failed under synthc (a full disk, a damaged cache file): the state on
    disk is left consistent, and the message says what to do."""


class DiskFull(EnvironmentFailure):
    """A write failed because its filesystem is full."""

    @classmethod
    def check(cls, path: Path, exc: BaseException, needed: int | None = None) -> DiskFull | None:
        """A DiskFull for a write to `path` that raised `exc`, when the disk is the cause:
        ENOSPC / EDQUOT, or (for libraries that hide errno, such as DuckDB and polars)
        a filesystem with less room left than the write needed."""
        import errno
        import shutil

        if isinstance(exc, DiskFull):
            return exc
        full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
        if not full:
            folder = next((p for p in (path, *path.parents) if p.exists()), None)
            try:
                free = shutil.disk_usage(folder).free if folder is not None else None
            except OSError:
                free = None
            full = free is not None and free < max(needed or 0, _NEARLY_FULL)
        if not full:
            return None
        need = f" ({needed / 1e6:.1f} MB needed)" if needed else ""
        return cls(
            f"No space left on device while writing {path}{need}; free some space and run "
            "again (finished steps and paid calls are kept)"
        )


_NEARLY_FULL = 256 * 1024  # below this much free space a failed write is a full disk


class CacheDamaged(EnvironmentFailure):
    """The call cache's database cannot be read."""


class BuildLocked(StoreError):
    """Another build holds the workdir lock."""


class DataFileError(SynthcError, ValueError):
    """A user's data file cannot be read faithfully. The message names the file and,
    where the reader knows it, the line or row. A ValueError too, as the reader's
    errors were before: callers that skip an unreadable file keep doing so."""
