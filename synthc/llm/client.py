"""The LLM gateway: cache lookup, concurrent calls under per-model limits, retries,
accounting and budget. This module never imports litellm itself; `transport.py` and
`local.py` do, lazily, once a call must really be made, so a build answered from the
cache (and `synthc plan`) never pays litellm's multi-second import.

Hot path (measured on 2 cores against the loopback server, see bench/llm_throughput.py).
`litellm.acompletion` costs ~3.5 ms of CPU per call (logging objects, cost calculation,
the openai client's request building), capping one process near 260 calls/s. For
OpenAI-compatible providers (`openai/`, `hosted_vllm/`) the gateway asks litellm for the
route and parameter mapping once per (model, params), runs litellm's request transform
per call (~25 µs), and posts the body over one shared aiohttp session per endpoint;
for an endpoint litellm does not know (`wire.py`) it builds the body itself and never
imports litellm.
Whole-gateway CPU is ~0.4 ms a call, of which the durable cache write is ~0.2 ms.
Every other provider, and the local model, goes through `litellm.acompletion`;
`transport="litellm"` forces that path for everything. Misses of an alias with `batch:`
go through the provider's batch API instead (`synthc.llm.batch`), keyed the same way.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthc.errors import BatchPending
from synthc.llm.batch import PENDING, BatchLedger, BatchRunner, holdings
from synthc.llm.cache import CachedResponse, CallCache, cache_dir, call_key, rejection_reason
from synthc.llm.calls import (
    BUDGET,
    REJECTED,
    Budget,
    CallRequest,
    CallResult,
    estimate_split,
    expected_completion,
)
from synthc.llm.lanes import Lanes
from synthc.llm.limits import DEFAULT_CONCURRENCY, LOCAL_CONCURRENCY, ModelLimiter, ModelLimits
from synthc.llm.models import ModelSpec, resolve_model
from synthc.llm.params import CallParams, split_params
from synthc.llm.retry import DEADLINE_S, TIMEOUT_S, RetryPolicy, attempt
from synthc.llm.transport import CallFailure, Outcome, Transports, scrub, secret_values

if TYPE_CHECKING:
    import numpy as np

    from synthc.progress import Reporter
    from synthc.recipe.load import Recipe

# Requests keyed and looked up before their misses may go: LOOKUP_BATCH, but only
# FIRST_LOOKUP_BATCH while calls are out and none has come back yet (opening the
# connection takes a few turns of the event loop, each after a batch; the first answer
# opens the window).
FIRST_LOOKUP_BATCH = 16
LOOKUP_BATCH = 256
MIN_WORKERS = 64  # calls of one model in progress at once, at least (see `_workers`)
MIN_OBSERVED = 3  # answers of a step before their mean length is the expected completion
# (step, answers found in the cache by key, misses about to be answered by key)
Observer = Callable[[str, Mapping[str, CallResult], Mapping[str, CallRequest]], None]


class LLMClient:
    """Makes model calls for steps: cached, concurrent, rate-limited, retried, accounted.

    Example::

        client = LLMClient(recipe)
        results = client.complete(
            [CallRequest("openai/gpt-4o-mini", [{"role": "user", "content": "hi"}])],
            step="answers",
        )
        results[0].text, results[0].cached, results[0].cost_usd
    """

    def __init__(
        self,
        recipe: Recipe | None = None,
        *,
        cache_path: Path | None = None,
        limits: Mapping[str, Mapping[str, Any]] | None = None,
        budget: Mapping[str, Any] | None = None,
        spent: Mapping[str, float] | None = None,
        max_attempts: int | None = None,
        timeout: float = TIMEOUT_S,
        deadline: float = DEADLINE_S,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        transport: str = "auto",
        batches: BatchLedger | None = None,
        batch_wait: bool = True,
    ) -> None:
        """`limits` and `budget` default to the recipe's; `spent` is what the recipe's
        earlier builds spent (`calls`, `tokens`, `usd`), which a recipe-scoped budget
        counts. A call is retried until `deadline` seconds after its first request
        (a model's `deadline_s`, in `limits:` or on its alias, overrides it), each request
        given `timeout` seconds (or the model's `timeout_s`, likewise); `max_attempts`
        also caps the requests.
        `batches` records the provider batches out for aliases with `batch:` (kept in
        memory when not given); without `batch_wait`, `complete` raises `BatchPending`
        instead of waiting for them."""
        self.recipe = recipe
        state_dir = recipe.state_dir if recipe is not None else None
        self.cache = CallCache(cache_path or cache_dir(state_dir))
        self.limits = dict(limits if limits is not None else (recipe.limits if recipe else {}))
        self.batches = batches or BatchLedger()
        self.budget = Budget.from_config(
            budget if budget is not None else (recipe.budget if recipe else {}),
            spent,
            held=holdings(self.batches.load()),
        )
        self.budget.outstanding = lambda: holdings(self.batches.load())
        attempts = None if max_attempts is None else max(1, max_attempts)
        self.retry = RetryPolicy(attempts, backoff_base, backoff_max, deadline)
        self.timeout = timeout
        self.transport = transport
        self.batch_wait = batch_wait
        self.budget_stop: str | None = None  # why the budget stopped calls, if it did
        self._specs: dict[str, ModelSpec] = {}
        self._limiters: dict[str, ModelLimiter] = {}
        # (step, model) -> [answers, completion tokens]: the expected completion
        self._observed: dict[tuple[str, str], list[int]] = {}
        # Told (step, cache hits, misses) by each `complete` once every key is known (its
        # first misses may be on their way): the build counts a step's estimate from its
        # own keys (`synthc.execute.estimate`).
        self.observer: Observer | None = None

    # --- keys and the cache (no litellm) -------------------------------------------

    def resolve(self, name: str) -> ModelSpec:
        """The `ModelSpec` for an alias or a litellm model string (memoised)."""
        spec = self._specs.get(name)
        if spec is None:
            spec = self._specs[name] = resolve_model(name, self.recipe)
        return spec

    def call_params(self, request: CallRequest) -> CallParams:
        """The request's parameters (the alias's defaults under its own), sorted into
        sent, keyed and the gateway's own (`synthc.llm.params`)."""
        spec = self.resolve(request.model)
        return split_params({**spec.params, **request.params})

    def params_for(self, request: CallRequest) -> dict[str, Any]:
        """The parameters a call is sent with."""
        return dict(self.call_params(request).sent)

    def key(self, request: CallRequest) -> str:
        """The request's call key (see `synthc.llm.cache.call_key`)."""
        spec = self.resolve(request.model)
        keyed = self.call_params(request).keyed
        return call_key(spec, request.messages, keyed, request.sample_index)

    def probe(self, requests: Sequence[CallRequest]) -> list[bool]:
        """For each request, whether its answer is already cached. Never calls a model."""
        return [self.key(request) in self.cache for request in requests]

    def forget(self, keys: Sequence[str]) -> None:
        """Drop cached answers a step found unusable (e.g. JSON that never parsed), so
        the next build asks again instead of replaying the same bad answer."""
        for key in keys:
            self.cache.delete(key)

    # --- making calls ----------------------------------------------------------------

    def complete(
        self,
        requests: Sequence[CallRequest],
        step: str = "",
        reporter: Reporter | None = None,
        refresh: bool = False,
    ) -> list[CallResult]:
        """Answer every request, in order: from the cache, else by calling the model.

        Requests with the same call key are made once. Failures do not raise: they come
        back as results with `error` set (and `error_kind` "budget" for calls the
        budget stopped; `budget_stop` then says why). `refresh` skips cache lookups but
        still stores new answers. Each answer is cached the moment it arrives. Misses
        are sent as they are found: the first request goes while later ones are still
        being keyed and looked up. Calls to an alias with `batch:` go through the
        provider's batch API, once every request is keyed; when the client does not
        wait for batches, `BatchPending` is raised once every other call is answered.
        """
        keys, found = _run_coroutine(self._complete(requests, step, reporter, refresh))
        if waiting := [r for r in found.values() if r.error_kind == PENDING]:
            raise _batch_pending(step, waiting)
        return in_request_order(keys, requests, found)

    def lookup(
        self, requests: Sequence[CallRequest], refresh: bool = False
    ) -> tuple[list[str], dict[str, CallResult], dict[str, CallRequest]]:
        """Every request's key, the cached answers by key and the misses by key (each
        key once, with its first request). Never calls a model."""
        found: dict[str, CallResult] = {}
        pending: dict[str, CallRequest] = {}
        keys, _ = self._sort(requests, found, pending, refresh)
        return keys, found, pending

    def _sort(
        self,
        requests: Sequence[CallRequest],
        found: dict[str, CallResult],
        pending: dict[str, CallRequest],
        refresh: bool,
    ) -> tuple[list[str], dict[str, CallRequest]]:
        """Key `requests` and look up the keys not met before (in one query): a cached
        answer goes into `found`, a miss into `pending`. Returns the keys and the new
        misses (each key once, with its first request)."""
        keys = [self.key(request) for request in requests]
        new: dict[str, CallRequest] = {}
        for key, request in zip(keys, requests, strict=True):
            if key not in found and key not in pending and key not in new:
                new[key] = request
        hits = {} if refresh else self.cache.get_many(list(new))
        misses: dict[str, CallRequest] = {}
        for key, request in new.items():
            hit = hits.get(key)
            if hit is None:
                misses[key] = request
            else:
                found[key] = _from_cache(key, request, hit)
        pending.update(misses)
        return keys, misses

    async def _complete(
        self,
        requests: Sequence[CallRequest],
        step: str,
        reporter: Reporter | None,
        refresh: bool,
    ) -> tuple[list[str], dict[str, CallResult]]:
        """Keys and results of `complete`: requests keyed and looked up in batches (of
        up to `LOOKUP_BATCH`), each batch's misses handed to the calls before the next
        is keyed."""
        keys: list[str] = []
        found: dict[str, CallResult] = {}
        pending: dict[str, CallRequest] = {}
        calls = _Calls(self, step, reporter)
        try:
            lo = 0
            while lo < len(requests):
                size = FIRST_LOOKUP_BATCH if calls.awaiting_first_answer() else LOOKUP_BATCH
                chunk = requests[lo : lo + size]
                lo += size
                hits_before = len(found)
                chunk_keys, misses = self._sort(chunk, found, pending, refresh)
                keys += chunk_keys
                for key, request in misses.items():
                    calls.add(key, request)
                if reporter is not None and len(found) > hits_before:
                    reporter.advance(step, len(found) - hits_before)
                await asyncio.sleep(0)  # this batch's misses go before the next is keyed
            if self.observer is not None:
                self.observer(step, found, pending)
            found.update(await calls.finish())
        except Exception:
            await calls.lanes.settle()  # answers on their way are cached, the rest dropped
            raise
        finally:
            await calls.close()
        return keys, found

    def call_misses(
        self, pending: Mapping[str, CallRequest], step: str, reporter: Reporter | None
    ) -> dict[str, CallResult]:
        """Answer cache misses by key: directly, or through provider batches for aliases
        with `batch:`. Raises `BatchPending` (after every direct call is answered) when
        the client does not wait for batches still running."""
        results: dict[str, CallResult] = _run_coroutine(self._call_all(pending, step, reporter))
        if waiting := [r for r in results.values() if r.error_kind == PENDING]:
            raise _batch_pending(step, waiting)
        return results

    async def _call_all(
        self, pending: Mapping[str, CallRequest], step: str, reporter: Reporter | None
    ) -> dict[str, CallResult]:
        calls = _Calls(self, step, reporter)
        try:
            for key, request in pending.items():
                calls.add(key, request)
            return await calls.finish()
        finally:
            await calls.close()

    def embed(
        self,
        texts: Sequence[str],
        model: str,
        params: Mapping[str, Any] | None = None,
        batch_size: int = 128,
    ) -> np.ndarray:
        """One embedding row per text (as the model returns it, not normalised).

        Each text's vector comes from the cache, else from batched requests to `model`
        (an alias or a litellm embedding model string) under the same limits, retries
        and budget as completions; litellm is imported only on a miss. `params`: only
        `dimensions` is sent. Raises `EmbeddingFailed`. Example::

            vectors = client.embed(["a cat", "a dog"], "openai/text-embedding-3-small")
        """
        import numpy as np

        from synthc.llm.embed import (
            EmbeddingFailed,
            EmbedSession,
            decode,
            embed_missing,
            embedding_key,
            embedding_params,
        )

        spec = self.resolve(model)
        sent = embedding_params(spec, params)
        keys = [embedding_key(spec, text, sent) for text in texts]
        stored: dict[str, bytes] = {}
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in stored and key not in missing:
                hit = self.cache.get_embedding(key)
                if hit is None:
                    missing[key] = text
                else:
                    stored[key] = hit
        if missing:
            timeout = self.request_timeout(spec) or self.timeout
            session = EmbedSession(
                self.cache, self.budget, self.limiter(spec), self.policy(spec), timeout
            )
            try:
                stored.update(
                    _run_coroutine(embed_missing(session, spec, missing, sent, batch_size))
                )
            except EmbeddingFailed as exc:
                self.budget_stop = self.budget_stop or exc.budget_stop
                raise
        if not keys:
            return np.zeros((0, 0))
        return np.stack([decode(stored[key]) for key in keys])

    def limiter(self, spec: ModelSpec) -> ModelLimiter:
        limiter = self._limiters.get(spec.model)
        if limiter is None:
            config = self.limits.get(spec.name) or self.limits.get(spec.model)
            default = LOCAL_CONCURRENCY if spec.is_local else DEFAULT_CONCURRENCY
            declared = bool(config and config.get("concurrency"))
            limits = ModelLimits.from_config(config, default)
            limiter = ModelLimiter(limits, spec.name, declared=declared)
            self._limiters[spec.model] = limiter
        return limiter

    def policy(self, spec: ModelSpec) -> RetryPolicy:
        """The retry policy for `spec`: the client's, with the model's `deadline_s`
        (its `limits:` entry's, else its alias's)."""
        deadline = self.limiter(spec).limits.deadline_s or spec.deadline_s
        return (
            self.retry if deadline is None else dataclasses.replace(self.retry, deadline_s=deadline)
        )

    def request_timeout(self, spec: ModelSpec) -> float | None:
        """The model's own request timeout: its `limits:` entry's `timeout_s`, else its
        alias's; None leaves the call's `timeout` param or the client's."""
        return self.limiter(spec).limits.timeout_s or spec.timeout_s

    def _expected(self, step: str, spec: ModelSpec, params: Mapping[str, Any]) -> int:
        seen = self._observed.get((step, spec.model))
        mean = seen[1] / seen[0] if seen and seen[0] >= MIN_OBSERVED else None
        return expected_completion(params, mean)

    async def _call(
        self,
        transports: Transports,
        key: str,
        request: CallRequest,
        step: str = "",
        waited: float = 0.0,
    ) -> CallResult:
        """One call: budget, limiter, retries; `waited` is the time it waited to start."""
        spec = self.resolve(request.model)
        call_params = self.call_params(request)
        params = dict(call_params.sent)
        if self.budget_stop is not None:
            message = "budget " + self.budget_stop
            return _failed(key, request, spec, message, "BudgetExceeded", BUDGET, 0)
        prompt_estimate, _ = estimate_split(request.messages, params)
        estimate = prompt_estimate + self._expected(step, spec, params)
        reserved = [0, 0.0]  # what the budget holds for this call: tokens, dollars

        def admit() -> CallFailure | None:
            """Reserve the budget as the request is about to go, with the completion
            expected by then (the step's answers so far)."""
            held = self._reserve(step, spec, params, prompt_estimate, transports.cost)
            if isinstance(held, CallFailure):
                return held
            reserved[:] = held
            return None

        timeout = self.request_timeout(spec) or _param_timeout(call_params)

        async def send() -> tuple[Outcome, int]:
            outcome = await transports.send(
                spec, request.messages, params, request.sample_index, timeout
            )
            return outcome, outcome.prompt_tokens + outcome.completion_tokens

        tried = await attempt(send, self.limiter(spec), estimate, self.policy(spec), admit)
        if tried.value is not None:
            seen = self._observed.setdefault((step, spec.model), [0, 0])
            seen[0] += 1
            seen[1] += tried.value.completion_tokens
            result = self._succeeded(transports, key, request, spec, tried.value, tried.attempts,
                                     int(reserved[0]), reserved[1])  # fmt: skip
            queued = waited + tried.queued_s
            return dataclasses.replace(result, latency_s=tried.latency_s, queued_s=queued)
        assert tried.failure is not None
        if tried.attempts:
            self.budget.settle(int(reserved[0]), reserved[1], 0, 0.0)
        elif tried.failure.kind != BUDGET and reserved[0]:
            self.budget.cancel(int(reserved[0]), reserved[1])
        message = scrub(tried.failure.message, secret_values(spec))
        if not tried.attempts and tried.failure.kind != BUDGET:
            message = f"not sent: {message}"
        failed = _failed(key, request, spec, message, tried.failure.error_class,
                         tried.failure.kind, tried.attempts, tried.latency_s)  # fmt: skip
        return dataclasses.replace(failed, queued_s=waited + tried.queued_s)

    def _succeeded(
        self,
        transports: Transports,
        key: str,
        request: CallRequest,
        spec: ModelSpec,
        outcome: Outcome,
        attempts: int,
        estimate: int,
        estimate_usd: float,
    ) -> CallResult:
        cost = transports.cost(spec, outcome.prompt_tokens, outcome.completion_tokens)
        self.budget.settle(
            estimate, estimate_usd, outcome.prompt_tokens + outcome.completion_tokens, cost or 0.0
        )
        return self.answered(key, request, spec, outcome, cost, attempts=attempts)

    def answered(
        self,
        key: str,
        request: CallRequest,
        spec: ModelSpec,
        outcome: Outcome,
        cost: float | None,
        batch_id: str | None = None,
        attempts: int = 1,
    ) -> CallResult:
        """The result of an answer that arrived (directly or in a batch): cached at once
        when usable, else a rejection that keeps its accounting."""
        allow_truncated = self.call_params(request).allow_truncated
        reason = rejection_reason(outcome.text, outcome.finish_reason, allow_truncated)
        if reason is not None:
            failed = _failed(key, request, spec, reason, "RejectedResponse", REJECTED, attempts)
            return dataclasses.replace(
                failed,
                finish_reason=outcome.finish_reason,
                prompt_tokens=outcome.prompt_tokens,
                completion_tokens=outcome.completion_tokens,
                cost_usd=cost,
                batch_id=batch_id,
            )
        assert outcome.text is not None
        cached = CachedResponse(outcome.text, outcome.finish_reason, outcome.prompt_tokens,
                                outcome.completion_tokens, cost, spec.model)  # fmt: skip
        self.cache.put(key, cached)
        return CallResult(key, request.row_id, spec.model, outcome.text, outcome.finish_reason,
                          outcome.prompt_tokens, outcome.completion_tokens, cost, 0.0,
                          cached=False, attempts=attempts, batch_id=batch_id)  # fmt: skip

    def reserve_batch(
        self, step: str, request: CallRequest, spec: ModelSpec, transports: Transports
    ) -> tuple[int, float] | CallFailure:
        """Hold the budget for a batch line (its prompt and expected completion at the
        batch price), or say why the budget refuses it."""
        if self.budget_stop is not None:
            return CallFailure(BUDGET, "BudgetExceeded", "budget " + self.budget_stop)
        params = self.params_for(request)
        prompt, _ = estimate_split(request.messages, params)
        return self._reserve(step, spec, params, prompt, transports.batch_cost)

    def _reserve(
        self,
        step: str,
        spec: ModelSpec,
        params: Mapping[str, Any],
        prompt: int,
        price: Callable[[ModelSpec, int, int], float | None],
    ) -> tuple[int, float] | CallFailure:
        """Hold the budget for a call's prompt and expected completion at `price`, or
        say why the budget refuses it (and stop the build's later calls)."""
        completion = self._expected(step, spec, params)
        usd = price(spec, prompt, completion) or 0.0
        stop = self.budget.reserve(prompt + completion, usd)
        if stop is not None:
            self.budget_stop = self.budget_stop or stop
            return CallFailure(BUDGET, "BudgetExceeded", "budget " + stop)
        return prompt + completion, usd

    def settle_batch(self, tokens: int, usd: float, used_tokens: int, used_usd: float) -> None:
        """Replace what a batch's lines held by what they used."""
        self.budget.settle(tokens, usd, used_tokens, used_usd)

    def release_batch(self, lines: int, tokens: int, usd: float) -> None:
        """Drop what a batch that never reached the provider held."""
        self.budget.cancel(tokens, usd)
        self.budget.calls -= max(0, lines - 1)

    def close(self) -> None:
        """Close the cache (the client can be used again; it reopens lazily)."""
        self.cache.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Calls:
    """The misses of one `complete` (or `call_misses`), taken as they are found: the
    transports open on the first, each model's prepared on its first; direct calls go
    through `Lanes` at once, calls to aliases with `batch:` wait for `finish` (a
    provider batch is submitted whole)."""

    def __init__(self, client: LLMClient, step: str, reporter: Reporter | None) -> None:
        self.client, self.step, self.reporter = client, step, reporter
        self.transports: Transports | None = None
        self.lanes = Lanes(self._answer)
        self.batched: dict[str, CallRequest] = {}
        self.models: dict[str, ModelSpec] = {}  # by the name requests use
        self.limiters: set[ModelLimiter] = set()
        self.local = contextlib.ExitStack()  # the `local/` provider, registered on need
        self.local_registered = False

    def add(self, key: str, request: CallRequest) -> None:
        spec = self.models.get(request.model) or self._prepare(request.model)
        if spec.batch is not None:
            self.batched[key] = request
        else:
            self.lanes.add(request.model, _workers(self.client.limiter(spec).limits), key, request)

    def _prepare(self, model: str) -> ModelSpec:
        """A model's first miss: route and price it (importing litellm if it needs it)
        before any of its requests is booked in a rate window."""
        client = self.client
        if self.transports is None:
            self.transports = Transports(
                client.timeout, force_litellm=client.transport == "litellm"
            )
        spec = self.models[model] = client.resolve(model)
        self.transports.prepare(spec)
        limiter = client.limiter(spec)
        limiter.notify = self.reporter.message if self.reporter is not None else None
        self.limiters.add(limiter)
        if spec.is_local and spec.batch is None and not self.local_registered:
            self.local.enter_context(self.transports.local_provider(True))
            self.local_registered = True
        return spec

    def awaiting_first_answer(self) -> bool:
        """Calls were handed over and none has come back yet."""
        return self.lanes.taken > 0 and not self.lanes.results

    async def _answer(self, key: str, request: CallRequest, waited: float) -> CallResult:
        assert self.transports is not None
        result = await self.client._call(self.transports, key, request, self.step, waited)
        if self.reporter is not None:
            self.reporter.advance(self.step)
            spec = self.models[request.model]
            _report_stop(self.client.limiter(spec), self.reporter, spec)
        return result

    async def finish(self) -> dict[str, CallResult]:
        """Every miss's result by key, once all are answered (after the last `add`)."""
        if not self.batched:
            return await self.lanes.join()
        assert self.transports is not None
        client = self.client
        runner = BatchRunner(client, self.transports, client.batches, self.step,
                             client.batch_wait, self.reporter)  # fmt: skip
        direct, answered = await asyncio.gather(self.lanes.join(), runner.run(self.batched))
        return {**direct, **answered}

    async def close(self) -> None:
        await self.lanes.cancel()  # nothing is left running unless `finish` was cut short
        self.local.close()
        for limiter in self.limiters:
            limiter.notify = None
        if self.transports is not None:
            await self.transports.close()


def _workers(limits: ModelLimits) -> int:
    """Calls of one model in progress at once: its concurrency with room for calls backing
    off or waiting for a window. One task per pending call held ~4 KB each until the end
    (~40 MB at 10,000 calls); the limiter lets no more than `concurrency` through anyway."""
    return max(4 * limits.concurrency, MIN_WORKERS)


def _param_timeout(params: CallParams) -> float | None:
    """A `timeout` (or `request_timeout`) in the call's params, in seconds."""
    value = params.gateway.get("timeout") or params.gateway.get("request_timeout")
    return float(value) if isinstance(value, int | float) and value > 0 else None


def in_request_order(
    keys: Sequence[str], requests: Sequence[CallRequest], found: Mapping[str, CallResult]
) -> list[CallResult]:
    """Each request's result (found by its key), carrying the request's own row id."""
    return [
        found[key] if found[key].row_id == request.row_id
        else dataclasses.replace(found[key], row_id=request.row_id)
        for key, request in zip(keys, requests, strict=True)
    ]  # fmt: skip


def _batch_pending(step: str, waiting: Sequence[CallResult]) -> BatchPending:
    batches = tuple(dict.fromkeys(r.error.removeprefix("pending in ") for r in waiting if r.error))
    shown = ", ".join(batches[:3]) + (", ..." if len(batches) > 3 else "")
    return BatchPending(
        f"{step}: {len(waiting)} call(s) pending in {len(batches)} batch(es) at the provider "
        f"({shown}); they are recorded, so building again collects them without sending "
        "them twice",
        len(waiting),
        batches,
    )


def _report_stop(limiter: ModelLimiter, reporter: Reporter, spec: ModelSpec) -> None:
    """Say once why a model's remaining calls are not sent. (The secrets to scrub are
    gathered only then: reading the environment per call cost ~0.1 ms.)"""
    health = limiter.health
    if health.stopped is not None and not health.reported:
        health.reported = True
        reporter.warning(scrub(health.stopped[2], secret_values(spec)))


def _from_cache(key: str, request: CallRequest, hit: CachedResponse) -> CallResult:
    return CallResult(key, request.row_id, hit.model, hit.text, hit.finish_reason,
                      hit.prompt_tokens, hit.completion_tokens, hit.cost_usd, 0.0,
                      cached=True, attempts=0)  # fmt: skip


def _failed(
    key: str,
    request: CallRequest,
    spec: ModelSpec,
    message: str,
    error_class: str,
    kind: str,
    attempts: int,
    latency: float = 0.0,
) -> CallResult:
    return CallResult(key, request.row_id, spec.model, None, latency_s=latency, attempts=attempts,
                      error=message, error_class=error_class, error_kind=kind)  # fmt: skip


def _run_coroutine(coroutine: Any) -> Any:
    """asyncio.run, or on a worker thread when a loop is already running (notebooks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
