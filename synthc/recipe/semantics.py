"""Checks the schema cannot express: references, cycles, files, templates, models.

Every function here reads the raw recipe data defensively (the schema may have failed
on the same recipe, and all problems are reported together), and returns problems
rather than raising.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthc.datafiles import looks_like_file
from synthc.errors import Location, Problem
from synthc.recipe.positions import Parsed, join_path
from synthc.recipe.providers import routing_problem
from synthc.recipe.schema import IDENTIFIER_PATTERN, did_you_mean, location_of
from synthc.recipe.templates import check_syntax, syntax_error

# Template fields by step kind: (field, is a list of chat messages).
TEMPLATE_FIELDS: Mapping[str, tuple[str, ...]] = {
    "generate": ("prompt", "system", "messages"),
    "self_instruct": ("prompt",),
    "distill": ("prompt",),
    "judge": ("rubric", "prompt"),
    "adversarial": ("context",),
}

# Fields naming a model (an alias or a litellm model string) by step kind.
MODEL_FIELDS: Mapping[str, tuple[str, ...]] = {
    "distill": ("teacher", "student"),
    "adversarial": ("target", "judge"),
    "judge": ("judges",),
}

_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


@dataclass
class _Context:
    parsed: Parsed
    steps: Mapping[str, Any]  # step name -> its raw mapping (or whatever was written)
    aliases: tuple[str, ...]
    recipe_dir: Path  # the recipe's folder as the user named it, for files and messages
    problems: list[Problem]

    def report(self, path: str, message: str) -> None:
        self.problems.append(Problem(location_of(self.parsed, path), path, message))


def semantic_problems(parsed: Parsed, recipe_file: str) -> list[Problem]:
    """Reference, cycle, file, template, model and export problems in `parsed.data`."""
    data = parsed.data if isinstance(parsed.data, Mapping) else {}
    # Keys that are not text were already reported by the YAML reader; skip them here.
    steps = {k: v for k, v in _mapping(data.get("steps")).items() if isinstance(k, str)}
    models = [k for k in _mapping(data.get("models")) if isinstance(k, str)]
    context = _Context(parsed, steps, tuple(models), Path(recipe_file).parent, [])
    edges: dict[str, list[tuple[str, str]]] = {}
    for name, step in steps.items():
        if isinstance(step, Mapping):
            edges[name] = _check_references(context, name, step)
            _check_seed_files(context, name, step)
            _check_templates(context, name, step)
            _check_models(context, name, step)
    _check_cycles(context, edges)
    _check_exports(context, data.get("exports"))
    _check_aliases(context, data.get("models"))
    if isinstance(data.get("model"), str):
        _check_model(context, "model", data["model"])
    return context.problems


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, string) for a string or each string of a list."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield join_path(path, index), item


def _check_references(
    context: _Context, name: str, step: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """Check `from`, dedup `against` and check `reference`; return (step, path) edges."""
    base = f"steps.{name}"
    edges = []
    for path, ref in _strings(step.get("from"), f"{base}.from"):
        if _IDENTIFIER.match(ref) and _check_step_ref(context, path, ref, "from"):
            edges.append((ref, path))
    references = list(_strings(step.get("against"), f"{base}.against"))
    checks = step.get("checks")
    for index, check in enumerate(checks if isinstance(checks, list) else []):
        if isinstance(check, Mapping):
            for check_kind, config in check.items():
                if isinstance(config, Mapping) and isinstance(config.get("reference"), str):
                    path = f"{base}.checks.{index}.{check_kind}.reference"
                    references.append((path, config["reference"]))
    for path, ref in references:
        if ref == name:
            context.report(path, f"'{ref}' is this step itself; name another step or a file")
        elif looks_like_file(ref):
            _check_file(context, path, ref)
        elif _check_step_ref(context, path, ref, path.rpartition(".")[2]):
            edges.append((ref, path))
    return edges


def _check_step_ref(context: _Context, path: str, ref: str, field: str) -> bool:
    if ref in context.steps:
        return True
    known = ", ".join(context.steps) or "(none)"
    hint = did_you_mean(ref, context.steps)
    if field == "from":
        message = f"unknown step '{ref}'{hint}; steps in this recipe: {known}"
    else:
        message = (
            f"'{ref}' is neither a step{hint} nor a file path (files end in .jsonl, .csv, "
            f".parquet or .json, or contain '/'); steps in this recipe: {known}"
        )
    context.report(path, message)
    return False


def _check_file(context: _Context, path: str, written: str) -> None:
    full = context.recipe_dir / written
    folder = context.recipe_dir.as_posix()
    where = f"relative paths start from the recipe's folder, {folder}"
    if glob.has_magic(written):
        if not glob.glob(str(full), recursive=True):
            context.report(path, f"no files match '{written}' ({where})")
    elif not full.is_file():
        context.report(path, f"file not found: '{written}' ({where})")


def _check_seed_files(context: _Context, name: str, step: Mapping[str, Any]) -> None:
    if step.get("kind") == "seed":
        for path, written in _strings(step.get("path"), f"steps.{name}.path"):
            if written:
                _check_file(context, path, written)


def _check_templates(context: _Context, name: str, step: Mapping[str, Any]) -> None:
    kind = step.get("kind")
    for field in TEMPLATE_FIELDS.get(kind, ()) if isinstance(kind, str) else ():
        value = step.get(field)
        path = f"steps.{name}.{field}"
        if field == "messages" and isinstance(value, list):
            for index, message in enumerate(value):
                if isinstance(message, Mapping) and isinstance(message.get("content"), str):
                    _check_template(context, f"{path}.{index}.content", message["content"])
        elif isinstance(value, str):
            _check_template(context, path, value)


def _check_template(context: _Context, path: str, text: str) -> None:
    problem = check_syntax(text)
    if problem is None:
        return
    start = context.parsed.literal_starts.get(path)
    error = syntax_error(text)
    if start is None or error is None:
        context.report(path, problem)
        return
    # A `|` block keeps the template's lines as written, so we can point at the real one.
    line = start.line + error[0] - 1
    context.problems.append(Problem(Location(start.file, line, start.col), path, problem))


def _check_models(context: _Context, name: str, step: Mapping[str, Any]) -> None:
    kind = step.get("kind")
    fields = ("model", *MODEL_FIELDS.get(kind, ())) if isinstance(kind, str) else ("model",)
    for field in fields:
        for path, value in _strings(step.get(field), f"steps.{name}.{field}"):
            _check_model(context, path, value)


def _check_model(context: _Context, path: str, value: str) -> None:
    """Accept aliases and model strings litellm can route; reject the rest."""
    if value in context.aliases:
        return
    aliases = ", ".join(context.aliases) or "none defined"
    if not value or re.search(r"\s", value):
        context.report(
            path,
            f"unknown model '{value}': not an alias from `models:` (aliases: {aliases}) "
            "and not a litellm model string such as 'openai/gpt-4o'",
        )
        return
    problem = routing_problem(value)
    if problem is not None:
        context.report(path, f"{problem}; aliases from `models:`: {aliases}")


def _check_aliases(context: _Context, models: Any) -> None:
    """An alias's model string must be routable, unless it names its own `api_base`
    (a local or self-hosted server speaks whatever the alias says)."""
    for name, alias in _mapping(models).items():
        routed = isinstance(alias, Mapping) and isinstance(alias.get("model"), str)
        if routed and not alias.get("api_base"):
            problem = routing_problem(alias["model"])
            if problem is not None:
                context.report(join_path(join_path("models", str(name)), "model"), problem)


def _check_exports(context: _Context, exports: Any) -> None:
    if not isinstance(exports, Mapping):
        return
    for key in exports:
        if isinstance(key, str) and _IDENTIFIER.match(key) and key not in context.steps:
            path = join_path("exports", key)
            known = ", ".join(context.steps) or "(none)"
            hint = did_you_mean(key, context.steps)
            location = context.parsed.key_positions.get(path) or location_of(context.parsed, path)
            message = f"cannot export unknown step '{key}'{hint}; steps in this recipe: {known}"
            context.problems.append(Problem(location, path, message))


def _check_cycles(context: _Context, edges: Mapping[str, list[tuple[str, str]]]) -> None:
    """Report each dependency cycle once, as `a -> b -> a`, where its first edge is written."""
    done: set[str] = set()
    reported: set[frozenset[str]] = set()

    def visit(name: str, stack: list[str]) -> None:
        if name in done:
            return
        stack.append(name)
        for target, _ in edges.get(name, ()):
            if target in stack:
                cycle = stack[stack.index(target) :]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    second = [*cycle, target][1]
                    path = next(p for t, p in edges[cycle[0]] if t == second)
                    context.report(path, f"dependency cycle: {' -> '.join([*cycle, target])}")
            else:
                visit(target, stack)
        stack.pop()
        done.add(name)

    for name in edges:
        visit(name, [])
