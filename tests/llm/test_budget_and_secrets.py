"""Budget caps stop calls cleanly; the API key never lands anywhere synthc writes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from gateway_helpers import SECRET, ask
from llm_server import LLMTestServer

from synthc.llm.calls import BUDGET, Budget
from synthc.llm.client import LLMClient


def test_max_calls_stops_cleanly_and_keeps_what_was_done(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    client = make_client(budget={"max_calls": 5}, limits={"concurrency": 2})
    results = client.complete([ask(f"row {i}") for i in range(12)])
    assert sum(r.ok for r in results) == 5 and server.stats.total == 5
    stopped = [r for r in results if not r.ok]
    assert all(r.error_kind == BUDGET and r.attempts == 0 for r in stopped)
    assert client.budget_stop == "max_calls=5 reached"
    server.reset()
    again = make_client(budget={"max_calls": 100}).complete([ask(f"row {i}") for i in range(12)])
    assert sum(r.cached for r in again) == 5 and server.stats.total == 7


def test_cached_answers_cost_nothing_against_the_budget(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    make_client().complete([ask(f"row {i}") for i in range(4)])
    client = make_client(budget={"max_calls": 0})
    assert all(r.ok and r.cached for r in client.complete([ask(f"row {i}") for i in range(4)]))


def test_token_and_dollar_caps() -> None:
    budget = Budget(max_tokens=100, max_usd=0.01)
    assert budget.reserve(60, 0.004) is None
    assert budget.reserve(60, 0.004) == "max_tokens=100 reached (60 used or reserved)"
    budget.settle(60, 0.004, 10, 0.009)
    assert budget.reserve(20, 0.002) == "max_usd=0.01 reached ($0.0090 spent or reserved)"


@pytest.mark.parametrize("transport", ["auto", "litellm"])
def test_the_api_key_appears_nowhere(
    make_client: Callable[..., LLMClient],
    server: LLMTestServer,
    cache_dir: Path,
    transport: str,
) -> None:
    requests = [ask("fine"), ask("echoes the key [[leak_auth]]"), ask("x [[status=500]]")]
    results = make_client(transport, max_attempts=2).complete(requests, step="s")
    assert results[0].ok and not results[1].ok
    assert results[1].error_class == "AuthenticationError"
    for result in results:
        assert SECRET not in repr(result)
        assert SECRET not in repr(result.call_record("s")) + repr(result.failure_record("s"))
    for path in cache_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_scrub_redacts_known_secrets_and_bearer_tokens() -> None:
    from synthc.llm.transport import scrub

    text = f"bad key {SECRET} (header 'Authorization: Bearer abc.def-123') sk-live-0123456789"
    cleaned = scrub(text, [SECRET])
    assert SECRET not in cleaned and "abc.def-123" not in cleaned and "0123456789" not in cleaned
    assert "Bearer ***" in cleaned


def test_retry_after_reads_seconds_and_http_dates() -> None:
    import email.utils
    import time

    from synthc.llm.transport import parse_retry_after

    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (parse_retry_after(later) or 0) <= 31
