"""Checks the schema cannot express: references, cycles, files, templates, models.

Every function here reads the raw recipe data defensively (the schema may have failed
on the same recipe, and all problems are reported together), and returns problems
rather than raising.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthc.datafiles import looks_like_file
from synthc.datatypes import row_kind_conflict
from synthc.errors import Location, Problem
from synthc.recipe.kinds import model_fields, step_kinds, template_fields
from synthc.recipe.positions import Parsed, join_path
from synthc.recipe.providers import batch_problem, routing_problem
from synthc.recipe.schema import IDENTIFIER_PATTERN, did_you_mean, location_of
from synthc.recipe.sqlmemo import SQLMemo
from synthc.recipe.templates import check_syntax, loader_tag, syntax_error
from synthc.recipe.values import (
    check_alias_targets,
    check_finite,
    check_json_schema,
    check_ranges,
    check_sizes,
    check_sql,
    check_step_name,
    max_step_calls,
)

_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


@dataclass
class _Context:
    parsed: Parsed
    steps: Mapping[str, Any]  # step name -> its raw mapping (or whatever was written)
    aliases: tuple[str, ...]
    recipe_dir: Path  # the recipe's folder as the user named it, for files and messages
    problems: list[Problem]

    def report(self, path: str, message: str, text_line: int | None = None) -> None:
        """A problem at `path`; at line `text_line` of its value when that is a `|` block,
        which keeps the value's lines as written."""
        start = self.parsed.literal_starts.get(path) if text_line else None
        location: Location | None
        if start is not None and text_line:
            location = Location(start.file, start.line + text_line - 1, start.col)
        else:
            location = location_of(self.parsed, path)
        self.problems.append(Problem(location, path, message))

    def report_name(self, path: str, message: str, text_line: int | None = None) -> None:
        """A problem with a mapping key itself (a step's name): located at the key."""
        location = self.parsed.key_positions.get(path) or location_of(self.parsed, path)
        self.problems.append(Problem(location, path, message))


def semantic_problems(
    parsed: Parsed, recipe_file: str, sql_memo: SQLMemo | None = None
) -> list[Problem]:
    """Reference, cycle, file, template, model and export problems in `parsed.data`.
    `sql_memo` holds the SQL texts that passed DuckDB's parser before."""
    data = parsed.data if isinstance(parsed.data, Mapping) else {}
    # Keys that are not text were already reported by the YAML reader; skip them here.
    steps = {k: v for k, v in _mapping(data.get("steps")).items() if isinstance(k, str)}
    models = [k for k in _mapping(data.get("models")) if isinstance(k, str)]
    context = _Context(parsed, steps, tuple(models), Path(recipe_file).parent, [])
    edges: dict[str, list[tuple[str, str]]] = {}
    cap = max_step_calls(data)
    for name, step in steps.items():
        if _IDENTIFIER.match(name):
            check_step_name(context.report_name, name)
        if isinstance(step, Mapping):
            edges[name] = _check_references(context, name, step)
            _check_seed_files(context, name, step)
            _check_sample(context, name, step)
            _check_templates(context, name, step)
            _check_models(context, name, step)
            check_sql(context.report, name, step, sql_memo)
            check_ranges(context.report, name, step)
            check_json_schema(context.report, name, step)
            check_sizes(context.report, name, step, cap)
    _check_cycles(context, edges)
    _check_exports(context, data.get("exports"))
    _check_aliases(context, data.get("models"))
    _check_no_keys(context, data, "")
    if isinstance(data.get("model"), str):
        _check_model(context, "model", data["model"])
    check_alias_targets(context.report, _mapping(data.get("models")))
    check_finite(context.report, data)
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
        _check_seed_rows(context, name, step.get("rows"))


def _check_seed_rows(context: _Context, name: str, rows: Any) -> None:
    """Inline rows keep one type per column, as data files must."""
    kinds: dict[str, Any] = {}
    for index, row in enumerate(rows if isinstance(rows, list) else []):
        if not isinstance(row, Mapping):
            continue
        conflict = row_kind_conflict(kinds, row, f"rows.{index}")
        if conflict is not None:
            context.report(join_path(f"steps.{name}.rows.{index}", conflict[0]), conflict[1])
            return


