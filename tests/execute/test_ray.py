"""`execution: {engine: ray}` on a real local Ray cluster (a head and a worker node, one
CPU each, started with `ray start`): the same outputs, call keys and lock as the local
executor, one cache on the driver, global limits, keys only from the workers' own
environment, and a killed worker node costs at most the calls it held.

Deselect with `-m "not ray"`; skipped when Ray is not installed (`pip install -e '.[ray]'`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from llm_server import LLMTestServer
from quality.textgen import planted, planted_at_scale
from raycluster import REPO, RayCluster, free_port

from synthc.api import build_recipe, plan_recipe
from synthc.errors import StepFailed
from synthc.plan.render import plan_table
from synthc.recipe.load import load_recipe
from synthc.store.store import Store

pytest.importorskip("ray")

pytestmark = [pytest.mark.ray, pytest.mark.timeout(600)]

WORDS = ("alpha", "beta", "gamma", "delta")
KEY_VARIABLE = "SYNTHC_RAY_TEST_KEY"
SECRET = "sk-synthc-ray-" + os.urandom(12).hex()  # only the cluster's nodes have it


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    env = {k: v for k, v in os.environ.items() if k != KEY_VARIABLE}
    env |= {KEY_VARIABLE: SECRET, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    started = RayCluster(env).start()
    yield started
    started.stop()


@pytest.fixture(autouse=True)
def driver_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The driver has no key: only the workers can authenticate."""
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    monkeypatch.delenv("SYNTHC_CACHE_DIR", raising=False)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def write_recipe(
    folder: Path,
    server: LLMTestServer,
    rows: int,
    *,
    engine: str = "ray",
    address: str = "auto",
    limits: dict[str, Any] | None = None,
    key_variable: str = KEY_VARIABLE,
    budget: dict[str, Any] | None = None,
) -> Path:
    """seed (rows) -> generate n: 2 -> dedup -> filter, with the model at the server."""
    folder.mkdir(parents=True, exist_ok=True)
    topics = [{"topic": f"topic {i}: {WORDS[i % 4]} {i * 7919}"}
              for i in range(rows)]  # fmt: skip
    (folder / "topics.jsonl").write_text("".join(json.dumps(t) + "\n" for t in topics))
    recipe = {
        "synthc": 1,
        "name": "scale",
        "seed": 3,
        "model": "srv",
        "models": {"srv": {"model": "openai/echo", "api_base": server.base_url,
                           "api_key_env": key_variable}},
        "params": {"temperature": 0.7},
        "limits": {"srv": limits or {"concurrency": 8}},
        "execution": {"engine": engine, "ray": {"address": address}},
        "budget": budget or {},
        "steps": {
            "topics": {"kind": "seed", "path": "topics.jsonl"},
            "answers": {"kind": "generate", "from": "topics", "n": 2, "output": "answer",
                        "prompt": "Write one line about {{ topic }}."},
            "deduped": {"kind": "dedup", "from": "answers", "column": "answer",
                       "threshold": 0.95},
            "final": {"kind": "filter", "from": "deduped", "where": "length(answer) > 20"},
        },
    }  # fmt: skip
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def data_versions(path: Path) -> dict[str, str]:
    lock = Store.for_recipe(load_recipe(path)).read_lock()
    return {name: entry.data_version for name, entry in lock.steps.items()}


def test_plan_says_which_engine_runs_each_step(tmp_path: Path, server: LLMTestServer) -> None:
    path = write_recipe(tmp_path / "a", server, 3)
    table = plan_table(plan_recipe(path)).splitlines()
    assert table[1].split()[-1] == "engine"
    engines = {line.split()[0]: line.split()[-1] for line in table[2:-1]}
    assert engines == {"topics": "driver", "answers": "ray", "deduped": "ray", "final": "driver"}
    assert "engine" not in plan_table(plan_recipe(path, engine="local")).splitlines()[1]


