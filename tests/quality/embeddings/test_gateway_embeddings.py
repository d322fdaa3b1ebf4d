"""litellm embedding models through the gateway, against the loopback server: batched,
cached per text in the call cache, retried, and litellm left unimported on cache hits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from llm_server import LLMTestServer

from synthc.llm.client import LLMClient
from synthc.llm.embed import EmbeddingFailed
from synthc.llm.embedders import embedder_for
from synthc.llm.retry import RetryPolicy
from synthc.recipe.load import ModelAlias, Recipe

TEXTS = [f"row {i} talks about {('cats', 'dogs', 'tax law')[i % 3]}" for i in range(300)]


def recipe_for(server: LLMTestServer, root: Path, **alias: object) -> Recipe:
    """A recipe whose alias `emb` is litellm's `openai/text-embedding-3-small` on loopback."""
    model = ModelAlias(name="emb", model="openai/text-embedding-3-small",
                       api_base=server.base_url, **alias)  # type: ignore[arg-type]  # fmt: skip
    return Recipe(path=root / "recipe.yaml", name="t", format_version=1, steps={},
                  models={"emb": model})  # fmt: skip


def client_for(recipe: Recipe, cache: Path) -> LLMClient:
    return LLMClient(recipe, cache_path=cache, backoff_base=0.01, backoff_max=0.05)


def test_first_evaluation_sends_batches_and_the_second_sends_nothing(
    server: LLMTestServer, tmp_path: Path, offline: Path
) -> None:
    recipe = recipe_for(server, tmp_path)
    with client_for(recipe, offline) as client:
        first = client.embed(TEXTS, "emb")
    assert first.shape == (300, 64)
    assert server.stats.embedding_requests == 3  # 128 texts a request
    assert server.stats.embedded_texts == 300
    assert client.budget.calls == 3
    with client_for(recipe, offline) as client:
        again = client.embed(TEXTS, "emb")
    assert server.stats.embedding_requests == 3
    assert np.array_equal(first, again)


def test_only_new_texts_are_sent_and_duplicates_once(
    server: LLMTestServer, tmp_path: Path, offline: Path
) -> None:
    with client_for(recipe_for(server, tmp_path), offline) as client:
        client.embed(TEXTS[:100], "emb")
        vectors = client.embed([*TEXTS[:110], TEXTS[0]], "emb")
    assert server.stats.embedded_texts == 110
    assert np.array_equal(vectors[0], vectors[-1])


def test_the_embedder_normalises_and_similar_texts_are_closer(
    server: LLMTestServer, tmp_path: Path, offline: Path
) -> None:
    recipe = recipe_for(server, tmp_path)
    embed = embedder_for({"model": "emb"}, recipe)
    vectors = embed(["red apples and green pears", "green pears and red apples", "tax law"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_dimensions_are_sent_and_keyed(
    server: LLMTestServer, tmp_path: Path, offline: Path
) -> None:
    recipe = recipe_for(server, tmp_path)
    small = embedder_for({"model": "emb", "dimensions": 16}, recipe)(["one text"])
    assert small.shape == (1, 16) and server.stats.last_body["dimensions"] == 16
    embedder_for({"model": "emb"}, recipe)(["one text"])
    assert server.stats.embedding_requests == 2  # another size is another cache entry


def test_failures_are_retried_then_reported(
    server: LLMTestServer, tmp_path: Path, offline: Path
) -> None:
    server.config.fault_rate = 0.5
    with client_for(recipe_for(server, tmp_path), offline) as client:
        vectors = client.embed(TEXTS, "emb", batch_size=20)  # 15 batches, about half fail once
    assert vectors.shape == (300, 64) and server.stats.embedding_requests > 15
    server.config.fault_rate = 1.0
    with client_for(recipe_for(server, tmp_path), offline) as client:
        client.retry = RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_max=0.05)
        with pytest.raises(EmbeddingFailed, match="failed after 2 attempt"):
            client.embed(["never embedded"], "emb")


def test_cache_hits_do_not_import_litellm(
    server: LLMTestServer, tmp_path: Path, offline: Path
) -> None:
    with client_for(recipe_for(server, tmp_path), offline) as client:
        client.embed(TEXTS[:5], "emb")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from synthc.llm.client import LLMClient\n"
        "from synthc.recipe.load import ModelAlias, Recipe\n"
        f"alias = ModelAlias(name='emb', model='openai/text-embedding-3-small', api_base={server.base_url!r})\n"
        f"recipe = Recipe(path=Path({str(tmp_path / 'recipe.yaml')!r}), name='t', format_version=1, steps={{}}, models={{'emb': alias}})\n"
        f"vectors = LLMClient(recipe, cache_path=Path({str(offline)!r})).embed({TEXTS[:5]!r}, 'emb')\n"
        "print(vectors.shape, 'litellm' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "(5, 64) False", done.stderr
    assert server.stats.embedding_requests == 1
