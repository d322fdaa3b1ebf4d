"""Throughput of the LLM gateway against the loopback test server.

Starts `tests/llm_server.py` in a subprocess with 100 ms latency, then, in one run:

1. a plain asyncio + openai `AsyncOpenAI` loop (the reference),
2. the gateway, cold (empty cache): `LLMClient.complete` over the same rows,
3. the gateway again over the same rows, fully cached (must send zero requests),
4. the gateway cold with `rpm` and `tpm` limits set far above what the run reaches (the
   limiter's own cost on the hot path),
5. a fault run against a second server answering 10% of requests 429 or 500 (half
   each, no Retry-After) and 5% with a 200 whose body is not JSON: every row must come
   back, and no garbage may be cached.

Prints each wall time next to the floor (rows x latency / concurrency), the gateway's
throughput as a share of the plain loop's, and the gateway's CPU time per call.
With --repeat N it reports medians.

    .venv/bin/python bench/llm_throughput.py            # 5,000 rows, concurrency 64
    .venv/bin/python bench/llm_throughput.py --rows 1000 --repeat 3
    .venv/bin/python bench/llm_throughput.py --rows 10000 --fault-rate 0.1 --garbage-rate 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from llm_server import free_port  # noqa: E402

from synthc.llm.calls import CallRequest  # noqa: E402
from synthc.llm.client import LLMClient  # noqa: E402
from synthc.recipe.load import ModelAlias, Recipe  # noqa: E402


def start_server(latency: float, *faults: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, str(ROOT / "tests" / "llm_server.py"), "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--latency", str(latency), *faults], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    process.stdout.readline()  # "listening on ..."
    return process, f"http://127.0.0.1:{port}"


def server_total(root: str) -> int:
    with urllib.request.urlopen(f"{root}/_stats") as response:
        return int(json.load(response)["total"])


def prompts(rows: int, tag: str) -> list[str]:
    return [f"{tag} row {i}: write one sentence about the number {i}." for i in range(rows)]


async def plain_loop(base_url: str, texts: list[str], concurrency: int) -> float:
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one(text: str) -> str | None:
        async with gate:
            response = await client.chat.completions.create(
                model="echo", messages=[{"role": "user", "content": text}], temperature=0.7
            )
            return response.choices[0].message.content

    started = time.perf_counter()
    answers = await asyncio.gather(*(one(text) for text in texts))
    wall = time.perf_counter() - started
    assert all(answers)
    await client.close()
    return wall


async def bare_aiohttp_loop(base_url: str, texts: list[str], concurrency: int) -> float:
    """The least any client can do: one shared aiohttp session, JSON in and out."""
    import aiohttp

    gate = asyncio.Semaphore(concurrency)
    headers = {"Authorization": "Bearer bench"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(text: str) -> str:
            body = {
                "model": "echo",
                "messages": [{"role": "user", "content": text}],
                "temperature": 0.7,
            }
            async with (
                gate,
                session.post(
                    f"{base_url}/chat/completions", json=body, headers=headers
                ) as response,
            ):
                data = await response.json()
                return str(data["choices"][0]["message"]["content"])

        started = time.perf_counter()
        answers = await asyncio.gather(*(one(text) for text in texts))
        wall = time.perf_counter() - started
    assert all(answers)
    return wall


def gateway(
    base_url: str, texts: list[str], concurrency: int, cache: Path, **limits: float
) -> tuple[float, float]:
    """(wall seconds, CPU seconds) for one `complete` over `texts`; `limits` are added
    to the model's `limits:` (rpm, tpm)."""
    alias = ModelAlias(
        name="bench", model="openai/echo", api_base=base_url, api_key_env="BENCH_KEY"
    )
    model_limits = {"concurrency": concurrency, **limits}
    recipe = Recipe(path=cache.parent / "bench.yaml", name="bench", format_version=1, steps={},
                    models={"bench": alias}, limits={"bench": model_limits})  # fmt: skip
    requests = [
        CallRequest(
            "bench", [{"role": "user", "content": text}], {"temperature": 0.7}, row_id=str(i)
        )
        for i, text in enumerate(texts)
    ]
    client = LLMClient(recipe, cache_path=cache)
    cpu, started = time.process_time(), time.perf_counter()
    results = client.complete(requests, step="bench")
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    failed = [r for r in results if not r.ok]
    assert not failed, failed[:3]
    assert all(r.text and r.text.startswith("echo ") for r in results)
    cached = [client.cache.get(r.call_key) for r in results]
    assert all(hit is not None and hit.text.startswith("echo ") for hit in cached)  # no garbage
    client.close()
    return wall, cpu


