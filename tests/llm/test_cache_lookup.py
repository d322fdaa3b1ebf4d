"""A step's call keys are looked up in batches; every cached answer is still served."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gateway_helpers import ask
from llm_server import LLMTestServer

from synthc.llm.cache import LOOKUP_CHUNK, CachedResponse, CallCache
from synthc.llm.client import LLMClient


def test_a_rebuild_serves_every_cached_answer_and_asks_only_for_new_rows(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    rows = LOOKUP_CHUNK + 100  # more keys than one batched lookup holds
    # One long answer: diskcache keeps values of 32 KB and more in a file of their own.
    prompts = [f"row {i}" for i in range(rows)] + ["long " * 8000]
    first = make_client().complete([ask(p) for p in prompts])
    assert server.stats.total == len(prompts)

    again = make_client().complete([ask(p) for p in [*prompts, "new row", "row 7"]])

    assert server.stats.total == len(prompts) + 1  # only "new row" was sent
    assert [r.text for r in again[: len(prompts)]] == [r.text for r in first]
    assert all(r.cached for r in again[: len(prompts)]) and not again[-2].cached
    assert again[-1].cached and again[-1].text == first[7].text


def test_batched_lookup_agrees_with_one_at_a_time(tmp_path: Path) -> None:
    writer = CallCache(tmp_path / "cache")  # as another build process would
    answer = CachedResponse("hi", "stop", 2, 1, None, "openai/echo")
    for i in range(0, 50, 2):
        writer.put(f"key{i}", answer)
    writer.put_embedding("vector", b"\0" * 16, "openai/embed", 3)
    writer.close()

    reader = CallCache(tmp_path / "cache")
    keys = [f"key{i}" for i in range(50)] + ["vector", "absent"]

    assert reader.get_many(keys) == {k: v for k in keys if (v := reader.get(k)) is not None}
    assert sorted(reader.get_many(keys)) == sorted(f"key{i}" for i in range(0, 50, 2))
