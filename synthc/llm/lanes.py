"""Calls taken while they are still being found: `LLMClient.complete` keys and looks up
its requests a chunk at a time and hands each chunk's misses to a `Lanes` at once, so the
first request is on its way while the rest are keyed (10,000 keys cost ~0.1 s, which
the first answers' round trip hides).

One lane per model: a FIFO of calls, drained by at most `width` tasks, started as calls
arrive and ended when the lane runs dry (a later call starts one again). The model's
limiter, not the lane, decides how many requests are out at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from synthc.llm.calls import CallRequest, CallResult

# (call key, request, seconds it waited in its lane) -> its result
Answer = Callable[[str, CallRequest, float], Awaitable[CallResult]]


@dataclass
class _Lane:
    width: int
    waiting: deque[tuple[str, CallRequest, float]] = field(default_factory=deque)
    workers: int = 0


class Lanes:
    """Calls by lane, answered by `answer` as they arrive; `join` waits for them all.

    Example::

        lanes = Lanes(answer)
        lanes.add("gpt", 256, key, request)  # starts a task at once
        results = await lanes.join()  # call key -> result
    """

    def __init__(self, answer: Answer) -> None:
        self._answer = answer
        self._lanes: dict[str, _Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._error: BaseException | None = None
        self.results: dict[str, CallResult] = {}
        self.taken = 0  # calls added so far

    def add(self, lane: str, width: int, key: str, request: CallRequest) -> None:
        """Queue one call in `lane` (at most `width` of its calls are taken at once)."""
        queue = self._lanes.get(lane)
        if queue is None:
            queue = self._lanes[lane] = _Lane(max(1, width))
        queue.waiting.append((key, request, time.monotonic()))
        self.taken += 1
        if queue.workers < queue.width:
            queue.workers += 1
            task = asyncio.get_running_loop().create_task(self._drain(queue))
            self._tasks.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(self._finished)

    async def _drain(self, lane: _Lane) -> None:
        try:
            while lane.waiting:
                key, request, since = lane.waiting.popleft()
                self.results[key] = await self._answer(key, request, time.monotonic() - since)
        finally:
            lane.workers -= 1

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self._error is None:
            self._error = task.exception()

    async def join(self) -> dict[str, CallResult]:
        """Every call's result by key, once all are answered (call after the last `add`).
        Raises what a task raised."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))
        if self._error is not None:
            raise self._error
        return self.results

    async def settle(self) -> None:
        """Drop the calls no task has taken and wait for those under way, so every answer
        already paid for reaches the cache (`complete` failed while finding its calls)."""
        for lane in self._lanes.values():
            lane.waiting.clear()
        with contextlib.suppress(Exception):
            await self.join()

    async def cancel(self) -> None:
        """Stop every task (a build interrupted while calls were still being found)."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
