"""Fixtures every test folder shares: the loopback OpenAI-compatible server.

Tests reach models only through this server on 127.0.0.1 (see `llm_server.py`), via
litellm's real code path; nothing reaches any other network and no test needs a key.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import llm_server` anywhere

from llm_server import LLMTestServer, ServerConfig


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LLMTestServer]:
    """One server for the session; `server` resets it for each test."""
    server = LLMTestServer(ServerConfig()).start()
    yield server
    server.stop()


@pytest.fixture
def server(llm_server: LLMTestServer) -> Iterator[LLMTestServer]:
    """The loopback server with counters cleared and default settings."""
    llm_server.reset()
    llm_server.config.latency = 0.0
    llm_server.config.fault_rate = 0.0
    llm_server.config.retry_after = 0.05
    llm_server.config.garbage_rate = 0.0
    llm_server.config.rpm = None
    llm_server.config.window_s = 60.0
    yield llm_server
    llm_server.reset()
