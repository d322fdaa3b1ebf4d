"""What a build would cost, before it runs: calls cached vs to make, tokens and dollars.

`estimate_plan` walks the plan's stale steps in order and runs each one in memory
with the step's own code, over its inputs (stored outputs of fresh steps, or the
in-memory results of stale steps estimated before it). Model-calling steps get a
`ProbeClient`: it answers from the call cache and records every miss instead of
sending it. So the estimate renders exactly the prompts the build would send, and
never calls a model, imports litellm or writes anything.

Where later calls depend on answers not yet made (the rows below a step with cache
misses, self-instruct rounds, JSON repairs, an adversarial step's target and judge),
the count comes from bounds propagated by kind (`synthc.plan.counts`): exact, a range,
or a lower bound, always labelled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from synthc.llm.calls import BUDGET, CallRequest, CallResult, completion_range, estimate_split
from synthc.llm.client import MIN_OBSERVED, LLMClient, in_request_order
from synthc.llm.models import DEFAULT_MODEL
from synthc.llm.wire import may_be_priced
from synthc.plan.counts import UNKNOWN, Bounds, step_calls, step_rows
from synthc.plan.model import FRESH, NOT_CALLED, CallEstimate, Plan, PlannedStep
from synthc.progress import NullReporter, Reporter
from synthc.recipe.providers import price_table
from synthc.steps import registry

if TYPE_CHECKING:
    import polars as pl

    from synthc.store.store import Store


class ProbeClient(LLMClient):
    """An LLMClient that never sends: cache hits are answered, misses are recorded (apart
    from those already submitted in provider batches, `in_batches`: key -> batch)."""

    def __init__(self, recipe: Any, in_batches: Mapping[str, str] | None = None) -> None:
        super().__init__(recipe)
        self.misses: dict[str, CallRequest] = {}
        self.hits: set[str] = set()
        self.in_batches = in_batches or {}
        self.pending: dict[str, str] = {}  # key -> batch, for misses a batch carries
        # model -> completion tokens of each cached answer the step got
        self.answer_lengths: dict[str, list[int]] = {}

    def complete(
        self,
        requests: Sequence[CallRequest],
        step: str = "",
        reporter: Reporter | None = None,
        refresh: bool = False,
    ) -> list[CallResult]:
        keys, found, pending = self.lookup(requests, refresh)
        for key, result in found.items():
            if key not in self.hits:
                self.hits.add(key)
                self.answer_lengths.setdefault(result.model, []).append(result.completion_tokens)
        found.update(self._not_called(pending))
        return in_request_order(keys, requests, found)

    async def _call_all(
        self, pending: Mapping[str, CallRequest], step: str, reporter: Reporter | None
    ) -> dict[str, CallResult]:
        return self._not_called(pending)  # `call_misses` on a probe sends nothing either

    def _not_called(self, pending: Mapping[str, CallRequest]) -> dict[str, CallResult]:
        """Record the misses (or the batches carrying them); each a result not called."""
        for key, request in pending.items():
            if key in self.in_batches:
                self.pending[key] = self.in_batches[key]
            else:
                self.misses[key] = request
        return {
            key: CallResult(key, request.row_id, request.model, None, error=NOT_CALLED,
                            error_class="NotCalled", error_kind=BUDGET)
            for key, request in pending.items()
        }  # fmt: skip

    def forget(self, keys: Any) -> None:
        """Estimating must not change the cache."""


# More calls than this in one step are counted from its rows, not rendered one by one
# (rendering a prompt each would hold them all in memory).
PROBE_LIMIT = 200_000

# Kinds whose calls are all known once their input rows are: no answer decides on
# further calls (no JSON repairs, no second stage).
_SINGLE_PASS = ("distill", "augment")


def estimate_plan(plan: Plan, store: Store) -> dict[str, CallEstimate]:
    """Estimate every stale model-calling step of `plan` (steps calling no model are
    run in memory only as far as their outputs feed one).

    Each step's rows are bounded by kind from its inputs' rows (`synthc.plan.counts`),
    so a step below one whose calls are not made yet still gets bounds on its calls:
    the rows not generated yet count as calls to make.
    """
    from synthc.llm.batch import pending_calls

    kinds = registry()
    in_batches = pending_calls(store.batch_ledger().load())
    needed = _steps_feeding_models(plan)
    frames: dict[str, pl.DataFrame | None] = {}
    rows: dict[str, Bounds] = {}
    complete: set[str] = set()  # steps whose in-memory output is their whole output
    estimates: dict[str, CallEstimate] = {}
    for planned in plan.steps:
        if planned.name not in needed:
            continue
        if planned.status == FRESH:
            entry = plan.state.steps[planned.name]
            frames[planned.name] = store.read_step(planned.name, entry)
            rows[planned.name] = Bounds.exactly(entry.rows)
            complete.add(planned.name)
            continue
        calls_model = kinds[planned.kind].calls_model
        input_rows = [rows.get(name, UNKNOWN) for name in planned.step.inputs]
        if calls_model and step_calls(planned.kind, planned.config, input_rows).low > PROBE_LIMIT:
            frames[planned.name] = None  # too many prompts to render in memory: count them
            rows[planned.name] = step_rows(planned.kind, planned.config, input_rows)
            estimates[planned.name] = _counted(planned, input_rows)
            continue
        probe = ProbeClient(plan.recipe, in_batches) if calls_model else None
        frame = _run_on_inputs(plan, planned, frames, probe)
        frames[planned.name] = frame
        whole = frame is not None and all(name in complete for name in planned.inputs)
        if whole and (probe is None or not (probe.misses or probe.pending)):
            complete.add(planned.name)
            rows[planned.name] = Bounds.exactly(frame.height if frame is not None else 0)
        else:
            rows[planned.name] = step_rows(planned.kind, planned.config, input_rows)
        if probe is not None:
            probe.close()
            estimates[planned.name] = _estimate(planned, probe, plan, store, whole, input_rows)
    return estimates


class StepTally:
    """A step's calls as the build's own client meets them, before any is sent: cache
    hits, misses and calls waiting in provider batches, as a `ProbeClient` would record
    them. For a single-pass step (every call known from its input rows) that is the
    estimate `plan` gives, counted without rendering the prompts a second time."""

    def __init__(self, client: LLMClient, step: str, in_batches: Mapping[str, str]) -> None:
        self.client, self.step, self.in_batches = client, step, in_batches
        self.misses: dict[str, CallRequest] = {}
        self.hits: set[str] = set()
        self.pending: dict[str, str] = {}
        self.answer_lengths: dict[str, list[int]] = {}

    def resolve(self, name: str) -> Any:
        return self.client.resolve(name)

    def params_for(self, request: CallRequest) -> dict[str, Any]:
        return self.client.params_for(request)

    def saw(
        self, step: str, found: Mapping[str, CallResult], pending: Mapping[str, CallRequest]
    ) -> None:
        """`LLMClient.observer`: one `complete` call's hits and misses."""
        if step != self.step:
            return
        for key, result in found.items():
            self._hit(key, result.model, result.completion_tokens)
        for key, request in pending.items():
            if key in self.in_batches:
                self.pending[key] = self.in_batches[key]
            else:
                self.misses[key] = request

    def kept(self, calls: pl.DataFrame) -> None:
        """The `_calls` of rows the build kept from the last one (`synthc.execute.reuse`):
        cache hits, as a full re-run would have met them."""
        columns = ("call_key", "model", "completion_tokens")
        for key, model, tokens in calls.select(columns).iter_rows():
            self._hit(key, model, tokens)

    def _hit(self, key: str, model: str, completion_tokens: int) -> None:
        # a key this step sent earlier is a miss to the probe, which never stores
        if key not in self.hits and key not in self.misses and key not in self.pending:
            self.hits.add(key)
            self.answer_lengths.setdefault(model, []).append(completion_tokens)


