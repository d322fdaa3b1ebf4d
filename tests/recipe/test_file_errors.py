"""Files that are not recipes at all get one clear problem each."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthc.errors import RecipeError
from synthc.recipe.load import load_recipe


def problems(path: str | Path) -> list[str]:
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    return [str(problem) for problem in caught.value.problems]


def test_missing_file_keeps_the_path_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert problems("recipes/nope.yaml") == ["recipes/nope.yaml: recipe file not found"]


def test_a_folder_is_not_a_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recipes").mkdir()
    assert problems("recipes") == ["recipes: is a folder; give the path of a recipe .yaml file"]


def test_comments_only_is_empty(write_recipe) -> None:
    path = write_recipe("# nothing yet\n\n")
    assert problems(path) == [
        f"{path}:1:1: the recipe is empty; a recipe starts with `synthc: 1` and has `steps:`"
    ]


def test_not_utf8(write_recipe, tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    assert problems(path) == [f"{path}:1:1: not UTF-8 text: invalid continuation byte"]


def test_a_scalar_document_is_not_a_recipe(write_recipe) -> None:
    path = write_recipe("just some text\n")
    assert problems(path) == [
        f"{path}:1:1: a recipe is a mapping of fields (synthc, name, steps, ...), "
        "got a string ('just some text')"
    ]


def test_tabs_are_a_yaml_error_with_a_position(write_recipe) -> None:
    path = write_recipe("synthc: 1\nsteps:\n\ts: {kind: seed}\n")
    [problem] = problems(path)
    assert problem.startswith(f"{path}:3:1: not valid YAML: found character '\\t'")


def test_problems_are_raised_once_sorted_by_position(write_recipe) -> None:
    path = write_recipe(
        "synthc: 1\n"
        "steps:\n"
        "  b: {kind: filter, from: nowhere, where: x}\n"
        "  a: {kind: sed}\n"
        "seed: -3\n"
    )
    shown = problems(path)
    assert [line.split(": ", 1)[0] for line in shown] == [
        f"{path}:3:27",
        f"{path}:4:13",
        f"{path}:5:7",
    ]


def test_control_characters_are_located(write_recipe) -> None:
    path = write_recipe("synthc: 1\nname: a\x07b\n")
    assert problems(path) == [
        f"{path}:2:8: not valid YAML: character 0x0007 is not allowed "
        "(special characters are not allowed)"
    ]


def test_an_alias_that_contains_itself_is_refused(write_recipe) -> None:
    path = write_recipe("synthc: 1\nsteps: &s\n  x: *s\n")
    assert problems(path) == [
        f"{path}:1:1: an alias refers to a mapping or list that contains it; recipes must be finite"
    ]


def test_alias_bombs_are_refused_before_they_expand(write_recipe) -> None:
    lines = ["synthc: 1", "l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 8)]
    path = write_recipe("\n".join(lines) + "\n")
    [problem] = problems(path)
    assert "more than 1,000,000 values once aliases are expanded" in problem


def test_a_broken_link_is_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    [problem] = problems("loop.yaml")
    assert problem.startswith("loop.yaml: cannot read the recipe: ")
