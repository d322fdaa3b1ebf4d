"""The one attempt loop: completions and embeddings both send through `attempt`, under
the model's limiter, retrying transient and rate-limited failures with jittered
exponential backoff (a server's Retry-After is a floor) until one succeeds, a fatal
failure arrives, or the attempts run out.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from synthc.llm.calls import FATAL, RATE_LIMITED
from synthc.llm.limits import ModelLimiter
from synthc.llm.transport import CallFailure

T = TypeVar("T")
MAX_RETRY_AFTER = 120.0  # seconds: a longer Retry-After is treated as this


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one call is retried."""

    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Jittered exponential backoff; a server's Retry-After is a floor."""
        delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        delay *= random.uniform(0.5, 1.5)
        if retry_after is not None:
            # Honoured beyond backoff_max (the server knows best), within reason.
            delay = max(delay, min(retry_after, max(self.backoff_max, MAX_RETRY_AFTER)))
        return delay


@dataclass(frozen=True)
class Attempted(Generic[T]):
    """What `attempt` ended with: a value, or the last failure; and how many tries."""

    value: T | None
    failure: CallFailure | None
    attempts: int


async def attempt(
    send: Callable[[], Awaitable[tuple[T, int]]],
    limiter: ModelLimiter,
    estimate: int,
    policy: RetryPolicy,
) -> Attempted[T]:
    """Run `send` (which returns its value and the tokens it used) under `limiter`,
    reserving `estimate` tokens per try, until it succeeds or may not be retried."""
    for tries in range(1, policy.max_attempts + 1):
        await limiter.enter(estimate)
        used = estimate
        try:
            value, used = await send()
        except CallFailure as failure:
            await limiter.leave(estimate, used)
            if failure.kind == FATAL or tries == policy.max_attempts:
                return Attempted(None, failure, tries)
            if failure.kind == RATE_LIMITED:
                limiter.slots.rate_limited()
            await asyncio.sleep(policy.delay(tries, failure.retry_after))
            continue
        await limiter.leave(estimate, used)
        limiter.slots.succeeded()
        return Attempted(value, None, tries)
    raise AssertionError("unreachable: the last try returns")
