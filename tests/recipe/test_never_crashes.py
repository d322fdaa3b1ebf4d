"""Property: whatever YAML a user writes, validating it (loading, then compiling the
steps that loaded) returns a plan or raises one RecipeError whose problems all say
where they are; it never crashes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthc.api import validate_recipe
from synthc.errors import RecipeError
from synthc.recipe.load import Recipe, load_recipe
from synthc.recipe.schema import recipe_schema


def _field_names() -> list[str]:
    names: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            names.update(node.get("properties", {}))
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(recipe_schema())
    return sorted(names)


KEYS = st.sampled_from([*_field_names(), "seeds", "answers", "a", "a b"]) | st.text(max_size=4)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["seed", "generate", "filter", "dedup", "seeds", "{{ x }", "a/b.jsonl"])
    | st.text(max_size=6)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)
STEP = st.fixed_dictionaries(
    {"kind": st.sampled_from(["seed", "generate", "filter", "judge", "dedup", "augment", "x"])},
    optional={"from": VALUES, "checks": VALUES, "rows": VALUES, "prompt": VALUES, "ops": VALUES},
)
RECIPES = st.fixed_dictionaries(
    {
        "synthc": st.sampled_from([1, 2, "1"]),
        "steps": st.dictionaries(KEYS, STEP | VALUES, max_size=4),
    },
    optional={"exports": VALUES, "models": VALUES, "limits": VALUES, "budget": VALUES},
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 150)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=RECIPES)
def test_any_recipe_shaped_yaml_loads_or_reports_located_problems(
    folder: Path, data: dict[str, Any]
) -> None:
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    try:
        assert isinstance(validate_recipe(path).recipe, Recipe)
    except RecipeError as error:
        assert error.problems
        assert all(problem.location is not None and problem.message for problem in error.problems)


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=80))
def test_any_text_loads_or_reports_problems(folder: Path, text: str) -> None:
    path = folder / "text.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_recipe(path)
    except RecipeError as error:
        assert error.problems
