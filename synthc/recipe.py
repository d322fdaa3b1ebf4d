"""Load and validate a recipe: YAML (with node positions) -> JSON Schema -> frozen dataclasses.

`load_recipe(path)` is the only entry point. Every problem in the file is collected
and raised once, as a `RecipeError` whose problems each carry `file:line:col`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthc.errors import Location

RECIPE_FORMAT_VERSION = 1

STEP_KINDS = (
    "seed",
    "generate",
    "self_instruct",
    "distill",
    "augment",
    "adversarial",
    "judge",
    "filter",
    "sql",
    "dedup",
)

# Fields every step may carry; everything else in a step mapping is kind-specific config.
COMMON_STEP_FIELDS = ("kind", "from", "checks", "description", "model", "params")


@dataclass(frozen=True)
class ModelAlias:
    """`models:` entry: where a model lives and how to reach it. Never holds a key."""

    name: str
    model: str  # litellm model string, e.g. "openai/gpt-4o" or "local/smollm2"
    api_base: str | None = None
    api_key_env: str | None = None  # name of the environment variable holding the key
    cache_namespace: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    """One quality gate declared under a step's `checks:`."""

    kind: str  # rows, sql, distinct_n, near_duplicates, diversity, fidelity, leakage, utility, tail_coverage
    config: Mapping[str, Any]
    severity: str  # "error" | "warn"
    location: Location | None = None


@dataclass(frozen=True)
class Step:
    """One step of a recipe, as written (defaults are applied by the compiler)."""

    name: str
    kind: str
    inputs: tuple[str, ...]  # `from:`, a string or list in YAML, always a tuple here
    config: Mapping[str, Any]  # kind-specific fields exactly as written
    model: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    checks: tuple[Check, ...] = ()
    description: str | None = None
    location: Location | None = None


@dataclass(frozen=True)
class Recipe:
    """A validated recipe. `positions` maps dotted recipe paths to where they are written."""

    path: Path  # absolute path of the recipe file
    name: str
    format_version: int
    steps: Mapping[str, Step]  # in file order
    model: str | None = None
    models: Mapping[str, ModelAlias] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    budget: Mapping[str, Any] = field(default_factory=dict)
    limits: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    exports: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    positions: Mapping[str, Location] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        """The folder the recipe lives in; relative paths in the recipe resolve against it."""
        return self.path.parent

    @property
    def lock_path(self) -> Path:
        return self.path.with_suffix(".lock")

    @property
    def workdir(self) -> Path:
        return self.root / ".synthc"

    def where(self, dotted_path: str) -> Location | None:
        """Best known location for a recipe path, falling back to its nearest parent."""
        probe = dotted_path
        while probe:
            if probe in self.positions:
                return self.positions[probe]
            probe = probe.rpartition(".")[0]
        return self.positions.get("")


def load_recipe(path: str | Path) -> Recipe:
    """Read, validate and return the recipe at `path`.

    Raises `RecipeError` listing every problem found (schema and semantic), each with
    `file:line:col`. Example::

        recipe = load_recipe("recipes/quickstart.yaml")
        print(list(recipe.steps))
    """
    raise NotImplementedError
