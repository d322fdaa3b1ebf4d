"""Compile a Recipe into a Plan: an ordered tuple of small passes `Plan -> Plan`.

    resolve_references -> apply_defaults -> check_columns -> hash_files -> fingerprint -> mark_status

Each pass can be tested alone. `compile_plan` never calls a model; the only thing it
reads from disk is the content of files the recipe references (their hashes are part
of the fingerprint), skipping the re-hash when size and mtime match the lock's hints.
"""

from __future__ import annotations

import glob
import heapq
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from synthc.datafiles import looks_like_file
from synthc.errors import Problem, RecipeError, sorted_problems
from synthc.fingerprint import file_sha256, fingerprint
from synthc.llm.models import DEFAULT_MODEL
from synthc.plan.checks import checks_current, private_sources
from synthc.plan.model import FRESH, MISSING, STALE, Pass, Plan, PlannedStep, step_fingerprint
from synthc.plan.references import (
    StepReferences,
    check_checks,
    check_default_prompt,
    check_input_columns,
    check_sql,
    check_templates,
)
from synthc.recipe.load import Recipe, Step
from synthc.recipe.sqlcheck import Binder
from synthc.steps import registry
from synthc.steps.kind import StepKind
from synthc.store.exports import export_status
from synthc.store.lock import LockEntry, LockState


def compile_plan(
    recipe: Recipe,
    state: LockState | None = None,
    *,
    output_exists: Callable[[str, str], bool] | None = None,
) -> Plan:
    """Compile `recipe` against the previous build's `state` (the lock).

    `output_exists(step, data_version)` lets the caller report a step whose stored
    output has gone missing; by default outputs are assumed present. Raises
    `RecipeError` with every problem found. Example::

        plan = compile_plan(load_recipe("recipe.yaml"), read_lock(Path("recipe.lock")))
        for step in plan.steps:
            print(step.name, step.status, step.stale_reason)
    """
    plan = Plan(recipe=recipe, steps=(), state=state or LockState())
    for compiler_pass in PASSES:
        plan = compiler_pass(plan)
    if output_exists is not None:
        plan = mark_missing_outputs(plan, output_exists)
    return mark_stale_exports(plan)


def static_problems(recipe: Recipe, broken: frozenset[str] = frozenset()) -> list[Problem]:
    """The problems the checking passes find in `recipe` (references, columns, SQL),
    without raising. `broken` names steps the loader already rejected (left out of
    `recipe`), so their problems and those of the steps that did load come out together."""
    plan = Plan(recipe=recipe, steps=(), broken=broken)
    try:
        for compiler_pass in CHECKING_PASSES:
            plan = compiler_pass(plan)
    except RecipeError as error:  # a cycle: nothing further can be checked
        return [*plan.problems, *error.problems]
    return list(plan.problems)


def stop_on_problems(plan: Plan) -> Plan:
    """Raise every problem the checking passes found, once, in file order."""
    if plan.problems:
        raise RecipeError(sorted_problems(plan.problems))
    return plan


# -- pass 1: references and order ------------------------------------------------------


def step_inputs(step: Step, names: set[str]) -> tuple[str, ...]:
    """`from:` plus every `against:` entry that names a step (the rest are files)."""
    inputs = list(step.inputs)
    for ref in step.config.get("against", ()) or ():
        if isinstance(ref, str) and ref in names and ref not in inputs:
            inputs.append(ref)
    return tuple(inputs)