def _check_sample(context: _Context, name: str, step: Mapping[str, Any]) -> None:
    """A sample step's attributes: weights match values, ranges are not reversed, and a
    `column:` attribute has exactly one `from:` step to draw from."""
    if step.get("kind") != "sample":
        return
    sources = step.get("from")
    single_source = isinstance(sources, str) or (isinstance(sources, list) and len(sources) == 1)
    for attribute, spec in _mapping(step.get("attributes")).items():
        path = f"steps.{name}.attributes.{attribute}"
        spec = _mapping(spec)
        values, weights = spec.get("values"), spec.get("weights")
        if isinstance(values, list) and isinstance(weights, list):
            if len(values) != len(weights):
                context.report(
                    f"{path}.weights",
                    f"{len(weights)} weights for {len(values)} values; give one weight per value",
                )
            elif not any(w > 0 for w in weights if isinstance(w, int | float)):
                context.report(f"{path}.weights", "at least one weight must be above 0")
        for field in ("uniform", "integer"):
            bounds = _mapping(spec.get(field))
            low, high = bounds.get("min"), bounds.get("max")
            if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
                context.report(f"{path}.{field}", f"min {low} is above max {high}")
        if "column" in spec and not single_source:
            context.report(
                f"{path}.column",
                "a `column:` attribute draws from the step named in `from:`; "
                "give the step exactly one `from:`",
            )


def _check_templates(context: _Context, name: str, step: Mapping[str, Any]) -> None:
    for field in template_fields(kind) if (kind := _known_kind(step)) else ():
        value = step.get(field)
        path = f"steps.{name}.{field}"
        if isinstance(value, list):  # chat messages: each content is a template
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
    error = syntax_error(text) or loader_tag(text)
    if start is None or error is None:
        context.report(path, problem)
        return
    # A `|` block keeps the template's lines as written, so we can point at the real one.
    line = start.line + error[0] - 1
    context.problems.append(Problem(Location(start.file, line, start.col), path, problem))


def _check_models(context: _Context, name: str, step: Mapping[str, Any]) -> None:
    kind = _known_kind(step)
    for field in ("model", *(model_fields(kind) if kind else ())):
        for path, value in _strings(step.get(field), f"steps.{name}.{field}"):
            _check_model(context, path, value)


def _known_kind(step: Mapping[str, Any]) -> str | None:
    """The step's kind when it is one the schema knows (else the schema reports it)."""
    kind = step.get("kind")
    return kind if isinstance(kind, str) and kind in step_kinds() else None


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
    (a local or self-hosted server speaks whatever the alias says). A target that is
    another alias is `check_alias_targets`' to report."""
    aliases = _mapping(models)
    for name, alias in aliases.items():
        routed = isinstance(alias, Mapping) and isinstance(alias.get("model"), str)
        if routed and not alias.get("api_base") and alias["model"] not in aliases:
            problem = routing_problem(alias["model"])
            if problem is not None:
                context.report(join_path(join_path("models", str(name)), "model"), problem)
        if routed and alias.get("batch") not in (None, False):
            problem = batch_problem(alias["model"])
            if problem is not None:
                context.report(join_path(join_path("models", str(name)), "batch"), problem)


def _check_exports(context: _Context, exports: Any) -> None:
    if not isinstance(exports, Mapping):
        return
    _check_export_targets(context, exports)
    for key in exports:
        if isinstance(key, str) and _IDENTIFIER.match(key) and key not in context.steps:
            path = join_path("exports", key)
            known = ", ".join(context.steps) or "(none)"
            hint = did_you_mean(key, context.steps)
            location = context.parsed.key_positions.get(path) or location_of(context.parsed, path)
            message = f"cannot export unknown step '{key}'{hint}; steps in this recipe: {known}"
            context.problems.append(Problem(location, path, message))
        targets = exports[key]
        for index, target in enumerate(targets if isinstance(targets, list) else [targets]):
            if isinstance(target, Mapping) and isinstance(target.get("path"), str):
                where = join_path("exports", str(key))
                where = join_path(where, str(index)) if isinstance(targets, list) else where
                _check_export(context, where, target)


