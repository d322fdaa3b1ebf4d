"""Scale-out: the same generate recipe built locally and on a local Ray cluster.

Starts `tests/llm_server.py` in a subprocess (100 ms latency) and a Ray cluster of one
head and one worker node (one CPU each, `tests/execute/raycluster.py`), then builds a
seed -> generate recipe of `--rows` calls, each time in a fresh folder (empty cache):

1. the local executor,
2. `engine: ray` with 1 gateway worker,
3. `engine: ray` with 2 gateway workers (one per node).

For each: wall time next to the floor (calls x latency / concurrency), requests the
server counted, and the driver's CPU per call (the `synthc build` process only: on Ray
the HTTP work moves to the workers, so this is what bounds one driver). Ray's wall
time includes connecting and starting the actors (a few seconds).

Then dedup throughput: `--dedup-records` records (`planted_at_scale`: 30 words each, a
quarter near-copies, a ninth exact copies) deduplicated locally and on the cluster
(signature and verification blocks as Ray tasks, band keys through the Ray shuffle),
records/s for each and a check that survivors and matches are equal.

    .venv/bin/python bench/ray_scale.py                  # 5,000 calls, then 1M records
    .venv/bin/python bench/ray_scale.py --rows 1000 --dedup-records 0
    .venv/bin/python bench/ray_scale.py --rows 0 --dedup-records 200000
    .venv/bin/python bench/ray_scale.py --rows 2000 --slow-every 20   # a latency tail
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "execute"))
sys.path.insert(0, str(ROOT / "tests" / "quality"))

from llm_server import free_port  # noqa: E402
from raycluster import RayCluster  # noqa: E402
from textgen import planted_at_scale  # noqa: E402

from synthc.api import build_recipe  # noqa: E402
from synthc.execute.ray import RaySession  # noqa: E402
from synthc.quality.dedup import dedup  # noqa: E402


def start_server(latency: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, str(ROOT / "tests" / "llm_server.py"), "--port", str(port)]
    process = subprocess.Popen([*command, "--latency", str(latency)], stdout=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.readline()  # "listening on ..."
    return process, f"http://127.0.0.1:{port}"


def server_total(root: str) -> int:
    with urllib.request.urlopen(f"{root}/_stats") as response:
        return int(json.load(response)["total"])


def write_recipe(
    folder: Path, root: str, rows: int, concurrency: int, execution: Any, slow_every: int
) -> Path:
    """seed -> generate; with `slow_every` N, every Nth prompt is answered after 1 s."""
    folder.mkdir(parents=True)
    slow = [bool(slow_every) and i % slow_every == 0 for i in range(rows)]
    lines = "".join(
        json.dumps({"topic": f"{folder.name} topic {i}" + (" [[latency=1]]" if slow[i] else "")})
        + "\n"
        for i in range(rows)
    )
    (folder / "topics.jsonl").write_text(lines)
    recipe = {
        "synthc": 1,
        "name": "ray-scale",
        "model": "srv",
        "models": {"srv": {"model": "openai/echo", "api_base": f"{root}/v1"}},
        "limits": {"srv": {"concurrency": concurrency}},
        "execution": execution,
        "steps": {
            "topics": {"kind": "seed", "path": "topics.jsonl"},
            "answers": {"kind": "generate", "from": "topics", "prompt": "About {{ topic }}."},
        },
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def timed_build(path: Path, root: str) -> dict[str, float]:
    before_requests = server_total(root)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    result = build_recipe(path)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    assert result.exit_code == 0, result
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "requests": server_total(root) - before_requests}


def bench_calls(args: argparse.Namespace, cluster: RayCluster, work: Path) -> None:
    server, root = start_server(args.latency)
    modes = {
        "local": {"engine": "local"},
        "ray, 1 worker": {"engine": "ray", "ray": {"address": cluster.address, "workers": 1}},
        "ray, 2 workers": {"engine": "ray", "ray": {"address": cluster.address, "workers": 2}},
    }
    slow = len(range(0, args.rows, args.slow_every)) if args.slow_every else 0
    floor = ((args.rows - slow) * args.latency + slow * 1.0) / args.concurrency
    print(f"{args.rows} calls ({slow} of 1 s), concurrency {args.concurrency}, "
          f"latency {args.latency * 1000:.0f} ms, floor {floor:.2f} s")  # fmt: skip
    print(f"{'executor':<16}{'wall s':>8}{'x floor':>9}{'requests':>10}{'driver CPU ms/call':>20}")
    try:
        for index, (name, execution) in enumerate(modes.items()):
            path = write_recipe(
                work / f"m{index}", root, args.rows, args.concurrency, execution, args.slow_every
            )
            figures = timed_build(path, root)
            print(f"{name:<16}{figures['wall']:>8.2f}{figures['wall'] / floor:>9.2f}"
                  f"{figures['requests']:>10}{figures['cpu'] * 1000 / args.rows:>20.3f}")  # fmt: skip
    finally:
        server.terminate()


def bench_dedup(records: int, cluster: RayCluster) -> None:
    started = time.perf_counter()
    frame = planted_at_scale(records)
    print(f"\ndedup of {records:,} records ({time.perf_counter() - started:.0f} s to generate)")
    print(f"{'where':<16}{'wall s':>8}{'records/s':>12}{'driver CPU s':>14}{'removed':>10}")
    session = RaySession(cluster.address)
    outcomes = []
    try:
        for name, options in (
            ("local", {}),
            ("ray, 2 nodes", {"map_blocks": session.map_blocks,
                              "group_pairs": session.candidate_pairs}),
        ):  # fmt: skip
            if options:
                session.cpus()  # connect first: the time is dedup's, not ray.init's
            before = resource.getrusage(resource.RUSAGE_SELF)
            started = time.perf_counter()
            kept, matches = dedup(frame, "text", **options)
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            outcomes.append((kept, matches))
            print(f"{name:<16}{wall:>8.1f}{records / wall:>12,.0f}{cpu:>14.1f}"
                  f"{matches.height:>10,}")  # fmt: skip
    finally:
        session.close()
    (kept, matches), (kept_ray, matches_ray) = outcomes
    same = kept.equals(kept_ray) and matches.equals(matches_ray)
    print(f"survivors and matches identical: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument(
        "--slow-every", type=int, default=0, help="every Nth call takes 1 s (a latency tail)"
    )
    parser.add_argument("--dedup-records", type=int, default=1_000_000, help="0 skips it")
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    cluster = RayCluster(dict(os.environ)).start()
    work = Path(tempfile.mkdtemp(prefix="synthc-ray-bench-"))
    try:
        if args.rows:
            bench_calls(args, cluster, work)
        if args.dedup_records:
            bench_dedup(args.dedup_records, cluster)
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