class AsBuilt:
    """What `estimated_as_built` yields: `estimate()` once the step has run, and `kept`
    to be told the calls of rows the build kept instead of running them."""

    def __init__(
        self,
        estimate: Callable[[], CallEstimate],
        kept: Callable[[pl.DataFrame], None] | None = None,
    ) -> None:
        self.estimate = estimate
        self.kept = kept or (lambda calls: None)


@contextmanager
def estimated_as_built(
    plan: Plan,
    planned: PlannedStep,
    inputs: Mapping[str, pl.DataFrame],
    llm: Any,
    store: Store,
    refresh: bool,
) -> Iterator[AsBuilt]:
    """Around a step the build runs: yields the function giving the estimate `plan`
    would give the step over these inputs (its calls cached vs to make, tokens, dollars),
    and the hook row reuse tells the calls of the rows it kept.

    A single-pass step on the build's own client is counted from the keys the client
    computes anyway (`StepTally`); any other step is run in memory on a `ProbeClient`
    first, as `estimate_plan` does. Call the function once the step has run, before
    its output is written (the previous build's `_calls` prices the answers)."""
    from synthc.llm.batch import pending_calls

    in_batches = pending_calls(store.batch_ledger().load())
    input_rows = [
        Bounds.exactly(inputs[name].height) if name in inputs else UNKNOWN
        for name in planned.step.inputs
    ]
    if step_calls(planned.kind, planned.config, input_rows).low > PROBE_LIMIT:
        counted = _counted(planned, input_rows)
        yield AsBuilt(lambda: counted)
        return
    single_pass = planned.kind in _SINGLE_PASS or (
        planned.kind == "generate" and planned.config.get("parse") != "json"
    )
    if single_pass and not refresh and isinstance(llm, LLMClient) and llm.observer is None:
        tally = StepTally(llm, planned.name, in_batches)
        llm.observer = tally.saw
        try:
            yield AsBuilt(
                lambda: _estimate(planned, tally, plan, store, True, input_rows), tally.kept
            )
        finally:
            llm.observer = None
        return
    probe = ProbeClient(plan.recipe, in_batches)
    try:
        frame = _run_on_inputs(plan, planned, inputs, probe)
    finally:
        probe.close()
    estimate = _estimate(planned, probe, plan, store, frame is not None, input_rows)
    yield AsBuilt(lambda: estimate)  # the probe ran every row up front


