"""The Ray executor: the same build walk, with the model calls that miss the cache made by
gateway actors on a Ray cluster.

`RayLLMClient` is an `LLMClient` (keys, cache, budget and every other method are the
driver's own), so steps, fingerprints, call keys, the lock and data versions cannot tell
the engines apart. Only `complete` differs: the driver answers hits from its cache,
groups the misses by model, and hands them out in small batches to `GatewayWorker`
actors (each running `LANES` batches at once, every lane with an `LLMClient` built from
the same recipe, so routing, repair params, retries and API-key variables work as
in-process). Answers are cached on the driver as each batch comes back, so a worker
that dies loses only the calls it held.

Limits are global: the driver keeps at most a model's `concurrency` calls out across the
cluster, and every lane books each request of a model with `rpm` or `tpm` in one
`SharedWindows` actor (the in-process `RateWindows`, shared), so no window carries more
than the limit, wherever the requests were sent from. API keys never travel: a worker
reads the variable from its own environment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import math
import socket
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from synthc.errors import PlanError, StepFailed
from synthc.execute.actors import LANES, start_actors, start_shared_windows
from synthc.llm.batch import BatchLedger
from synthc.llm.cache import CachedResponse
from synthc.llm.calls import BUDGET, CallRequest, CallResult, estimate_split
from synthc.llm.client import LLMClient
from synthc.llm.limits import DEFAULT_CONCURRENCY, LOCAL_CONCURRENCY
from synthc.llm.models import PROVIDER_KEY_ENV, ModelSpec

if TYPE_CHECKING:
    import numpy as np

    from synthc.progress import Reporter
    from synthc.recipe.load import Recipe

WAIT_S = 1.0  # how long one ray.wait blocks before the loop looks again
SHUFFLE_BLOCK_ROWS = 4096  # least rows of one map block of the band-key shuffle


class RaySession:
    """The build's connection to the cluster, opened on first use (a build answered from
    the cache never connects), and the block map for steps with `parallel_blocks`.

    Example::

        session = RaySession.for_recipe(recipe)
        results = list(session.map_blocks(len, [[1, 2], [3]]))  # [2, 1]
        session.close()
    """

    def __init__(self, address: str = "auto", workers: int | None = None) -> None:
        self.address = address
        self.workers = workers
        self._ray: Any = None
        self._owns_ray = False

    @classmethod
    def for_recipe(cls, recipe: Recipe) -> RaySession:
        settings = recipe.execution.get("ray") or {}
        return cls(settings.get("address") or "auto", settings.get("workers"))

    def ray(self) -> Any:
        """The `ray` module, connected."""
        if self._ray is None:
            ray = _import_ray()
            if not ray.is_initialized():
                _connect(ray, self.address)
                self._owns_ray = True
            self._ray = ray
        return self._ray

    def cpus(self) -> int:
        return max(1, int(self.ray().cluster_resources().get("CPU", 1)))

    def map_blocks(self, function: Callable[[Any], Any], blocks: Iterable[Any]) -> Iterator[Any]:
        """`function` over each block as Ray tasks, results in order, at most two blocks
        per CPU out at once. Blocks are pure, so a task lost with its worker is retried.
        A single block runs here: shipping it would only add the round trip."""
        pending = iter(blocks)
        head = list(itertools.islice(pending, 2))
        if len(head) < 2:
            yield from map(function, head)
            return
        ray = self.ray()
        task = ray.remote(num_cpus=1, max_retries=3)(_apply)
        shared = ray.put(function)
        window: deque[Any] = deque()
        for block in itertools.chain(head, pending):
            window.append(task.remote(shared, block))
            if len(window) >= 2 * self.cpus():
                yield ray.get(window.popleft())
        while window:
            yield ray.get(window.popleft())

    def candidate_pairs(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`minhash.candidate_pairs(keys)` through a hash-partitioned Ray shuffle: map
        tasks split blocks of rows' (band, key, row) triples by key into two partitions
        per CPU, a reduce task per partition pairs the rows of each bucket, and the driver
        unites the partitions' pairs. A corpus of one map block is grouped here."""
        import numpy as np

        from synthc.quality.minhash import bucket_pairs, candidate_pairs, partition_band_keys

        rows = len(keys)
        parts = 2 * self.cpus() if rows > SHUFFLE_BLOCK_ROWS else 1
        if parts < 2:
            return candidate_pairs(keys)
        ray = self.ray()
        split = ray.remote(num_cpus=1, num_returns=parts, max_retries=3)(partition_band_keys)
        group = ray.remote(num_cpus=1, max_retries=3)(bucket_pairs)
        stored = ray.put(keys)
        size = max(SHUFFLE_BLOCK_ROWS, -(-rows // parts))
        pieces = [split.remote(stored, lo, min(rows, lo + size), parts)
                  for lo in range(0, rows, size)]  # fmt: skip
        grouped = [group.remote(*(piece[part] for piece in pieces)) for part in range(parts)]
        packed = np.unique(np.concatenate(ray.get(grouped)))
        return packed >> 32, packed & 0xFFFFFFFF

    def close(self) -> None:
        """Disconnect, if this session connected."""
        if self._owns_ray and self._ray is not None:
            self._ray.shutdown()
        self._ray, self._owns_ray = None, False


class RayLLMClient(LLMClient):
    """An `LLMClient` whose cache misses are answered on a Ray cluster.

    Example::

        client = RayLLMClient(recipe, session=RaySession("127.0.0.1:6379"))
        client.complete(requests, step="answers")  # same results as LLMClient's
    """

    def __init__(
        self,
        recipe: Recipe,
        session: RaySession | None = None,
        spent: Mapping[str, float] | None = None,
        batches: BatchLedger | None = None,
        batch_wait: bool = True,
    ) -> None:
        super().__init__(recipe, spent=spent, batches=batches, batch_wait=batch_wait)
        self.session = session or RaySession.for_recipe(recipe)
        self._owns_session = session is None
        self._actors: list[Any] | None = None
        self._windows: Any = None  # the SharedWindows actor, when a model has rpm or tpm
        self._checked: set[str] = set()  # key variables every worker was found to have

    def complete(
        self,
        requests: Sequence[CallRequest],
        step: str = "",
        reporter: Reporter | None = None,
        refresh: bool = False,
    ) -> list[CallResult]:
        """`LLMClient.complete`, with the misses made by the cluster's gateway actors."""
        keys = [self.key(request) for request in requests]
        found: dict[str, CallResult] = {}
        pending: dict[str, CallRequest] = {}
        for key, request in zip(keys, requests, strict=True):
            if key in found or key in pending:
                continue
            hit = None if refresh else self.cache.get(key)
            if hit is None:
                pending[key] = request
            else:
                found[key] = _from_cache(key, request, hit)
        if self.observer is not None:
            self.observer(step, found, pending)
        if reporter is not None and found:
            reporter.advance(step, len(found))
        # Provider batches need no cluster: the driver submits, records and collects them.
        batched = {k: r for k, r in pending.items() if self.resolve(r.model).batch is not None}
        direct = {k: r for k, r in pending.items() if k not in batched}
        if direct:
            self._check_keys([self.resolve(request.model) for request in direct.values()])
            found.update(_Dispatch(self, self._pool(), direct, step, reporter).run())
        if batched:
            found.update(self.call_misses(batched, step, reporter))
        return [
            dataclasses.replace(found[key], row_id=request.row_id)
            for key, request in zip(keys, requests, strict=True)
        ]

    def concurrency(self, spec: ModelSpec) -> int:
        """The model's `concurrency` across the whole cluster (a local model's is per
        process, so it scales with the workers)."""
        config = self.limits.get(spec.name) or self.limits.get(spec.model) or {}
        if spec.is_local:
            return int(config.get("concurrency") or LOCAL_CONCURRENCY) * len(self._pool())
        return int(config.get("concurrency") or DEFAULT_CONCURRENCY)

    def _check_keys(self, specs: Sequence[ModelSpec]) -> None:
        """Fail before sending anything when a worker lacks a model's key variable."""
        variables = {v for spec in specs if (v := _key_variable(spec))} - self._checked
        if not variables:
            return
        asked = [actor.unset_variables.remote(sorted(variables)) for actor in self._pool()]
        lacking = sorted({name for names in self.session.ray().get(asked) for name in names})
        if lacking:
            raise PlanError(
                f"Ray workers lack {', '.join(lacking)} in their environment; start the "
                "cluster's nodes (`ray start`) with it set (keys are never sent to workers)"
            )
        self._checked |= variables

    def _pool(self) -> list[Any]:
        if self._actors is None:
            assert self.recipe is not None  # set by __init__
            count = self.session.workers or self.session.cpus()
            ray = self.session.ray()
            shared = start_shared_windows(ray, self.recipe)
            self._windows = shared.actor if shared is not None else None
            self._actors = start_actors(ray, self.recipe, count, shared)
        return self._actors

    def close(self) -> None:
        """Stop the gateway actors (and the session, if this client opened it)."""
        super().close()
        if self._actors is not None:
            ray = self.session.ray()
            closed = [actor.close.remote() for actor in self._actors]
            with contextlib.suppress(ray.exceptions.RayError):  # a dead actor has no scratch
                ray.wait(closed, num_returns=len(closed), timeout=10)
            for actor in [*self._actors, *([self._windows] if self._windows else [])]:
                ray.kill(actor)
            self._actors = self._windows = None
        if self._owns_session:
            self.session.close()


@dataclass
class _Item:
    key: str
    request: CallRequest
    reserved_tokens: int | None = None  # the budget reservation, once made


@dataclass
class _Batch:
    actor: Any
    model: str
    items: list[_Item]


class _Dispatch:
    """One `complete` call's misses: hand them out within each model's concurrency,
    collect answers as they come back, cache them, and re-queue a dead actor's batch."""

    def __init__(
        self,
        client: RayLLMClient,
        actors: list[Any],
        pending: Mapping[str, CallRequest],
        step: str,
        reporter: Reporter | None,
    ) -> None:
        self.client, self.actors, self.step, self.reporter = client, actors, step, reporter
        self.queues: dict[str, deque[_Item]] = {}
        for key, request in pending.items():
            model = client.resolve(request.model).model
            self.queues.setdefault(model, deque()).append(_Item(key, request))
        self.free_lanes = {id(actor): LANES for actor in actors}
        self.out: Counter[str] = Counter()  # calls handed out, per model
        self.in_flight: dict[Any, _Batch] = {}
        self.results: dict[str, CallResult] = {}

    def run(self) -> dict[str, CallResult]:
        ray = self.client.session.ray()
        while any(self.queues.values()) or self.in_flight:
            self._hand_out()
            if not self.in_flight:
                continue  # the budget answered what was left
            ready, _ = ray.wait(list(self.in_flight), num_returns=1, timeout=WAIT_S)
            for ref in ready:
                self._collect(ray, ref)
        return self.results

    def _hand_out(self) -> None:
        for model, queue in self.queues.items():
            if not queue:
                continue
            total = self.client.concurrency(self.client.resolve(queue[0].request.model))
            size = math.ceil(total / (len(self.actors) * LANES))
            while queue and (actor := self._least_busy()) is not None:
                room = min(total - self.out[model], size)
                if room <= 0:
                    break
                batch = [item for item in self._take(queue, room) if self._reserve(item)]
                if batch:
                    ref = actor.complete.remote([item.request for item in batch])
                    self.in_flight[ref] = _Batch(actor, model, batch)
                    self.out[model] += len(batch)
                    self.free_lanes[id(actor)] -= 1

    def _least_busy(self) -> Any:
        """The actor with the most free lanes, or None when every lane is busy."""
        actor = max(self.actors, key=lambda a: self.free_lanes[id(a)])
        return actor if self.free_lanes[id(actor)] > 0 else None

    @staticmethod
    def _take(queue: deque[_Item], count: int) -> list[_Item]:
        return [queue.popleft() for _ in range(min(count, len(queue)))]

    def _reserve(self, item: _Item) -> bool:
        """Hold the item's place in the budget; answer it with a budget failure if full."""
        if item.reserved_tokens is not None:
            return True
        params = self.client.params_for(item.request)
        tokens = sum(estimate_split(item.request.messages, params))
        stop = self.client.budget.reserve(tokens, 0.0)
        if stop is None:
            item.reserved_tokens = tokens
            return True
        self.client.budget_stop = self.client.budget_stop or stop
        model = self.client.resolve(item.request.model).model
        self.results[item.key] = CallResult(
            item.key, item.request.row_id, model, None, error="budget " + stop,
            error_class="BudgetExceeded", error_kind=BUDGET,
        )  # fmt: skip
        return False

    def _collect(self, ray: Any, ref: Any) -> None:
        batch = self.in_flight.pop(ref)
        self.out[batch.model] -= len(batch.items)
        try:
            answers: list[CallResult] = ray.get(ref)
        except ray.exceptions.RayActorError:
            self._lost(batch)
            return
        except ray.exceptions.RayError as exc:
            raise StepFailed(self.step, f"a Ray gateway worker failed: {exc}") from exc
        self.free_lanes[id(batch.actor)] += 1
        for item, answer in zip(batch.items, answers, strict=True):
            tokens = answer.prompt_tokens + answer.completion_tokens
            self.client.budget.settle(item.reserved_tokens or 0, 0.0, tokens, answer.cost_usd or 0)
            if answer.ok:
                assert answer.text is not None
                self.client.cache.put(item.key, CachedResponse(
                    answer.text, answer.finish_reason, answer.prompt_tokens,
                    answer.completion_tokens, answer.cost_usd, answer.model,
                ))  # fmt: skip
            self.results[item.key] = dataclasses.replace(answer, call_key=item.key)
            if self.reporter is not None:
                self.reporter.advance(self.step)

    def _lost(self, batch: _Batch) -> None:
        """The actor died with the batch: forget it, give the calls to the others."""
        if batch.actor in self.actors:  # its other lanes' batches come back lost too
            self.actors.remove(batch.actor)
        self.queues[batch.model].extendleft(reversed(batch.items))
        if not self.actors:
            raise StepFailed(
                self.step,
                "every Ray gateway worker died; the answers received are cached, "
                "so building again re-sends only the calls that were lost",
            )


def _apply(function: Callable[[Any], Any], block: Any) -> Any:
    return function(block)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise PlanError(
            "execution engine 'ray' needs Ray: pip install 'synthc[ray]' "
            "(or build with --engine local)"
        ) from exc
    return ray


def _connect(ray: Any, address: str) -> None:
    host, _, port = address.rpartition(":")
    if host and port.isdigit() and "://" not in address:
        try:  # ray.init retries an address with no cluster behind it for minutes
            socket.create_connection((host, int(port)), timeout=10).close()
        except OSError as exc:
            raise PlanError(
                f"no Ray cluster at '{address}' ({exc.strerror or exc}); start one with "
                "`ray start --head`, or set execution.ray.address (or --address)"
            ) from exc
    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise PlanError(
            f"cannot reach the Ray cluster at '{address}': {exc}; start one with "
            "`ray start --head`, or set execution.ray.address (or --address)"
        ) from exc


def _key_variable(spec: ModelSpec) -> str | None:
    """The environment variable the model's API key is read from, as `ModelSpec.api_key`."""
    if spec.is_local:
        return None
    return spec.api_key_env or (None if spec.api_base else PROVIDER_KEY_ENV.get(spec.provider))


def _from_cache(key: str, request: CallRequest, hit: CachedResponse) -> CallResult:
    return CallResult(key, request.row_id, hit.model, hit.text, hit.finish_reason,
                      hit.prompt_tokens, hit.completion_tokens, hit.cost_usd, 0.0,
                      cached=True, attempts=0)  # fmt: skip
