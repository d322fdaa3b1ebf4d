"""The contract between a step kind and the compiler and executor: `StepKind` (what a
kind declares) and `StepContext` (what a running step may use).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from synthc.recipe.kinds import model_fields, template_fields

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from synthc.llm.calls import CallRequest, CallResult
    from synthc.progress import Reporter
    from synthc.recipe.load import Recipe


class StepLLM(Protocol):
    """The LLM client as a step sees it (`synthc.llm.LLMClient` is one; the plan's
    estimate uses a cache-only one)."""

    budget_stop: str | None  # why the budget stopped calls, once it has

    def complete(
        self,
        requests: Sequence[CallRequest],
        step: str = "",
        reporter: Reporter | None = None,
        refresh: bool = False,
    ) -> list[CallResult]:
        """One result per request, in order; failures come back as results, not raised."""
        ...

    def forget(self, keys: Sequence[str]) -> None:
        """Drop cached answers the step found unusable, so the next build asks again."""
        ...

    def embed(
        self,
        texts: Sequence[str],
        model: str,
        params: Mapping[str, Any] | None = None,
        batch_size: int = 128,
    ) -> np.ndarray:
        """One embedding row per text, each vector cached."""
        ...


class StepContext(Protocol):
    """What a running step may use. Built by the executor (or by tests)."""

    name: str
    kind: str
    config: Mapping[str, Any]  # resolved: defaults applied
    recipe: Recipe
    inputs: Mapping[str, pl.DataFrame]  # upstream step name -> its rows, in `from:` order
    reporter: Reporter
    llm: StepLLM | None  # None when the build was given no client
    model: str | None  # the identity of the step's own model (None for kinds calling none)
    # params for each other model the step names (teacher, judge, ...), resolved by the compiler
    model_params: Mapping[str, Mapping[str, Any]]
    refresh: bool  # `build --refresh`: model calls bypass the cache lookup
    # Call statistics (calls, cache_hits, tokens, cost_usd, failures): the lock records them.
    stats: dict[str, Any]
    # Failed rows, for a step that reports them by count instead of a `_failures` table.
    failures: int
    # (block function, blocks) -> results in order, on the Ray cluster with `engine: ray`;
    # None runs the blocks here. Kinds with `parallel_blocks` pass it to quality/.
    map_blocks: Any
    # LSH band keys -> candidate pairs, through Ray's shuffle with `engine: ray`; None: here
    group_pairs: Any

    def input(self) -> pl.DataFrame:
        """The single upstream frame (error if the step has several or none)."""
        ...

    def sql(self, query: str, tables: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
        """Run a DuckDB query with `tables` visible by name; returns a polars frame."""
        ...

    def resolve_path(self, path: str) -> Path:
        """A path from the recipe, resolved against the recipe's folder."""
        ...

    def rng(self, *keys: Any) -> np.random.Generator:
        """A generator seeded by (recipe seed, step name, *keys): never a global stream."""
        ...

    def emit(self, table: str, frame: pl.DataFrame) -> None:
        """Record an auxiliary table (e.g. "_calls", "_failures", "_rejections")."""
        ...


ColumnsFn = Callable[[Mapping[str, Any], Mapping[str, Sequence[str] | None]], Sequence[str] | None]


def _unknown_columns(
    config: Mapping[str, Any], inputs: Mapping[str, Sequence[str] | None]
) -> Sequence[str] | None:
    return None


def _no_strings(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    return []


def _never(config: Mapping[str, Any]) -> bool:
    return False


@dataclass(frozen=True)
class StepKind:
    """A step kind's contract with the compiler and executor.

    `version` is part of every fingerprint: bump it when a change to `run` changes
    output, so existing builds of that kind become stale.
    """

    name: str
    version: int
    run: Callable[[StepContext], pl.DataFrame] | None  # None: declared but not implemented yet
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # Output columns from config and the upstream columns (None where unknown).
    columns: ColumnsFn = _unknown_columns
    # (recipe path relative to the step, template text) pairs the compiler checks.
    templates: Callable[[Mapping[str, Any]], list[tuple[str, str]]] = _no_strings
    # (recipe path relative to the step, file path as written) pairs the compiler hashes.
    files: Callable[[Mapping[str, Any]], list[tuple[str, str]]] = _no_strings
    calls_model: bool = False
    # Whether, with this config, the kind is row-local: each output row comes from one
    # input row (its `_parent_id`), depends only on that row, and every output column is
    # text; rows come out in input order; it emits no table but `_calls` and `_failures`.
    # A rebuild then runs only the changed input rows (`synthc.execute.reuse`).
    row_local: Callable[[Mapping[str, Any]], bool] = _never

    # What the schema marks in this kind's branch (synthc.recipe.kinds): the one record
    # of a recipe's shape, which the recipe's own checks read too.
    @property
    def template_fields(self) -> tuple[str, ...]:
        """Fields holding a Jinja2 template (or chat messages whose content is one)."""
        return template_fields(self.name)

    @property
    def model_fields(self) -> tuple[str, ...]:
        """Fields naming models besides the step's own `model:` (teacher, judges, ...)."""
        return model_fields(self.name)

    # Its heavy passes run as independent blocks (`ctx.map_blocks`), on Ray when asked.
    parallel_blocks: bool = False
