"""Per-model limits: hard request and token windows that start empty and pace, and a
concurrency window that adapts like TCP's (one decrease per window of requests)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from gateway_helpers import ask
from hypothesis import given, settings
from hypothesis import strategies as st
from llm_server import LLMTestServer

from synthc.llm.client import LLMClient
from synthc.llm.limits import AdaptiveSemaphore, ModelLimiter, ModelLimits, SlidingWindow


def test_concurrency_never_exceeds_the_limit_and_adapts() -> None:
    gate = AdaptiveSemaphore(4)
    peak = 0

    async def work() -> None:
        nonlocal peak
        await gate.acquire()
        peak = max(peak, gate.in_flight)
        await asyncio.sleep(0.001)
        gate.release()

    async def main() -> None:
        await asyncio.gather(*(work() for _ in range(50)))

    asyncio.run(main())
    assert peak == 4 and gate.in_flight == 0
    for _ in range(20):
        gate.rate_limited(slot=gate.issued + 1)  # all sent after any decrease
    assert gate.limit == 1
    for _ in range(20):
        gate.succeeded()
    assert 1 < gate.limit <= 4


def test_a_burst_of_429s_from_one_window_is_one_decrease() -> None:
    gate = AdaptiveSemaphore(16)
    in_flight = list(range(1, 17))  # slots of 16 requests sent together
    gate.issued = 16
    for slot in in_flight:
        gate.rate_limited(slot)
    assert gate.limit == 8


def test_a_trickle_of_random_429s_does_not_shrink_the_window() -> None:
    gate = AdaptiveSemaphore(64)
    for i in range(2000):
        gate.issued += 1
        if i % 20 == 0:  # 5% of answers
            gate.rate_limited(gate.issued)
        else:
            gate.succeeded()
    assert gate.limit == 64


def test_the_request_window_starts_empty_and_paces() -> None:
    window = SlidingWindow(600, window_s=60)  # 10 a second, burst of 60
    now = time.monotonic()
    times = [window.reserve(1, now)[1] - now for _ in range(120)]
    assert times[59] < 0.1  # the burst goes at once ...
    assert 5.5 < times[119] < 6.5  # ... and then 10 a second, not the whole quota


@settings(max_examples=60, deadline=None)
@given(
    amounts=st.lists(st.integers(1, 50), min_size=1, max_size=200),
    gaps=st.lists(st.floats(0, 3), min_size=1, max_size=200),
)
def test_no_window_ever_holds_more_than_the_capacity(amounts: list[int], gaps: list[float]) -> None:
    window = SlidingWindow(100, window_s=10)
    now, booked = 0.0, []
    for i, amount in enumerate(amounts):
        now += gaps[i % len(gaps)]
        _, at = window.reserve(amount, now)
        assert at >= now
        booked.append((at, min(amount, 100)))
    for start, _ in booked:
        assert sum(a for t, a in booked if start <= t < start + 10) <= 100


def test_token_bookings_settle_with_the_real_usage() -> None:
    limiter = ModelLimiter(ModelLimits(concurrency=1, tpm=1000))

    async def main() -> float:
        ticket = await limiter.enter(400)
        limiter.leave(ticket, 100)
        assert limiter.windows.tokens is not None
        return limiter.windows.tokens.total

    assert asyncio.run(main()) == 100


def test_a_declared_concurrency_opens_in_full_once_the_model_has_answered(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    """The first request still goes alone (a broken model costs one), then the window
    is the user's `concurrency` at once: 33 calls take two round trips, not seven."""
    server.config.latency = 0.1
    client = make_client(limits={"concurrency": 32})
    started = time.perf_counter()
    results = client.complete([ask(f"row {i}") for i in range(33)])
    assert all(r.ok for r in results) and server.stats.total == 33
    assert server.stats.peak_in_flight == 32
    assert time.perf_counter() - started < 0.55  # slow start: 1+2+4+8+16+2, 0.6 s at least


def test_without_a_declared_concurrency_the_window_still_opens_by_slow_start() -> None:
    gate = AdaptiveSemaphore(8, slow_start=True)
    gate.succeeded()
    assert gate.limit == 2
    declared = AdaptiveSemaphore(8, slow_start=True, open_on_answer=True)
    assert declared.limit == 1  # a model that cannot work still costs one request
    declared.succeeded()
    assert declared.limit == 8


def test_a_recipe_limit_caps_in_flight_requests(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    server.config.latency = 0.05
    client = make_client(limits={"concurrency": 2})
    started = time.perf_counter()
    client.complete([ask(f"row {i}") for i in range(8)])
    assert time.perf_counter() - started >= 4 * 0.05  # 8 calls, 2 at a time
    assert client.limiter(client.resolve("srv")).limits == ModelLimits(concurrency=2)


def test_slow_start_opens_the_window_one_request_at_a_time() -> None:
    gate = AdaptiveSemaphore(8, slow_start=True)
    assert gate.limit == 1
    for _ in range(3):
        gate.succeeded()
    assert gate.limit == 4  # +1 per answer: doubling per round trip
    gate.came_back()  # a 5xx is not overload: the window still opens
    assert gate.limit == 5
