"""An answer the provider sent is never paid for twice, and a model that cannot work
stops at once with one message, instead of N rows x attempts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from gateway_helpers import ask, server_recipe
from llm_server import LLMTestServer

from synthc.llm.calls import FATAL, TRANSIENT, UNREADABLE, CallRequest
from synthc.llm.client import LLMClient
from synthc.progress import RecordingReporter
from synthc.recipe.load import ModelAlias


def with_alias(server: LLMTestServer, root: Path, name: str, model: str, **kwargs: object):  # type: ignore[no-untyped-def]
    recipe = server_recipe(server, root)
    alias = ModelAlias(
        name=name, model=model, api_base=server.base_url, api_key_env="OPENAI_API_KEY"
    )
    return type(recipe)(**{**recipe.__dict__, "models": {**recipe.models, name: alias}}, **kwargs)


@pytest.mark.parametrize(
    ("transport", "model"),
    [("auto", "openai/echo"), ("litellm", "openai/echo"), ("litellm", "groq/llama-3.1-8b-instant")],
)
def test_a_200_that_cannot_be_read_is_requested_once_per_row(
    server: LLMTestServer, tmp_path: Path, cache_dir: Path, transport: str, model: str
) -> None:
    recipe = with_alias(server, tmp_path, "odd", model)
    client = LLMClient(recipe, cache_path=cache_dir, transport=transport, backoff_base=0.01)
    rows = [CallRequest("odd", [{"role": "user", "content": f"row {i} [[malformed]]"}])
            for i in range(3)]  # fmt: skip
    results = client.complete(rows)
    assert all(r.error_kind == UNREADABLE and r.attempts == 1 for r in results)
    assert "answer" in (results[0].error or "")
    assert sorted(server.stats.per_prompt.values()) == [1, 1, 1]


def test_a_body_that_is_not_json_is_still_retried(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    result = make_client(max_attempts=2).complete([ask("junk [[garbage]]")])[0]
    assert result.error_kind == TRANSIENT and server.stats.total == 2


@pytest.mark.parametrize("status", [400, 401, 404])
def test_a_fatal_error_stops_the_model_after_one_request(
    server: LLMTestServer, tmp_path: Path, cache_dir: Path, status: int
) -> None:
    recipe = with_alias(server, tmp_path, "other", "openai/other")
    client = LLMClient(recipe, cache_path=cache_dir, backoff_base=0.01)
    reporter = RecordingReporter()
    rows = [ask(f"row {i} [[status={status}]]") for i in range(20)]
    rows += [CallRequest("other", [{"role": "user", "content": f"o {i} [[status={status}]]"}])
             for i in range(20)]  # fmt: skip
    results = client.complete(rows, step="s", reporter=reporter)
    assert server.stats.total == 2  # one request per model
    assert all(r.error_kind == FATAL for r in results)
    assert sum(r.attempts for r in results) == 2
    warnings = [e[1] for e in reporter.of("warning")]
    assert len(warnings) == 2 and {w.split(":")[0] for w in warnings} == {"srv", "other"}
    assert "remaining calls were not sent" in warnings[0]


def test_the_circuit_breaker_stops_a_model_whose_requests_all_hang(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    client = make_client(timeout=0.2, limits={"concurrency": 4})
    results = client.complete([ask(f"slow {i} [[hang]]") for i in range(40)])
    assert all(not r.ok for r in results)
    assert server.stats.total <= 16  # not 40 rows x attempts until the deadline
    assert any("circuit breaker" in (r.error or "") for r in results)


def test_calls_record_the_wait_apart_from_the_latency(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    server.config.latency = 0.1
    results = make_client(limits={"concurrency": 1}).complete([ask(f"r {i}") for i in range(4)])
    records = [r.call_record("s") for r in results]
    assert all(0.09 <= rec["latency_s"] < 0.3 for rec in records)
    assert max(rec["queued_s"] for rec in records) >= 0.25  # the fourth waited for three