def _counted(planned: PlannedStep, input_rows: list[Bounds]) -> CallEstimate:
    """Calls counted from rows alone, for a step with more prompts than `plan` renders."""
    calls = step_calls(planned.kind, planned.config, input_rows)
    return CallEstimate(
        planned.name, to_make=0, to_make_max=calls.high,  # the cache may hold some
        tokens=None, tokens_max=None, usd=None, usd_max=None, tokens_expected=None,
        usd_expected=None,
    )  # fmt: skip


def _run_on_inputs(
    plan: Plan,
    planned: PlannedStep,
    frames: Mapping[str, pl.DataFrame | None],
    probe: ProbeClient | None,
) -> pl.DataFrame | None:
    """The step run in memory over its inputs' in-memory rows; None if an input has none."""
    from synthc.execute.context import ExecStepContext

    upstream = {name: frames.get(name) for name in planned.inputs}
    inputs = {name: frame for name, frame in upstream.items() if frame is not None}
    if len(inputs) < len(upstream):
        return None
    context = ExecStepContext(
        name=planned.name, kind=planned.kind, config=planned.config, recipe=plan.recipe,
        inputs=inputs, reporter=NullReporter(),
        llm=probe, fingerprint="", model=planned.model,
        model_params=planned.model_params,
    )  # fmt: skip
    return _run_quietly(planned, context)


def _estimate(
    planned: PlannedStep,
    probe: ProbeClient | StepTally,
    plan: Plan,
    store: Store,
    whole: bool,
    input_rows: list[Bounds],
) -> CallEstimate:
    """The probe's count where it is the whole story, else bounds from the input rows:
    every call the bounds allow beyond those the probe saw is a call to make."""
    estimate = _summarise(planned.name, probe, plan, _observed(planned, probe, plan, store))
    misses = len(probe.misses)
    single_pass = planned.kind in _SINGLE_PASS or (
        planned.kind == "generate" and planned.config.get("parse") != "json"
    )
    if whole and (not misses or single_pass):
        return estimate  # every call was rendered: exact
    total = step_calls(planned.kind, planned.config, input_rows)
    seen = misses + len(probe.hits) + len(probe.pending)
    # Rows with identical prompts share one call, and rows not generated yet may repeat
    # each other (a model at temperature 0), so of their calls only one is certain.
    low = misses + min(1, max(0, total.low - seen))
    high = None if total.high is None else max(low, misses + max(0, total.high - seen))
    tokens = [
        _per_call(t, misses)
        for t in (estimate.tokens, estimate.tokens_expected, estimate.tokens_max)
    ]
    usd = [_per_call(u, misses) for u in (estimate.usd, estimate.usd_expected, estimate.usd_max)]
    if _all_local(planned, plan, probe):
        usd = [0.0, 0.0, 0.0]  # a local model costs nothing, whatever its calls
    estimate.to_make, estimate.to_make_max = low, high
    estimate.tokens, estimate.tokens_expected, estimate.tokens_max = _scaled(tokens, low, high, int)
    estimate.usd, estimate.usd_expected, estimate.usd_max = _scaled(usd, low, high, float)
    return estimate


def _per_call(total: float | None, calls: int) -> float | None:
    return total / calls if calls and total is not None else None


def _scaled(
    per_call: list[float | None], low: int, high: int | None, kind: Callable[[float], Any]
) -> tuple[Any, Any, Any]:
    """(low, expected, high) of per-call (low, expected, high) figures over `low`..`high`
    calls (the expectation at the fewest calls); None where unknown."""
    least, expected, most = per_call
    if least is None or expected is None or most is None:
        return (kind(0),) * 3 if high == 0 else (None, None, None)
    return kind(least * low), kind(expected * low), None if high is None else kind(most * high)


