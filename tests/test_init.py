"""`synthc init`: a starter recipe and seed file that validate, plan and build as written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from llm_server import LLMTestServer


def synthc(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "synthc", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_init_writes_a_starter_that_validates_and_plans(tmp_path: Path) -> None:
    done = synthc("init", "starter", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["starter/recipe.yaml", "starter/data/topics.jsonl"]
    assert "next: synthc plan starter/recipe.yaml" in done.stderr
    recipe = (tmp_path / "starter/recipe.yaml").read_text()
    assert "model: local/smollm2" in recipe
    assert recipe.count("\n#") >= 5  # commented for a first read
    assert synthc("validate", "starter/recipe.yaml", cwd=tmp_path).returncode == 0
    plan = synthc("plan", "starter/recipe.yaml", "--no-estimate", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert "3 of 3 step(s) to build" in plan.stdout


def test_init_never_overwrites(tmp_path: Path) -> None:
    assert synthc("init", cwd=tmp_path).returncode == 0
    (tmp_path / "recipe.yaml").write_text("# mine\n")
    again = synthc("init", cwd=tmp_path)
    assert again.returncode == 2
    assert "recipe.yaml" in again.stderr and "never overwrites" in again.stderr
    assert "Traceback" not in again.stderr
    assert (tmp_path / "recipe.yaml").read_text() == "# mine\n"


def test_the_starter_builds_with_its_model_pointed_at_a_server(
    tmp_path: Path, server: LLMTestServer
) -> None:
    assert synthc("init", cwd=tmp_path).returncode == 0
    path = tmp_path / "recipe.yaml"
    alias = f"models: {{srv: {{model: openai/echo, api_base: '{server.base_url}'}}}}\nmodel: srv"
    path.write_text(path.read_text().replace("model: local/smollm2", alias))
    done = synthc("build", "recipe.yaml", cwd=tmp_path, env={"OPENAI_API_KEY": "sk-test"})
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "out/final.jsonl").read_text().splitlines()]
    assert [row["topic"] for row in rows] == ["resetting a password", "a late delivery",
                                              "an unexpected charge"]  # fmt: skip
    assert server.stats.total == 3


@pytest.mark.local_model
def test_the_starter_builds_as_written_on_the_local_model(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    assert synthc("init", cwd=tmp_path).returncode == 0
    done = synthc("build", "recipe.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out/final.jsonl").read_text().count("\n") >= 1
