"""Per-model limits and the state every call to one model shares: a concurrency window
that adapts like TCP's congestion window, hard request and token windows that start
empty and pace, the pause a 429's Retry-After asks for, and the model's health.

All of it runs on one asyncio event loop, so no locks: a window reservation is computed
synchronously (the caller then sleeps until its turn), which also keeps it FIFO. The
windows and the pause (`RateWindows`) can instead be shared by several processes: the
Ray executor keeps one per model in an actor, so a limit holds across a cluster.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from synthc.llm.health import ModelHealth

DEFAULT_CONCURRENCY = 16
LOCAL_CONCURRENCY = 1
WINDOW_S = 60.0  # providers count rpm and tpm over a minute
# The client's clock is not the server's: a request admitted at t arrives a little later,
# so the client counts over a slightly longer window than the provider does.
WINDOW_SLACK = 0.02  # share of the window
WINDOW_SLACK_S = 0.25  # plus this many seconds (a busy event loop sends a little late)
BURST_SHARE = 0.1  # pacing lets this share of the quota go at once
# Concurrency: a decrease needs the recent share of 429s above this (a steady trickle of
# random 429s is not an overload), averaged with this weight per answer.
OVERLOAD_SHARE = 0.3
OVERLOAD_WEIGHT = 0.05
NOTICE_EVERY_S = 5.0  # at most one "waiting for rate limit" line per model this often


@dataclass(frozen=True)
class ModelLimits:
    """`limits:` for one model. None means unlimited (or the client's default)."""

    concurrency: int = DEFAULT_CONCURRENCY
    rpm: float | None = None
    tpm: float | None = None
    window_s: float = WINDOW_S
    deadline_s: float | None = None
    timeout_s: float | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None, default_concurrency: int) -> ModelLimits:
        config = config or {}
        return cls(
            concurrency=int(config.get("concurrency") or default_concurrency),
            rpm=config.get("rpm"),
            tpm=config.get("tpm"),
            window_s=float(config.get("window_s") or WINDOW_S),
            deadline_s=config.get("deadline_s"),
            timeout_s=config.get("timeout_s"),
        )


class _Entry:
    __slots__ = ("amount", "at", "live")

    def __init__(self, at: float, amount: float) -> None:
        self.at, self.amount, self.live = at, amount, True


class SlidingWindow:
    """At most `capacity` units (requests or tokens) in any `window_s` seconds.

    A log of admissions makes the cap exact, not an average (a full token bucket lets
    twice the quota through in the first minute). Admissions are also paced, GCRA-style,
    at `window_s / capacity` per unit beyond a burst of `BURST_SHARE` of the quota, so
    the quota is spread over the window instead of spent in its first second.
    """

    def __init__(self, capacity: float, window_s: float = WINDOW_S) -> None:
        self.capacity = float(capacity)
        self.window = window_s * (1 + WINDOW_SLACK) + WINDOW_SLACK_S
        self.interval = window_s / self.capacity
        self.tolerance = max(1.0, self.capacity * BURST_SHARE) * self.interval
        self.log: deque[_Entry] = deque()
        self.total = 0.0
        self.last = 0.0  # the latest admission time handed out (they never go backwards)
        self.arrival = time.monotonic()  # GCRA's theoretical arrival time: starts empty

    def reserve(self, amount: float, now: float) -> tuple[_Entry, float]:
        """Book `amount` at the earliest time the window and the pacing allow; returns
        the booking and that time (the caller sleeps until then)."""
        amount = min(float(amount), self.capacity)  # one huge call must still be able to go
        at = max(now, self.last, self.arrival - self.tolerance)
        self._expire(at)
        while self.total + amount > self.capacity:
            oldest = self.log.popleft()
            self.total -= oldest.amount
            oldest.live = False
            at = max(at, oldest.at + self.window)
            self._expire(at)
        entry = _Entry(at, amount)
        self.log.append(entry)
        self.total += amount
        self.last = at
        self.arrival = max(self.arrival, at) + amount * self.interval
        return entry, at

    def settle(self, entry: _Entry, amount: float) -> None:
        """Replace a booking's estimate by what was really used."""
        if entry.live:
            self.total += amount - entry.amount
            entry.amount = amount

    def postpone(self, entry: _Entry, at: float) -> None:
        """Move the latest booking later (another window made the request wait)."""
        if entry is self.log[-1] and at > entry.at:
            entry.at = self.last = at

    def _expire(self, at: float) -> None:
        while self.log and self.log[0].at <= at - self.window:
            gone = self.log.popleft()
            gone.live = False
            self.total -= gone.amount


