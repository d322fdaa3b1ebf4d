"""A quick look at one step: run it and its ancestors in memory on the first rows.

`preview(plan, step, limit, llm)` walks the step's ancestors in plan order and runs each
with its own code, as a build would, over frames held in memory; a step whose rows do not
come from other steps (a seed, a sample) keeps only its first `limit` rows, so everything
below it works on those. Nothing is written: not the lock, the catalog, the step outputs or the
exports, and gates are not evaluated. Model calls still go through the call cache, so a
second preview after a prompt edit pays only for the prompts that changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.errors import PlanError, StepFailed, SynthcError
from synthc.execute.context import ExecStepContext, finish_frame
from synthc.plan.model import Plan
from synthc.progress import NullReporter, Reporter
from synthc.steps import registry

if TYPE_CHECKING:
    import polars as pl


def ancestors(plan: Plan, step: str) -> set[str]:
    """`step` and every step it reads from, directly or not."""
    inputs = {planned.name: planned.inputs for planned in plan.steps}
    if step not in inputs:
        from synthc.recipe.schema import did_you_mean

        known = ", ".join(inputs)
        raise PlanError(f"unknown step '{step}'{did_you_mean(step, inputs)}; steps: {known}")
    found: set[str] = set()
    todo = [step]
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(inputs[name])
    return found


def preview(
    plan: Plan, step: str, limit: int, llm: Any, reporter: Reporter | None = None
) -> pl.DataFrame:
    """The rows `step` makes from the first `limit` rows of the steps it starts from.

    Example::

        rows = preview(plan, "questions", 3, LLMClient(plan.recipe))
    """
    reporter = reporter or NullReporter()
    needed = ancestors(plan, step)
    kinds = registry()
    frames: dict[str, pl.DataFrame] = {}
    for planned in plan.steps:
        if planned.name not in needed:
            continue
        kind = kinds[planned.kind]
        if kind.run is None:
            raise StepFailed(planned.name, f"step kind '{planned.kind}' is not implemented yet")
        context = ExecStepContext(
            name=planned.name, kind=planned.kind, config=planned.config, recipe=plan.recipe,
            inputs={name: frames[name] for name in planned.inputs}, reporter=reporter,
            llm=llm if kind.calls_model else None, fingerprint="", model=planned.model,
            model_params=planned.model_params,
        )  # fmt: skip
        reporter.step_started(planned.name, planned.kind)
        try:
            frame = finish_frame(planned.name, kind.run(context))
        except SynthcError:
            raise
        except Exception as exc:
            raise StepFailed(planned.name, str(exc) or type(exc).__name__) from exc
        if not planned.inputs or planned.kind == "sample":  # rows made here, not derived
            frame = frame.head(limit)
        frames[planned.name] = frame
        reporter.step_finished(planned.name, f"{frame.height} rows (preview)")
    return frames[step]
