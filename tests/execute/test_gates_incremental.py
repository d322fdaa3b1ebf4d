"""Gates are incremental too: a changed threshold or reference re-evaluates the gate on
the stored rows, never re-running the step (a gate never changes data)."""

from __future__ import annotations

import json
from pathlib import Path

from synthc.api import build_recipe, plan_recipe

RECIPE = """\
synthc: 1
name: gated
steps:
  questions:
    kind: seed
    path: questions.jsonl
    checks:
      - rows: {{min: {min_rows}}}
      - leakage: {{column: text, reference: eval.jsonl, ngram: 3, max_rate: 0}}
exports:
  questions: [out/questions.jsonl]
"""

QUESTIONS = [
    "how do I reset my password today",
    "where can I download my invoice",
    "can I move to the yearly plan",
]


def write_jsonl(path: Path, texts: list[str]) -> None:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))


def project(tmp_path: Path, min_rows: int = 1) -> Path:
    write_jsonl(tmp_path / "questions.jsonl", QUESTIONS)
    write_jsonl(tmp_path / "eval.jsonl", ["what is the refund policy for annual plans"])
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE.format(min_rows=min_rows))
    return recipe


def test_a_changed_reference_file_re_evaluates_the_gate_only(tmp_path: Path) -> None:
    recipe = project(tmp_path)
    assert build_recipe(recipe).exit_code == 0
    write_jsonl(tmp_path / "eval.jsonl", ["where can I download my invoice please"])
    planned = plan_recipe(recipe).step("questions")
    assert (planned.status, planned.checks_stale) == ("fresh", True)

    result = build_recipe(recipe)
    assert result.built == [] and result.gate_failures == ["questions"]
    assert result.exit_code == 1
    assert not plan_recipe(recipe).step("questions").checks_stale


def test_a_failed_gate_keeps_the_exports_from_being_written(tmp_path: Path) -> None:
    recipe = project(tmp_path, min_rows=10)
    result = build_recipe(recipe)
    assert result.exit_code == 1
    assert not (tmp_path / "out" / "questions.jsonl").exists()
    recipe.write_text(RECIPE.format(min_rows=3))
    fixed = build_recipe(recipe)
    assert (fixed.exit_code, fixed.built) == (0, [])
    assert (tmp_path / "out" / "questions.jsonl").exists()
