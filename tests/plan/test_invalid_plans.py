"""Golden errors the compiler finds after loading: template variables that no upstream
step provides, SQL that does not bind (inside a `|` block, located at the text DuckDB's
caret points to), private seed rows bound for a remote model. Each
`tests/cases/invalid_plan/<name>.yaml` has the exact message a user sees in `<name>.err`.
Regenerate with SYNTHC_REGEN_GOLDEN=1 and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from synthc.api import validate_recipe
from synthc.errors import RecipeError

FOLDER = Path(__file__).parents[1] / "cases" / "invalid_plan"
CASES = sorted(FOLDER.glob("*.yaml"))


@pytest.mark.parametrize("recipe", CASES, ids=[c.stem for c in CASES])
def test_compiler_error_matches_golden(recipe: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FOLDER.parents[2])  # messages name the recipe as given, from the repo root
    relative = recipe.relative_to(FOLDER.parents[2])
    with pytest.raises(RecipeError) as caught:
        validate_recipe(relative)
    golden = recipe.with_suffix(".err")
    text = str(caught.value) + "\n"
    if os.environ.get("SYNTHC_REGEN_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")
