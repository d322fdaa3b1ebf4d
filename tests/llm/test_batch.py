"""`batch:` on a model alias: cache misses go through the provider's batch API (here the
loopback server's `/v1/files` + `/v1/batches`), keyed like direct calls, recorded before
the build waits, collected by the next build when it did not wait, at the batch price.
Every guarantee is read from the server's own counters."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from click.testing import CliRunner
from llm_server import LLMTestServer

from synthc.api import build_recipe, estimate_recipe, plan_recipe, query_recipe, validate_recipe
from synthc.cli import cli
from synthc.errors import BatchPending, RecipeError
from synthc.execute.estimate import price_per_token
from synthc.plan.render import plan_table
from synthc.progress import RecordingReporter
from synthc.store.store import Store

FAST = {"poll_s": 0.02}


def write(
    folder: Path,
    server: LLMTestServer,
    rows: int,
    batch: Any = None,
    model: str = "openai/echo",
    prompt: str = "Write about {{ topic }}",
) -> Path:
    """A seed of `rows` topics and one generate step on the alias `srv`."""
    folder.mkdir(parents=True, exist_ok=True)
    seeds = "".join(json.dumps({"topic": f"topic {i}"}) + "\n" for i in range(rows))
    (folder / "seeds.jsonl").write_text(seeds)
    alias: dict[str, Any] = {"model": model, "api_base": server.base_url,
                             "api_key_env": "OPENAI_API_KEY"}  # fmt: skip
    if batch is not None:
        alias["batch"] = batch
    recipe = {
        "synthc": 1, "name": "batched", "model": "srv", "models": {"srv": alias},
        "params": {"temperature": 0.7},
        "limits": {"srv": {"concurrency": 32}},
        "steps": {"seeds": {"kind": "seed", "path": "seeds.jsonl"},
                  "answers": {"kind": "generate", "from": "seeds", "prompt": prompt,
                              "output": "text"}},
    }  # fmt: skip
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def set_batch(path: Path, batch: Any) -> None:
    recipe = yaml.safe_load(path.read_text())
    if batch is None:
        recipe["models"]["srv"].pop("batch", None)
    else:
        recipe["models"]["srv"]["batch"] = batch
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))


def rows_of(path: Path) -> pl.DataFrame:
    return Store.for_recipe(plan_recipe(path).recipe).read_step("answers").sort("_id")


def use_cache(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setenv("SYNTHC_CACHE_DIR", str(folder / "cache"))


def test_a_thousand_rows_through_batches_equal_the_direct_build_and_share_its_keys(
    tmp_path: Path, server: LLMTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.batches.config.max_requests = 300  # the provider refuses bigger batches
    use_cache(monkeypatch, tmp_path / "direct")
    direct = write(tmp_path / "direct", server, 1000)
    assert build_recipe(direct).exit_code == 0
    assert server.stats.total == 1000 and server.batches.stats.submissions == 0
    server.reset()
    server.batches.config.max_requests = 300

    use_cache(monkeypatch, tmp_path / "batched")
    batched = write(tmp_path / "batched", server, 1000, {**FAST, "max_requests": 300})
    reporter = RecordingReporter()
    assert build_recipe(batched, reporter=reporter).exit_code == 0
    assert server.stats.total == 0  # not one direct request
    assert server.batches.stats.submissions == 4 and server.batches.stats.refused == 0
    assert server.batches.stats.lines == 1000
    assert max(server.batches.stats.line_prompts.values()) == 1
    assert rows_of(batched).equals(rows_of(direct))  # same texts, ids and call keys
    assert server.batches.stats.downloads == 4  # each output file read once, by synthc
    assert any("submitted in batch" in m[1] for m in reporter.of("message"))

    # Turning batch off (or on) never pays again: the same keys are in the cache.
    set_batch(batched, None)
    assert build_recipe(batched, force=True).exit_code == 0
    assert server.stats.total == 0 and server.batches.stats.submissions == 4
    assert rows_of(batched).equals(rows_of(direct))
    set_batch(direct, FAST)
    use_cache(monkeypatch, tmp_path / "direct")
    assert build_recipe(direct, force=True).exit_code == 0
    assert server.stats.total == 0 and server.batches.stats.submissions == 4


def test_no_wait_exits_75_and_the_next_build_collects_without_submitting_again(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    server.batches.config.delay_s = 3600
    path = write(tmp_path, server, 40, {**FAST, "max_requests": 25})
    outcome = CliRunner().invoke(cli, ["build", str(path), "--no-wait"])
    assert outcome.exit_code == 75
    assert "40 call(s) pending in 2 batch(es)" in outcome.output
    assert f"synthc build {path}" in outcome.output
    assert server.batches.stats.submissions == 2 and server.stats.total == 0
    estimate = estimate_recipe(plan_recipe(path))["answers"]
    assert (estimate.to_make, estimate.pending) == (0, 40)
    assert "40 calls pending in batch(es) batch-" in estimate.describe()
    table = plan_table(plan_recipe(path), {"answers": estimate})
    assert table.splitlines()[-1].endswith("; 40 call(s) pending in provider batches")

    server.batches.config.delay_s = 0.0  # the provider is done
    assert build_recipe(path).exit_code == 0
    assert server.batches.stats.submissions == 2 and server.batches.stats.lines == 40
    assert server.stats.total == 0 and rows_of(path).height == 40
    assert json.loads((tmp_path / ".synthc" / "recipe" / "batches.json").read_text())[
        "batches"
    ] == []  # fmt: skip


def test_a_build_killed_while_its_batches_run_never_submits_them_again(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    server.batches.config.delay_s = 3600  # the batches are still running when it dies
    path = write(tmp_path, server, 30, {**FAST, "max_requests": 10})
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    build = subprocess.Popen([sys.executable, "-m", "synthc", "build", str(path)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 120
    while server.batches.stats.submissions < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # it is polling now
    build.send_signal(signal.SIGKILL)
    build.wait(30)
    assert server.batches.stats.submissions == 3, build.stderr.read() if build.stderr else ""

    server.batches.config.delay_s = 0.0
    assert build_recipe(path).exit_code == 0
    assert server.batches.stats.submissions == 3 and server.batches.stats.lines == 30
    assert server.stats.total == 0 and rows_of(path).height == 30


def test_a_batch_created_but_never_recorded_as_created_is_found_again_not_resubmitted(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    """A build killed after the provider created a batch but before the ledger got its id
    leaves the submission id alone; the batch's metadata carries it."""
    server.batches.config.delay_s = 3600
    path = write(tmp_path, server, 12, FAST)
    with pytest.raises(BatchPending):
        build_recipe(path, batch_wait=False)
    ledger = tmp_path / ".synthc" / "recipe" / "batches.json"
    state = json.loads(ledger.read_text())
    [record] = state["batches"]
    record["id"] = None  # as a kill between the provider's answer and the ledger write leaves it
    ledger.write_text(json.dumps(state))

    server.batches.config.delay_s = 0.0
    assert build_recipe(path).exit_code == 0
    assert server.batches.stats.submissions == 1 and server.batches.stats.lines == 12
    assert rows_of(path).height == 12 and server.stats.total == 0


