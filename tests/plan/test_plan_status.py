"""`synthc plan` says what a build would do and why, from the lock and the stored outputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from synthc.api import build_recipe, plan_recipe

RECIPE = """\
synthc: 1
name: status
steps:
  topics:
    kind: seed
    path: topics.jsonl
  billing:
    kind: filter
    from: topics
    where: "{where}"
  final:
    kind: sql
    from: billing
    query: "select topic from billing order by topic"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "topics.jsonl").write_text(
        '{"topic": "refund", "product": "billing"}\n{"topic": "login", "product": "web"}\n'
    )
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE.format(where="product = 'billing'"))
    build_recipe(recipe)
    return recipe


def statuses(recipe: Path) -> dict[str, tuple[str, str | None]]:
    return {p.name: (p.status, p.stale_reason) for p in plan_recipe(recipe).steps}


def test_after_a_build_everything_is_fresh(project: Path) -> None:
    assert {s for s, _ in statuses(project).values()} == {"fresh"}


def test_editing_a_filter_names_the_key_and_marks_descendants(project: Path) -> None:
    project.write_text(RECIPE.format(where="product <> 'web'"))
    assert statuses(project) == {
        "topics": ("fresh", None),
        "billing": ("stale", "config changed: where"),
        "final": ("stale", "upstream 'billing' is stale"),
    }


def test_changing_a_seed_file_names_the_file(project: Path) -> None:
    data = project.parent / "topics.jsonl"
    data.write_text(data.read_text() + '{"topic": "invoice", "product": "billing"}\n')
    assert statuses(project)["topics"] == ("stale", "file changed: topics.jsonl")


def test_touching_a_file_without_changing_it_keeps_everything_fresh(project: Path) -> None:
    data = project.parent / "topics.jsonl"
    stat = data.stat()
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert {s for s, _ in statuses(project).values()} == {"fresh"}


def test_a_deleted_output_makes_its_step_stale(project: Path) -> None:
    for parquet in (project.parent / ".synthc" / "recipe" / "data" / "billing").glob("*.parquet"):
        parquet.unlink()
    assert statuses(project)["billing"] == ("stale", "stored output is missing")
    assert statuses(project)["final"] == ("stale", "upstream 'billing' is stale")


def test_a_new_step_is_missing_and_the_rest_stay_fresh(project: Path) -> None:
    project.write_text(
        RECIPE.format(where="product = 'billing'")
        + '  extra:\n    kind: filter\n    from: topics\n    where: "true"\n'
    )
    result = statuses(project)
    assert result["extra"] == ("missing", "never built")
    assert result["final"] == ("fresh", None)
