"""The one attempt loop: completions and embeddings both send through `attempt`, under
the model's limiter, retrying rate-limited and transient failures with jittered
exponential backoff (a server's Retry-After is a floor) until one succeeds, a failure
that may not be retried arrives, or the call's deadline would pass. The backoff grows
with the model's run of failed requests (capped by the call's own tries): a provider
that is down or rate-limiting backs everyone off, a random fault costs one short wait.

Never retried: fatal failures (they also stop the model's other calls, see
`synthc.llm.health`) and answers the provider sent but nobody could read
(`UNREADABLE`): the provider may have billed them, so asking again pays twice.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from synthc.llm.calls import FATAL, RATE_LIMITED, UNREADABLE
from synthc.llm.limits import ModelLimiter
from synthc.llm.transport import CallFailure

T = TypeVar("T")
DEADLINE_S = 300.0  # a call keeps retrying rate limits and 5xx for this long
TIMEOUT_S = 120.0  # one request may take this long
MAX_RETRY_AFTER = 120.0  # seconds: a longer Retry-After is treated as this


@dataclass(frozen=True)
class RetryPolicy:
    """How patiently one call is retried: until `deadline_s` after its first request
    (and at most `max_attempts` requests, when set)."""

    max_attempts: int | None = None
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    deadline_s: float = DEADLINE_S

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with full jitter (uniform up to the exponential step, so
        retries spread out and average half of it); a server's Retry-After is a floor."""
        delay = min(self.backoff_max, self.backoff_base * 2 ** min(attempt - 1, 30))
        delay *= random.uniform(0.1, 1.0)
        if retry_after is not None:
            # Honoured beyond backoff_max (the server knows best), within reason.
            delay = max(delay, min(retry_after, max(self.backoff_max, MAX_RETRY_AFTER)))
        return delay


@dataclass(frozen=True)
class Attempted(Generic[T]):
    """What `attempt` ended with: a value, or the last failure; how many requests were
    sent, the seconds spent waiting for the limiter and the last request's latency."""

    value: T | None
    failure: CallFailure | None
    attempts: int
    queued_s: float = 0.0
    latency_s: float = 0.0


async def attempt(
    send: Callable[[], Awaitable[tuple[T, int]]],
    limiter: ModelLimiter,
    estimate: int,
    policy: RetryPolicy,
    admit: Callable[[], CallFailure | None] | None = None,
) -> Attempted[T]:
    """Run `send` (which returns its value and the tokens it used) under `limiter`,
    booking `estimate` tokens per request, until it succeeds or may not be retried.
    `admit` is asked once, when the first request may go (the budget decides then,
    with what is known by then); a failure it returns ends the call unsent."""
    tries, queued, latency = 0, 0.0, 0.0
    deadline: float | None = None
    while True:
        if limiter.health.stopped is not None:
            return Attempted(None, CallFailure(*limiter.health.stopped), tries, queued, latency)
        ticket = await limiter.enter(estimate)
        queued += ticket.queued_s
        if limiter.health.stopped is not None:  # it stopped while this call waited
            limiter.leave(ticket, None)
            continue
        refused = admit() if admit is not None and tries == 0 else None
        if refused is not None:
            limiter.leave(ticket, 0)
            return Attempted(None, refused, 0, queued)
        tries += 1
        sent = time.monotonic()
        deadline = deadline or sent + policy.deadline_s
        try:
            value, used = await send()
        except CallFailure as failure:
            latency = time.monotonic() - sent
            limiter.leave(ticket, None)
            limiter.health.failed(failure.kind, failure.error_class, failure.message)
            if failure.kind == RATE_LIMITED:
                limiter.rate_limited(ticket, failure.retry_after)
            else:
                limiter.slots.came_back()
            # Back off by the evidence of trouble at the provider, not one row's bad luck:
            # the exponent is the model's run of failures, capped by this call's tries.
            trouble = min(tries, limiter.health.failures_in_row)
            delay = policy.delay(max(1, trouble), failure.retry_after)
            final = failure.kind in (FATAL, UNREADABLE) or tries == policy.max_attempts
            if final or time.monotonic() + delay > deadline:
                return Attempted(None, failure, tries, queued, latency)
            if failure.kind == RATE_LIMITED:
                await limiter.wait_for_rate_limit(delay)
            else:
                await asyncio.sleep(delay)
            continue
        latency = time.monotonic() - sent
        limiter.leave(ticket, used)
        limiter.slots.succeeded()
        limiter.health.succeeded()
        return Attempted(value, None, tries, queued, latency)