def through_generate(root: str, rows: int, concurrency: int, folder: Path) -> dict[str, float]:
    """The same rows as a recipe: seed -> generate, built by `synthc.api.build_recipe`."""
    import yaml

    from synthc.api import build_recipe

    seeds = folder / "seeds.jsonl"
    seeds.write_text(
        "".join(json.dumps({"topic": text}) + "\n" for text in prompts(rows, "recipe"))
    )
    recipe = {
        "synthc": 1, "name": "bench", "model": "bench", "params": {"temperature": 0.7},
        "models": {"bench": {"model": "openai/echo", "api_base": f"{root}/v1", "api_key_env": "BENCH_KEY"}},
        "limits": {"bench": {"concurrency": concurrency}},
        "steps": {"seeds": {"kind": "seed", "path": "seeds.jsonl"},
                  "answers": {"kind": "generate", "from": "seeds", "prompt": "{{ topic }}"}},
    }  # fmt: skip
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    figures: dict[str, float] = {}
    for label, force in (("build_cold", False), ("build_cached", True), ("build_noop", False)):
        before = server_total(root)
        started = time.perf_counter()
        result = build_recipe(path, force=force)
        figures[label] = time.perf_counter() - started
        figures[f"sent_{label}"] = server_total(root) - before
        assert result.exit_code == 0, result
    return figures


def one_round(root: str, rows: int, concurrency: int, tag: str) -> dict[str, float]:
    base_url = f"{root}/v1"
    plain = asyncio.run(plain_loop(base_url, prompts(rows, f"plain{tag}"), concurrency))
    bare = asyncio.run(bare_aiohttp_loop(base_url, prompts(rows, f"bare{tag}"), concurrency))
    texts = prompts(rows, f"gateway{tag}")
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder) / "cache"
        before = server_total(root)
        cold, cold_cpu = gateway(base_url, texts, concurrency, cache)
        sent_cold = server_total(root) - before
        warm, _ = gateway(base_url, texts, concurrency, cache)
        sent_warm = server_total(root) - before - sent_cold
        os.environ["SYNTHC_CACHE_DIR"] = str(Path(folder) / "recipe-cache")
        recipe = through_generate(root, rows, concurrency, Path(folder))
        limits = {"rpm": 1e9, "tpm": 1e12}  # far above the run: only the limiter's cost
        limited, limited_cpu = gateway(
            base_url, prompts(rows, f"limited{tag}"), concurrency, Path(folder) / "lim", **limits
        )
    return {"plain": plain, "bare": bare, "cold": cold, "cold_cpu": cold_cpu, "warm": warm,
            "sent_cold": sent_cold, "sent_warm": sent_warm, "limited": limited,
            "limited_cpu": limited_cpu, **recipe}  # fmt: skip


def fault_round(root: str, rows: int, concurrency: int, tag: str) -> dict[str, float]:
    """The gateway, cold, against the faulty server: wall time and requests sent."""
    with tempfile.TemporaryDirectory() as folder:
        before = server_total(root)
        wall, cpu = gateway(f"{root}/v1", prompts(rows, f"fault{tag}"), concurrency,
                            Path(folder) / "cache")  # fmt: skip
        return {"fault": wall, "fault_cpu": cpu, "sent_fault": server_total(root) - before}


