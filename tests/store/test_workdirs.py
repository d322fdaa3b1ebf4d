"""Several recipes in one folder (like `recipes/`) each keep their own outputs, catalog
and report; only the content-addressed call cache is shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthc.api import build_recipe, query_recipe
from synthc.errors import StoreError
from synthc.recipe.load import load_recipe

RECIPE = """\
synthc: 1
name: {name}
steps:
  {step}:
    kind: seed
    rows: [{{text: "{text}"}}]
"""


def test_two_recipes_in_one_folder_keep_separate_catalogs(tmp_path: Path) -> None:
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(RECIPE.format(name="first", step="alpha", text="from first"))
    second.write_text(RECIPE.format(name="second", step="beta", text="from second"))
    build_recipe(first)
    build_recipe(second)

    assert query_recipe(first, "select text from alpha", "csv") == "text\nfrom first\n"
    assert query_recipe(second, "select text from beta", "csv") == "text\nfrom second\n"
    with pytest.raises(StoreError, match="beta"):
        query_recipe(first, "select * from beta")

    a, b = load_recipe(first), load_recipe(second)
    assert a.workdir != b.workdir
    assert a.state_dir == b.state_dir == tmp_path / ".synthc"
