"""docs/recipe-reference.md is the generator's output for the current schema."""

from __future__ import annotations

from synthc.recipe.reference import schema_reference_markdown

from .conftest import REPO_ROOT


def test_the_recipe_reference_is_up_to_date() -> None:
    written = (REPO_ROOT / "docs" / "recipe-reference.md").read_text(encoding="utf-8")
    assert written == schema_reference_markdown(), (
        "docs/recipe-reference.md is stale; regenerate it with "
        "`.venv/bin/python -m synthc.recipe.reference > docs/recipe-reference.md`"
    )
