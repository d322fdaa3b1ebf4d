"""Helpers shared by the gateway tests (imported by name; pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm_server import LLMTestServer

from synthc.llm.calls import CallRequest
from synthc.recipe.load import ModelAlias, Recipe

SECRET = "sk-synthc-test-SECRET-5f3a9c1e7d"


def server_recipe(
    server: LLMTestServer,
    root: Path,
    *,
    limits: dict[str, Any] | None = None,
    budget: dict[str, Any] | None = None,
) -> Recipe:
    """A recipe whose alias `srv` is litellm's `openai/echo` at the loopback server."""
    alias = ModelAlias(name="srv", model="openai/echo", api_base=server.base_url,
                       api_key_env="OPENAI_API_KEY")  # fmt: skip
    return Recipe(path=root / "recipe.yaml", name="t", format_version=1, steps={},
                  models={"srv": alias}, limits={"srv": limits or {"concurrency": 16}},
                  budget=budget or {})  # fmt: skip


def ask(prompt: str, *, sample: int = 0, row: str | None = None, **params: Any) -> CallRequest:
    """One request to the `srv` alias."""
    return CallRequest("srv", [{"role": "user", "content": prompt}], params or {"temperature": 0.7},
                       sample_index=sample, row_id=row or prompt)  # fmt: skip
