"""End to end: the real `synthc build` CLI, cold / warm / +1% rows / nothing changed.

Starts `tests/llm_server.py` in a subprocess (100 ms latency), writes a seed -> generate
recipe of N one-call rows (concurrency 64), then runs `python -m synthc build` as a
subprocess four times in a row:

1. cold: empty state and cache, N requests;
2. warm: nothing changed, 0 requests;
3. +1%: N/100 new seed rows appended, exactly N/100 requests;
4. nothing changed again, 0 requests.

In the same run, two references: a bare aiohttp client (one shared session, JSON in and
out, the least any client can do) sending N fresh requests, and `python -c pass`.
For each it prints the wall time, the request span at the server (first request's
arrival to last answer), the requests sent, the client's CPU time (user + sys) per call,
and the peak RSS of the process tree (sampled every 10 ms). Medians over --repeat.

    .venv/bin/python bench/e2e.py                      # N = 10,000
    .venv/bin/python bench/e2e.py --rows 100000        # N = 100,000
    .venv/bin/python bench/e2e.py --rows 1000 --repeat 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("cold", "warm", "plus_1pct", "unchanged")


def start_server(latency: float) -> tuple[subprocess.Popen[bytes], str]:
    sys.path.insert(0, str(ROOT / "tests"))
    from llm_server import free_port

    port = free_port()
    command = [sys.executable, str(ROOT / "tests" / "llm_server.py"), "--port", str(port)]
    process = subprocess.Popen([*command, "--latency", str(latency)], stdout=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.readline()  # "listening on ..."
    return process, f"http://127.0.0.1:{port}"


def server_stats(root: str, reset: bool = False) -> dict[str, Any]:
    with urllib.request.urlopen(f"{root}/_stats") as response:
        stats: dict[str, Any] = json.load(response)
    if reset:
        request = urllib.request.Request(f"{root}/_reset", data=b"{}", method="POST")
        urllib.request.urlopen(request).close()
    return stats


def measured(command: list[str], root: str | None, env: dict[str, str]) -> dict[str, float]:
    """Run `command`; its wall time, CPU time, peak process-tree RSS, and the requests
    it made at the server with their span."""
    if root is not None:
        server_stats(root, reset=True)
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        peak = _sample_tree_rss(process)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{errors.read().decode()}")
    figures = {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": peak}
    if root is not None:
        stats = server_stats(root)
        figures["sent"] = stats["total"]
        first, last = stats["first_request_at"], stats["last_answer_at"]
        figures["span"] = (last - first) if first is not None and last is not None else 0.0
    return figures


def _sample_tree_rss(process: subprocess.Popen[bytes]) -> float:
    """Peak summed RSS (bytes) of `process` and its descendants until it exits."""
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        try:
            parent = psutil.Process(process.pid)
            while not done.is_set():
                tree = [parent, *parent.children(recursive=True)]
                total = 0
                for member in tree:
                    with contextlib.suppress(psutil.Error):  # a child that just exited
                        total += member.memory_info().rss
                peak = max(peak, total)
                time.sleep(0.01)
        except psutil.Error:
            return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # Wait without reaping, so that wait4 can still read the child's resource usage.
    os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
    done.set()
    sampler.join()
    return peak


def write_recipe(folder: Path, root: str, concurrency: int) -> Path:
    recipe = folder / "recipe.yaml"
    recipe.write_text(
        f"""\
synthc: 1
name: e2e
model: bench
params: {{temperature: 0.7}}
models:
  bench: {{model: openai/echo, api_base: "{root}/v1", api_key_env: BENCH_KEY}}
limits:
  bench: {{concurrency: {concurrency}}}
steps:
  seeds: {{kind: seed, path: seeds.jsonl}}
  answers: {{kind: generate, from: seeds, prompt: "{{{{ topic }}}}"}}
