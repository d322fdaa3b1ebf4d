"""Fixtures for the embedding tests: the loopback OpenAI-compatible server (its
`/v1/embeddings` endpoint), a private call cache and a dummy key. Nothing here reaches
beyond 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

SECRET = "sk-synthc-embed-test-9c1e7d5f3a"


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