class AdaptiveSemaphore:
    """A concurrency window that adapts like TCP's: additive increase (one slot per
    window of successes), multiplicative decrease on overload, at most once per window
    of requests in flight (a burst of 429s from one overload is one signal).

    With `slow_start` the window opens at one request and grows by one per request that
    comes back without a 429 (doubling per round trip) up to the ceiling, so a model
    that cannot work (a typo, a bad key) costs one request, not a full window of them.
    With `open_on_answer` too (the user declared the ceiling in `limits:`), the first
    answer opens the window to the ceiling at once: the model works, and the user said
    how many calls it takes; 429s still halve it.
    """

    def __init__(self, limit: int, slow_start: bool = False, open_on_answer: bool = False) -> None:
        self.ceiling = max(1, limit)
        self.slow_start = slow_start and self.ceiling > 1
        self.open_on_answer = open_on_answer
        self.limit = 1.0 if self.slow_start else float(self.ceiling)
        self.in_flight = 0
        self.issued = 0  # slots handed out so far; a slot's number dates its request
        self.cut_at = 0  # requests issued before the last decrease cannot cause another
        self.overload = 0.0  # moving share of 429s among answers
        self._queue: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> int:
        """Wait for a slot; returns its number (for `rate_limited`)."""
        if self.in_flight < int(self.limit) and not self._queue:
            self.in_flight += 1
        else:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._queue.append(waiter)
            await waiter  # the slot is counted by whoever wakes us
        self.issued += 1
        return self.issued

    def release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._queue and self.in_flight < int(self.limit):
            waiter = self._queue.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    def rate_limited(self, slot: int) -> None:
        """A 429 arrived for the request sent in `slot`: halve the window (never below
        1) if 429s are a real share of recent answers and this request was sent after
        the last decrease."""
        self.overload += OVERLOAD_WEIGHT * (1.0 - self.overload)
        if slot > self.cut_at and self.overload >= OVERLOAD_SHARE:
            self.limit = max(1.0, self.limit / 2)
            self.cut_at = self.issued
            self.slow_start = False  # as TCP: the first real overload ends it

    def succeeded(self) -> None:
        """Additive increase: one more slot per `limit` successes, up to the ceiling."""
        self.overload -= OVERLOAD_WEIGHT * self.overload
        if self.limit < self.ceiling:
            if self.slow_start and self.open_on_answer:
                self.slow_start, self.limit = False, float(self.ceiling)
                self._wake()
                return
            step = 1.0 if self.slow_start else 1.0 / self.limit
            self.limit = min(float(self.ceiling), self.limit + step)
            self._wake()

    def came_back(self) -> None:
        """A request failed without a 429 (a timeout, a 5xx): in slow start the window
        still opens, since nothing says the provider is overloaded."""
        if self.slow_start:
            self.limit = min(float(self.ceiling), self.limit + 1.0)
            self._wake()


@dataclass
class Ticket:
    """One admitted request: its slot number and its token booking."""

    slot: int
    tokens: Any  # the windows' token booking (None without `tpm`)
    queued_s: float


