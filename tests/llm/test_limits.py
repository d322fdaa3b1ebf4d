"""Per-model limits: a concurrency cap that halves on 429s, and rpm/tpm buckets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from gateway_helpers import ask
from llm_server import LLMTestServer

from synthc.llm.client import LLMClient
from synthc.llm.limits import AdaptiveSemaphore, ModelLimiter, ModelLimits, TokenBucket


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
    gate.rate_limited()
    gate.rate_limited()
    assert gate.limit == 1
    for _ in range(20):
        gate.succeeded()
    assert 1 < gate.limit <= 4


def test_requests_per_minute_bucket_paces_calls() -> None:
    bucket = TokenBucket(per_minute=600)  # 10 a second, burst of 600
    bucket.level = 0

    async def main() -> float:
        started = time.monotonic()
        for _ in range(3):
            await bucket.take(1)
        return time.monotonic() - started

    assert 0.25 <= asyncio.run(main()) < 1.0


def test_a_recipe_limit_caps_in_flight_requests(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    server.config.latency = 0.05
    client = make_client(limits={"concurrency": 2})
    started = time.perf_counter()
    client.complete([ask(f"row {i}") for i in range(8)])
    assert time.perf_counter() - started >= 4 * 0.05  # 8 calls, 2 at a time
    assert client.limiter(client.resolve("srv")).limits == ModelLimits(concurrency=2)


def test_limiter_returns_unused_token_reservations() -> None:
    limiter = ModelLimiter(ModelLimits(concurrency=1, tpm=1000))

    async def main() -> float:
        await limiter.enter(400)
        await limiter.leave(400, 100)
        assert limiter.tokens is not None
        return limiter.tokens.level

    assert asyncio.run(main()) >= 900
