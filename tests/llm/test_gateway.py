"""The gateway against a real OpenAI-compatible server on loopback, through litellm's
`openai/` provider (and the gateway's own fast path for it): answers, caching, keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from gateway_helpers import ask
from llm_server import LLMTestServer

from synthc.llm.cache import call_key
from synthc.llm.calls import CallRequest
from synthc.llm.client import LLMClient
from synthc.llm.models import model_identity, resolve_model
from synthc.recipe.load import ModelAlias, Recipe

PROMPTS = [f"question {i}" for i in range(12)]


@pytest.mark.parametrize("transport", ["litellm", "auto"])
def test_answers_come_from_the_server_with_usage(
    make_client: Callable[..., LLMClient], server: LLMTestServer, transport: str
) -> None:
    results = make_client(transport).complete([ask(p) for p in PROMPTS], step="answers")
    assert [r.ok for r in results] == [True] * len(PROMPTS)
    assert all(r.text and r.text.endswith(p) for r, p in zip(results, PROMPTS, strict=True))
    assert all(r.prompt_tokens == 2 and r.completion_tokens == 4 for r in results)
    assert all(not r.cached and r.attempts == 1 for r in results)
    assert server.stats.total == len(PROMPTS)


def test_litellm_and_fast_path_give_identical_answers(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    requests = [ask(p, temperature=0.3, max_tokens=50, seed=4) for p in PROMPTS]
    via_litellm = make_client("litellm").complete(requests, refresh=True)
    fast = make_client("auto").complete(requests, refresh=True)
    assert [r.text for r in via_litellm] == [r.text for r in fast]
    assert [r.call_key for r in via_litellm] == [r.call_key for r in fast]


def test_rerun_sends_zero_requests(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    first = make_client().complete([ask(p) for p in PROMPTS])
    server.reset()
    again = make_client().complete([ask(p) for p in PROMPTS])
    assert server.stats.total == 0
    assert [r.text for r in again] == [r.text for r in first]
    assert all(r.cached and r.attempts == 0 for r in again)


def test_raising_n_from_4_to_6_makes_exactly_two_new_calls_per_row(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    rows = PROMPTS[:5]
    make_client().complete([ask(p, sample=s) for p in rows for s in range(4)])
    assert server.stats.total == 5 * 4
    server.reset()
    make_client().complete([ask(p, sample=s) for p in rows for s in range(6)])
    assert server.stats.total == 5 * 2
    assert all(count == 2 for count in server.stats.per_prompt.values())


def test_equal_requests_in_one_batch_share_one_call(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    results = make_client().complete([ask("same", row="a"), ask("same", row="b")])
    assert server.stats.total == 1
    assert [r.row_id for r in results] == ["a", "b"]
    assert results[0].text == results[1].text


def test_probe_says_what_is_cached_without_calling(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    client = make_client()
    client.complete([ask("cached one")])
    server.reset()
    assert client.probe([ask("cached one"), ask("new one")]) == [True, False]
    assert server.stats.total == 0


def test_refresh_skips_the_cache(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    make_client().complete([ask("x")])
    server.reset()
    assert not make_client().complete([ask("x")], refresh=True)[0].cached
    assert server.stats.total == 1


def test_call_key_ignores_transport_settings_and_changes_with_output_settings() -> None:
    spec = resolve_model("openai/gpt-4o-mini")
    messages = [{"role": "user", "content": "hi"}]
    base = call_key(spec, messages, {"temperature": 0.7}, 0)
    same = {"temperature": 0.7, "timeout": 5, "num_retries": 9, "api_key": "sk-x", "concurrency": 3}
    assert call_key(spec, messages, same, 0) == base
    assert call_key(spec, messages, {"temperature": 0.7, "top_k": 40}, 0) != base
    assert call_key(spec, messages, {"temperature": 0.8}, 0) != base
    assert call_key(spec, messages, {"temperature": 0.7}, 1) != base
    assert call_key(spec, [{"role": "user", "content": "hi "}], {"temperature": 0.7}, 0) != base


def test_gateway_settings_are_neither_sent_nor_keyed(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    """`allow_truncated`, `concurrency` and the like steer the gateway: the provider never
    sees them and they never change a call key (so turning one on re-pays nothing)."""
    client = make_client()
    prompt = "a long prompt with many words in it"
    plain = ask(prompt, max_tokens=3)
    steered = ask(prompt, max_tokens=3, allow_truncated=True, concurrency=2, rpm=600)
    assert client.key(steered) == client.key(plain)
    result = client.complete([steered])[0]
    assert result.ok and result.finish_reason == "length"  # allow_truncated kept it
    assert server.stats.last_body["max_tokens"] == 3
    assert not {"allow_truncated", "concurrency", "rpm"} & set(server.stats.last_body)
    server.reset()
    assert client.complete([plain])[0].cached and server.stats.total == 0


def test_moving_a_server_keeps_the_cache_and_a_namespace_splits_it(
    make_client: Callable[..., LLMClient],
) -> None:
    client = make_client()
    moved = client.resolve("srv")
    assert moved.identity == "openai/echo" and moved.api_base
    assert model_identity("openai/echo", "staging") != model_identity("openai/echo", None)
    request = CallRequest("openai/echo", [{"role": "user", "content": "q"}], {"temperature": 0.7})
    assert client.key(request) == client.key(ask("q", row="q"))


def test_alias_params_apply_under_request_params(make_client: Callable[..., LLMClient]) -> None:
    client = make_client()
    spec = client.resolve("srv")
    object.__setattr__(spec, "params", {"temperature": 0.1, "max_tokens": 30})
    assert client.params_for(ask("x", temperature=0.9)) == {"temperature": 0.9, "max_tokens": 30}


@pytest.mark.parametrize("transport", ["litellm", "auto"])
def test_requests_are_translated_by_litellm_for_the_model(
    server: LLMTestServer, tmp_path: Path, transport: str
) -> None:
    """o-series models take `max_completion_tokens`, not `max_tokens`: litellm knows."""
    alias = ModelAlias(
        "o", "openai/o3-mini", api_base=server.base_url, api_key_env="OPENAI_API_KEY"
    )
    recipe = Recipe(
        path=tmp_path / "r.yaml", name="r", format_version=1, steps={}, models={"o": alias}
    )
    request = CallRequest("o", [{"role": "user", "content": "hi"}], {"max_tokens": 50})
    LLMClient(recipe, cache_path=tmp_path / "c", transport=transport).complete([request])
    sent = server.stats.last_body
    assert sent["model"] == "o3-mini" and sent["max_completion_tokens"] == 50
    assert "max_tokens" not in sent


def test_a_large_step_keeps_a_bounded_number_of_calls_in_progress(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    """Memory stays flat in the number of calls: at most 4 x concurrency (at least 64)
    calls are in progress at once, not one task per pending call."""
    import asyncio

    seen: list[int] = []

    class Counting:
        def advance(self, step: str, n: int = 1) -> None:
            seen.append(len(asyncio.all_tasks()))

        def message(self, text: str) -> None:
            pass

        def warning(self, text: str) -> None:
            pass

    client = make_client(limits={"concurrency": 8})
    requests = [ask(f"bounded {i}") for i in range(600)]
    results = client.complete(requests, step="s", reporter=Counting())  # type: ignore[arg-type]
    assert all(r.ok for r in results) and server.stats.total == 600
    assert max(seen) < 100  # 64 workers, the run and a few of aiohttp's; 600 before
