"""What the schema says about each step kind: which kinds exist, their documented
defaults, and which of their fields hold templates or name models.

The schema is the one record of a recipe's shape (a template field refers to
`$defs/template`, or lists chat `message`s whose content is one; a model field to
`$defs/model_ref`). The semantic checks read these facts here, and each `StepKind`
exposes them (`synthc.steps.kind`), so adding a step kind is its module plus its
branch in the schema. No jsonschema import: step kinds read this at plan time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

_TEMPLATE = "#/$defs/template"
_MESSAGE = "#/$defs/message"
_MODEL = "#/$defs/model_ref"


@cache
def recipe_schema() -> dict[str, Any]:
    """The recipe JSON Schema, read from the copy shipped inside the package."""
    text = resources.files("synthc").joinpath("schema", "recipe.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def step_kinds() -> tuple[str, ...]:
    """Every step kind the language has, in the schema's order."""
    kinds = recipe_schema()["$defs"]["step"]["properties"]["kind"]["enum"]
    return tuple(str(kind) for kind in kinds)


def step_defaults(kind: str) -> dict[str, Any]:
    """The documented defaults of a step kind's own fields, from the schema.

    Example: `step_defaults("generate")["output"] == "output"`.
    """
    return {name: spec["default"] for name, spec in _properties(kind).items() if "default" in spec}


@cache
def template_fields(kind: str) -> tuple[str, ...]:
    """Fields of a `kind` step holding a Jinja2 template, or a list of chat messages
    whose `content` is one. Example: `template_fields("judge") == ("rubric", "prompt")`."""
    return tuple(
        name for name, spec in _properties(kind).items() if _refers(spec, (_TEMPLATE, _MESSAGE))
    )


@cache
def model_fields(kind: str) -> tuple[str, ...]:
    """Fields of a `kind` step naming other models than its own `model:` (an alias or a
    litellm string, or a list of them). Example: `model_fields("distill") == ("teacher",
    "student")`."""
    return tuple(
        name
        for name, spec in _properties(kind).items()
        if name != "model" and _refers(spec, (_MODEL,))
    )


def _properties(kind: str) -> Mapping[str, Any]:
    definition = recipe_schema()["$defs"].get(f"{kind}_step", {})
    properties: Mapping[str, Any] = definition.get("properties", {})
    return properties


def _refers(spec: Any, targets: tuple[str, ...]) -> bool:
    """Whether a field's schema is one of `targets`, or an array of them."""
    if not isinstance(spec, Mapping):
        return False
    return spec.get("$ref") in targets or _refers(spec.get("items"), targets)
