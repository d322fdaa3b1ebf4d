"""The schema: valid, shipped inside the package, and complete for every kind."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

from synthc.recipe.kinds import model_fields, step_kinds, template_fields
from synthc.recipe.load import COMMON_STEP_FIELDS
from synthc.recipe.schema import recipe_schema
from synthc.steps import registry

from .conftest import REPO_ROOT

CHECK_KINDS = (
    "rows", "sql", "distinct_n", "near_duplicates", "diversity",
    "fidelity", "leakage", "utility", "tail_coverage", "privacy", "balance",
    "attack_success", "judge_agreement",
)  # fmt: skip


def test_the_packaged_copy_is_the_repository_schema() -> None:
    packaged = resources.files("synthc").joinpath("schema", "recipe.schema.json")
    source = REPO_ROOT / "schema" / "recipe.schema.json"
    assert packaged.read_text("utf-8") == source.read_text("utf-8")
    assert recipe_schema() == json.loads(source.read_text("utf-8"))


def test_the_schema_is_valid_json_schema_2020_12() -> None:
    Draft202012Validator.check_schema(recipe_schema())


def test_every_step_kind_has_a_schema_branch() -> None:
    schema = recipe_schema()
    step = schema["$defs"]["step"]
    assert step["properties"]["kind"]["enum"] == list(step_kinds())
    branches = {
        branch["if"]["properties"]["kind"]["const"]: branch["then"] for branch in step["allOf"]
    }
    assert set(branches) == set(step_kinds())
    for kind, then in branches.items():
        definition = schema["$defs"][then["$ref"].rsplit("/", 1)[1]]
        assert definition["properties"]["kind"] == {"const": kind, "description": "The step kind."}
        assert definition["additionalProperties"] is False
        common = set(COMMON_STEP_FIELDS) - {"model", "params"}
        assert common <= set(definition["properties"]), kind


def test_every_kind_the_schema_lists_has_its_module() -> None:
    """Adding a step kind is its module plus its schema branch: nothing else lists kinds."""
    kinds = registry()
    assert list(kinds) == list(step_kinds())
    assert all(kind.run is not None and kind.name == name for name, kind in kinds.items())


def test_template_and_model_fields_are_the_ones_the_schema_marks() -> None:
    assert set(template_fields("generate")) == {"prompt", "system", "messages"}
    assert template_fields("judge") == ("rubric", "prompt")
    assert template_fields("sql") == ()
    assert model_fields("distill") == ("teacher", "student")
    assert model_fields("adversarial") == ("target", "judge")
    assert model_fields("judge") == ("judges",)
    assert model_fields("generate") == ()  # its own `model:` is not another model
    for name, kind in registry().items():
        assert (kind.template_fields, kind.model_fields) == (
            template_fields(name),
            model_fields(name),
        )
        # every field the compiler checks variables in is a template field of the kind
        config = {field: "{{ x }}" for field in kind.template_fields}
        config["messages"] = [{"role": "user", "content": "{{ x }}"}]
        paths = {path.split(".")[0] for path, _ in kind.templates(config)}
        assert paths <= set(kind.template_fields), name


def test_every_check_kind_has_a_definition_with_severity() -> None:
    defs = recipe_schema()["$defs"]
    assert tuple(defs["check"]["properties"]) == CHECK_KINDS
    for kind in CHECK_KINDS:
        assert defs[f"check_{kind}"]["properties"]["severity"]["enum"] == ["error", "warn"]


def _fields(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every (path, schema) under a `properties` keyword, anywhere in the schema."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for name, spec in node.get("properties", {}).items():
            found.append((f"{path}.{name}", spec))
        for key, value in node.items():
            found += _fields(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _fields(value, f"{path}/{index}")
    return found


def test_every_field_is_described_for_the_reference() -> None:
    defs = recipe_schema()["$defs"]

    def described(spec: dict[str, Any]) -> bool:
        target = defs[spec["$ref"].rsplit("/", 1)[1]] if "$ref" in spec else {}
        return "description" in spec or "description" in target

    undocumented = [
        path for path, spec in _fields(recipe_schema()) if "/if" not in path and not described(spec)
    ]
    assert undocumented == []


def test_step_defaults_come_from_the_schema() -> None:
    from synthc.recipe.kinds import step_defaults

    assert step_defaults("generate") == {
        "n": 1,
        "output": "output",
        "parse": "text",
        "explode": False,
    }
    assert step_defaults("filter") == {}
    assert step_defaults("dedup")["threshold"] == 0.7
