"""Check every reference a step makes against the columns its inputs are known to have,
before anything runs: template variables, SQL (bound by DuckDB over empty tables with
the inferred columns), dedup columns and the columns each check reads.

Where an input's columns cannot be known before it runs (a free JSON parse, a query
over a file that is not there yet), the reference is left for the build to check.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from synthc.errors import Problem
from synthc.recipe.load import Recipe
from synthc.recipe.schema import did_you_mean
from synthc.recipe.sqlcheck import Binder, SQLProblem, quote_name
from synthc.recipe.templates import template_variables
from synthc.rows import ROW_ID
from synthc.steps.distill import default_prompt

Columns = tuple[str, ...] | None  # None: unknown until the step runs

_HIGHEST = re.compile(r"^highest\((\w+)\)$")

# Check fields that name a column of the checked step's own rows.
_CHECK_COLUMN_FIELDS = ("column", "text", "label")


@dataclass
class StepReferences:
    """What one step refers to, and its inputs' columns (`upstream`: `from:` order)."""

    recipe: Recipe
    name: str
    kind: str
    config: Mapping[str, object]
    upstream: Mapping[str, Columns]
    problems: list[Problem] = field(default_factory=list)
    # fields left for the build to check: an input's columns are unknown before it runs
    unchecked: list[str] = field(default_factory=list)

    def unknown_inputs(self) -> bool:
        return any(cols is None for cols in self.upstream.values())

    def leave_unchecked(self, field_paths: Sequence[str]) -> None:
        if self.unknown_inputs():
            self.unchecked.extend(f for f in field_paths if f not in self.unchecked)

    def report(self, field_path: str, message: str, at: SQLProblem | None = None) -> None:
        """A problem at the field; with `at`, at the line and column DuckDB points to
        inside it where the field is a `|` block."""
        path = f"steps.{self.name}.{field_path}"
        inside = None
        if at is not None and at.line is not None and at.col is not None:
            inside = self.recipe.where_in_text(path, at.line, at.col)
        self.problems.append(Problem(inside or self.recipe.where(path), path, message))

    def single_input(self) -> list[str] | None:
        """The user-visible columns of the inputs, or None when any input is unknown."""
        if not self.upstream or any(cols is None for cols in self.upstream.values()):
            return None
        columns: list[str] = []
        for cols in self.upstream.values():
            columns.extend(c for c in cols or () if not c.startswith("_") and c not in columns)
        return columns

    def describe_inputs(self) -> str:
        return " or ".join(f"'{name}'" for name in self.upstream) or "any upstream step"


def check_templates(refs: StepReferences, templates: Sequence[tuple[str, str]]) -> None:
    """Every template variable is a column of the step's inputs."""
    available = refs.single_input()
    if available is None:
        refs.leave_unchecked([field_path for field_path, _text in templates])
        return
    for field_path, text in templates:
        missing = sorted(template_variables(text) - set(available) - {"loop", "range"})
        for variable in missing:
            refs.report(
                field_path,
                f"template variable '{variable}' is not a column of "
                f"{refs.describe_inputs()}{did_you_mean(variable, available)}; "
                f"columns: {', '.join(available) or '(none)'}",
            )


def check_sql(refs: StepReferences, binder: Binder) -> Columns:
    """Bind the step's own SQL (filter `where`, sql `query`, seed `sql`) over its inputs;
    return the output columns the binding reveals (sql and seed steps), else None."""
    config = refs.config
    known = {name: cols for name, cols in refs.upstream.items() if cols is not None}
    if len(known) != len(refs.upstream):
        refs.leave_unchecked([f for f in ("where", "query") if f in config])
        return None
    if refs.kind == "filter" and isinstance(config.get("where"), str) and len(known) == 1:
        (table,) = known
        query = f"select * from {quote_name(table)} where (\n{config['where']}\n)"
        _, problem = binder.bind(query, known)
        if problem:
            message = f"{config['where']!r} does not bind on '{table}': {problem.message}"
            line = problem.line - 1 if problem.line is not None else None  # the wrapper's
            refs.report("where", message, replace(problem, line=line))
        return None
    field_name = {"sql": "query", "seed": "sql"}.get(refs.kind)
    if field_name is None or not isinstance(config.get(field_name), str):
        return None
    query = str(config[field_name])
    columns, problem = binder.bind(query, known)
    if problem and refs.kind == "seed":
        refs.report(field_name, problem.message, problem)
    elif problem:
        visible = ", ".join(known) or "none"
        refs.report(field_name, f"{problem.message} (tables visible: {visible})", problem)
    if columns is None:
        return None
    if refs.kind == "seed":
        return (ROW_ID, *[c for c in columns if c != ROW_ID])
    return tuple(columns) if ROW_ID in columns else (*columns, ROW_ID)


