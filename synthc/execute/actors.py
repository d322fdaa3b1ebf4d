"""What the Ray executor runs on the cluster: `GatewayWorker` actors (gateways for the
calls that miss the driver's cache) and one `SharedWindows` actor holding every
rate-limited model's request and token windows, so `rpm` and `tpm` hold across the
cluster. Ray itself is passed in (`ray.py` imports it), never imported here.
"""

from __future__ import annotations

import itertools
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthc.errors import PlanError
from synthc.llm.calls import CallRequest, CallResult
from synthc.llm.client import LLMClient
from synthc.llm.limits import DEFAULT_CONCURRENCY, ModelLimiter, ModelLimits, RateWindows
from synthc.llm.models import ModelSpec

if TYPE_CHECKING:
    from synthc.recipe.load import Recipe

LANES = 4  # batches one worker runs at once: a slow call holds up only its own batch
STARTUP_TIMEOUT_S = 120.0  # actors that cannot start fail the build


class SharedWindows:
    """The request and token windows and the Retry-After pause (`RateWindows`) of every
    model with `rpm` or `tpm`, one actor for the whole cluster: every lane books each
    request here before sending it, so a limit holds across the cluster as it does in
    one process. Calls are served one at a time, in the order they arrive (FIFO)."""

    def __init__(self, limits: Mapping[str, Mapping[str, Any]]) -> None:
        self.windows = {
            name: RateWindows(ModelLimits.from_config(config, DEFAULT_CONCURRENCY))
            for name, config in limits.items()
        }
        self.bookings: dict[int, Any] = {}  # token bookings not yet settled, by number
        self.numbers = itertools.count()

    def book(self, model: str, estimated_tokens: int) -> tuple[int | None, float]:
        """Book a request; returns its token booking's number and the seconds to wait
        (a delay, not a time: the nodes' clocks are not this one's)."""
        now = time.monotonic()
        entry, at = self.windows[model].reserve(estimated_tokens, now)
        number = None
        if entry is not None:
            number = next(self.numbers)
            self.bookings[number] = entry
        return number, at - now

    def settle(self, model: str, number: int, used_tokens: int | None) -> None:
        self.windows[model].settle(self.bookings.pop(number, None), used_tokens)

    def pause(self, model: str, seconds: float) -> None:
        self.windows[model].pause(seconds)


@dataclass(frozen=True)
class Shared:
    """The `SharedWindows` actor and the models (limits keys) whose windows it holds."""

    actor: Any
    models: frozenset[str]


class _RemoteWindows:
    """A lane's handle on one model's windows in the `SharedWindows` actor: what a
    `ModelLimiter` asks of its `windows`."""

    def __init__(self, actor: Any, model: str) -> None:
        self.actor, self.model = actor, model

    async def book(self, estimated_tokens: int) -> tuple[int | None, float]:
        booked: tuple[int | None, float] = await self.actor.book.remote(
            self.model, estimated_tokens
        )
        return booked

    def settle(self, booking: int | None, used_tokens: int | None) -> None:
        if booking is not None:
            self.actor.settle.remote(self.model, booking, used_tokens)

    def pause(self, seconds: float) -> None:
        self.actor.pause.remote(self.model, seconds)


class _LaneClient(LLMClient):
    """A lane's gateway: the limiters of models with `rpm` or `tpm` book in the shared
    windows instead of their own."""

    def __init__(
        self, recipe: Recipe, folder: Path, limits: Mapping[str, Any], shared: Shared | None
    ) -> None:
        super().__init__(recipe, cache_path=folder, limits=limits, budget={})
        self.shared = shared

    def limiter(self, spec: ModelSpec) -> ModelLimiter:
        fresh = spec.model not in self._limiters
        limiter = super().limiter(spec)
        name = spec.name if spec.name in self.limits else spec.model  # as LLMClient's
        if fresh and self.shared is not None and name in self.shared.models:
            limiter.windows = _RemoteWindows(self.shared.actor, name)
        return limiter


