"""The report of a recipe that calls a model: the generate step on the loopback
OpenAI-compatible server, built twice so the second build reads most answers from the
call cache. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llm_server import LLMTestServer

from synthc.execute.build import BuildContext, build
from synthc.llm.client import LLMClient
from synthc.plan.compile import compile_plan
from synthc.recipe.load import load_recipe
from synthc.report.card import dataset_card
from synthc.report.gather import build_report
from synthc.report.html import render_html
from synthc.report.summary import render_summary
from synthc.store.store import Store

KEY = "sk-report-test-NOT-A-REAL-KEY-42"


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTHC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def write(folder: Path, server: LLMTestServer, topics: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"topic": f"topic {i}"} for i in range(topics)]
    (folder / "seeds.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = {
        "synthc": 1,
        "name": "answers",
        "model": "srv",
        "models": {
            "srv": {
                "model": "openai/echo",
                "api_base": server.base_url,
                "api_key_env": "OPENAI_API_KEY",
            }
        },
        "steps": {
            "seeds": {"kind": "seed", "path": "seeds.jsonl"},
            "answers": {
                "kind": "generate",
                "from": "seeds",
                "prompt": "Write about {{ topic }}",
                "n": 2,
                "output": "text",
            },
        },
        "exports": {"answers": ["out/answers.jsonl"]},
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def build_with_model(path: Path) -> Store:
    recipe = load_recipe(path)
    store = Store.for_recipe(recipe)
    client = LLMClient(recipe, backoff_base=0.01, backoff_max=0.05, max_attempts=3)
    try:
        result = build(
            compile_plan(recipe, store.read_lock()), BuildContext(store=store, llm=client)
        )
    finally:
        client.close()
    assert result.exit_code == 0
    return store


def test_calls_cache_hits_and_the_model_reach_the_report(
    tmp_path: Path, server: LLMTestServer, environment: None
):
    build_with_model(write(tmp_path, server, topics=6))
    path = write(tmp_path, server, topics=8)  # two more topics: 4 new calls, 12 from the cache
    store = build_with_model(path)
    recipe = load_recipe(path)
    report = build_report(recipe, store)
    answers = next(s for s in report.steps if s.name == "answers")
    assert (answers.rows, answers.calls, answers.cache_hits) == (16, 4, 12)
    assert answers.hit_rate == 0.75 and answers.tokens > 0
    assert answers.model is not None and "echo" in answers.model
    assert report.models == (answers.model,)
    summary = render_summary(report)
    assert "4 calls sent · 12 from cache (75%)" in summary
    html = render_html(report)
    assert KEY not in html and KEY not in summary
    card = dataset_card(recipe, store.read_lock(), store)
    assert KEY not in card and f"- `{answers.model}`: `answers`" in card
    assert "text-generation" in yaml.safe_load(card.split("---\n")[1])["task_categories"]


# The loopback server answers what [[reply=...]] says: two near-copies of pool tasks, one
# too short, one new task.
REPLY = (
    "[[reply=Here you go:\n"
    "1. {{ examples[0] }}\n"
    "2. Please {{ examples[1] | lower }}\n"
    "3. Be brief.\n"
    "4. Compose a limerick about a purple giraffe who collects stamps.]]"
)


def test_self_instruct_rejections_are_explained_by_reason(
    tmp_path: Path, server: LLMTestServer, environment: None
):
    path = write(tmp_path, server, topics=1)
    data = yaml.safe_load(path.read_text())
    seeds = [
        {"instruction": "Write a haiku about autumn leaves falling."},
        {"instruction": "Explain how a bicycle gear system works."},
        {"instruction": "List three ways to save water at home."},
    ]
    data["steps"] = {
        "seeds": {"kind": "seed", "rows": seeds},
        "tasks": {"kind": "self_instruct", "from": "seeds", "rounds": 1, "per_round": 4,
                  "examples": 2, "prompt": REPLY},
    }  # fmt: skip
    data["exports"] = {"tasks": ["out/tasks.jsonl"]}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    store = build_with_model(path)
    report = build_report(load_recipe(path), store)
    tasks = next(s for s in report.steps if s.name == "tasks")
    rejected = store.query_frame("select reason, count(*) as n from _rejections group by reason")
    counts = dict(rejected.iter_rows())
    assert [g.count for g in tasks.removals] == sorted(counts.values(), reverse=True)
    assert counts["novelty"] == next(g.count for g in tasks.removals if "novel" in g.reason)
    assert sum(g.count for g in tasks.removals) == report.rows_removed >= 3
    novelty = next(g for g in tasks.removals if any("max_rouge_l" in e.detail for e in g.examples))
    assert all(e.text for e in novelty.examples)


def test_sample_rows_and_answers_cut_at_max_tokens_reach_the_report(
    tmp_path: Path, server: LLMTestServer, environment: None
):
    path = write(tmp_path, server, topics=1)
    data = yaml.safe_load(path.read_text())
    # The server cuts an answer ("echo <hash>: Write about <topic>") longer than
    # max_tokens words and says finish_reason "length": topics of 4+ words are cut.
    topics = ["tea", "green tea", "a very long topic name", "one two three four five"]
    data["steps"]["seeds"] = {"kind": "seed", "rows": [{"topic": t} for t in topics]}
    data["steps"]["answers"].update(n=1)
    data["params"] = {"max_tokens": 6, "allow_truncated": True}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    store = build_with_model(path)
    recipe = load_recipe(path)
    cut = store.query_frame("select count(*) as n from _calls where finish_reason = 'length'")
    assert cut["n"][0] == 2
    report = build_report(recipe, store)
    assert "answers: 2 of 4 answers cut at max_tokens (finish_reason=length)" in render_summary(
        report
    )
    html = render_html(report)
    assert 'data-truncated="2">2 of 4 answers cut at max_tokens' in html
    samples = html.split('<h2 id="samples">')[1].split("<h2")[0]
    assert "topic: tea" in samples and "topic: green tea" in samples  # the first rows
    assert "text: echo" in samples
    card = dataset_card(recipe, store.read_lock(), store)
    assert "| cut at max_tokens |" in card
    assert "| `answers` | generate | 4 | 4 | 0 | 2 |" in card
