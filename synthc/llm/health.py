"""Whether a model's calls may still be sent.

Two ways a model stops for the rest of a run, each with one message instead of N x
attempts: a fatal error (not found, bad request, authentication, unknown provider,
context length) stops it at the first occurrence; the circuit breaker opens when the
model's recent requests all failed the same way (a dead endpoint, a uniform 401, a
hung server) and none has succeeded for a while. Rate limits never open it.
"""

from __future__ import annotations

import time

from synthc.llm.calls import FATAL, TRANSIENT

BREAKER_STREAK = 10  # this many requests in a row failing the same way ...
BREAKER_QUIET_S = 30.0  # ... with no success for this long (or ever) opens the breaker


class ModelHealth:
    """Counts one model's failures; `stopped` says why its calls may no longer be sent."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.stopped: tuple[str, str, str] | None = None  # (kind, error class, message)
        self.reported = False  # whether the stop was told to the user yet
        self.failures_in_row = 0  # requests to the model that failed since its last success
        self._streak_class: str | None = None
        self._streak = 0
        self._last_success: float | None = None

    def succeeded(self) -> None:
        self._streak = 0
        self.failures_in_row = 0
        self._last_success = time.monotonic()

    def failed(self, kind: str, error_class: str, message: str) -> None:
        """Record a failed request; may stop the model."""
        self.failures_in_row += 1
        if self.stopped is not None:
            return
        if kind == FATAL:
            self.stopped = (kind, error_class, f"{self.name}: {error_class}: {message}; "
                            "its remaining calls were not sent")  # fmt: skip
            return
        if kind != TRANSIENT:
            return
        if error_class == self._streak_class:
            self._streak += 1
        else:
            self._streak_class, self._streak = error_class, 1
        quiet = self._last_success is None or (
            time.monotonic() - self._last_success >= BREAKER_QUIET_S
        )
        if self._streak >= BREAKER_STREAK and quiet:
            self.stopped = (kind, error_class, (
                f"{self.name}: the last {self._streak} requests all failed with {error_class} "
                f"({message}); its remaining calls were not sent (circuit breaker)"))  # fmt: skip
