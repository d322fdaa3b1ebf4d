"""Fixtures for the embedding tests: the loopback OpenAI-compatible server (its
`/v1/embeddings` endpoint), a private call cache and a dummy key. Nothing here reaches
beyond 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llm_server import LLMTestServer, ServerConfig

SECRET = "sk-synthc-embed-test-9c1e7d5f3a"


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LLMTestServer]:
    server = LLMTestServer(ServerConfig()).start()
    yield server
    server.stop()


@pytest.fixture
def server(llm_server: LLMTestServer) -> Iterator[LLMTestServer]:
    """The loopback server with counters cleared and default settings."""
    llm_server.reset()
    llm_server.config.latency = 0.0
    llm_server.config.fault_rate = 0.0
    llm_server.config.retry_after = 0.01
    yield llm_server
    llm_server.reset()


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No hub, a fake key, litellm's bundled price table, a private call cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    cache = tmp_path / "cache"
    monkeypatch.setenv("SYNTHC_CACHE_DIR", str(cache))
    return cache
