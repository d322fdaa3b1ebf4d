"""Gate identity at compile time: what a step's `checks:` verdicts depend on (settings,
reference versions, embeddings), and whether the lock's verdicts are still current.
Evaluating gates is the executor's job (`synthc.execute.gates`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synthc.fingerprint import fingerprint

if TYPE_CHECKING:
    from synthc.plan.model import PlannedStep
    from synthc.recipe.load import Recipe
    from synthc.store.lock import LockEntry


def private_sources(recipe: Recipe, name: str) -> list[str]:
    """The `private: true` seed steps whose rows can reach step `name` through `from:`
    (itself included), sorted."""
    found: set[str] = set()
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen or current not in recipe.steps:
            continue
        seen.add(current)
        step = recipe.steps[current]
        if step.kind == "seed" and step.config.get("private"):
            found.add(current)
        todo.extend(step.inputs)  # `against:` only removes rows; its rows never flow on
    return sorted(found)


def declared_checks(
    planned: PlannedStep, versions: Mapping[str, str], recipe: Recipe
) -> list[dict[str, Any]]:
    """What a gate's verdict depends on: its settings, what its reference holds (a
    file's hash, or a step's data version in `versions`) and, for checks measured on
    embeddings, which embeddings (the recipe's `embeddings:` unless the check has its
    own; absent for the default)."""
    from synthc.quality.gates import gate_kind

    declared = []
    for check in planned.step.checks:
        record: dict[str, Any] = {
            "kind": check.kind,
            "severity": check.severity,
            "config": dict(check.config),
        }
        reference = check.config.get("reference")
        if isinstance(reference, str):
            record["reference_version"] = planned.check_files.get(reference) or versions.get(
                reference
            )
        elif check.kind == "privacy":  # against the private seeds upstream
            sources = private_sources(recipe, planned.name)
            record["private_versions"] = {name: versions.get(name) for name in sources}
        if gate_kind(check.kind).uses_embeddings:
            # imported only here: the embedders' module imports numpy (~0.1 s)
            from synthc.llm.embedders import embedding_identity

            embeddings = embedding_identity(check, recipe)
            if embeddings is not None:
                record["embeddings"] = embeddings
        declared.append(record)
    return declared


def checks_current(
    planned: PlannedStep, entry: LockEntry, versions: Mapping[str, str], recipe: Recipe
) -> bool:
    """Whether the lock's gate results were measured with the checks declared now, on
    the same reference data and embeddings. `versions`: data version of each step by name."""
    declared = declared_checks(planned, versions, recipe)
    recorded = [
        {key: c.get(key) for key in d} for c, d in zip(entry.checks, declared, strict=False)
    ]
    return len(entry.checks) == len(declared) and fingerprint(recorded) == fingerprint(declared)