def test_an_address_with_no_cluster_fails_at_once(tmp_path: Path, server: LLMTestServer) -> None:
    path = write_recipe(tmp_path / "a", server, 3, engine="local")
    started = time.monotonic()
    with pytest.raises(StepFailed, match=r"no Ray cluster at '127\.0\.0\.1:\d+'"):
        build_recipe(path, address=f"127.0.0.1:{free_port()}")
    assert time.monotonic() - started < 30
    assert server.stats.total == 0


@pytest.mark.parametrize(
    ("rows", "concurrency"), [(300, 8), pytest.param(5000, 32, marks=pytest.mark.slow)]
)
def test_ray_build_sends_each_call_once_and_equals_the_local_build(
    tmp_path: Path,
    server: LLMTestServer,
    cluster: RayCluster,
    monkeypatch: pytest.MonkeyPatch,
    rows: int,
    concurrency: int,
) -> None:
    limits = {"concurrency": concurrency}
    on_ray = write_recipe(tmp_path / "ray", server, rows, address=cluster.address, limits=limits)
    result = build_recipe(on_ray)
    assert result.exit_code == 0 and result.failures == 0
    assert server.stats.total == rows * 2
    # the model's concurrency, across both workers
    assert server.stats.peak_in_flight <= concurrency
    assert server.stats.authorizations == {f"Bearer {SECRET}": rows * 2}
    # each step's estimate, counted as the build reached it, holds the calls it made
    recorded = Store.for_recipe(load_recipe(on_ray)).query_frame(
        "select step, planned_calls, planned_calls_max, calls from _run_steps"
    )
    assert recorded.get_column("calls").sum() == rows * 2
    for row in recorded.iter_rows(named=True):
        high = row["planned_calls_max"]
        assert row["planned_calls"] <= row["calls"] and (high is None or row["calls"] <= high)

    monkeypatch.setenv(KEY_VARIABLE, SECRET)
    local = write_recipe(tmp_path / "local", server, rows, engine="local", limits=limits)
    assert build_recipe(local).exit_code == 0
    assert server.stats.total == rows * 4
    assert data_versions(on_ray) == data_versions(local)
    assert len(data_versions(on_ray)) == 4

    again = build_recipe(on_ray, engine="local")
    assert again.built == [] and len(again.skipped) == 4
    assert server.stats.total == rows * 4  # the Ray build's answers are in the one cache


def test_the_key_reaches_workers_only_through_their_environment(
    tmp_path: Path, server: LLMTestServer, cluster: RayCluster
) -> None:
    path = write_recipe(tmp_path / "a", server, 20, address=cluster.address)
    assert build_recipe(path).exit_code == 0
    assert server.stats.authorizations == {f"Bearer {SECRET}": 40}
    secret = SECRET.encode()
    leaks = [str(f) for f in cluster.session_files() if secret in f.read_bytes()]
    assert leaks == []
    assert cluster.session_files()  # the folder searched is the cluster's, and not empty


def test_workers_without_the_key_variable_stop_the_build_before_any_call(
    tmp_path: Path, server: LLMTestServer, cluster: RayCluster
) -> None:
    path = write_recipe(
        tmp_path / "a", server, 5, address=cluster.address, key_variable="SYNTHC_UNSET_KEY"
    )
    with pytest.raises(StepFailed, match="Ray workers lack SYNTHC_UNSET_KEY"):
        build_recipe(path)
    assert server.stats.total == 0


def test_the_budget_holds_across_the_workers(
    tmp_path: Path, server: LLMTestServer, cluster: RayCluster
) -> None:
    path = write_recipe(tmp_path / "a", server, 20, address=cluster.address,
                        budget={"max_calls": 25})  # fmt: skip
    assert build_recipe(path).exit_code == 1  # rows left without an answer
    assert server.stats.total == 25
    data = yaml.safe_load(path.read_text())
    data["budget"] = {"max_calls": 100}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert build_recipe(path).exit_code == 0
    assert server.stats.total == 40  # the first 25 answers were cached on the driver


