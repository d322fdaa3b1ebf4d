"""Render the recipe reference (Markdown) from the JSON Schema's descriptions.

The schema is the one source of truth for the recipe's shape, so the reference is
generated, never written by hand: `python -m synthc.recipe.reference > docs/recipe-reference.md`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from synthc.recipe.schema import recipe_schema

# How a `$ref` reads in the type column; unlisted refs render their target's type.
_REF_LABELS = {
    "step_ref": "step name",
    "column_name": "column",
    "column": "column",
    "template": "template",
    "model_ref": "model",
    "reference": "step or file",
    "from": "step name or list of them",
    "llm_params": "mapping",
    "checks": "list of checks",
    "identifier": "identifier",
    "message": "`{role, content}`",
    "attack_category": "name or `{name, description}`",
    "augment_op": "op",
    "check": "check",
    "model_alias": "model alias",
    "limit": "limit",
    "batch": "batch settings",
    "embeddings": "`{model, dimensions}`",
}

# Fields every step takes, documented once rather than in each kind's table.
_COMMON_FIELDS = ("kind", "from", "checks", "description")
_LLM_FIELDS = ("model", "params")

_HEADER = (
    "<!-- Generated from schema/recipe.schema.json by "
    "`python -m synthc.recipe.reference > docs/recipe-reference.md`. Do not edit by hand. -->"
)


def schema_reference_markdown() -> str:
    """The recipe language reference as Markdown, generated from the schema.

    Example: `python -m synthc.recipe.reference > docs/recipe-reference.md`.
    """
    schema = recipe_schema()
    defs = schema["$defs"]
    lines = [_HEADER, "", "# Recipe reference", "", schema["description"], ""]
    lines += ["## Top level", "", *_table(schema), ""]
    for title, name in (
        ("Model aliases (`models.<alias>`)", "model_alias"),
        ("Batch settings (`models.<alias>.batch`)", "batch"),
        ("Rate limits (`limits.<model>`)", "limit"),
        ("Embeddings (`embeddings`, or a check's own)", "embeddings"),
        ("Exports (each entry of `exports.<step>`)", "export"),
    ):
        lines += [f"### {title}", "", defs[name]["description"], "", *_table(defs[name]), ""]
    budget = schema["properties"]["budget"]
    lines += ["### Budget (`budget`)", "", budget["description"], "", *_table(budget), ""]
    params = defs["llm_params"]
    lines += ["### Model parameters (`params`)", "", params["description"], "", *_table(params), ""]
    lines += list(_steps_section(defs))
    lines += list(_one_key_section("Augment ops (`ops:` of an augment step)", defs, "augment_op"))
    lines += list(_one_key_section("Checks (`checks:` of any step)", defs, "check"))
    return "\n".join(lines).rstrip("\n") + "\n"


def _steps_section(defs: Mapping[str, Any]) -> Iterator[str]:
    kinds = defs["step"]["properties"]["kind"]["enum"]
    sample = defs["generate_step"]
    yield from ["## Steps", "", defs["step"]["description"], ""]
    yield "Every step takes these fields:"
    yield ""
    yield from _table(sample, only=_COMMON_FIELDS)
    yield ""
    yield (
        "Steps that call a model ("
        + ", ".join(f"`{kind}`" for kind in kinds if "model" in defs[f"{kind}_step"]["properties"])
        + ") also take:"
    )
    yield ""
    yield from _table(sample, only=_LLM_FIELDS)
    yield ""
    for kind in kinds:
        definition = defs[f"{kind}_step"]
        yield f"### `{kind}`"
        yield ""
        yield definition["description"]
        yield ""
        skip = (*_COMMON_FIELDS, *_LLM_FIELDS)
        yield from _table(definition, only=[f for f in definition["properties"] if f not in skip])
        yield from _alternatives(definition)
        yield ""


def _one_key_section(title: str, defs: Mapping[str, Any], name: str) -> Iterator[str]:
    container = defs[name]
    yield from [f"## {title}", "", container["description"], ""]
    for key, ref in container["properties"].items():
        definition = defs[ref["$ref"].rsplit("/", 1)[1]]
        yield f"### `{key}`"
        yield ""
        yield definition["description"]
        yield ""
        yield from _table(definition)
        yield from _alternatives(definition)
        yield ""


def _alternatives(definition: Mapping[str, Any]) -> Iterator[str]:
    if "from" in definition.get("required", ()):
        yield ""
        yield "`from` is required."
    for keyword, how in (("oneOf", "exactly one"), ("anyOf", "at least one")):
        if keyword in definition:
            names = [name for branch in definition[keyword] for name in branch["required"]]
            yield ""
            yield f"Set {how} of " + ", ".join(f"`{name}`" for name in names) + "."


def _table(definition: Mapping[str, Any], only: Any = None) -> list[str]:
    properties = definition.get("properties", {})
    required = set(definition.get("required", ()))
    rows = ["| field | type | default | description |", "|---|---|---|---|"]
    for field in only if only is not None else properties:
        rows += _rows(field, properties[field], field in required)
    return rows


def _rows(field: str, spec: Mapping[str, Any], required: bool) -> list[str]:
    """One table row, plus one per sub-field of an inline mapping (`novelty.max_rouge_l`)."""
    default = "required" if required else _default(spec)
    label = "step kind" if field == "kind" else type_label(spec)
    description = _cell(spec.get("description", _resolve(spec).get("description", "")))
    rows = [f"| `{field}` | {_cell(label)} | {default} | {description} |"]
    if "$ref" not in spec and spec.get("type") == "object":
        for child, child_spec in spec.get("properties", {}).items():
            child_required = child in spec.get("required", ())
            rows += _rows(f"{field}.{child}", child_spec, child_required)
    return rows


def _default(spec: Mapping[str, Any]) -> str:
    return f"`{json.dumps(spec['default'])}`" if "default" in spec else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _resolve(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    if "$ref" in spec:
        resolved: Mapping[str, Any] = recipe_schema()["$defs"][spec["$ref"].rsplit("/", 1)[1]]
        return resolved
    return spec


def type_label(spec: Mapping[str, Any]) -> str:
    """A short human type for a schema node, e.g. "integer ≥ 1" or "`text` | `json`"."""
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[1]
        return _REF_LABELS.get(name) or type_label(_resolve(spec))
    if "const" in spec:
        return f"`{json.dumps(spec['const'])}`"
    if "enum" in spec:
        return " | ".join(f"`{value}`" for value in spec["enum"])
    if "oneOf" in spec and "type" not in spec:
        return " or ".join(type_label(option) for option in spec["oneOf"])
    types = spec.get("type", "any")
    names = [types] if isinstance(types, str) else list(types)
    return " or ".join(_one_type(name, spec) for name in names)


def _one_type(name: str, spec: Mapping[str, Any]) -> str:
    if name == "array":
        if "prefixItems" in spec:
            return "[" + ", ".join(type_label(item) for item in spec["prefixItems"]) + "]"
        items = spec.get("items")
        return f"list of {_plural(type_label(items))}" if isinstance(items, Mapping) else "list"
    if name == "object":
        return "mapping"
    if name in ("integer", "number"):
        return name + _bounds(spec)
    return {"string": "string", "boolean": "boolean"}.get(name, name)


def _plural(label: str) -> str:
    return f"{label}s" if label.replace(" ", "").isalpha() and " or " not in label else label


def _bounds(spec: Mapping[str, Any]) -> str:
    low, high = spec.get("minimum"), spec.get("maximum")
    low_open = spec.get("exclusiveMinimum")
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low_open is not None and high is not None:
        return f" in ({low_open}, {high}]"
    if low is not None:
        return f" ≥ {low}"
    if low_open is not None:
        return f" > {low_open}"
    return ""


def main() -> None:
    """Print the reference to stdout."""
    sys.stdout.write(schema_reference_markdown())


if __name__ == "__main__":
    main()