class GatewayWorker:
    """A gateway on a Ray worker, running up to `LANES` batches at once, each lane (a
    thread of the actor) with its own `LLMClient` (a gateway's limiter lives on one event
    loop) for the driver's recipe: its share of each model's concurrency, `rpm` and
    `tpm` booked in the `SharedWindows` actor, no budget (the driver keeps it) and a private throwaway
    cache (the driver's cache is the only one that counts)."""

    def __init__(
        self, recipe: Recipe, limits: Mapping[str, Mapping[str, Any]], shared: Shared | None
    ) -> None:
        self.recipe, self.limits, self.shared = recipe, limits, shared
        self._scratch = Path(tempfile.mkdtemp(prefix="synthc-ray-"))
        self._lane = threading.local()
        self._clients: list[LLMClient] = []
        self._lock = threading.Lock()

    def _client(self) -> LLMClient:
        client: LLMClient | None = getattr(self._lane, "client", None)
        if client is None:
            with self._lock:
                folder = self._scratch / str(len(self._clients))
                client = _LaneClient(self.recipe, folder, self.limits, self.shared)
                self._clients.append(client)
            self._lane.client = client
        return client

    def unset_variables(self, variables: Sequence[str]) -> list[str]:
        """The API-key variables this worker's environment lacks."""
        return [name for name in variables if not os.environ.get(name)]

    def complete(self, requests: Sequence[CallRequest]) -> list[CallResult]:
        client = self._client()
        results = client.complete(requests, refresh=True)
        client.forget([result.call_key for result in results if result.ok])
        return results

    def close(self) -> None:
        for client in self._clients:
            client.close()
        shutil.rmtree(self._scratch, ignore_errors=True)


def start_shared_windows(ray: Any, recipe: Recipe) -> Shared | None:
    """The `SharedWindows` actor for the models with `rpm` or `tpm` (None if none has),
    on the driver's node: it lives and dies with the build."""
    limited = {
        model: config
        for model, config in recipe.limits.items()
        if config.get("rpm") or config.get("tpm")
    }
    if not limited:
        return None
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    actor_class = ray.remote(num_cpus=0, max_restarts=0)(SharedWindows)
    return Shared(actor_class.options(scheduling_strategy=here).remote(limited), frozenset(limited))


def start_actors(ray: Any, recipe: Recipe, count: int, shared: Shared | None) -> list[Any]:
    """`count` gateway actors spread over the nodes; each lane of each holds its share
    (1 / (count x LANES)) of every model's concurrency, books rpm and tpm in `shared`,
    and keeps the model's other limits (`deadline_s`, `timeout_s`, `window_s`) whole."""
    lanes = count * LANES
    shares = {
        model: {
            **config,
            "concurrency": math.ceil(int(config.get("concurrency") or DEFAULT_CONCURRENCY) / lanes),
        }
        for model, config in recipe.limits.items()
    }
    # No CPU reserved: the actors wait on the network, and a step's block tasks (dedup)
    # must still find CPUs while they live.
    actor_class = ray.remote(num_cpus=0, max_restarts=0, max_concurrency=LANES)(GatewayWorker)
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    # Round-robin over the nodes (Ray's SPREAD is best effort and stacked them up).
    nodes = sorted(node["NodeID"] for node in ray.nodes() if node["Alive"])
    actors = [
        actor_class.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(
                nodes[index % len(nodes)], soft=False
            )
        ).remote(recipe, shares, shared)
        for index in range(count)
    ]
    try:
        ray.get([actor.unset_variables.remote([]) for actor in actors], timeout=STARTUP_TIMEOUT_S)
    except ray.exceptions.GetTimeoutError as exc:
        raise PlanError(
            f"{count} Ray gateway worker(s) did not start within {STARTUP_TIMEOUT_S:.0f} s; "
            "check the cluster (`ray status`) or lower execution.ray.workers"
        ) from exc
    return actors
