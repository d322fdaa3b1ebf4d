"""Faults: 429s and 500s are retried until everything is answered; a row that keeps
failing is reported and retried alone next time; unfit answers are never cached."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from gateway_helpers import ask, server_recipe
from llm_server import LLMTestServer

from synthc.llm.calls import FATAL, RATE_LIMITED, REJECTED, TRANSIENT
from synthc.llm.client import LLMClient

ROWS = [f"row {i}" for i in range(60)]


@pytest.mark.parametrize("transport", ["auto", "litellm"])
def test_twenty_percent_429_and_500_still_generate_every_row_identically(
    make_client: Callable[..., LLMClient], server: LLMTestServer, tmp_path: Path, transport: str
) -> None:
    clean = make_client(transport).complete([ask(r) for r in ROWS], refresh=True)
    server.reset()
    server.config.fault_rate = 0.2
    faulty = LLMClient(server_recipe(server, tmp_path), cache_path=tmp_path / "faulty",
                       transport=transport, backoff_base=0.01, backoff_max=0.1, max_attempts=12)  # fmt: skip
    results = faulty.complete([ask(r) for r in ROWS])
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert [r.text for r in results] == [r.text for r in clean]
    assert server.stats.statuses[429] + server.stats.statuses[500] > 0
    assert max(r.attempts for r in results) > 1


def test_a_row_that_always_fails_is_reported_and_retried_alone_next_time(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    requests = [ask(r) for r in ROWS[:10]] + [ask("doomed [[status=500]]")]
    results = make_client(max_attempts=3).complete(requests, step="answers")
    failed = [r for r in results if not r.ok]
    assert [r.row_id for r in failed] == ["doomed [[status=500]]"]
    assert failed[0].error_kind == TRANSIENT and failed[0].attempts == 3
    assert failed[0].failure_record("answers")["error_class"] == "InternalServerError"
    server.reset()
    make_client(max_attempts=3).complete(requests)
    assert dict(server.stats.per_prompt) == {"doomed [[status=500]]": 3}


def test_client_errors_are_not_retried(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    result = make_client().complete([ask("bad [[status=400]]")])[0]
    assert (result.error_kind, result.error_class, result.attempts) == (FATAL, "BadRequestError", 1)


@pytest.mark.parametrize("transport", ["auto", "litellm"])
def test_a_burst_of_429s_narrows_concurrency_once(
    make_client: Callable[..., LLMClient], server: LLMTestServer, transport: str
) -> None:
    client = make_client(transport, max_attempts=1)
    client.complete([ask(f"warm {i}") for i in range(30)])  # slow start opens the window
    assert client.limiter(client.resolve("srv")).slots.limit == 16
    results = client.complete([ask(f"busy {i} [[status=429]]") for i in range(16)])
    assert all(r.error_kind == RATE_LIMITED and r.attempts == 1 for r in results)
    assert server.stats.statuses[429] == 16
    # One window of requests, one halving: 16 -> 8, not one halving per 429.
    assert client.limiter(client.resolve("srv")).slots.limit == 8


@pytest.mark.parametrize("transport", ["auto", "litellm"])
def test_a_retry_after_is_a_floor_on_the_wait(
    make_client: Callable[..., LLMClient], server: LLMTestServer, transport: str
) -> None:
    server.config.retry_after = 0.3
    client = make_client(transport, max_attempts=2, backoff_base=0.001)
    started = time.perf_counter()
    result = client.complete([ask("busy [[status=429]]")])[0]
    assert time.perf_counter() - started >= 0.3
    assert result.error_kind == RATE_LIMITED and result.attempts == 2


def test_server_errors_do_not_narrow_concurrency(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    client = make_client(max_attempts=2)
    client.complete([ask(f"warm {i}") for i in range(30)])  # slow start opens the window
    client.complete([ask(f"down {i} [[status=500]]") for i in range(8)])
    assert server.stats.statuses[500] == 16
    assert client.limiter(client.resolve("srv")).slots.limit == 16


@pytest.mark.parametrize("marker", ["[[length]]", "[[empty]]", "[[filter]]"])
def test_truncated_empty_and_filtered_answers_are_not_cached(
    make_client: Callable[..., LLMClient], server: LLMTestServer, marker: str
) -> None:
    result = make_client().complete([ask(f"x {marker}")])[0]
    assert not result.ok and result.error_kind == REJECTED
    assert result.completion_tokens >= 0
    server.reset()
    make_client().complete([ask(f"x {marker}")])
    assert server.stats.total == 1


def test_truncation_is_cached_when_allowed(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    request = ask("a long prompt with many words in it", max_tokens=3)
    assert make_client().complete([request])[0].error_kind == REJECTED
    allowed = ask("a long prompt with many words in it", max_tokens=3, allow_truncated=True)
    result = make_client().complete([allowed])[0]
    assert result.ok and result.finish_reason == "length"
    server.reset()
    assert make_client().complete([allowed])[0].cached


def test_a_hanging_server_times_out_and_garbage_is_retried(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    client = make_client(timeout=0.3, max_attempts=2)
    hung, garbage = client.complete([ask("slow [[hang]]"), ask("junk [[garbage]]")])
    assert (hung.error_class, hung.error_kind, hung.attempts) == ("Timeout", TRANSIENT, 2)
    assert garbage.error_kind == TRANSIENT and garbage.attempts == 2


def test_transient_failure_then_success_is_cached(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    result = make_client().complete([ask("flaky [[fail_first=2]]")])[0]
    assert result.ok and result.attempts == 3
    server.reset()
    assert make_client().complete([ask("flaky [[fail_first=2]]")])[0].cached
    assert server.stats.total == 0