class RateWindows:
    """A model's hard request and token windows and the pause a Retry-After asks for:
    the part of its limits every caller must share. In-process each `ModelLimiter` holds
    one; on Ray one actor holds each model's and the lanes book through it (any object
    with these three methods will do as a `ModelLimiter`'s `windows`)."""

    def __init__(self, limits: ModelLimits) -> None:
        self.requests = SlidingWindow(limits.rpm, limits.window_s) if limits.rpm else None
        self.tokens = SlidingWindow(limits.tpm, limits.window_s) if limits.tpm else None
        self.paused_until = 0.0

    def reserve(self, estimated_tokens: int, now: float) -> tuple[_Entry | None, float]:
        """Book a request and its tokens at the earliest time the pause and both windows
        allow; returns the token booking (None without `tpm`) and that time."""
        at = max(now, self.paused_until)
        bookings = []
        if self.requests is not None:
            bookings.append(self.requests.reserve(1, at))
        if self.tokens is not None:
            bookings.append(self.tokens.reserve(estimated_tokens, at))
        at = max([at, *(booked_at for _, booked_at in bookings)])
        for window, (entry, _) in zip(self._windows(), bookings, strict=True):
            window.postpone(entry, at)  # both windows count the request when it is sent
        return (bookings[-1][0] if self.tokens is not None else None), at

    async def book(self, estimated_tokens: int) -> tuple[_Entry | None, float]:
        """`reserve` now; returns the booking and the seconds to wait before sending."""
        now = time.monotonic()
        booking, at = self.reserve(estimated_tokens, now)
        return booking, at - now

    def settle(self, booking: Any, used_tokens: int | None) -> None:
        """Replace a token booking's estimate by what was used (None: keep it)."""
        if self.tokens is not None and booking is not None and used_tokens is not None:
            self.tokens.settle(booking, used_tokens)

    def pause(self, seconds: float) -> None:
        """Hold every request to the model for `seconds` (a 429's Retry-After)."""
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    def _windows(self) -> list[SlidingWindow]:
        return [w for w in (self.requests, self.tokens) if w is not None]


class ModelLimiter:
    """Everything that gates one model's calls: slots, the request and token windows
    with the Retry-After pause (`windows`: this process's own, or shared ones), and the
    model's health."""

    def __init__(
        self, limits: ModelLimits, name: str = "", windows: Any = None, declared: bool = False
    ) -> None:
        self.name = name
        self.limits = limits
        # `declared`: the concurrency is the user's (`limits:`), not the default
        self.slots = AdaptiveSemaphore(limits.concurrency, slow_start=True, open_on_answer=declared)
        self.windows = windows if windows is not None else RateWindows(limits)
        self.health = ModelHealth(name)
        self.notify: Callable[[str], None] | None = None  # where "waiting" lines go
        self._waiting = 0  # calls now waiting for a rate limit
        self._noticed = 0.0

    async def enter(self, estimated_tokens: int) -> Ticket:
        """Wait for a slot, any Retry-After pause and room in the windows."""
        started = time.monotonic()
        slot = await self.slots.acquire()
        booking, wait = await self.windows.book(estimated_tokens)
        if wait > 0:
            await self.wait_for_rate_limit(wait)
        return Ticket(slot, booking, time.monotonic() - started)

    def leave(self, ticket: Ticket, used_tokens: int | None) -> None:
        """Release the slot; settle the token booking with what was used (None: keep it)."""
        self.windows.settle(ticket.tokens, used_tokens)
        self.slots.release()

    def rate_limited(self, ticket: Ticket, retry_after: float | None) -> None:
        """A 429: maybe narrow the window; a Retry-After pauses every call to the model."""
        self.slots.rate_limited(ticket.slot)
        if retry_after:
            self.windows.pause(retry_after)

    async def wait_for_rate_limit(self, seconds: float) -> None:
        """Sleep, counted among the calls waiting for a rate limit (progress says so)."""
        self._waiting += 1
        try:
            self._notice(seconds)
            await asyncio.sleep(seconds)
        finally:
            self._waiting -= 1

    def _notice(self, seconds: float) -> None:
        now = time.monotonic()
        if self.notify is None or seconds < 1.0 or now - self._noticed < NOTICE_EVERY_S:
            return
        self._noticed = now
        self.notify(f"{self.name}: waiting for rate limit ({self._waiting} calls, "
                    f"resumes in ~{seconds:.0f} s)")  # fmt: skip