def topological_order(edges: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Kahn's algorithm, ties broken by name, so the same recipe always prints the same plan."""
    children: dict[str, list[str]] = {name: [] for name in edges}
    waiting = {name: 0 for name in edges}
    for name, inputs in edges.items():
        for parent in inputs:
            if parent in children:
                children[parent].append(name)
                waiting[name] += 1
    ready = [name for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for child in children[name]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, child)
    if len(order) != len(edges):
        stuck = sorted(set(edges) - set(order))
        raise RecipeError([Problem(None, "steps", f"dependency cycle among: {', '.join(stuck)}")])
    return order


def resolve_references(plan: Plan) -> Plan:
    recipe = plan.recipe
    kinds = registry()
    names = set(recipe.steps)
    problems: list[Problem] = []
    edges = {name: step_inputs(step, names) for name, step in recipe.steps.items()}
    for name, step in recipe.steps.items():
        kind = kinds.get(step.kind)
        if kind is not None and kind.run is None:
            problems.append(
                Problem(
                    recipe.where(f"steps.{name}.kind"),
                    f"steps.{name}.kind",
                    f"step kind '{step.kind}' is not implemented yet in this version of synthc; "
                    f"implemented kinds: {', '.join(sorted(k for k, v in kinds.items() if v.run))}",
                )
            )
        for parent in edges[name]:
            if parent not in names and parent not in plan.broken:
                problems.append(
                    Problem(
                        recipe.where(f"steps.{name}.from"),
                        f"steps.{name}.from",
                        f"unknown step '{parent}'; steps: {', '.join(sorted(names))}",
                    )
                )
    order = topological_order(edges)
    steps = tuple(
        PlannedStep(
            name=name, kind=recipe.steps[name].kind, step=recipe.steps[name], inputs=edges[name]
        )
        for name in order
    )
    return replace(plan, steps=steps).with_problems(problems)


# -- pass 2: defaults and models -------------------------------------------------------


def model_identity(recipe: Recipe, model_name: str) -> str:
    """The model part of cache keys and fingerprints (aliases resolved; never a key)."""
    from synthc.llm.models import resolve_model

    return resolve_model(model_name, recipe).identity


def apply_defaults(plan: Plan) -> Plan:
    kinds = registry()
    recipe = plan.recipe
    resolved: dict[str, PlannedStep] = {}
    for planned in plan.steps:
        kind = kinds[planned.kind]
        config: dict[str, Any] = {**kind.defaults, **planned.step.config}
        model: str | None = None
        if kind.calls_model:
            model_name = planned.step.model or recipe.model or DEFAULT_MODEL
            config["params"] = layered_params(recipe, planned.step, model_name)
            model = model_identity(recipe, model_name)
        others = _other_models(kind, config)
        models = {field: model_identity(recipe, name) for field, name in others}
        model_params = {name: layered_params(recipe, planned.step, name) for _f, name in others}
        resolved[planned.name] = replace(
            planned, config=config, model=model, models=models, model_params=model_params
        )
    return plan.with_steps(resolved)


def layered_params(recipe: Recipe, step: Step, model_name: str) -> dict[str, Any]:
    """The params calls to `model_name` from `step` are sent with: the recipe's, then the
    model alias's, then the step's. The only place params are layered."""
    alias = recipe.models.get(model_name)
    return {**recipe.params, **(alias.params if alias else {}), **step.params}


def _other_models(kind: StepKind, config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, model name) for the models a step names besides `model:` (teacher,
    student, target, judge, judges): where their aliases point is part of its identity."""
    named: list[tuple[str, str]] = []
    for field_name in kind.model_fields:
        value = config.get(field_name)
        if isinstance(value, str):
            named.append((field_name, value))
        elif isinstance(value, list):
            named.extend(
                (f"{field_name}.{i}", v) for i, v in enumerate(value) if isinstance(v, str)
            )
    return named


def check_private_models(plan: Plan) -> Plan:
    """Rows from a `private: true` seed may reach only models that stay on this machine
    (`local/`, or an `api_base` on loopback) unless the recipe says `allow_remote: true`;
    a `privacy` check without `reference:` needs a private seed upstream."""
    from synthc.llm.models import resolve_model

    recipe = plan.recipe
    kinds = registry()
    problems: list[Problem] = []
    for planned in plan.steps:
        sources = private_sources(recipe, planned.name)
        problems += _privacy_without_seeds(planned, recipe, sources)
        if not sources or recipe.allow_remote:
            continue
        named = _other_models(kinds[planned.kind], planned.config)
        if kinds[planned.kind].calls_model:
            named.insert(0, ("model", planned.step.model or recipe.model or DEFAULT_MODEL))
        named += _check_embedders(planned, recipe)
        for field_name, model_name in named:
            spec = resolve_model(model_name, recipe)
            if spec.stays_on_machine:
                continue
            path = f"steps.{planned.name}.{field_name}"
            if path not in recipe.positions:  # the recipe-wide `model:`, or a default
                path = "model" if "model" in recipe.positions else f"steps.{planned.name}"
            shown = f"'{model_name}'" + ("" if model_name == spec.model else f" ({spec.model})")
            problems.append(
                Problem(
                    recipe.where(path),
                    path,
                    f"step '{planned.name}' reads private seed rows ({', '.join(sources)}) and "
                    f"would send them to model {shown}, which is not local or "
                    "on a loopback api_base; use a local model, or add `allow_remote: true` to "
                    "the recipe to allow it",
                )
            )
    return replace(plan, problems=(*plan.problems, *problems)) if problems else plan


def _file_order(problem: Problem) -> tuple[int, int]:
    where = problem.location
    return (where.line, where.col) if where is not None else (0, 0)


def _privacy_without_seeds(
    planned: PlannedStep, recipe: Recipe, sources: list[str]
) -> list[Problem]:
    """A `privacy` check with no `reference:` compares with the private seeds upstream:
    there must be one."""
    if sources:
        return []
    problems = []
    for index, check in enumerate(planned.step.checks):
        if check.kind == "privacy" and check.config.get("reference") is None:
            path = f"steps.{planned.name}.checks.{index}.privacy"
            problems.append(
                Problem(
                    recipe.where(path),
                    path,
                    "no `private: true` seed step is upstream of this step to compare with; "
                    "mark the seed step private, or name a `reference:`",
                )
            )
    return problems


def _check_embedders(planned: PlannedStep, recipe: Recipe) -> list[tuple[str, str]]:
    """(field, model) of each check of the step that embeds texts through a model."""
    from synthc.llm.embedders import embedding_settings
    from synthc.quality.embeddings import MINILM_NAMES
    from synthc.quality.gates import GATE_KINDS

    named = []
    for index, check in enumerate(planned.step.checks):
        gate = GATE_KINDS.get(check.kind)
        if gate is not None and gate.uses_embeddings:
            model = str(embedding_settings(check, recipe)["model"])
            if model != "tfidf" and model not in MINILM_NAMES:
                named.append((f"checks.{index}.{check.kind}.embeddings.model", model))
    return named


# -- pass 3: columns and templates -----------------------------------------------------


def check_columns(plan: Plan) -> Plan:
    """Infer each step's output columns and check what the step refers to against its
    inputs' columns: template variables, SQL, dedup columns, the columns checks read."""
    kinds = registry()
    recipe = plan.recipe
    known: dict[str, tuple[str, ...] | None] = {}
    problems: list[Problem] = []
    resolved: dict[str, PlannedStep] = {}
    with Binder(recipe.root, recipe.sql_memo) as binder:
        for planned in plan.steps:
            kind = kinds[planned.kind]
            upstream = {name: known.get(name) for name in planned.step.inputs}
            refs = StepReferences(recipe, planned.name, planned.kind, planned.config, upstream)
            check_templates(refs, kind.templates(planned.config))
            check_input_columns(refs)
            check_default_prompt(refs)
            bound = check_sql(refs, binder)
            config = _with_absolute_files(kind, planned.config, recipe.root)
            columns = kind.columns(config, upstream)
            known[planned.name] = tuple(columns) if columns is not None else bound
            check_checks(refs, known[planned.name], binder)
            problems.extend(refs.problems)
            resolved[planned.name] = replace(
                planned, columns=known[planned.name], unchecked=tuple(refs.unchecked)
            )
    problems += _export_column_problems(recipe, known)
    return plan.with_steps(resolved).with_problems(problems)


def _export_column_problems(
    recipe: Recipe, known: Mapping[str, tuple[str, ...] | None]
) -> list[Problem]:
    """A trainer-format export that names a column its step will not have: found before
    any call is paid for, not after the build."""
    problems = []
    for step, exports in recipe.exports.items():
        columns = known.get(step)
        if columns is None or step not in recipe.steps:
            continue
        available = [c for c in columns if not c.startswith("_")]
        for index, export in enumerate(exports):
            for key, column in export.columns(recipe.steps[step]).items():
                if column not in columns:
                    path = f"exports.{step}.{index}"
                    problems.append(
                        Problem(
                            recipe.where(path),
                            path,
                            f"the {export.format} export reads column '{column}' (as {key}), "
                            f"which step '{step}' does not have; columns: {', '.join(available)}. "
                            f"Name the column, e.g. `prompt: {available[0] if available else 'question'}`",
                        )
                    )
    return problems


def _with_absolute_files(
    kind: StepKind, config: Mapping[str, Any], root: Path
) -> Mapping[str, Any]:
    """The config with each field that is wholly a file path made absolute, so a kind can
    read a file's columns without knowing the recipe's folder."""
    absolute = dict(config)
    for field_path, written in kind.files(config):
        if config.get(field_path) == written and not Path(written).is_absolute():
            absolute[field_path] = str(root / written)
    return absolute


# -- pass 4: referenced files ----------------------------------------------------------


def hash_files(plan: Plan) -> Plan:
    """Hash every file a step references; a glob hashes its sorted matches together.

    A file whose size and mtime equal the lock's hint keeps its recorded hash, so an
    unchanged file is not re-read; a touched but unchanged file re-hashes to the same value.
    """
    kinds = registry()
    root = plan.recipe.root
    hints: dict[str, Mapping[str, Any]] = {}
    resolved: dict[str, PlannedStep] = {}
    for planned in plan.steps:
        written = [path for _field, path in kinds[planned.kind].files(planned.config)]
        files = _hash_written(root, written, plan.state.file_hints, hints)
        check_files = _hash_written(
            root, _check_reference_files(planned), plan.state.file_hints, hints
        )
        resolved[planned.name] = replace(planned, files=files, check_files=check_files)
    return replace(plan.with_steps(resolved), file_hints=hints)


def _hash_written(
    root: Path,
    written: list[str],
    old: Mapping[str, Mapping[str, Any]],
    new: dict[str, Mapping[str, Any]],
) -> dict[str, str]:
    """path as written -> sha256 (a glob: the hash of its sorted matches and their hashes)."""
    files: dict[str, str] = {}
    for path in written:
        matches = _expand(root, path)
        digests = [_hash_with_hint(match, old, new) for match in matches]
        if glob.has_magic(path):
            named = [_display(root, match) for match in matches]
            files[path] = fingerprint(list(zip(named, digests, strict=True)))
        else:
            files[path] = digests[0]
    return files


def _check_reference_files(planned: PlannedStep) -> list[str]:
    """`reference:` values of the step's checks that are files, not steps."""
    return sorted(
        {
            ref
            for check in planned.step.checks
            if isinstance(ref := check.config.get("reference"), str) and looks_like_file(ref)
        }
    )


def _display(root: Path, path: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _expand(root: Path, written: str) -> list[Path]:
    path = Path(written) if Path(written).is_absolute() else root / written
    if glob.has_magic(written):
        return sorted(Path(p) for p in glob.glob(str(path), recursive=True))
    return [path]


def _hash_with_hint(
    path: Path, old: Mapping[str, Mapping[str, Any]], new: dict[str, Mapping[str, Any]]
) -> str:
    key = str(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        return "missing"
    hint = old.get(key)
    if hint and hint.get("size") == stat.st_size and hint.get("mtime_ns") == stat.st_mtime_ns:
        digest = str(hint["sha256"])
    else:
        digest = file_sha256(path)
    new[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
    return digest


# -- pass 5: fingerprints --------------------------------------------------------------


def fingerprint_steps(plan: Plan) -> Plan:
    """config_fingerprint = hash(kind, implementation version, resolved config, model, files)."""
    kinds = registry()
    resolved = {}
    for planned in plan.steps:
        identity: dict[str, Any] = {
            "kind": planned.kind,
            "version": kinds[planned.kind].version,
            "config": planned.config,
            "model": planned.model,
            "files": planned.files,
        }
        if planned.models:  # only when present, so other steps' fingerprints stay as they were
            identity["models"] = dict(planned.models)
            identity["model_params"] = {k: dict(v) for k, v in planned.model_params.items()}
        resolved[planned.name] = replace(planned, config_fingerprint=fingerprint(identity))
    return plan.with_steps(resolved)


# -- pass 6: fresh, stale or missing ---------------------------------------------------


def mark_status(plan: Plan) -> Plan:
    """Compare each step with the lock. Upstream steps are decided first (topological order)."""
    lock = plan.state.steps
    decided: dict[str, PlannedStep] = {}
    for planned in plan.steps:
        entry = lock.get(planned.name)
        if entry is None:
            decided[planned.name] = replace(planned, status=MISSING, stale_reason="never built")
            continue
        reason = _config_reason(planned, entry) or _upstream_reason(planned, entry, decided, lock)
        full = None
        if reason is None:
            upstream = {name: lock[name].data_version for name in planned.inputs}
            full = step_fingerprint(planned.config_fingerprint, upstream)
            if full != entry.fingerprint:
                reason = "upstream data changed"
            elif entry.failures:
                reason = f"{entry.failures} row(s) failed in the last build"
        status = FRESH if reason is None else STALE
        versions = {name: step.data_version for name, step in lock.items()}
        checks_stale = status == FRESH and not checks_current(planned, entry, versions, plan.recipe)
        decided[planned.name] = replace(
            planned, fingerprint=full, status=status, stale_reason=reason, checks_stale=checks_stale
        )
    return plan.with_steps(decided)


def _config_reason(planned: PlannedStep, entry: LockEntry) -> str | None:
    if planned.config_fingerprint == entry.config_fingerprint:
        return None
    if planned.kind != entry.kind:
        return f"kind changed: {entry.kind} -> {planned.kind}"
    keys = _changed_keys(planned.config, entry.config)
    if keys:
        return f"config changed: {', '.join(keys)}"
    changed_files = _changed_keys(planned.files, entry.files)
    if changed_files:
        return f"file changed: {', '.join(changed_files)}"
    if planned.model != entry.model:
        return f"model changed: {entry.model} -> {planned.model}"
    changed = _changed_keys(planned.models, entry.models)
    if changed:
        return "model changed: " + ", ".join(
            f"{name} {entry.models.get(name)} -> {planned.models.get(name)}" for name in changed
        )
    changed = _changed_keys(planned.model_params, entry.model_params)
    if changed:
        return "; ".join(
            f"params of model '{name}' changed: "
            + ", ".join(
                _changed_keys(
                    planned.model_params.get(name) or {}, entry.model_params.get(name) or {}
                )
            )
            for name in changed
        )
    return f"implementation of '{planned.kind}' changed"


def _changed_keys(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[str]:
    """Keys whose values differ between two mappings (present in only one counts)."""
    return sorted(
        key for key in set(new) | set(old) if fingerprint(new.get(key)) != fingerprint(old.get(key))
    )


def _upstream_reason(
    planned: PlannedStep,
    entry: LockEntry,
    decided: Mapping[str, PlannedStep],
    lock: Mapping[str, LockEntry],
) -> str | None:
    if set(planned.inputs) != set(entry.upstream):
        return f"inputs changed: {', '.join(sorted(entry.upstream)) or '(none)'} -> {', '.join(planned.inputs)}"
    for name in planned.inputs:
        parent = decided[name]
        if parent.status != FRESH:
            return f"upstream '{name}' is {parent.status}"
        if lock[name].data_version != entry.upstream[name]:
            return f"upstream '{name}' data changed"
    return None


def mark_missing_outputs(plan: Plan, output_exists: Callable[[str, str], bool]) -> Plan:
    """A fresh step whose stored output is gone is stale (and so are its descendants)."""
    decided: dict[str, PlannedStep] = {}
    for planned in plan.steps:
        entry = plan.state.steps.get(planned.name)
        gone_parent = next((n for n in planned.inputs if decided[n].status != FRESH), None)
        if (
            planned.status == FRESH
            and entry is not None
            and not output_exists(planned.name, entry.data_version)
        ):
            planned = replace(planned, status=STALE, stale_reason="stored output is missing")
        elif planned.status == FRESH and gone_parent is not None:
            planned = replace(
                planned, status=STALE, stale_reason=f"upstream '{gone_parent}' is stale"
            )
        decided[planned.name] = planned
    return plan.with_steps(decided)


# The passes that find problems; `static_problems` runs only these.
CHECKING_PASSES: tuple[Pass, ...] = (
    resolve_references,
    apply_defaults,
    check_private_models,
    check_columns,
)

PASSES: tuple[Pass, ...] = (
    *CHECKING_PASSES,
    stop_on_problems,
    hash_files,
    fingerprint_steps,
    mark_status,
)


def mark_stale_exports(plan: Plan) -> Plan:
    """The export targets of fresh steps that a build would rewrite."""
    fresh = {p.name for p in plan.steps if p.status == FRESH}
    stale = tuple(
        status
        for status in export_status(plan.recipe, plan.state)
        if status.reason and status.step in fresh
    )
    return replace(plan, stale_exports=stale) if stale else plan
