"""Validate recipe data against `schema/recipe.schema.json` and word the errors for people.

jsonschema's own messages are written for schema authors ("Additional properties are
not allowed ('promt' was unexpected)"); here each error becomes a `Problem` that says
what is wrong in recipe terms, what is allowed, and where it is written.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from synthc.errors import Location, Problem
from synthc.recipe.kinds import recipe_schema
from synthc.recipe.positions import Parsed, join_path

IDENTIFIER_PATTERN = "^[A-Za-z_][A-Za-z0-9_]*$"

# What a pattern means, for messages; a pattern not listed here is shown as is.
_PATTERN_MEANINGS = {
    IDENTIFIER_PATTERN: "must be an identifier: letters, digits and _, not starting with a digit",
    "^[A-Za-z_][A-Za-z0-9_.-]*$": "must be a name of letters, digits, _, . and -, not starting with a digit",
    "\\.(jsonl|parquet|csv)$": "must be a file path ending in .jsonl, .parquet or .csv",
    "^(first|longest|highest\\([A-Za-z_][A-Za-z0-9_]*\\))$": "must be first, longest or highest(column)",
}

_TYPE_NAMES = {
    "string": "a string",
    "array": "a list",
    "object": "a mapping",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(recipe_schema())


def schema_problems(parsed: Parsed) -> list[Problem]:
    """Every schema violation in `parsed.data`, worded for a recipe author."""
    problems: list[Problem] = []
    for error in _validator().iter_errors(parsed.data):
        problems.extend(_problems_for(error, parsed))
    return problems


def location_of(parsed: Parsed, path: str) -> Location | None:
    """Where `path` is written, falling back to its nearest recorded parent."""
    probe = path
    while probe:
        if probe in parsed.positions:
            return parsed.positions[probe]
        probe = probe.rpartition(".")[0]
    return parsed.positions.get("")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """ " (did you mean 'x'?)" for a close spelling among `choices`, else ""."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def describe_value(value: Any) -> str:
    """A short description of a YAML value for "expected X, got Y" messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _path_of(error: ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path)


def _problems_for(error: ValidationError, parsed: Parsed) -> list[Problem]:
    path = _path_of(error)
    if "propertyNames" in error.relative_schema_path:
        return [_bad_name(error, parsed, path)]
    keyword = error.validator
    if keyword == "additionalProperties" and error.validator_value is False:
        return _unknown_fields(error, parsed, path)
    if keyword == "required":
        return _missing_fields(error, parsed, path)
    if keyword in ("oneOf", "anyOf"):
        return _alternatives(error, parsed, path)
    return [Problem(location_of(parsed, path), path, _message(error, path))]


def _bad_name(error: ValidationError, parsed: Parsed, path: str) -> Problem:
    name = str(error.instance)
    key_path = join_path(path, name)
    what = {"steps": "step name", "exports": "export key", "models": "model alias"}.get(
        path, "name"
    )
    meaning = _PATTERN_MEANINGS.get(str(error.validator_value), error.message)
    location = parsed.key_positions.get(key_path) or location_of(parsed, path)
    return Problem(location, key_path, f"{what} '{name}' {meaning}")


def _unknown_fields(error: ValidationError, parsed: Parsed, path: str) -> list[Problem]:
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    allowed = sorted(schema.get("properties", {}))
    # Keys that are not text were already reported by the YAML reader.
    extras = sorted(key for key in error.instance if isinstance(key, str) and key not in allowed)
    title = schema.get("title")
    problems = []
    for extra in extras:
        key_path = join_path(path, str(extra))
        hint = did_you_mean(str(extra), allowed)
        if schema.get("maxProperties") == 1 and title:
            message = f"unknown {title} '{extra}'{hint}; known {title}s: {', '.join(allowed)}"
        else:
            where = " at the top level" if path == "" else f" in {_article(title)}" if title else ""
            message = f"unknown field '{extra}'{where}{hint}{_owner_hint(extra, title)}; allowed: {', '.join(allowed)}"
        location = parsed.key_positions.get(key_path) or location_of(parsed, path)
        problems.append(Problem(location, key_path, message))
    return problems


def _owner_hint(field_name: str, title: str | None) -> str:
    """For a step field of another kind: " ('where' belongs to filter steps)"."""
    if not title or not title.endswith(" step"):
        return ""
    if field_name in ("model", "params") and field_name not in _step_fields(title):
        return f" ({title}s do not call a model)"
    defs = recipe_schema()["$defs"]
    owners = [
        name.removesuffix("_step")
        for name, definition in sorted(defs.items())
        if name.endswith("_step") and field_name in definition.get("properties", {})
    ]
    if not owners or len(owners) > 3:
        return ""
    return f" ('{field_name}' belongs to {' and '.join(owners)} steps)"


def _step_fields(title: str) -> set[str]:
    kind = title.removesuffix(" step")
    definition = recipe_schema()["$defs"].get(f"{kind}_step", {})
    return set(definition.get("properties", {}))


def _article(title: str) -> str:
    # "a utility check", "an augment op": 'u' mostly sounds like "you" in our titles.
    return f"an {title}" if title[0] in "aeio" else f"a {title}"


def _missing_fields(error: ValidationError, parsed: Parsed, path: str) -> list[Problem]:
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    missing = [name for name in error.validator_value if name not in instance]
    problems = []
    for name in missing:
        if path == "" and name == "synthc":
            message = "missing the recipe format version; add `synthc: 1` at the top"
        else:
            title = error.schema.get("title") if isinstance(error.schema, Mapping) else None
            owner = f" for {_article(title)}" if title and path else ""
            message = f"missing required field '{name}'{owner}"
            if name == "kind" and title == "step":
                kinds = error.schema["properties"]["kind"]["enum"]
                message += f"; known kinds: {', '.join(sorted(kinds))}"
        problems.append(Problem(location_of(parsed, path), path, message))
    return problems


def _alternatives(error: ValidationError, parsed: Parsed, path: str) -> list[Problem]:
    """oneOf/anyOf: say which fields are needed, or pick the most relevant sub-error."""
    branches = error.validator_value
    names = _required_only(branches)
    if names is not None:
        instance = error.instance if isinstance(error.instance, Mapping) else {}
        present = [name for name in names if name in instance]
        listed = ", ".join(names)
        title = error.schema.get("title") if isinstance(error.schema, Mapping) else None
        subject = f"{_article(title)} needs" if title else "needs"
        if present and error.validator == "oneOf":
            message = f"set only one of {listed}; found {' and '.join(present)}"
        elif error.validator == "oneOf":
            message = f"{subject} exactly one of: {listed}"
        else:
            message = f"{subject} at least one of: {listed}"
        return [Problem(location_of(parsed, path), path, message)]
    if not error.context:
        return [Problem(location_of(parsed, path), path, error.message)]
    # best_match on the parent (not its context) prefers the branch whose type fits.
    best = best_match([error])
    if best is error:
        return [Problem(location_of(parsed, path), path, error.message)]
    return _problems_for(best, parsed)


def _required_only(branches: Sequence[Any]) -> list[str] | None:
    """["a", "b"] when every branch is just {"required": [name]}, else None."""
    names = []
    for branch in branches:
        if not isinstance(branch, Mapping) or set(branch) != {"required"}:
            return None
        names.extend(branch["required"])
    return names


def _message(error: ValidationError, path: str) -> str:
    keyword, expected, instance = error.validator, error.validator_value, error.instance
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if keyword == "type":
        wanted = [expected] if isinstance(expected, str) else list(expected)
        if wanted == ["boolean"]:
            return f"expected true or false, got {describe_value(instance)}"
        names = " or ".join(_TYPE_NAMES.get(name, name) for name in wanted)
        return f"expected {names}, got {describe_value(instance)}"
    if keyword == "enum":
        choices = ", ".join(str(choice) for choice in expected)
        title = schema.get("title")
        if title:
            noun = title.split()[-1]
            hint = did_you_mean(str(instance), [str(c) for c in expected])
            return (
                f"unknown {title} {instance!r}{hint}; known {noun}s: {', '.join(sorted(expected))}"
            )
        return f"{instance!r} is not one of: {choices}"
    if keyword == "const":
        if path == "synthc":
            return f"unsupported recipe format version {instance!r}; this synthc reads `synthc: {expected}`"
        return f"must be {expected!r}, got {instance!r}"
    if keyword == "pattern":
        meaning = _PATTERN_MEANINGS.get(str(expected))
        if path.endswith(".from") and "," in str(instance):
            names = ", ".join(part.strip() for part in str(instance).split(","))
            return f"{instance!r} is not a step name; for several steps write a list: [{names}]"
        return f"{instance!r} {meaning}" if meaning else error.message
    if keyword == "dependentRequired":
        return _dependency_message(expected, instance) or error.message
    return _size_message(error) or error.message


def _dependency_message(expected: Any, instance: Any) -> str | None:
    """ "`judge` needs `target`" for a field set without the field it works on."""
    if not isinstance(expected, Mapping) or not isinstance(instance, Mapping):
        return None
    for field, needed in expected.items():
        missing = [name for name in needed if name not in instance]
        if field in instance and missing:
            return f"`{field}` needs `{'`, `'.join(missing)}` too; set it or remove `{field}`"
    return None


def _size_message(error: ValidationError) -> str | None:
    keyword, expected = error.validator, error.validator_value
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if keyword in ("minItems", "minLength") and expected == 1:
        return "must not be empty"
    if keyword == "minItems":
        return f"needs at least {expected} items, got {len(error.instance)}"
    if keyword == "items" and expected is False:
        most = len(schema.get("prefixItems", ()))
        return f"takes at most {most} items, got {len(error.instance)}"
    if keyword in ("minProperties", "maxProperties") and schema.get("maxProperties") == 1:
        title = schema.get("title", "entry")
        known = ", ".join(sorted(schema.get("properties", {})))
        found = " and ".join(sorted(str(key) for key in error.instance))
        if keyword == "minProperties":
            return f"an empty {title}; write one of: {known}"
        return f"one {title} per list item, found {found}; write each as its own '- ' item"
    if keyword == "minProperties":
        return "must not be empty"
    return None
