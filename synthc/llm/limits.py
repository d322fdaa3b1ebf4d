"""Per-model limits: concurrency (lowered adaptively on 429), requests/min and tokens/min.

All of it runs on one asyncio event loop, so no locks beyond asyncio's own.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_CONCURRENCY = 16
LOCAL_CONCURRENCY = 1


@dataclass(frozen=True)
class ModelLimits:
    """`limits:` for one model. None means unlimited."""

    concurrency: int = DEFAULT_CONCURRENCY
    rpm: float | None = None
    tpm: float | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None, default_concurrency: int) -> ModelLimits:
        config = config or {}
        return cls(
            concurrency=int(config.get("concurrency") or default_concurrency),
            rpm=config.get("rpm"),
            tpm=config.get("tpm"),
        )


class TokenBucket:
    """Refills at `per_minute / 60` per second up to `per_minute`; `take` waits for room."""

    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.level = self.capacity
        self.stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    async def take(self, amount: float) -> None:
        amount = min(amount, self.capacity)  # one huge call must still be able to go
        while True:
            self._refill()
            if self.level >= amount:
                self.level -= amount
                return
            await asyncio.sleep((amount - self.level) / self.rate)

    def give_back(self, amount: float) -> None:
        """Return an over-estimate (tokens reserved but not used)."""
        self._refill()
        self.level = min(self.capacity, self.level + amount)


class AdaptiveSemaphore:
    """A semaphore whose limit halves on a rate-limit signal and creeps back up on success."""

    def __init__(self, limit: int) -> None:
        self.ceiling = max(1, limit)
        self.limit = float(self.ceiling)
        self.in_flight = 0
        self._queue: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.in_flight < int(self.limit) and not self._queue:
            self.in_flight += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(waiter)
        await waiter  # the slot is counted by whoever wakes us

    def release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._queue and self.in_flight < int(self.limit):
            waiter = self._queue.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    def rate_limited(self) -> None:
        """A 429 arrived: halve the concurrency (never below 1)."""
        self.limit = max(1.0, self.limit / 2)

    def succeeded(self) -> None:
        """Additive increase: one more slot per `limit` successes, up to the ceiling."""
        if self.limit < self.ceiling:
            self.limit = min(float(self.ceiling), self.limit + 1.0 / self.limit)
            self._wake()


class ModelLimiter:
    """Everything that gates one model's calls: slots, request bucket, token bucket."""

    def __init__(self, limits: ModelLimits) -> None:
        self.limits = limits
        self.slots = AdaptiveSemaphore(limits.concurrency)
        self.requests = TokenBucket(limits.rpm) if limits.rpm else None
        self.tokens = TokenBucket(limits.tpm) if limits.tpm else None

    async def enter(self, estimated_tokens: int) -> None:
        await self.slots.acquire()
        if self.requests is not None:
            await self.requests.take(1)
        if self.tokens is not None:
            await self.tokens.take(estimated_tokens)

    async def leave(self, estimated_tokens: int, used_tokens: int) -> None:
        if self.tokens is not None and used_tokens < estimated_tokens:
            self.tokens.give_back(estimated_tokens - used_tokens)
        self.slots.release()
