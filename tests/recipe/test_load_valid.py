"""Valid recipes load into the frozen dataclasses the compiler reads."""

from __future__ import annotations

from pathlib import Path

from synthc.errors import Location
from synthc.recipe.kinds import step_kinds
from synthc.recipe.load import COMMON_STEP_FIELDS, Check, ModelAlias, load_recipe

from .conftest import RECIPES


def test_the_design_example_loads(in_repo_root: Path) -> None:
    recipe = load_recipe("tests/recipe/recipes/support_sft.yaml")
    assert recipe.name == "support-sft"
    assert recipe.format_version == 1
    assert recipe.path == RECIPES / "support_sft.yaml"
    assert recipe.root == RECIPES
    assert list(recipe.steps) == [
        "seeds", "instructions", "answers", "variants", "scored", "good", "final",
    ]  # fmt: skip
    assert recipe.model == "local/smollm2"
    assert recipe.models["teacher"] == ModelAlias(name="teacher", model="openai/gpt-4o")
    assert recipe.models["mine"].api_key_env == "VLLM_KEY"
    assert recipe.params == {"temperature": 0.7, "max_tokens": 256}
    assert recipe.seed == 7
    assert recipe.budget == {"max_usd": 5.0}
    assert recipe.limits == {"openai/gpt-4o-mini": {"concurrency": 64, "rpm": 5000, "tpm": 2000000}}
    assert recipe.exports == {"final": ("out/final.jsonl", "out/final.parquet")}


def test_steps_keep_only_kind_specific_config(in_repo_root: Path) -> None:
    recipe = load_recipe("tests/recipe/recipes/support_sft.yaml")
    answers = recipe.steps["answers"]
    assert answers.kind == "generate"
    assert answers.inputs == ("instructions",)
    assert answers.model == "teacher"
    assert answers.config == {"prompt": "{{ instruction }}", "output": "response"}
    assert recipe.steps["seeds"].inputs == ()
    for step in recipe.steps.values():
        assert not set(step.config) & set(COMMON_STEP_FIELDS)


def test_checks_are_parsed_with_default_severity(in_repo_root: Path) -> None:
    final = load_recipe("tests/recipe/recipes/support_sft.yaml").steps["final"]
    file = "tests/recipe/recipes/support_sft.yaml"
    assert final.checks == (
        Check("rows", {"min": 100}, "error", Location(file, 58, 9)),
        Check(
            "distinct_n",
            {"column": "instruction", "n": 2, "min": 0.4},
            "error",
            Location(file, 59, 9),
        ),
        Check(
            "leakage",
            {"column": "instruction", "reference": "data/eval.jsonl", "ngram": 13, "max_rate": 0},
            "warn",
            Location(file, 60, 9),
        ),
    )


def test_positions_use_the_path_as_given_and_point_at_values(in_repo_root: Path) -> None:
    recipe = load_recipe("tests/recipe/recipes/support_sft.yaml")
    file = "tests/recipe/recipes/support_sft.yaml"
    assert recipe.steps["answers"].location == Location(file, 25, 3)
    assert recipe.positions["steps.answers"] == Location(file, 25, 3)  # a mapping: its key
    assert recipe.positions["steps.answers.prompt"] == Location(file, 29, 13)  # a scalar: its value
    assert recipe.positions["exports.final.1"] == Location(file, 63, 28)
    assert recipe.where("steps.answers.prompt.nothing.here") == Location(file, 29, 13)


def test_every_kind_and_check_kind_loads(in_repo_root: Path) -> None:
    recipe = load_recipe("tests/recipe/recipes/all_kinds.yaml")
    assert {step.kind for step in recipe.steps.values()} == set(step_kinds())
    checks = recipe.steps["final"].checks
    assert [check.kind for check in checks] == [
        "rows", "sql", "distinct_n", "near_duplicates", "diversity",
        "fidelity", "leakage", "utility", "tail_coverage",
    ]  # fmt: skip
    assert checks[1].severity == "warn" and "severity" not in checks[1].config
    assert recipe.steps["mixed"].inputs == ("good", "variants")
    assert recipe.exports == {
        "final": ("out/final.parquet",),
        "good": ("out/good.jsonl", "out/good.csv"),
    }
    assert recipe.models["teacher"].params == {"temperature": 0}


def test_name_defaults_to_the_file_name_and_seed_to_zero(write_recipe) -> None:
    path = write_recipe("synthc: 1\nsteps:\n  s: {kind: seed, rows: [{a: 1}]}\n", "tiny.yaml")
    recipe = load_recipe(path)
    assert recipe.name == "tiny"
    assert recipe.seed == 0
    assert recipe.steps["s"].config == {"rows": [{"a": 1}]}


def test_yaml_anchors_and_merge_keys_work(write_recipe) -> None:
    path = write_recipe(
        "synthc: 1\n"
        "steps:\n"
        "  s: {kind: seed, rows: [{a: 1}]}\n"
        "  f: &keep\n"
        "    kind: filter\n"
        "    from: s\n"
        "    where: a > 0\n"
        "  g:\n"
        "    <<: *keep\n"
        "    where: a > 1\n"
    )
    recipe = load_recipe(path)
    assert recipe.steps["g"].inputs == ("s",)
    assert recipe.steps["g"].config == {"where": "a > 1"}
