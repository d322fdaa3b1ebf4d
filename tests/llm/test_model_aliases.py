"""Every model a step names is part of its identity: re-pointing a `teacher` alias makes
the step stale (and says which model changed), even though its config text is the same."""

from __future__ import annotations

from pathlib import Path

import yaml
from llm_server import LLMTestServer
from test_generate import run, write

from synthc.api import plan_recipe

DISTILL = {
    "kind": "distill",
    "from": "seeds",
    "prompt": "Explain {{ topic }}",
    "teacher": "teacher",
}


def test_repointing_a_teacher_alias_makes_the_step_stale(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    path = write(tmp_path, server, {"taught": DISTILL}, rows=2)
    recipe = yaml.safe_load(path.read_text())
    recipe["models"]["teacher"] = {**recipe["models"]["srv"], "model": "openai/echo-small"}
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    assert run(path)[0].exit_code == 0
    assert plan_recipe(path).step("taught").status == "fresh"

    recipe["models"]["teacher"]["model"] = "openai/echo-large"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    planned = plan_recipe(path).step("taught")
    assert planned.status == "stale"
    assert planned.stale_reason == "model changed: teacher openai/echo-small -> openai/echo-large"
    sent = server.stats.total
    assert run(path)[0].exit_code == 0
    assert server.stats.total == sent + 2  # the new teacher answers every row
