"""Quality gates inside a build: evaluate a step's `checks:` and record the verdicts.

The checks themselves are pure functions in `synthc.quality.gates`; this module feeds
them the step's rows and references, turns results into JSON-ready lock records
(`LockEntry.checks`, in declaration order) and the `_checks` table, and says whether an
error-level gate failed (which stops the steps downstream and the exports).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from synthc.errors import StepFailed
from synthc.plan.checks import declared_checks, private_sources

if TYPE_CHECKING:
    import polars as pl

    from synthc.plan.model import PlannedStep
    from synthc.progress import Reporter
    from synthc.recipe.load import Recipe
    from synthc.steps.kind import StepContext
    from synthc.store.store import Store

FAILED_ROWS_KEPT = 20  # failing rows recorded in the lock per check; the rest are in the data
GATE_TABLES = (
    "_privacy_matches",
    "_balance",
    "_attack_success",
    "_attributes",
)  # tables gates emit, rewritten when gates re-run


def evaluate_gates(
    planned: PlannedStep,
    step_ctx: StepContext,
    frame: pl.DataFrame,
    references: Mapping[str, pl.DataFrame],
    versions: Mapping[str, str],
) -> tuple[dict[str, Any], ...]:
    """Evaluate the step's `checks:` on its rows; JSON-ready records for the lock.

    A check that cannot be evaluated (missing column, unknown reference) fails the step:
    it is a mistake in the recipe, not a verdict on the data.
    """
    if not planned.step.checks:
        return ()
    from synthc.llm.embedders import embedder_for, embedding_settings
    from synthc.quality.gates import ATTRIBUTES_TABLE, evaluate_check, gate_kind

    recipe = step_ctx.recipe
    records = []
    attributes: pl.DataFrame | None = None
    for index, (check, declared) in enumerate(
        zip(planned.step.checks, declared_checks(planned, versions, recipe), strict=True)
    ):
        try:
            embed = None
            if gate_kind(check.kind).uses_embeddings:
                embed = embedder_for(embedding_settings(check, recipe), recipe, step_ctx.llm)
            result = evaluate_check(check.kind, check.config, frame, references, step_ctx.sql,
                                    severity=check.severity, table=planned.name, embed=embed)  # fmt: skip
        except Exception as exc:
            raise StepFailed(planned.name, f"checks[{index}] ({check.kind}): {exc}") from exc
        for table, rows in result.tables.items():
            if table == ATTRIBUTES_TABLE:  # one row per step row: a column per attribute
                attributes = rows if attributes is None else _side_by_side(attributes, rows)
            else:
                step_ctx.emit(table, rows)
        failing = result.failing_rows
        record = {
            **declared,
            "status": result.status,
            "figure": _finite(result.figure),
            "threshold": result.threshold,
            "message": result.message,
            "details": {name: _finite(value) for name, value in result.details.items()},
            "failing_rows": json.loads(failing.head(FAILED_ROWS_KEPT).write_json())
            if failing is not None
            else [],
        }
        # numpy scalars and dates become plain JSON values, so the lock can be written.
        records.append(json.loads(json.dumps(record, default=_plain)))
    if attributes is not None:
        step_ctx.emit(ATTRIBUTES_TABLE, attributes)
    return tuple(records)


def _side_by_side(first: pl.DataFrame, second: pl.DataFrame) -> pl.DataFrame:
    """Two checks' derived attributes of the same rows: their columns side by side (a
    later attribute of the same name replaces the earlier one)."""
    kept = first.drop([c for c in second.columns if c != "_id"], strict=False)
    return kept.hstack(second.drop("_id").get_columns())


def _finite(value: float | None) -> float | None:
    """NaN and infinities have no JSON spelling; the lock records them as null."""
    return None if value is None or not math.isfinite(value) else float(value)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)


def gate_references(
    planned: PlannedStep, store: Store, versions: Mapping[str, str], recipe: Recipe
) -> dict[str, pl.DataFrame]:
    """Frames of every `reference:` the step's checks name: a step (as built) or a file."""
    import polars as pl

    from synthc.datafiles import read_files

    frames: dict[str, pl.DataFrame] = {}
    for check in planned.step.checks:
        name = check.config.get("reference")
        names = [name] if isinstance(name, str) else []
        if check.kind == "privacy" and name is None:
            names = private_sources(recipe, planned.name)
        for name in names:
            if name in frames:
                continue
            if name in recipe.steps:
                if name not in versions:
                    raise StepFailed(planned.name, f"check reference '{name}' has not been built")
                frames[name] = pl.read_parquet(store.step_path(name, versions[name]))
                _add_holdout(frames, store, name, versions[name])
            else:
                frames[name] = read_files(recipe.root, name)
    return frames


def _add_holdout(frames: dict[str, pl.DataFrame], store: Store, step: str, version: str) -> None:
    """A private seed's held-out rows and its canaries, beside its output, for the
    privacy gate."""
    import polars as pl

    from synthc.quality.canaries import CANARY_TABLE
    from synthc.quality.gates import CANARY_SUFFIX, HOLDOUT_SUFFIX
    from synthc.steps.seed import HOLDOUT_TABLE

    tables = store.aux_tables(step, version)
    for table, suffix in ((HOLDOUT_TABLE, HOLDOUT_SUFFIX), (CANARY_TABLE, CANARY_SUFFIX)):
        if table in tables:
            frames[f"{step}{suffix}"] = pl.read_parquet(tables[table])


def report_gates(
    reporter: Reporter, step: str, checks: Sequence[Mapping[str, Any]], quiet_pass: bool
) -> bool:
    """Tell the user each gate's verdict; True when an error-level gate failed."""
    failed = False
    for check in checks:
        text = f"{step}: check {check['kind']} {check['status']}: {check.get('message', '')}"
        if check["status"] == "pass":
            if not quiet_pass:
                reporter.message(text)
        elif check["status"] == "fail":
            reporter.error(text)
            failed = True
        else:
            reporter.warning(text)
    return failed


def checks_frame(checks: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """The `_checks` table: one row per gate (the catalog adds `_step`)."""
    import polars as pl

    columns = ("kind", "severity", "status", "figure", "message")
    rows = [{c: check.get(c) for c in columns} for check in checks]
    return pl.DataFrame(rows, schema_overrides={"figure": pl.Float64}, infer_schema_length=None)