def test_rpm_is_a_hard_cap_on_every_window_across_the_workers(
    tmp_path: Path, server: LLMTestServer, cluster: RayCluster
) -> None:
    # The server keeps a provider's sliding window (short, so the test is quick): a
    # request over `rpm` in any window would be answered 429 and retried.
    rpm, window, rows = 5, 1.0, 15
    server.config.rpm, server.config.window_s = rpm, window
    limits = {"concurrency": 8, "rpm": rpm, "window_s": window}
    path = write_recipe(tmp_path / "a", server, rows, address=cluster.address, limits=limits)
    assert build_recipe(path).exit_code == 0
    # 8 lanes on two workers, each holding a share of rpm (5 / 8 < 1 request), sent 8
    # in one window; booked in one shared window they send at most 5.
    assert server.stats.statuses[429] == 0
    assert len(server.stats.accepted) == rows * 2
    assert server.stats.max_in_window(window) <= rpm


def test_a_retry_after_pauses_the_model_on_every_worker(
    tmp_path: Path, server: LLMTestServer, cluster: RayCluster
) -> None:
    server.config.latency, server.config.retry_after = 0.02, 1.0
    limits = {"concurrency": 8, "rpm": 100_000}  # an rpm: the model's windows are shared
    path = write_recipe(tmp_path / "a", server, 400, address=cluster.address, limits=limits)
    topics = (path.parent / "topics.jsonl").read_text().splitlines()
    topics[100] = json.dumps({"topic": "busy [[rate_first=1]]"})  # once every lane is warm
    (path.parent / "topics.jsonl").write_text("\n".join(topics) + "\n")
    assert build_recipe(path).exit_code == 0
    assert server.stats.statuses[429] == 1
    refused = next(i for i, body in enumerate(server.stats.bodies) if "rate_first" in body)
    at = server.stats.arrivals[refused]
    # Calls already out when the 429 came back may land just after it; then no lane on
    # either node sends until the pause is over (lanes pausing alone sent 70 or more).
    during = [t - at for t in server.stats.arrivals if at + 0.2 < t < at + 0.9]
    assert during == []
    assert server.stats.total == 400 * 2 + 1


def test_each_worker_gives_up_at_the_models_deadline(
    tmp_path: Path, server: LLMTestServer, cluster: RayCluster
) -> None:
    server.config.fault_rate = 1.0  # every request answered 429 or 500
    limits = {"concurrency": 8, "deadline_s": 2}
    path = write_recipe(tmp_path / "a", server, 4, address=cluster.address, limits=limits)
    started = time.perf_counter()
    assert build_recipe(path).exit_code == 1  # no answers
    # Past the deadline each call stops retrying: the default (300 s) would hold here.
    assert time.perf_counter() - started < 60
    assert server.stats.total > 8  # retried until the deadline, not given up at once