""",
        encoding="utf-8",
    )
    return recipe


def append_seeds(path: Path, lo: int, hi: int, tag: str) -> None:
    with path.open("a", encoding="utf-8") as out:
        for i in range(lo, hi):
            out.write(json.dumps({"topic": f"{tag} row {i}: one sentence about {i}."}) + "\n")


def one_round(root: str, rows: int, concurrency: int, tag: str) -> dict[str, dict[str, float]]:
    env = {**os.environ, "BENCH_KEY": "bench-key", "PYTHONPATH": str(ROOT)}
    figures: dict[str, dict[str, float]] = {}
    bare = [sys.executable, __file__, "--bare-client", root, "--rows", str(rows)]
    figures["bare"] = measured([*bare, "--concurrency", str(concurrency), "--tag", tag], root, env)
    figures["python"] = measured([sys.executable, "-c", "pass"], None, env)
    with tempfile.TemporaryDirectory(prefix="synthc-e2e-") as tmp:
        folder = Path(tmp)
        env["SYNTHC_CACHE_DIR"] = str(folder / "cache")
        recipe = write_recipe(folder, root, concurrency)
        append_seeds(folder / "seeds.jsonl", 0, rows, tag)
        build = [sys.executable, "-m", "synthc", "build", str(recipe)]
        for phase in PHASES:
            if phase == "plus_1pct":
                append_seeds(folder / "seeds.jsonl", rows, rows + rows // 100, tag)
            figures[phase] = measured(build, root, env)
    return figures


def bare_client(root: str, rows: int, concurrency: int, tag: str) -> None:
    """The reference: N requests through one aiohttp session, as a process of its own."""
    import aiohttp

    async def run() -> None:
        gate = asyncio.Semaphore(concurrency)
        headers = {"Authorization": "Bearer bench-key"}
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(i: int) -> str:
                text = f"bare {tag} row {i}: one sentence about {i}."
                body = {
                    "model": "echo",
                    "messages": [{"role": "user", "content": text}],
                    "temperature": 0.7,
                }
                url = f"{root}/v1/chat/completions"
                async with gate, session.post(url, json=body, headers=headers) as response:
                    data = await response.json()
                    return str(data["choices"][0]["message"]["content"])

            answers = await asyncio.gather(*(one(i) for i in range(rows)))
        assert all(answers)

    asyncio.run(run())


def report(rounds: list[dict[str, dict[str, float]]], args: argparse.Namespace) -> None:
    floor = args.rows * args.latency / args.concurrency
    python = statistics.median(r["python"]["wall"] for r in rounds)
    print(
        f"N = {args.rows:,} one-call rows, concurrency {args.concurrency}, latency "
        f"{args.latency * 1000:.0f} ms, floor N x latency / concurrency = {floor:.2f} s; "
        f"medians of {len(rounds)} round(s); python -c pass {python:.3f} s"
    )
    header = f"{'phase':<28}{'wall s':>8}{'x floor':>9}{'span s':>8}{'requests':>10}"
    print(header + f"{'CPU s':>8}{'CPU/call ms':>12}{'peak RSS MB':>13}")
    labels = {
        "bare": "bare aiohttp (reference)",
        "cold": "synthc build, cold",
        "warm": "synthc build, warm",
        "plus_1pct": "synthc build, +1% rows",
        "unchanged": "synthc build, nothing changed",
    }
    for key, label in labels.items():
        median = {name: statistics.median(r[key][name] for r in rounds) for name in rounds[0][key]}
        sent = median["sent"]
        per_call = f"{median['cpu'] / sent * 1000:12.3f}" if sent else f"{'-':>12}"
        ratio = f"{median['wall'] / floor:9.2f}" if sent >= args.rows else f"{'':>9}"
        print(
            f"{label:<28}{median['wall']:8.2f}{ratio}{median['span']:8.2f}{sent:10,.0f}"
            f"{median['cpu']:8.2f}{per_call}{median['rss'] / 2**20:13.0f}"
        )
    for key in ("warm", "unchanged"):
        above = statistics.median(r[key]["wall"] - r["python"]["wall"] for r in rounds)
        print(f"{labels[key]}: {above:.2f} s above python -c pass (target <= 0.5 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--bare-client", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="0", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_client:
        bare_client(args.bare_client, args.rows, args.concurrency, args.tag)
        return
    server, root = start_server(args.latency)
    try:
        rounds = [
            one_round(root, args.rows, args.concurrency, f"{time.time_ns()}-{i}")
            for i in range(args.repeat)
        ]
    finally:
        server.terminate()
        server.wait()
    report(rounds, args)


if __name__ == "__main__":
    main()
