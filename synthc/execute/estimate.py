"""What a build would cost, before it runs: calls cached vs to make, tokens and dollars.

`estimate_plan` walks the plan's stale steps in order and runs each one in memory
with the step's own code, over its inputs (stored outputs of fresh steps, or the
in-memory results of stale steps estimated before it). Model-calling steps get a
`ProbeClient`: it answers from the call cache and records every miss instead of
sending it. So the estimate renders exactly the prompts the build would send, and
never calls a model, imports litellm or writes anything.

Where later calls depend on answers not yet made (the rows below a step with cache
misses, self-instruct rounds, JSON repairs), the count is a lower bound and says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from synthc.llm.calls import BUDGET, CallRequest, CallResult, estimate_tokens
from synthc.llm.client import LLMClient
from synthc.plan.model import FRESH, NOT_CALLED, CallEstimate, Plan, PlannedStep
from synthc.progress import NullReporter, Reporter
from synthc.recipe.providers import price_table
from synthc.steps import registry

if TYPE_CHECKING:
    import polars as pl

    from synthc.store.store import Store


class ProbeClient(LLMClient):
    """An LLMClient that never sends: cache hits are answered, misses are recorded."""

    def __init__(self, recipe: Any) -> None:
        super().__init__(recipe)
        self.misses: dict[str, CallRequest] = {}
        self.hits: set[str] = set()

    def complete(
        self,
        requests: Sequence[CallRequest],
        step: str = "",
        reporter: Reporter | None = None,
        refresh: bool = False,
    ) -> list[CallResult]:
        results = super().complete(requests, step, None, refresh)
        self.hits.update(r.call_key for r in results if r.cached)
        return results

    async def _call_all(
        self, pending: Mapping[str, CallRequest], step: str, reporter: Reporter | None
    ) -> dict[str, CallResult]:
        self.misses.update(pending)
        return {
            key: CallResult(key, request.row_id, request.model, None, error=NOT_CALLED,
                            error_class="NotCalled", error_kind=BUDGET)
            for key, request in pending.items()
        }  # fmt: skip

    def forget(self, keys: Any) -> None:
        """Estimating must not change the cache."""


def estimate_plan(plan: Plan, store: Store) -> dict[str, CallEstimate]:
    """Estimate every stale model-calling step of `plan` (steps calling no model are
    run in memory only as far as their outputs feed one)."""
    from synthc.execute.context import ExecStepContext

    kinds = registry()
    needed = _steps_feeding_models(plan)
    frames: dict[str, pl.DataFrame | None] = {}
    partial: set[str] = set()  # steps whose in-memory output lacks rows not yet generated
    estimates: dict[str, CallEstimate] = {}
    for planned in plan.steps:
        if planned.name not in needed:
            continue
        if planned.status == FRESH:
            entry = plan.state.steps[planned.name]
            frames[planned.name] = store.read_step(planned.name, entry)
            continue
        upstream = {name: frames.get(name) for name in planned.inputs}
        calls_model = kinds[planned.kind].calls_model
        inputs = {name: frame for name, frame in upstream.items() if frame is not None}
        if len(inputs) < len(upstream):
            frames[planned.name] = None
            if calls_model:
                estimates[planned.name] = CallEstimate(planned.name, note="after upstream steps")
            continue
        probe = ProbeClient(plan.recipe) if calls_model else None
        context = ExecStepContext(
            name=planned.name, kind=planned.kind, config=planned.config, recipe=plan.recipe,
            inputs=inputs, reporter=NullReporter(),
            llm=probe, fingerprint="", model=planned.model,
            model_params=planned.model_params,
        )  # fmt: skip
        frames[planned.name] = _run_quietly(planned, context)
        if probe is not None:
            probe.close()
            estimate = _summarise(planned.name, probe, plan)
            estimate.exact = (
                not (partial & set(planned.inputs)) and frames[planned.name] is not None
            )
            estimates[planned.name] = estimate
            if probe.misses:
                partial.add(planned.name)
        elif partial & set(planned.inputs):
            partial.add(planned.name)
    return estimates


def _run_quietly(planned: PlannedStep, context: Any) -> pl.DataFrame | None:
    """The step's output, or None when it cannot run on a cache-only client."""
    kind = registry()[planned.kind]
    assert kind.run is not None
    try:
        return kind.run(context)
    except Exception:  # a step may refuse to go on without answers; the count so far stands
        return None


def _summarise(step: str, probe: ProbeClient, plan: Plan) -> CallEstimate:
    estimate = CallEstimate(step, cached=len(probe.hits), to_make=len(probe.misses))
    for request in probe.misses.values():
        spec = probe.resolve(request.model)
        params = probe.params_for(request)
        tokens = estimate_tokens(request.messages, params)
        estimate.tokens += tokens
        rate = price_per_token(spec.model) if not spec.is_local else (0.0, 0.0)
        if rate is None or estimate.usd is None:
            estimate.usd = None
            continue
        completion = int(params.get("max_tokens") or 256)
        estimate.usd += (tokens - completion) * rate[0] + completion * rate[1]
    return estimate


def _steps_feeding_models(plan: Plan) -> set[str]:
    """Stale model-calling steps and every step upstream of them."""
    kinds = registry()
    inputs = {p.name: p.inputs for p in plan.steps}
    todo = [p.name for p in plan.steps if kinds[p.kind].calls_model and p.status != FRESH]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(inputs[name])
    return seen


def price_per_token(model: str) -> tuple[float, float] | None:
    """(prompt, completion) dollars per token for a litellm model string, if priced."""
    table = price_table()
    for name in (model, model.partition("/")[2]):
        entry = table.get(name) if name else None
        if isinstance(entry, dict) and "input_cost_per_token" in entry:
            return float(entry["input_cost_per_token"]), float(
                entry.get("output_cost_per_token", 0.0)
            )
    return None