# The fields each named format reads; the plain formats read none of them.
_FORMAT_FIELDS = {
    "messages": ("prompt", "response", "system"),
    "preference": ("prompt", "chosen", "rejected"),
    "datasets": ("splits",),
}
_EXTENSIONS = (".jsonl", ".ndjson", ".csv", ".parquet")


def _check_export(context: _Context, path: str, target: Mapping[str, Any]) -> None:
    """A mapping export: its format is known, its fields fit it, its splits sum to 1."""
    fmt = target.get("format")
    suffix = Path(target["path"]).suffix.lower()
    if fmt is None and suffix not in _EXTENSIONS:
        context.report(
            join_path(path, "path"),
            f"cannot tell the format of '{target['path']}'; add `format:` "
            "(messages, preference, datasets, jsonl, csv, parquet) or use .jsonl, .csv or .parquet",
        )
    if fmt in ("messages", "preference") and suffix != ".jsonl":
        context.report(join_path(path, "path"), f"a {fmt} export is JSONL; end the path in .jsonl")
    fitting = _FORMAT_FIELDS.get(str(fmt or ""), ())
    for name in ("prompt", "response", "system", "chosen", "rejected", "splits"):
        if name in target and name not in fitting:
            owners = [f for f, names in _FORMAT_FIELDS.items() if name in names]
            context.report(
                join_path(path, name),
                f"`{name}` applies to `format: {' or '.join(owners)}`, not to {fmt or suffix}",
            )
    splits = target.get("splits")
    if fmt == "datasets" and isinstance(splits, Mapping):
        shares = [s for s in splits.values() if isinstance(s, int | float)]
        if len(shares) == len(splits) and abs(sum(shares) - 1) > 1e-9:
            context.report(
                join_path(path, "splits"), f"the split shares must sum to 1, got {sum(shares):g}"
            )


def _export_targets(exports: Mapping[Any, Any]) -> Iterator[tuple[str, str, bool, bool]]:
    """(recipe path, file path as written, allow_outside, is a folder) of every export
    target: a `datasets` export is a folder of split files, every other one a file."""
    for key, value in exports.items():
        base = join_path("exports", key) if isinstance(key, str) else None
        if base is None:
            continue
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            path = base if index is None else join_path(base, index)
            if isinstance(item, str):
                yield path, item, False, False
            elif isinstance(item, Mapping) and isinstance(item.get("path"), str):
                outside = item.get("allow_outside") is True
                is_folder = item.get("format") == "datasets"
                yield join_path(path, "path"), item["path"], outside, is_folder


def _check_export_targets(context: _Context, exports: Mapping[Any, Any]) -> None:
    """One export per file, inside the recipe's folder unless allowed, never a folder
    (but for a `datasets` export, which is one)."""
    folder = Path(os.path.abspath(context.recipe_dir))
    claimed: dict[str, str] = {}  # normalised absolute target -> recipe path claiming it
    inputs = _input_files(context, folder)
    for path, written, allow_outside, is_folder in _export_targets(exports):
        full = Path(os.path.normpath(folder / written))
        if str(full) in inputs:
            context.report(
                path,
                f"'{written}' is read by {inputs[str(full)]}; an export would overwrite the "
                "data the recipe starts from",
            )
        elif str(full) in claimed:
            context.report(
                path,
                f"'{written}' is also the target of {claimed[str(full)]}; "
                "each file can hold one export",
            )
            continue
        claimed[str(full)] = path
        if not allow_outside and not full.is_relative_to(folder):
            context.report(
                path,
                f"'{written}' is outside the recipe's folder ({context.recipe_dir.as_posix()}); "
                f"write a path inside it, or `{{path: {written}, allow_outside: true}}` "
                "to write there on purpose",
            )
        elif full.is_dir() and not is_folder:
            context.report(path, f"'{written}' is a folder; an export target must be a file path")


