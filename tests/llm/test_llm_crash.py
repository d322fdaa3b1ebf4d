"""A build killed mid-generation keeps every answer that had arrived: the rerun asks
only for the rest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from gateway_helpers import ask, server_recipe
from llm_server import LLMTestServer

from synthc.llm.client import LLMClient

ROWS = 240
CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path[:0] = [{tests!r}, {llm_tests!r}]
    from gateway_helpers import ask, server_recipe
    from llm_server import LLMTestServer
    from synthc.llm.client import LLMClient

    class Announce:  # a Reporter that prints each arrived answer for the parent
        def advance(self, step, n=1):
            print("done", n, flush=True)

        def message(self, text):
            pass

        def warning(self, text):
            pass

    server = LLMTestServer()
    server.port = {port}
    recipe = server_recipe(server, Path({root!r}), limits={{"concurrency": 8}})
    client = LLMClient(recipe, cache_path=Path({cache!r}))
    client.complete([ask(f"row {{i}}") for i in range({rows})], step="s", reporter=Announce())
    """
)


def _run_and_kill(server: LLMTestServer, tmp_path: Path, cache: Path, after: int) -> int:
    """Start a child generating ROWS rows; SIGKILL it once `after` answers arrived."""
    tests = Path(__file__).resolve().parents[1]
    code = CHILD.format(tests=str(tests), llm_tests=str(tests / "llm"), port=server.port,
                        root=str(tmp_path), cache=str(cache), rows=ROWS)  # fmt: skip
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    arrived = 0
    deadline = time.monotonic() + 60
    while arrived < after and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        arrived += int(line.split()[1])
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    return arrived


@pytest.mark.slow
@pytest.mark.parametrize("after", [15, 60, 150])
def test_sigkill_loses_no_answer_that_arrived(
    server: LLMTestServer, tmp_path: Path, after: int
) -> None:
    server.config.latency = 0.02
    cache = tmp_path / "cache"
    arrived = _run_and_kill(server, tmp_path, cache, after)
    assert arrived >= after
    sent_before_kill = server.stats.total
    server.reset()
    server.config.latency = 0.0
    client = LLMClient(server_recipe(server, tmp_path), cache_path=cache)
    cached = sum(client.probe([ask(f"row {i}") for i in range(ROWS)]))
    results = client.complete([ask(f"row {i}") for i in range(ROWS)])
    assert all(r.ok for r in results)
    assert arrived <= cached < ROWS  # killed mid-way, nothing that arrived was lost
    assert server.stats.total == ROWS - cached <= ROWS - arrived
    assert sent_before_kill >= arrived
