"""Fixtures for the LLM gateway tests (the loopback server is in tests/conftest.py): a private
cache folder, and a dummy API key. Nothing here reaches beyond 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from synthc.llm.client import LLMClient

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_helpers import SECRET, server_recipe
from llm_server import LLMTestServer


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private call cache, also exported as SYNTHC_CACHE_DIR."""
    path = tmp_path / "cache"
    monkeypatch.setenv("SYNTHC_CACHE_DIR", str(path))
    return path


@pytest.fixture(autouse=True)
def dummy_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A recognisable fake key, so tests can prove it is never written anywhere."""
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    return SECRET


@pytest.fixture
def make_client(server: LLMTestServer, tmp_path: Path, cache_dir: Path) -> Callable[..., LLMClient]:
    """Build an LLMClient on the loopback server; fast backoff so fault tests are quick."""

    def make(transport: str = "auto", **kwargs: Any) -> LLMClient:
        recipe = server_recipe(server, tmp_path, limits=kwargs.pop("limits", None),
                               budget=kwargs.pop("budget", None))  # fmt: skip
        options = {"backoff_base": 0.01, "backoff_max": 0.2, "timeout": 10.0, **kwargs}
        return LLMClient(recipe, cache_path=cache_dir, transport=transport, **options)

    return make
