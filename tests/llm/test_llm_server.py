"""The loopback server itself: deterministic answers, honest usage, n > 1, counters."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from llm_server import LLMTestServer


def post(server: LLMTestServer, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request) as response:
        return dict(json.load(response))


def test_answers_are_deterministic_with_usage_and_n_choices(server: LLMTestServer) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "two words"}], "n": 3}
    first, again = post(server, body), post(server, body)
    assert first["choices"] == again["choices"]
    texts = [c["message"]["content"] for c in first["choices"]]
    assert len(set(texts)) == 3 and all(t.endswith("two words") for t in texts)
    assert first["usage"] == {"prompt_tokens": 2, "completion_tokens": 12, "total_tokens": 14}
    assert server.stats.total == 2 and server.stats.per_prompt["two words"] == 2
    server.reset()
    assert server.stats.total == 0


def test_max_tokens_truncates_with_finish_reason_length(server: LLMTestServer) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "a b c d e"}], "max_tokens": 3}
    choice = post(server, body)["choices"][0]
    assert choice["finish_reason"] == "length" and len(choice["message"]["content"].split()) == 3