def test_a_killed_worker_node_costs_at_most_the_calls_in_flight(
    tmp_path: Path, server: LLMTestServer, cluster: RayCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows, concurrency = 150, 6
    doomed = cluster.add_worker()
    server.config.latency = 0.05
    path = write_recipe(tmp_path / "ray", server, rows, address=cluster.address,
                        limits={"concurrency": concurrency})  # fmt: skip
    outcome: dict[str, Any] = {}
    builder = threading.Thread(target=lambda: outcome.update(result=build_recipe(path)))
    builder.start()
    while server.stats.total < rows * 2 // 3 and builder.is_alive():
        time.sleep(0.01)
    at_kill = server.stats.total
    cluster.kill(doomed)
    builder.join(timeout=300)
    result = outcome["result"]
    assert result.exit_code == 0 and result.failures == 0
    assert at_kill < rows * 2  # the node died in the middle of generation
    extra = server.stats.total - rows * 2
    assert 0 <= extra <= concurrency  # at most the calls out at the kill are sent twice

    server.config.latency = 0.0
    monkeypatch.setenv(KEY_VARIABLE, SECRET)
    local = write_recipe(tmp_path / "local", server, rows, engine="local")
    assert build_recipe(local).exit_code == 0
    assert data_versions(path) == data_versions(local)


def test_a_killed_driver_re_pays_at_most_the_calls_in_flight(
    tmp_path: Path, server: LLMTestServer, cluster: RayCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows, concurrency = 150, 6
    server.config.latency = 0.05
    path = write_recipe(tmp_path / "a", server, rows, engine="local",
                        limits={"concurrency": concurrency})  # fmt: skip
    driver = subprocess.Popen(
        [sys.executable, "-m", "synthc", "build", str(path), "--engine", "ray",
         "--address", cluster.address],
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    while server.stats.total < rows * 2 // 3 and driver.poll() is None:
        time.sleep(0.01)
    driver.kill()
    _, stderr = driver.communicate(timeout=60)
    assert server.stats.total < rows * 2, stderr.decode()[-2000:]  # killed mid-generation
    time.sleep(2)  # calls the dead driver's workers still had out reach the server now

    server.config.latency = 0.0
    monkeypatch.setenv(KEY_VARIABLE, SECRET)
    assert build_recipe(path).exit_code == 0  # locally this time: the same cache
    extra = server.stats.total - rows * 2
    assert 0 <= extra <= concurrency


def test_dedup_blocks_run_on_the_cluster_with_the_same_survivors_and_matches(
    tmp_path: Path, server: LLMTestServer, cluster: RayCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ray

    frame = planted(9000)
    paths = {}
    for engine in ("ray", "local"):
        # `answers` runs first, so the gateway actors live while dedup's blocks run
        path = write_recipe(tmp_path / engine, server, 5, engine=engine)
        recipe = yaml.safe_load(path.read_text())
        frame.drop("_id").write_ndjson(path.parent / "texts.jsonl")
        recipe["steps"] = {
            "topics": recipe["steps"]["topics"],
            "answers": {**recipe["steps"]["answers"], "n": 1},
            "texts": {"kind": "seed", "path": "texts.jsonl"},
            "deduped": {"kind": "dedup", "from": "texts", "column": "text"},
        }
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
        paths[engine] = path

    ray.init(address=cluster.address, log_to_driver=False)
    try:
        before = Counter(event.get("name") for event in ray.timeline())
        assert build_recipe(paths["ray"]).exit_code == 0
        tasks = Counter(event.get("name") for event in ray.timeline()) - before
    finally:
        ray.shutdown()
    assert tasks["synthc.execute.ray._apply"] >= 4  # 3 signature blocks, then verification
    # the band keys shuffled: 3 map blocks, a partition per reduce task (2 per CPU)
    assert tasks["synthc.quality.minhash.partition_band_keys"] == 3
    assert tasks["synthc.quality.minhash.bucket_pairs"] == 4
    assert server.stats.total == 5
    monkeypatch.setenv(KEY_VARIABLE, SECRET)
    assert build_recipe(paths["local"]).exit_code == 0

    assert data_versions(paths["ray"]) == data_versions(paths["local"])
    matches = "select * from _dedup_matches order by removed_id"
    on_ray = Store.for_recipe(load_recipe(paths["ray"])).query_frame(matches)
    assert on_ray.equals(Store.for_recipe(load_recipe(paths["local"])).query_frame(matches))
    assert on_ray.height > 1000


@pytest.mark.slow
def test_dedup_of_200000_records_on_ray_equals_the_local_dedup(cluster: RayCluster) -> None:
    from synthc.execute.ray import RaySession
    from synthc.quality.dedup import dedup

    frame = planted_at_scale(200_000)
    kept, matches = dedup(frame, "text")
    session = RaySession(cluster.address)
    try:
        before = Counter(event.get("name") for event in session.ray().timeline())
        kept_on_ray, matches_on_ray = dedup(
            frame, "text", map_blocks=session.map_blocks, group_pairs=session.candidate_pairs
        )
        tasks = Counter(event.get("name") for event in session.ray().timeline()) - before
    finally:
        session.close()
    assert tasks["synthc.quality.minhash.bucket_pairs"] == 4  # grouped through the shuffle
    assert tasks["synthc.execute.ray._apply"] > 49  # 49 signature blocks, then verification
    assert kept_on_ray.equals(kept)
    assert matches_on_ray.equals(matches)
    assert matches.height > 50_000  # exact and near copies found
