"""A missing API key is reported before anything runs, naming the variable, and only
when a call would really be sent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from llm_server import LLMTestServer
from test_generate import ANSWERS, run, write


def synthc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "synthc", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def recipe(tmp_path: Path, server: LLMTestServer, cache_dir: Path) -> Path:
    path = write(tmp_path, server, {"answers": ANSWERS}, rows=2)
    path.write_text(
        path.read_text().replace("api_key_env: OPENAI_API_KEY", "api_key_env: SYNTHC_TEST_TEAM_KEY")
    )
    return path


def test_build_without_the_key_exits_2_naming_the_variable(
    recipe: Path, server: LLMTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNTHC_TEST_TEAM_KEY", raising=False)
    done = synthc("build", str(recipe))
    assert done.returncode == 2
    assert "SYNTHC_TEST_TEAM_KEY is not set; step(s) answers need it" in done.stderr
    assert server.stats.total == 0
    plan = synthc("plan", str(recipe))
    assert plan.returncode == 0
    assert "warning: SYNTHC_TEST_TEAM_KEY is not set" in plan.stderr


def test_no_key_is_needed_once_every_call_is_cached(
    recipe: Path, server: LLMTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTHC_TEST_TEAM_KEY", "sk-team-key-for-the-test")
    run(recipe)
    sent = server.stats.total
    monkeypatch.delenv("SYNTHC_TEST_TEAM_KEY")
    recipe.write_text(recipe.read_text() + "    description: edited, same calls\n")
    done = synthc("build", str(recipe), "-B")
    assert done.returncode == 0, done.stderr
    assert server.stats.total == sent


def test_a_selection_needs_only_the_keys_of_its_own_models(
    recipe: Path, server: LLMTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNTHC_TEST_TEAM_KEY", raising=False)
    seeds = synthc("build", str(recipe), "-s", "seeds")
    assert seeds.returncode == 0, seeds.stderr
    assert "built 1 step(s): seeds" in seeds.stderr
    assert server.stats.total == 0
    answers = synthc("build", str(recipe), "-s", "answers")
    assert answers.returncode == 2
    assert "SYNTHC_TEST_TEAM_KEY is not set; step(s) answers need it" in answers.stderr
