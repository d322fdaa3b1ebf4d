"""Budget caps stop calls cleanly; the API key never lands anywhere synthc writes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from gateway_helpers import SECRET, ask
from llm_server import LLMTestServer

from synthc.llm.calls import BUDGET, Budget, CallRequest
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


def budget_recipe(folder: Path, server: LLMTestServer, budget: dict[str, object]) -> Path:
    import json

    import yaml

    (folder / "seeds.jsonl").write_text(
        "".join(json.dumps({"topic": f"topic {i}"}) + "\n" for i in range(12))
    )
    recipe = {
        "synthc": 1, "name": "spend", "model": "srv", "budget": budget,
        "models": {"srv": {"model": "openai/echo", "api_base": server.base_url,
                           "api_key_env": "OPENAI_API_KEY"}},
        "steps": {"seeds": {"kind": "seed", "path": "seeds.jsonl"},
                  "answers": {"kind": "generate", "from": "seeds", "prompt": "{{ topic }}"}},
    }  # fmt: skip
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


@pytest.mark.parametrize(("scope", "second_build_sends"), [("recipe", 0), ("build", 4)])
def test_the_budget_counts_earlier_builds_unless_scoped_to_one(
    server: LLMTestServer, tmp_path: Path, cache_dir: Path, scope: str, second_build_sends: int
) -> None:
    from synthc.api import build_recipe

    path = budget_recipe(tmp_path, server, {"max_calls": 8, "scope": scope})
    assert build_recipe(path).exit_code == 1 and server.stats.total == 8
    server.reset()
    build_recipe(path)
    assert server.stats.total == second_build_sends


def test_max_usd_stops_within_ten_percent_of_the_cap(
    server: LLMTestServer, tmp_path: Path, cache_dir: Path
) -> None:
    from synthc.recipe.load import ModelAlias, Recipe
    from synthc.recipe.providers import price_table

    prices = price_table()["gpt-4o-mini"]
    alias = ModelAlias(name="priced", model="openai/gpt-4o-mini", api_base=server.base_url,
                       api_key_env="OPENAI_API_KEY")  # fmt: skip
    cap = 0.0005
    recipe = Recipe(path=tmp_path / "r.yaml", name="t", format_version=1, steps={},
                    models={"priced": alias}, budget={"max_usd": cap})  # fmt: skip
    client = LLMClient(recipe, cache_path=cache_dir)
    requests = [
        CallRequest("priced", [{"role": "user", "content": f"row {i}: say something about {i}"}],
                    {"max_tokens": 500}, row_id=str(i))
        for i in range(300)
    ]  # fmt: skip
    results = client.complete(requests)
    assert any(r.error_kind == BUDGET for r in results)
    spent = (server.stats.prompt_tokens * prices["input_cost_per_token"]
             + server.stats.completion_tokens * prices["output_cost_per_token"])  # fmt: skip
    assert 0.9 * cap <= spent <= 1.02 * cap, (spent, server.stats.total)
