"""Fixtures for the generation-method tests: the loopback LLM server (the gateway
tests' own fixtures, imported), and helpers that write a recipe whose model alias
`srv` points at it, build it, and read its steps and tables."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from synthc.api import build_recipe
from synthc.execute.build import BuildResult
from synthc.recipe.load import load_recipe
from synthc.store.lock import LockState
from synthc.store.store import Store

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))


from llm_server import LLMTestServer  # noqa: E402


@dataclass
class Project:
    """A recipe folder wired to the loopback server."""

    path: Path  # recipe.yaml
    server: LLMTestServer

    def build(self, **options: Any) -> BuildResult:
        return build_recipe(self.path, **options)

    def requests(self) -> int:
        return self.server.stats.total

    def step(self, name: str) -> pl.DataFrame:
        return Store.for_recipe(load_recipe(self.path)).read_step(name)

    def lock(self) -> LockState:
        return Store.for_recipe(load_recipe(self.path)).read_lock()

    def query(self, sql: str) -> pl.DataFrame:
        return Store.for_recipe(load_recipe(self.path)).query_frame(sql)

    def set_params(self, **params: Any) -> None:
        """Replace the recipe's `params:`."""
        data = yaml.safe_load(self.path.read_text())
        data["params"] = params
        self.path.write_text(yaml.safe_dump(data, sort_keys=False))

    def edit(self, step: str, **changes: Any) -> None:
        data = yaml.safe_load(self.path.read_text())
        data["steps"][step].update(changes)
        self.path.write_text(yaml.safe_dump(data, sort_keys=False))


def write_project(
    folder: Path,
    server: LLMTestServer,
    steps: Mapping[str, Mapping[str, Any]],
    *,
    seed: int = 7,
    models: Mapping[str, Mapping[str, Any]] | None = None,
) -> Project:
    """recipe.yaml in `folder` with alias `srv` (and any `models`) at the loopback server."""
    folder.mkdir(parents=True, exist_ok=True)
    alias = {"model": "openai/echo", "api_base": server.base_url, "api_key_env": "OPENAI_API_KEY"}
    aliases = {"srv": alias}
    for name, extra in (models or {}).items():
        aliases[name] = {**alias, **extra}
    data = {"synthc": 1, "name": "methods", "model": "srv", "seed": seed, "models": aliases,
            "params": {"temperature": 0.7}, "steps": dict(steps)}  # fmt: skip
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return Project(path, server)


@pytest.fixture(autouse=True)
def own_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each recipe folder keeps its own call cache, so two folders are two empty caches."""
    monkeypatch.delenv("SYNTHC_CACHE_DIR", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-synthc-methods-test")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture
def project(tmp_path: Path, server: LLMTestServer) -> Any:
    """`project(steps, folder="a", **options)` -> a Project in tmp_path/folder."""

    def make(steps: Mapping[str, Mapping[str, Any]], folder: str = "a", **options: Any) -> Project:
        return write_project(tmp_path / folder, server, steps, **options)

    return make


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch, server: LLMTestServer) -> Any:
    """`script([(substring, answer), ...])`: the server answers a request whose last user
    message contains `substring` with `answer` (a string, or a function of the message);
    first match wins, anything else gets the server's usual answer."""
    import llm_server as module

    original = module._answer_text

    def install(rules: list[tuple[str, Any]]) -> None:
        def answer(body: dict[str, Any], index: int, markers: dict[str, str]) -> str:
            prompt = module._last_user(body.get("messages", []))
            for needle, reply in rules:
                if needle in prompt:
                    return str(reply(prompt) if callable(reply) else reply)
            return str(original(body, index, markers))

        monkeypatch.setattr(module, "_answer_text", answer)

    return install


@pytest.fixture
def project_at(server: LLMTestServer) -> Any:
    """`project_at(path)` -> a Project for a recipe already written at `path`."""
    return lambda path: Project(Path(path), server)
