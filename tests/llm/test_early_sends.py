"""`complete` sends cache misses as it finds them: the first request is on its way while
later requests are still being keyed, and everything else stays as it was (each key
sent once, results in request order, hits from the cache, answers cached on arrival).
Measured at the loopback server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import overload

import pytest
from gateway_helpers import ask
from llm_server import LLMTestServer

from synthc.llm.calls import CallRequest
from synthc.llm.client import LOOKUP_BATCH, LLMClient
from synthc.progress import RecordingReporter
from synthc.steps._methods import LazyRequests


class SlowRequests(Sequence[CallRequest]):
    """A request list that takes `delay` seconds to hand out each slice (a caller still
    rendering prompts), recording when its last request was handed out; with `fail_at`,
    reading the slice holding that index raises."""

    def __init__(self, requests: list[CallRequest], delay: float, fail_at: int | None = None):
        self.requests, self.delay, self.fail_at = requests, delay, fail_at
        self.last_read_at: float | None = None

    def __len__(self) -> int:
        return len(self.requests)

    @overload
    def __getitem__(self, index: int) -> CallRequest: ...
    @overload
    def __getitem__(self, index: slice) -> list[CallRequest]: ...
    def __getitem__(self, index: int | slice) -> CallRequest | list[CallRequest]:
        if isinstance(index, int):
            return self.requests[index]
        time.sleep(self.delay)
        indices = range(len(self.requests))[index]
        if self.fail_at is not None and self.fail_at in indices:
            raise RuntimeError("the caller's rows ran out")
        if indices and indices[-1] == len(self.requests) - 1:
            self.last_read_at = time.time()
        return self.requests[index]


def test_the_first_request_reaches_the_server_before_the_last_request_is_keyed(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    batches = 40  # each handed out 10 ms late: the last one ~0.4 s after the first
    rows = range(batches * LOOKUP_BATCH)
    requests = SlowRequests([ask(f"topic {i % 8}", row=f"row {i}") for i in rows], 0.01)
    results = make_client().complete(requests)
    assert server.stats.first_request_at is not None and requests.last_read_at is not None
    assert server.stats.first_request_at < requests.last_read_at - 0.2
    assert server.stats.total == 8
    assert [r.row_id for r in results] == [f"row {i}" for i in rows]
    assert all(r.ok and r.text and r.text.endswith(f"topic {i % 8}") for i, r in enumerate(results))


def test_a_key_repeated_in_a_later_batch_is_sent_once_while_the_first_is_on_its_way(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    server.config.latency = 0.3  # the first copy is still unanswered when the second is keyed
    prompts = [f"topic {i % LOOKUP_BATCH}" for i in range(3 * LOOKUP_BATCH)]
    requests = [ask(p, row=f"row {i}") for i, p in enumerate(prompts)]
    results = make_client(limits={"concurrency": 512}).complete(requests)
    assert server.stats.total == LOOKUP_BATCH
    assert set(server.stats.per_prompt.values()) == {1}
    assert [r.row_id for r in results] == [f"row {i}" for i in range(len(prompts))]
    assert [r.text for r in results] == [
        results[i % LOOKUP_BATCH].text for i in range(len(prompts))
    ]


def test_hits_and_misses_spread_over_batches_come_back_in_order(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    prompts = [f"question {i}" for i in range(3 * LOOKUP_BATCH + 5)]
    cached = prompts[::3]
    make_client().complete([ask(p) for p in cached])
    server.reset()
    reporter = RecordingReporter()
    results = make_client().complete([ask(p) for p in prompts], step="s", reporter=reporter)
    assert server.stats.total == len(prompts) - len(cached)
    assert [r.cached for r in results] == [p in cached for p in prompts]
    assert all(r.text and r.text.endswith(p) for r, p in zip(results, prompts, strict=True))
    assert sum(event[2] for event in reporter.events if event[0] == "advance") == len(prompts)


def test_a_request_list_failing_part_way_keeps_every_answer_already_sent_for(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    server.config.latency = 0.2  # requests are still out when the list fails
    prompts = [f"row {i}" for i in range(4 * LOOKUP_BATCH)]
    requests = SlowRequests([ask(p) for p in prompts], 0.01, fail_at=3 * LOOKUP_BATCH)
    client = make_client(limits={"concurrency": 512})
    with pytest.raises(RuntimeError, match="ran out"):
        client.complete(requests)
    sent = server.stats.total
    assert sent > 0  # the first batches went before the list failed
    server.reset()
    again = client.complete([ask(p) for p in prompts])
    # every request the server answered was cached: none of them is asked again
    assert sum(r.cached for r in again) == sent
    assert server.stats.total == len(prompts) - sent


def test_prompts_made_on_demand_are_sent_while_later_ones_are_still_being_made(
    make_client: Callable[..., LLMClient], server: LLMTestServer
) -> None:
    """A step's `LazyRequests` (generate renders its prompts so) is read a batch at a
    time: the server answers the first prompts before the last one is even made."""
    count = 40 * LOOKUP_BATCH
    made_at: list[float] = []

    def made() -> Iterator[CallRequest]:
        for i in range(count):
            if i % LOOKUP_BATCH == 0:
                time.sleep(0.01)  # rendering a batch of prompts takes a while
            made_at.append(time.time())
            yield ask(f"topic {i % 8}", row=f"row {i}")

    requests = LazyRequests(count, made())
    results = make_client().complete(requests)
    assert server.stats.first_request_at is not None
    assert server.stats.first_request_at < made_at[-1] - 0.2
    assert len(made_at) == count  # each made once
    assert [r.row_id for r in results] == [f"row {i}" for i in range(count)]
    assert server.stats.total == 8


def test_lazy_requests_read_like_a_list() -> None:
    made: list[int] = []

    def items() -> Iterator[CallRequest]:
        for i in range(10):
            made.append(i)
            yield ask(f"p{i}")

    lazy = LazyRequests(10, items())
    assert len(lazy) == 10 and made == []
    assert [r.row_id for r in lazy[2:4]] == ["p2", "p3"] and made == [0, 1, 2, 3]
    assert lazy[-1].row_id == "p9" and lazy[0].row_id == "p0"
    assert [r.row_id for r in lazy] == [f"p{i}" for i in range(10)]
    assert made == list(range(10))  # each made once
    with pytest.raises(IndexError):
        lazy[10]