def check_input_columns(refs: StepReferences) -> None:
    """The columns a step reads by name are columns of its input: a dedup's `column`,
    `columns` and `keep: highest(col)`, each augment op's `column`, a self-instruct
    step's `column`."""
    available = refs.single_input()
    if available is None:
        named = _named_input_columns(refs.kind, refs.config)
        refs.leave_unchecked([field_path for field_path, column in named if column is not None])
        return
    for field_path, column in _named_input_columns(refs.kind, refs.config):
        if isinstance(column, str) and column not in available:
            refs.report(field_path, _not_a_column(column, refs.describe_inputs(), available))


def check_default_prompt(refs: StepReferences) -> None:
    """A distill step without `prompt:` asks its input's instruction, prompt or question."""
    available = refs.single_input()
    if refs.kind != "distill" or refs.config.get("prompt") or available is None:
        return
    if default_prompt(available) is None:
        refs.report(
            "kind",
            "no `prompt:` is written and the input has no `instruction`, `prompt` or "
            f"`question` column to ask; write a prompt template (columns: "
            f"{', '.join(available) or '(none)'})",
        )


def _named_input_columns(kind: str, config: Mapping[str, object]) -> list[tuple[str, object]]:
    named: list[tuple[str, object]] = []
    if kind == "dedup":
        named.append(("column", config.get("column")))
        columns = config.get("columns")
        if isinstance(columns, list):
            named.extend((f"columns.{i}", c) for i, c in enumerate(columns))
        keep = config.get("keep")
        if isinstance(keep, str) and (match := _HIGHEST.match(keep)):
            named.append(("keep", match.group(1)))
    if kind == "self_instruct":  # the pool starts from this column of the input
        named.append(("column", config.get("column")))
    ops = config.get("ops") if kind == "augment" else None
    for index, op in enumerate(ops if isinstance(ops, list) else []):
        for name, settings in op.items() if isinstance(op, Mapping) else ():
            if isinstance(settings, Mapping):
                named.append((f"ops.{index}.{name}.column", settings.get("column")))
    return named


def check_checks(refs: StepReferences, output: Columns, binder: Binder) -> None:
    """Each check's columns are columns of the step's output; a sql check's query binds
    over it (visible as the step's name and as `this`)."""
    if output is None:
        checks = refs.recipe.steps[refs.name].checks
        fields = [f"checks.{i}.{check.kind}" for i, check in enumerate(checks)]
        refs.unchecked.extend(f for f in fields if f not in refs.unchecked)
        return
    visible = [c for c in output if not c.startswith("_")]
    for index, check in enumerate(refs.recipe.steps[refs.name].checks):
        base = f"checks.{index}.{check.kind}"
        for field_name in _CHECK_COLUMN_FIELDS:
            column = check.config.get(field_name)
            if isinstance(column, str) and column not in output:
                where = f"the output of '{refs.name}'"
                refs.report(f"{base}.{field_name}", _not_a_column(column, where, visible))
        for field_path, column in _balance_columns(check.kind, check.config):
            if column not in output:
                where = f"the output of '{refs.name}'"
                refs.report(f"{base}.{field_path}", _not_a_column(column, where, visible))
        query = check.config.get("query") if check.kind == "sql" else None
        if isinstance(query, str):
            _, problem = binder.bind(query, {refs.name: output, "this": output})
            if problem:
                message = f"{problem.message} (tables visible: {refs.name}, this)"
                refs.report(f"{base}.query", message, problem)


def _balance_columns(kind: str, config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field path, column) a `balance` check reads from the step's rows: the attribute
    column, a lexicon's text column or a judge score column, and the `pairs:` label."""
    if kind != "balance":
        return []
    attribute, found = config.get("attribute"), []
    if isinstance(attribute, str):
        found.append(("attribute", attribute))
    elif isinstance(attribute, Mapping):
        found += [(f"attribute.{key}", str(attribute[key])) for key in ("column", "judge")
                  if isinstance(attribute.get(key), str)]  # fmt: skip
    pairs = config.get("pairs")
    if isinstance(pairs, Mapping) and isinstance(pairs.get("label"), str):
        found.append(("pairs.label", str(pairs["label"])))
    return found


def _not_a_column(column: str, where: str, available: Sequence[str]) -> str:
    return (
        f"'{column}' is not a column of {where}{did_you_mean(column, available)}; "
        f"columns: {', '.join(available) or '(none)'}"
    )
