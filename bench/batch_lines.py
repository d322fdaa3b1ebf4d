"""The gateway's CPU per call through a provider batch vs one request each.

Starts `tests/llm_server.py` in a subprocess (no latency: only the client's own work is
measured), then answers the same rows twice with `LLMClient.complete`, each into an
empty cache: once directly (concurrency 64), once through the batch API (`batch:` on
the alias: JSONL lines, upload, create, poll, download, parse, cache). Prints wall and
CPU seconds and the CPU per call of each.

    .venv/bin/python bench/batch_lines.py               # 10,000 rows
    .venv/bin/python bench/batch_lines.py --rows 2000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from llm_throughput import prompts, start_server  # noqa: E402

from synthc.llm.calls import CallRequest  # noqa: E402
from synthc.llm.client import LLMClient  # noqa: E402
from synthc.llm.loader import load_litellm  # noqa: E402
from synthc.recipe.load import ModelAlias, Recipe  # noqa: E402


def run(base_url: str, texts: list[str], cache: Path, batch: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds) for one `complete` over `texts`."""
    alias = ModelAlias(name="bench", model="openai/echo", api_base=base_url,
                       api_key_env="BENCH_KEY", batch={"poll_s": 0.05} if batch else None)  # fmt: skip
    recipe = Recipe(path=cache.parent / "bench.yaml", name="bench", format_version=1, steps={},
                    models={"bench": alias}, limits={"bench": {"concurrency": 64}})  # fmt: skip
    requests = [
        CallRequest("bench", [{"role": "user", "content": t}], {"temperature": 0.7}, row_id=str(i))
        for i, t in enumerate(texts)
    ]
    client = LLMClient(recipe, cache_path=cache)
    cpu, started = time.process_time(), time.perf_counter()
    results = client.complete(requests, step="bench")
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    bad = [r for r in results if not r.ok or (r.batch_id is not None) != batch]
    assert not bad, bad[:2]
    client.close()
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    load_litellm()  # its import is not the gateway's per-call cost
    server, root = start_server(0.0)
    try:
        with tempfile.TemporaryDirectory() as folder:
            for name, batch in (("direct", False), ("batch", True)):
                texts = prompts(args.rows, name)
                wall, cpu = run(f"{root}/v1", texts, Path(folder) / name / "cache", batch)
                print(f"{name:>6}: {args.rows} calls in {wall:.2f} s wall, {cpu:.2f} s CPU, "
                      f"{1000 * cpu / args.rows:.3f} ms CPU per call")  # fmt: skip
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