# Field names that carry a credential. `api_key_env` (a variable's name) is the one door.
KEY_LIKE = re.compile(
    r"^(?:(?:x[-_])?api[-_]?key|key|(?:access|auth|bearer|id|refresh|api)?[-_]?token|secret"
    r"|\w*[-_](?:secret|password|api[-_]?key|token)|password|passwd|authorization"
    r"|credentials?|client[-_]secret)$",
    re.IGNORECASE,
)
CREDENTIAL_HINT = (
    "looks like a credential, and keys never go in a recipe (they would be sent, locked "
    "and published with it): put the key in an environment variable and name it with "
    "`api_key_env` on a model alias (`models: {mine: {model: ..., api_key_env: MY_KEY}}`)"
)
_HEADER_FIELDS = ("headers", "extra_headers", "default_headers")
# Mappings whose keys are names the user chose (steps, aliases, columns), not fields.
_NAMED = ("steps", "models", "exports", "limits", "columns")


def _check_no_keys(context: _Context, value: Any, path: str, named: bool = False) -> None:
    """A credential has one door: `api_key_env` on a model alias. A key-like field
    anywhere in the recipe (`params: {api_key: ...}`, `headers: {Authorization: ...}`)
    would be sent, cached in the lock and printed in the card, so it is an error."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_no_keys(context, item, join_path(path, index))
        return
    if not isinstance(value, Mapping):
        return
    for key, item in value.items():
        if not isinstance(key, str):
            continue
        here = join_path(path, key) if path else key
        if not named and (KEY_LIKE.match(key) or _is_auth_header(path, key)):
            location = context.parsed.key_positions.get(here) or location_of(context.parsed, here)
            message = f"'{key}' {CREDENTIAL_HINT}"
            context.problems.append(Problem(location, here, message))
            continue
        if key == "rows" and not named:
            continue  # inline seed rows are data: a column may well be called `token`
        _check_no_keys(context, item, here, named=not named and key in _NAMED)


def _is_auth_header(path: str, key: str) -> bool:
    parent = path.rpartition(".")[2]
    return parent in _HEADER_FIELDS and key.lower() in ("authorization", "proxy-authorization")


def _input_files(context: _Context, folder: Path) -> dict[str, str]:
    """Normalised absolute path -> the recipe path reading it, for every data file a
    step reads (seed `path:` and its glob's matches, `against:`, check `reference:`)."""
    found: dict[str, str] = {}
    for name, step in context.steps.items():
        if not isinstance(step, Mapping):
            continue
        written = list(_strings(step.get("path"), f"steps.{name}.path"))
        written += [(p, r) for p, r in _strings(step.get("against"), f"steps.{name}.against")]
        checks = step.get("checks")
        for index, check in enumerate(checks if isinstance(checks, list) else []):
            for kind, config in check.items() if isinstance(check, Mapping) else ():
                if isinstance(config, Mapping) and isinstance(config.get("reference"), str):
                    path = f"steps.{name}.checks.{index}.{kind}.reference"
                    written.append((path, config["reference"]))
        for path, value in written:
            matches = (
                glob.glob(str(folder / value), recursive=True)
                if glob.has_magic(value)
                else [str(folder / value)]
            )
            for match in matches:
                found.setdefault(os.path.normpath(match), path)
    return found


def _check_cycles(context: _Context, edges: Mapping[str, list[tuple[str, str]]]) -> None:
    """Report each dependency cycle once, as `a -> b -> a`, where its first edge is written.

    A depth-first walk with its own stack, so a chain of thousands of steps cannot
    exhaust Python's recursion limit.
    """
    done: set[str] = set()
    reported: set[frozenset[str]] = set()
    for root in edges:
        if root in done:
            continue
        path = [root]
        on_path = {root}
        pending = [iter(edges.get(root, ()))]
        while pending:
            edge = next(pending[-1], None)
            if edge is None:
                pending.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            target = edge[0]
            if target in on_path:
                cycle = path[path.index(target) :]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    second = [*cycle, target][1]
                    where = next(p for t, p in edges[cycle[0]] if t == second)
                    context.report(where, f"dependency cycle: {' -> '.join([*cycle, target])}")
            elif target not in done:
                path.append(target)
                on_path.add(target)
                pending.append(iter(edges.get(target, ())))