def main() -> None:
    parser = argparse.ArgumentParser(description="LLM gateway throughput vs a plain openai loop")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--fault-rate", type=float, default=0.1, help="429/500 share (0: skip)")
    parser.add_argument("--garbage-rate", type=float, default=0.05)
    args = parser.parse_args()
    os.environ["BENCH_KEY"] = "bench-key"
    started = time.perf_counter()
    from synthc.llm.loader import load_litellm

    load_litellm()  # a build pays this once; keep it out of the per-call figures
    print(
        f"litellm import: {time.perf_counter() - started:.2f} s (once per build, not timed below)"
    )
    server, root = start_server(args.latency)
    try:
        rounds = [one_round(root, args.rows, args.concurrency, str(i)) for i in range(args.repeat)]
    finally:
        server.terminate()
        server.wait()
    if args.fault_rate:
        faults = ["--fault-rate", str(args.fault_rate), "--garbage-rate", str(args.garbage_rate),
                  "--no-retry-after"]  # fmt: skip
        server, root = start_server(args.latency, *faults)
        try:
            for i, figures in enumerate(rounds):
                figures.update(fault_round(root, args.rows, args.concurrency, str(i)))
        finally:
            server.terminate()
            server.wait()
    report(rounds, args)


def report(rounds: list[dict[str, float]], args: argparse.Namespace) -> None:
    median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    floor = args.rows * args.latency / args.concurrency
    label = "median of" if len(rounds) > 1 else "runs:"
    print(f"{args.rows} rows, concurrency {args.concurrency}, latency {args.latency * 1000:.0f} ms"
          f" ({label} {len(rounds)})")  # fmt: skip
    print(f"  floor (rows x latency / concurrency) {floor:7.2f} s")
    print(f"  plain asyncio + AsyncOpenAI loop     {median['plain']:7.2f} s")
    print(f"  bare aiohttp loop (no SDK at all)    {median['bare']:7.2f} s")
    print(f"  gateway, cold cache                  {median['cold']:7.2f} s"
          f"   requests sent: {median['sent_cold']:.0f}")  # fmt: skip
    print(f"  gateway, fully cached rerun          {median['warm']:7.2f} s"
          f"   requests sent: {median['sent_warm']:.0f}   (target <= 2 s, 0 requests)")  # fmt: skip
    share = median["plain"] / median["cold"]
    print(f"  gateway throughput / plain loop      {share:7.1%}   (target >= 90%)")
    print(f"  gateway throughput / bare aiohttp    {median['bare'] / median['cold']:7.1%}")
    print(f"  gateway throughput / floor           {floor / median['cold']:7.1%}")
    print(f"  gateway CPU per call (cold)          {median['cold_cpu'] / args.rows * 1000:7.3f} ms")
    print(f"  gateway, cold, rpm/tpm limits on     {median['limited']:7.2f} s"
          f"   CPU per call {median['limited_cpu'] / args.rows * 1000:.3f} ms")  # fmt: skip
    if "fault" in median:
        print(f"  gateway, cold, {args.fault_rate:.0%} 429/500 (no Retry-After) + "
              f"{args.garbage_rate:.0%} garbage: {median['fault']:7.2f} s"
              f"   requests sent: {median['sent_fault']:.0f}"
              f"   ({median['fault'] / median['cold']:.2f}x the clean cold run, target <= 1.5x)")  # fmt: skip
    print("  through a recipe (seed -> generate, synthc.api.build_recipe):")
    print(f"    cold build                         {median['build_cold']:7.2f} s"
          f"   requests sent: {median['sent_build_cold']:.0f}")  # fmt: skip
    print(f"    rebuild -B (every call cached)     {median['build_cached']:7.2f} s"
          f"   requests sent: {median['sent_build_cached']:.0f}")  # fmt: skip
    print(f"    no-op rebuild (fresh)              {median['build_noop']:7.2f} s"
          f"   requests sent: {median['sent_build_noop']:.0f}")  # fmt: skip
    for i, r in enumerate(rounds):
        print(f"  round {i}: plain {r['plain']:.2f} s, bare {r['bare']:.2f} s, cold {r['cold']:.2f} s, "
              f"cached {r['warm']:.2f} s, cpu/call {r['cold_cpu'] / args.rows * 1000:.3f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
