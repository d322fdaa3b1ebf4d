"""Progress reporting. `build()` receives a Reporter; steps report through their context.

Three implementations: `NullReporter` (library use), `ConsoleReporter` (rich, on
stderr, used by the CLI) and `RecordingReporter` (tests assert on what was reported).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Protocol


class Reporter(Protocol):
    def step_started(self, step: str, kind: str, total: int | None = None) -> None: ...
    def advance(self, step: str, n: int = 1) -> None: ...
    def step_finished(self, step: str, summary: str) -> None: ...
    def step_skipped(self, step: str, reason: str) -> None: ...
    def message(self, text: str) -> None: ...
    def warning(self, text: str) -> None: ...
    def error(self, text: str) -> None: ...


class NullReporter:
    def step_started(self, step: str, kind: str, total: int | None = None) -> None:
        pass

    def advance(self, step: str, n: int = 1) -> None:
        pass

    def step_finished(self, step: str, summary: str) -> None:
        pass

    def step_skipped(self, step: str, reason: str) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def warning(self, text: str) -> None:
        pass

    def error(self, text: str) -> None:
        pass


@dataclass
class RecordingReporter:
    """Keeps every event as a tuple, for tests."""

    events: list[tuple[Any, ...]] = field(default_factory=list)

    def step_started(self, step: str, kind: str, total: int | None = None) -> None:
        self.events.append(("started", step, kind, total))

    def advance(self, step: str, n: int = 1) -> None:
        self.events.append(("advance", step, n))

    def step_finished(self, step: str, summary: str) -> None:
        self.events.append(("finished", step, summary))

    def step_skipped(self, step: str, reason: str) -> None:
        self.events.append(("skipped", step, reason))

    def message(self, text: str) -> None:
        self.events.append(("message", text))

    def warning(self, text: str) -> None:
        self.events.append(("warning", text))

    def error(self, text: str) -> None:
        self.events.append(("error", text))

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        return [e for e in self.events if e[0] == kind]


class ConsoleReporter:
    """Progress on stderr with rich: a bar per step that knows its total, a line per event."""

    def __init__(self, quiet: bool = False) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.quiet = quiet
        self.warnings = 0  # counted for the build's summary line
        self.console = Console(stderr=True, highlight=False)
        self._progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            disable=quiet or not self.console.is_terminal,
        )
        self._tasks: dict[str, Any] = {}
        self._started: dict[str, float] = {}

    def step_started(self, step: str, kind: str, total: int | None = None) -> None:
        self._started[step] = time.perf_counter()
        if not self._progress.live.is_started and not self._progress.disable:
            self._progress.start()
        self._tasks[step] = self._progress.add_task(f"{step} ({kind})", total=total)

    def advance(self, step: str, n: int = 1) -> None:
        task = self._tasks.get(step)
        if task is not None:
            self._progress.advance(task, n)

    def step_finished(self, step: str, summary: str) -> None:
        task = self._tasks.pop(step, None)
        if task is not None:
            self._progress.remove_task(task)
        seconds = time.perf_counter() - self._started.pop(step, time.perf_counter())
        if not self.quiet:
            self.console.print(f"[green]built[/] {step}: {summary} [dim]({seconds:.2f}s)[/]")
        if not self._tasks and self._progress.live.is_started:
            self._progress.stop()

    def step_skipped(self, step: str, reason: str) -> None:
        if not self.quiet:
            self.console.print(f"[dim]fresh[/] {step}: {reason}")

    def message(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text)

    def warning(self, text: str) -> None:
        self.warnings += 1
        self.console.print(f"[yellow]warning:[/] {text}", soft_wrap=True)  # one line: greppable

    def error(self, text: str) -> None:
        """Something that fails the build (exit 1) but lets the rest of it finish."""
        self.console.print(f"[red]error:[/] {text}", soft_wrap=True)


def stderr_line(text: str) -> None:
    print(text, file=sys.stderr)
