"""Property: how a recipe is written (key order, flow or block style, indentation)
does not change what it means."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from synthc.recipe.load import load_recipe

from .conftest import RECIPES, without_positions

SOURCES = ("support_sft.yaml", "all_kinds.yaml")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the recipes' data files, since relative paths must still resolve."""
    folder = tmp_path_factory.mktemp("reformat")
    shutil.copytree(RECIPES / "data", folder / "data")
    return folder


def shuffled(value: Any, rng: random.Random) -> Any:
    """The same data with every mapping's keys in a random order (lists keep theirs)."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: shuffled(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [shuffled(item, rng) for item in value]
    return value


@settings(max_examples=40, deadline=None)
@given(
    source=st.sampled_from(SOURCES),
    rng=st.randoms(use_true_random=False),
    flow=st.sampled_from([True, False, None]),
    indent=st.integers(min_value=2, max_value=6),
)
def test_reformatted_recipe_loads_to_the_same_recipe(
    workdir: Path, source: str, rng: random.Random, flow: bool | None, indent: int
) -> None:
    original = load_recipe(RECIPES / source)
    data = yaml.safe_load((RECIPES / source).read_text(encoding="utf-8"))
    text = yaml.safe_dump(
        shuffled(data, rng), sort_keys=False, default_flow_style=flow, indent=indent, width=60
    )
    rewritten = workdir / source
    rewritten.write_text(text, encoding="utf-8")
    assert without_positions(load_recipe(rewritten)) == without_positions(original)
