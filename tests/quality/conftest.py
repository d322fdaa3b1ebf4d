"""A small StepContext double, standing in for the executor in step-level tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest


@dataclass
class FakeContext:
    """Just enough of synthc.steps.StepContext for steps that need no model or SQL."""

    name: str
    config: Mapping[str, Any]
    inputs: Mapping[str, pl.DataFrame]
    root: Path
    kind: str = "dedup"
    recipe: Any = None
    reporter: Any = None
    llm: Any = None
    map_blocks: Any = None
    group_pairs: Any = None
    emitted: dict[str, pl.DataFrame] = field(default_factory=dict)

    def input(self) -> pl.DataFrame:
        (frame,) = self.inputs.values()
        return frame

    def sql(self, query: str, tables: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
        raise NotImplementedError("the fake context runs no SQL")

    def resolve_path(self, path: str) -> Path:
        return self.root / path

    def rng(self, *keys: Any) -> np.random.Generator:
        return np.random.default_rng(abs(hash((self.name, *keys))) % 2**32)

    def emit(self, table: str, frame: pl.DataFrame) -> None:
        self.emitted[table] = frame


@pytest.fixture
def fake_context(tmp_path: Path):
    def make(config: Mapping[str, Any], **inputs: pl.DataFrame) -> FakeContext:
        return FakeContext(name="final", config=config, inputs=inputs, root=tmp_path)

    return make
