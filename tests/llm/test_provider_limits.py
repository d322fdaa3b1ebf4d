"""Against a provider-style sliding request window (the loopback server's `rpm`, with a
short window so tests are quick): what the server accepted, measured server-side."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from gateway_helpers import ask
from llm_server import LLMTestServer

from synthc.llm.client import LLMClient

WINDOW = 1.0


def test_client_rpm_is_a_hard_cap_on_every_window(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    client = make_client(limits={"rpm": 10, "window_s": WINDOW, "concurrency": 16})
    results = client.complete([ask(f"row {i}") for i in range(30)])
    assert all(r.ok for r in results)
    assert server.stats.max_in_window(WINDOW) <= 10
    assert len(server.stats.accepted) == 30


@pytest.mark.parametrize("retry_after", [None, 0.5])
def test_a_client_set_to_the_providers_limit_gets_no_429(
    make_client: Callable[..., LLMClient], server: LLMTestServer, retry_after: float | None
) -> None:
    server.config.rpm, server.config.window_s = 10, WINDOW
    server.config.retry_after = retry_after
    client = make_client(limits={"rpm": 10, "window_s": WINDOW, "concurrency": 16})
    results = client.complete([ask(f"row {i}") for i in range(25)])
    assert all(r.ok for r in results) and server.stats.statuses[429] == 0


@pytest.mark.parametrize("retry_after", [None, 0.5])
def test_every_row_outlasts_a_low_rpm_provider(
    make_client: Callable[..., LLMClient], server: LLMTestServer, retry_after: float | None
) -> None:
    server.config.rpm, server.config.window_s = 5, WINDOW
    server.config.retry_after = retry_after  # None: 429s carry no Retry-After
    client = make_client(backoff_base=0.05, backoff_max=WINDOW, deadline=60.0)
    results = client.complete([ask(f"row {i}") for i in range(20)])
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    assert server.stats.statuses[429] > 0 and len(server.stats.accepted) == 20


def test_a_retry_after_pauses_every_call_to_the_model(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    server.config.retry_after = 0.8
    client = make_client(limits={"concurrency": 1})
    rows = [ask("first [[rate_first=1]]")] + [ask(f"row {i}") for i in range(4)]
    assert all(r.ok for r in client.complete(rows))
    refused, *later = server.stats.accepted  # arrival times, in order
    assert len(later) == 5 and min(later) - refused >= 0.75


def test_waiting_for_a_rate_limit_is_reported(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    from synthc.progress import RecordingReporter

    server.config.retry_after = 1.2
    reporter = RecordingReporter()
    started = time.perf_counter()
    make_client().complete([ask("busy [[rate_first=1]]")], step="s", reporter=reporter)
    assert time.perf_counter() - started >= 1.2
    lines = [e[1] for e in reporter.of("message")]
    assert any("srv: waiting for rate limit (1 calls, resumes in ~1 s)" in line for line in lines)


def test_retries_last_until_the_deadline_not_a_fixed_count(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    client = make_client(backoff_base=0.001, backoff_max=0.01)
    client.complete([ask("warm")])
    result = client.complete([ask("flaky [[fail_first=12]]")])[0]
    assert result.ok and result.attempts == 13  # six tries used to be the end of it
    started = time.perf_counter()
    down = make_client(backoff_base=0.05, backoff_max=0.1, limits={"deadline_s": 0.6})
    down.complete([ask("warm again")])  # a success: the circuit breaker stays shut
    failed = down.complete([ask("down [[status=500]]")])[0]
    assert not failed.ok and 0.4 < time.perf_counter() - started < 3.0


def test_a_model_timeout_bounds_each_request(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    client = make_client(max_attempts=1, limits={"timeout_s": 0.3})  # the client's is 10 s
    client.complete([ask("warm")])  # litellm's import is not part of the timing
    started = time.perf_counter()
    result = client.complete([ask("slow [[hang]]")])[0]
    assert result.error_class == "Timeout" and time.perf_counter() - started < 2.0


@pytest.mark.parametrize("transport", ["auto", "litellm"])
def test_a_timeout_in_params_is_the_request_timeout(
    make_client: Callable[..., LLMClient], server: LLMTestServer, transport: str
) -> None:
    client = make_client(transport, max_attempts=1)  # the client's timeout is 10 s
    client.complete([ask("warm")])  # litellm's import is not part of the timing
    started = time.perf_counter()
    result = client.complete([ask("slow [[hang]]", timeout=0.3)])[0]
    assert result.error_class == "Timeout" and time.perf_counter() - started < 3.0
    assert "timeout" not in server.stats.last_body  # never sent to the provider


def _alias_client(
    server: LLMTestServer, tmp_path: Path, cache_dir: Path, attempts: int | None = 1, **alias: Any
) -> LLMClient:
    """A client whose recipe is written in YAML with `alias` settings on the model."""
    from synthc.recipe.load import load_recipe

    models = {"srv": {"model": "openai/echo", "api_base": server.base_url,
                      "api_key_env": "OPENAI_API_KEY", **alias},
              "emb": {"model": "openai/text-embedding-3-small", "api_base": server.base_url,
                      "api_key_env": "OPENAI_API_KEY", **alias}}  # fmt: skip
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"synthc": 1, "name": "t", "model": "srv", "models": models,
                                    "steps": {"s": {"kind": "seed", "rows": [{"a": 1}]}}}))  # fmt: skip
    return LLMClient(load_recipe(path), cache_path=cache_dir, timeout=10.0, max_attempts=attempts,
                     backoff_base=0.05, backoff_max=0.1)  # fmt: skip


def test_a_timeout_on_the_model_alias_bounds_each_request(
    server: LLMTestServer, tmp_path: Path, cache_dir: Path
) -> None:
    client = _alias_client(server, tmp_path, cache_dir, timeout_s=0.3)  # the client's is 10 s
    client.complete([ask("warm")])  # litellm's import is not part of the timing
    started = time.perf_counter()
    result = client.complete([ask("slow [[hang]]")])[0]
    assert result.error_class == "Timeout" and time.perf_counter() - started < 2.0


def test_a_deadline_on_the_model_alias_bounds_the_retries(
    server: LLMTestServer, tmp_path: Path, cache_dir: Path
) -> None:
    client = _alias_client(server, tmp_path, cache_dir, attempts=None, deadline_s=0.6)
    client.complete([ask("warm")])
    started = time.perf_counter()
    failed = client.complete([ask("down [[status=500]]")])[0]
    assert not failed.ok and 0.4 < time.perf_counter() - started < 3.0
    assert failed.attempts > 1  # retried, until the alias's deadline


def test_embeddings_honour_the_models_timeout(
    server: LLMTestServer, tmp_path: Path, cache_dir: Path
) -> None:
    from synthc.llm.embed import EmbeddingFailed

    client = _alias_client(server, tmp_path, cache_dir, timeout_s=0.3)  # the client's is 10 s
    client.embed(["warm"], "emb")  # litellm's import is not part of the timing
    server.config.latency = 8.0  # the client's own timeout would wait for it
    started = time.perf_counter()
    with pytest.raises(EmbeddingFailed, match="Timeout"):
        client.embed(["a slow answer"], "emb")
    assert time.perf_counter() - started < 6.0  # litellm's own client adds some
