"""Tokens per second of the embedded model `local/smollm2` on this machine.

Generates straight through llama-cpp-python, then the same prompts and seeds through
the gateway (cold cache, so every call runs the model): both produce the same tokens,
so the difference is the gateway's overhead. On a shared machine the figures swing
with other load; run it twice.

    .venv/bin/python bench/local_model.py              # 8 prompts x 64 tokens
    .venv/bin/python bench/local_model.py --prompts 16 --max-tokens 128
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from synthc.llm.calls import CallRequest
from synthc.llm.client import LLMClient
from synthc.llm.local import generate, load_model

TOPICS = ["tea", "rivers", "chess", "bicycles", "volcanoes", "bread", "owls", "jazz",
          "glass", "maps", "snow", "clocks", "salt", "bees", "ships", "paper"]  # fmt: skip


def prompt(i: int) -> list[dict[str, str]]:
    topic = TOPICS[i % len(TOPICS)]
    return [{"role": "user", "content": f"Write three sentences about {topic} (#{i})."}]


def main() -> None:
    parser = argparse.ArgumentParser(description="local/smollm2 tokens per second")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    params = {"max_tokens": args.max_tokens, "temperature": 0.7}

    started = time.perf_counter()
    load_model()
    print(f"model load: {time.perf_counter() - started:.2f} s   (cpus: {os.cpu_count()})")
    generate(prompt(0), {"max_tokens": 8})  # warm-up: the first evaluation allocates buffers

    started, tokens = time.perf_counter(), 0
    for i in range(args.prompts):
        tokens += generate(prompt(i), params)["usage"]["completion_tokens"]
    raw = time.perf_counter() - started
    print(f"llama-cpp-python direct: {tokens} tokens in {raw:.2f} s = {tokens / raw:6.1f} tokens/s")

    requests = [CallRequest("local/smollm2", prompt(i), {**params, "allow_truncated": True})
                for i in range(args.prompts)]  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        client = LLMClient(cache_path=Path(folder))
        started = time.perf_counter()
        results = client.complete(requests, step="bench")
        wall = time.perf_counter() - started
        cached = client.complete(requests, step="bench")
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert all(r.cached for r in cached)
    tokens = sum(r.completion_tokens for r in results)
    print(f"gateway (local/smollm2): {tokens} tokens in {wall:.2f} s = {tokens / wall:6.1f} tokens/s"
          f"   ({args.prompts} calls, {wall / args.prompts:.2f} s/call, first call loads litellm)")  # fmt: skip


if __name__ == "__main__":
    main()