def _all_local(planned: PlannedStep, plan: Plan, probe: ProbeClient | StepTally) -> bool:
    """True when every model the step names runs locally (and so is free)."""
    names = [planned.step.model or plan.recipe.model or DEFAULT_MODEL]
    names += [name for name in planned.model_params]  # the other models, by name as written
    return all(probe.resolve(name).is_local for name in names)


def _run_quietly(planned: PlannedStep, context: Any) -> pl.DataFrame | None:
    """The step's output, or None when it cannot run on a cache-only client."""
    kind = registry()[planned.kind]
    assert kind.run is not None
    try:
        return kind.run(context)
    except Exception:  # a step may refuse to go on without answers; the count so far stands
        return None


def _summarise(
    step: str, probe: ProbeClient | StepTally, plan: Plan, observed: Mapping[str, float]
) -> CallEstimate:
    """The probe's misses counted and priced: prompts as rendered, each answer between
    nothing and `max_tokens`, expected at the observed mean of the step's answers from
    that model (`observed`, by model string) when known, else a share of `max_tokens`."""
    misses = len(probe.misses)
    estimate = CallEstimate(step, cached=len(probe.hits), to_make=misses, to_make_max=misses,
                            pending=len(probe.pending),
                            batches=tuple(sorted(set(probe.pending.values()))))  # fmt: skip
    tokens, usd = [0, 0, 0], [0.0, 0.0, 0.0]  # low, expected, high
    priced = True
    rates: dict[str, tuple[float, float] | None] = {}  # by model: one table lookup each
    for request in probe.misses.values():
        spec = probe.resolve(request.model)
        params = probe.params_for(request)
        prompt, _ = estimate_split(request.messages, params)
        answers = completion_range(params, observed.get(spec.model))
        if request.model not in rates:
            local = spec.is_local
            rates[request.model] = (
                (0.0, 0.0) if local else price_per_token(spec.model, spec.batch is not None)
            )
        rate = rates[request.model]
        priced = priced and rate is not None
        for i, answer in enumerate(answers):
            tokens[i] += prompt + answer
            if rate is not None:
                usd[i] += prompt * rate[0] + answer * rate[1]
    estimate.tokens, estimate.tokens_expected, estimate.tokens_max = tokens
    if priced:
        estimate.usd, estimate.usd_expected, estimate.usd_max = usd
    else:
        estimate.usd = estimate.usd_expected = estimate.usd_max = None
    return estimate


def _observed(
    planned: PlannedStep, probe: ProbeClient | StepTally, plan: Plan, store: Store
) -> dict[str, float]:
    """Mean completion tokens of the step's answers, by model string: from the cached
    answers the probe met, else from the `_calls` of the step's previous build."""
    means = {
        model: sum(counts) / len(counts)
        for model, counts in probe.answer_lengths.items()
        if len(counts) >= MIN_OBSERVED
    }
    entry = plan.state.steps.get(planned.name)
    path = store.aux_tables(planned.name, entry.data_version).get("_calls") if entry else None
    if path is None:
        return means
    import polars as pl

    answered = pl.read_parquet(path, columns=["model", "completion_tokens", "error"]).filter(
        pl.col("error").is_null() & (pl.col("completion_tokens") > 0)
    )
    for model, counts in answered.group_by("model").agg(pl.col("completion_tokens")).iter_rows():
        if model not in means and len(counts) >= MIN_OBSERVED:
            means[model] = sum(counts) / len(counts)
    return means


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


def price_per_token(model: str, batch: bool = False) -> tuple[float, float] | None:
    """(prompt, completion) dollars per token for a litellm model string, if priced.

    With `batch`, the provider's batch-API rates: the table's `*_batches` prices where
    it has them, else half the direct ones, as litellm's `batch_cost_calculator`
    assumes (OpenAI, Anthropic and Vertex batches cost half), so `plan` and the build's
    `_calls` agree."""
    names = [name for name in (model, model.partition("/")[2]) if name]
    if not may_be_priced(*names):
        return None  # not in the table's text: no need to parse it (~0.1-0.25 s)
    table = price_table()
    for name in names:
        entry = table.get(name)
        if isinstance(entry, dict) and "input_cost_per_token" in entry:
            prompt = float(entry["input_cost_per_token"])
            completion = float(entry.get("output_cost_per_token", 0.0))
            if not batch:
                return prompt, completion
            return (float(entry.get("input_cost_per_token_batches", prompt / 2)),
                    float(entry.get("output_cost_per_token_batches", completion / 2)))  # fmt: skip
    return None
