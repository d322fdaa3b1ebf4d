"""Checks of values the JSON Schema cannot express: SQL statements, step names, ranges,
embedded JSON Schemas, sizes and non-finite numbers.

Like `semantics`, every function reads the raw recipe data defensively (the schema may
have failed on the same recipe) and reports problems instead of raising.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, Protocol, TypeGuard

from synthc.recipe.positions import join_path
from synthc.recipe.sqlcheck import (
    condition_line,
    condition_problem,
    error_line,
    statement_problem,
    unusable_table_name,
)
from synthc.recipe.sqlmemo import SQLMemo


class Report(Protocol):
    """Records a problem at a recipe path; `text_line` is the line inside a multi-line
    value (a `|` block) the problem is on, when known."""

    def __call__(self, path: str, message: str, text_line: int | None = None) -> None: ...


# Tables synthc writes into a recipe's catalog; step names starting with `_` are kept for them.
SYNTHC_TABLES = (
    "_calls",
    "_failures",
    "_runs",
    "_run_steps",
    "_checks",
    "_lineage",
    "_rejections",
    "_dedup_matches",
)

# Most calls one step may ask for per upstream row (in all, for a step without
# upstream rows) unless `budget.max_step_calls` says otherwise: past it a plan is
# almost surely a typo, and estimating it would allocate gigabytes.
DEFAULT_MAX_STEP_CALLS = 1_000_000


def check_step_name(report: Report, name: str) -> None:
    path = f"steps.{name}"
    if name.startswith("_"):
        report(
            path,
            f"step name '{name}' starts with '_', which is kept for synthc's own tables "
            f"({', '.join(SYNTHC_TABLES)}); rename the step",
        )
    elif unusable_table_name(name):
        report(
            path,
            f"step name '{name}' is a reserved SQL keyword, so SQL could name its table only "
            f"in double quotes; rename the step (e.g. '{name}_rows')",
        )


def check_sql(
    report: Report, name: str, step: Mapping[str, Any], memo: SQLMemo | None = None
) -> None:
    """Each SQL field of the step (and of its checks) is one read-only SELECT or condition.
    With `memo`, a text that passed before is not parsed again."""
    memo = memo or SQLMemo()
    base = f"steps.{name}"
    kind = step.get("kind")
    if kind == "filter" and _text(where := step.get("where")):
        problem = memo.text_problem(condition_problem, where)
        if problem:
            report(f"{base}.where", f"{where!r} {problem}", condition_line(where))
    fields = {"sql": "query", "seed": "sql"}
    if isinstance(kind, str) and kind in fields and _text(query := step.get(fields[kind])):
        problem = memo.text_problem(statement_problem, query)
        if problem:
            report(f"{base}.{fields[kind]}", f"the SQL {problem}", error_line(query))
    for path, config in _checks(step, base):
        query = config.get("sql", {}).get("query") if isinstance(config.get("sql"), dict) else None
        if _text(query) and (problem := memo.text_problem(statement_problem, query)):
            report(f"{path}.sql.query", f"the SQL {problem}", error_line(query))


def _text(value: Any) -> TypeGuard[str]:
    """A non-blank string: blank SQL is the schema's to report ("must not be empty")."""
    return isinstance(value, str) and bool(value.strip())


