"""Dedup's heavy passes run in blocks through a block map (the Ray executor's on a
cluster): wherever the blocks run, the survivors and the matches are the same."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from textgen import planted

from synthc.quality.dedup import dedup


def test_blocks_run_apart_give_the_same_survivors_and_matches() -> None:
    frame = planted(9000)
    shipped: list[str] = []

    def elsewhere(function: Callable[[Any], Any], blocks: Iterable[Any]) -> Iterator[Any]:
        """As a cluster runs them: each block and the function pickled, run apart."""
        for block in blocks:
            run = pickle.loads(pickle.dumps(function))
            shipped.append(run.func.__name__)
            yield run(pickle.loads(pickle.dumps(block)))

    kept, matches = dedup(frame, "text", threshold=0.7)
    kept_apart, matches_apart = dedup(frame, "text", threshold=0.7, map_blocks=elsewhere)
    assert kept_apart.equals(kept)
    assert matches_apart.equals(matches)
    assert shipped.count("_sketch_block") == 3  # 9,000 rows in blocks of 4,096
    assert "_similarity_block" in shipped
    reasons = matches["reason"].value_counts()
    assert set(reasons["reason"]) == {"exact", "near"}
    assert 0 < kept.height < frame.height