def test_the_budget_caps_batch_lines_before_they_are_submitted(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    path = write(tmp_path, server, 10, FAST)
    recipe = yaml.safe_load(path.read_text())
    recipe["budget"] = {"max_calls": 4}
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    result = build_recipe(path)
    assert result.failures == 6 and server.batches.stats.lines == 4
    kinds = json.loads(query_recipe(path, "select error_kind from _failures", "json"))
    assert {row["error_kind"] for row in kinds} == {"budget"}


def test_an_expired_batch_resubmits_only_its_unanswered_lines(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    server.batches.config.expire_next = 1  # the first batch expires after 2 of its 5 lines
    server.batches.config.expire_done = 2
    path = write(tmp_path, server, 10, {**FAST, "max_requests": 5})
    assert build_recipe(path).exit_code == 0
    stats = server.batches.stats
    assert stats.submissions == 3 and stats.lines == 13
    assert sorted(stats.line_prompts.values()) == [1] * 7 + [2] * 3
    assert rows_of(path).height == 10 and server.stats.total == 0


def test_a_line_failing_inside_a_batch_lands_in_failures_and_only_it_is_sent_again(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    server.batches.config.delay_s = 0.2
    prompt = "Write about {{ topic }}{% if topic == 'topic 3' %} [[status=400]]{% endif %}"
    path = write(tmp_path, server, 6, FAST, prompt=prompt)
    reporter = RecordingReporter()
    result = build_recipe(path, reporter=reporter)
    assert result.exit_code == 1 and result.failures == 1
    waiting = [m for _, m in reporter.of("message") if "waiting for 1 batch(es) (batch-" in m]
    assert waiting and "of 6 line(s) done" in waiting[0]
    failures = query_recipe(path, "select error_class, message from _failures", "json")
    [failure] = json.loads(failures)
    assert failure["error_class"] == "BadRequestError"
    assert failure["message"].startswith("batch batch-") and "HTTP 400" in failure["message"]
    assert server.batches.stats.lines == 6
    build_recipe(path)
    assert server.batches.stats.lines == 7 and server.batches.stats.submissions == 2
    assert server.batches.stats.line_prompts["Write about topic 3 [[status=400]]"] == 2


def test_a_batch_is_split_to_fit_the_providers_file_size_limit(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    server.batches.config.max_bytes = 2000
    path = write(tmp_path, server, 20, {**FAST, "max_bytes": 2000})
    assert build_recipe(path).exit_code == 0
    stats = server.batches.stats
    assert stats.refused == 0 and stats.submissions > 1 and stats.lines == 20
    inputs = [server.batches.files[b.input_file_id] for b in server.batches.batches.values()]
    assert all(len(data) <= 2000 for data in inputs) and len(inputs) == stats.submissions


def test_batch_calls_are_priced_at_the_batch_rate_in_calls_and_in_plan(
    tmp_path: Path, server: LLMTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct_rates = price_per_token("openai/gpt-4o-mini")
    batch_rates = price_per_token("openai/gpt-4o-mini", batch=True)
    assert direct_rates is not None and batch_rates is not None
    assert batch_rates == pytest.approx((direct_rates[0] / 2, direct_rates[1] / 2))

    costs = {}
    for name, batch in (("direct", None), ("batched", FAST)):
        use_cache(monkeypatch, tmp_path / name)
        path = write(tmp_path / name, server, 5, batch, model="openai/gpt-4o-mini")
        costs[name + "_plan"] = estimate_recipe(plan_recipe(path))["answers"].usd
        assert build_recipe(path).exit_code == 0
        calls = json.loads(query_recipe(
            path, "select prompt_tokens, completion_tokens, cost_usd, batch_id from _calls", "json"
        ))  # fmt: skip
        rates = batch_rates if batch else direct_rates
        for call in calls:
            expected = call["prompt_tokens"] * rates[0] + call["completion_tokens"] * rates[1]
            assert call["cost_usd"] == pytest.approx(expected)
            assert (call["batch_id"] is not None) == (batch is not None)
        costs[name] = sum(call["cost_usd"] for call in calls)
    assert costs["batched"] == pytest.approx(costs["direct"] / 2)
    assert costs["batched_plan"] == pytest.approx(costs["direct_plan"] / 2)


def test_batch_on_a_provider_without_an_openai_batch_api_fails_validation(
    tmp_path: Path, server: LLMTestServer
) -> None:
    path = write(tmp_path, server, 1, True, model="anthropic/claude-3-5-sonnet-20240620")
    recipe = yaml.safe_load(path.read_text())
    del recipe["models"]["srv"]["api_base"]
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    with pytest.raises(RecipeError, match=r"models\.srv\.batch: batch: is supported for models"):
        validate_recipe(path)


def test_on_ray_the_driver_submits_and_collects_batches_without_the_cluster(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    from synthc.execute.ray import RayLLMClient, RaySession
    from synthc.llm.calls import CallRequest
    from synthc.recipe.load import ModelAlias, Recipe

    alias = ModelAlias(name="srv", model="openai/echo", api_base=server.base_url,
                       api_key_env="OPENAI_API_KEY", batch=FAST)  # fmt: skip
    recipe = Recipe(path=tmp_path / "recipe.yaml", name="t", format_version=1, steps={},
                    models={"srv": alias})  # fmt: skip
    # An address nothing listens on: a cluster call would fail the test.
    client = RayLLMClient(recipe, session=RaySession("127.0.0.1:1"))
    requests = [CallRequest("srv", [{"role": "user", "content": f"q {i}"}]) for i in range(5)]
    results = client.complete(requests, step="s")
    assert all(r.ok and r.batch_id for r in results)
    assert server.batches.stats.lines == 5 and server.stats.total == 0


def test_a_no_wait_build_and_the_build_collecting_its_batches_each_record_what_they_spent(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    server.batches.config.delay_s = 3600
    path = write(tmp_path, server, 6, FAST, model="openai/gpt-4o-mini")
    assert CliRunner().invoke(cli, ["build", str(path), "--no-wait"]).exit_code == 75
    server.batches.config.delay_s = 0.0
    assert build_recipe(path).exit_code == 0
    runs = (tmp_path / ".synthc" / "recipe" / "runs.jsonl").read_text().splitlines()
    submitted, collected = (json.loads(line)["spend"] for line in runs)
    # what the submitting build held is not spent yet: the collecting build paid it
    assert submitted == {"calls": 0, "tokens": 0, "usd": 0.0}
    rates = price_per_token("openai/gpt-4o-mini", batch=True)
    assert rates is not None
    stats = server.stats  # the provider's own token counts (every call went by batch)
    billed = stats.prompt_tokens * rates[0] + stats.completion_tokens * rates[1]
    assert collected["calls"] == 6
    assert collected["tokens"] == stats.prompt_tokens + stats.completion_tokens
    assert collected["usd"] == pytest.approx(billed)