def _checks(step: Mapping[str, Any], base: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    checks = step.get("checks")
    for index, check in enumerate(checks if isinstance(checks, list) else []):
        if isinstance(check, Mapping):
            yield f"{base}.checks.{index}", check


def check_ranges(report: Report, name: str, step: Mapping[str, Any]) -> None:
    """`scale: [low, high]`, a rows check's min/max, `explode` naming a field of text."""
    base = f"steps.{name}"
    scale = step.get("scale")
    low_first = isinstance(scale, list) and _numbers(scale, 2) and scale[0] < scale[1]
    if (
        step.get("kind") == "judge"
        and isinstance(scale, list)
        and _numbers(scale, 2)
        and not low_first
    ):
        report(f"{base}.scale", f"scale {scale} must be [lowest, highest] with lowest < highest")
    for path, check in _checks(step, base):
        rows = check.get("rows")
        bounds: list[Any] = [rows.get("min"), rows.get("max")] if isinstance(rows, Mapping) else []
        if _numbers(bounds, 2) and bounds[0] > bounds[1]:
            report(
                f"{path}.rows",
                f"min {bounds[0]} is more than max {bounds[1]}; no row count can pass",
            )
    explode = step.get("explode")
    if step.get("kind") == "generate" and isinstance(explode, str) and step.get("parse") != "json":
        report(
            f"{base}.explode",
            f"explode: '{explode}' names a field of the parsed JSON, but the step parses "
            "text; add `parse: json` (or write `explode: true` for one row per line of text)",
        )


def _numbers(value: Any, count: int) -> bool:
    return (
        isinstance(value, list)
        and len(value) == count
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def check_json_schema(report: Report, name: str, step: Mapping[str, Any]) -> None:
    """A step's `schema:` must itself be a valid JSON Schema (checked before any call)."""
    schema = step.get("schema")
    if not isinstance(schema, Mapping):
        return
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        inside = ".".join(str(part) for part in exc.absolute_path)
        path = join_path(f"steps.{name}.schema", inside) if inside else f"steps.{name}.schema"
        report(path, f"not a valid JSON Schema: {exc.message}")


def check_sizes(report: Report, name: str, step: Mapping[str, Any], cap: int) -> None:
    """Calls per upstream row past `cap` (`budget.max_step_calls`) are refused as absurd."""
    asked = _calls_asked(step)
    if asked is None or asked[1] <= cap:
        return
    field, calls = asked
    report(
        f"steps.{name}.{field}",
        f"asks for {calls:,} model calls per upstream row, more than the cap of {cap:,}; "
        "lower it, or raise `budget.max_step_calls` if you mean it",
    )


def _calls_asked(step: Mapping[str, Any]) -> tuple[str, int] | None:
    """(the field to blame, calls per upstream row) for the sizes a kind multiplies."""

    def number(field: str, default: int) -> int:
        value = step.get(field, default)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    kind = step.get("kind")
    if kind == "generate":
        return "n", number("n", 1)
    if kind == "self_instruct":
        field = "per_round" if number("per_round", 20) >= number("rounds", 1) else "rounds"
        return field, number("rounds", 1) * number("per_round", 20)
    if kind == "adversarial":
        categories = step.get("categories")
        count = len(categories) if isinstance(categories, list) else 1
        return "per_category", count * number("per_category", 10)
    return None


def max_step_calls(data: Mapping[str, Any]) -> int:
    budget = data.get("budget")
    cap = budget.get("max_step_calls") if isinstance(budget, Mapping) else None
    return cap if isinstance(cap, int) and not isinstance(cap, bool) else DEFAULT_MAX_STEP_CALLS


def check_finite(report: Report, data: Any, path: str = "") -> None:
    """Every number is finite: `.nan` and `.inf` cannot be compared, hashed into a call
    key or sent to a model. Walks without recursion (a recipe may nest deeply)."""
    pending = [(path, data)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, float) and not math.isfinite(value):
            report(where, f"{value} is not a finite number; write a number such as 0.7")
        elif isinstance(value, Mapping):
            pending.extend((join_path(where, str(k)), v) for k, v in value.items())
        elif isinstance(value, list):
            pending.extend((join_path(where, i), v) for i, v in enumerate(value))


def check_alias_targets(report: Report, models: Mapping[str, Any]) -> None:
    """An alias points at a litellm model string, never at another alias."""
    for name, alias in models.items():
        target = alias.get("model") if isinstance(alias, Mapping) else None
        if isinstance(target, str) and target in models and isinstance(name, str):
            other = models[target]
            real = other.get("model") if isinstance(other, Mapping) else None
            hint = f" (write '{real}' here)" if isinstance(real, str) else ""
            report(
                f"models.{name}.model",
                f"'{target}' is another alias; an alias's `model` is a litellm model string "
                f"such as 'openai/gpt-4o'{hint}",
            )
