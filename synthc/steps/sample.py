"""`sample`: rows made from declared attributes, no model and no seed file needed.

    profiles:
      kind: sample
      rows: 1000                       # rows per grid cell (default 1 with a grid)
      grid:                            # optional: every combination, in this order
        language: [en, fr]
      attributes:
        difficulty: {values: [easy, medium, hard], weights: [5, 3, 2]}
        topic: {column: topic}         # drawn from the `from:` step's column distribution
        budget: {uniform: {min: 10, max: 500}}
        mood: {normal: {mean: 0, std: 1}}
        age: {integer: {min: 18, max: 80}}
        name: {faker: name}            # any Faker provider, seeded per row
      locale: en_US                    # Faker's locale (default en_US)

Each value is a pure function of (recipe seed, step name, grid cell, row index, attribute
name): a 64-bit XXH3 hash turned into a uniform number and then into the attribute's
distribution by its inverse CDF. So raising `rows: 1000` to `1100` adds exactly 100 rows
and changes none of the first 1000, adding a grid value or an attribute changes no other
value, and a row's `_id` (hash of step, cell and index) is stable. Faker values are
seeded the same way (one `seed_instance` per value); a Faker upgrade may change them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import product
from typing import TYPE_CHECKING, Any

from xxhash import xxh3_64_intdigest

from synthc.rows import ROW_ID, derived_row_ids
from synthc.steps.kind import StepContext, StepKind

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

DEFAULT_LOCALE = "en_US"
_SEP = "\x1f"
DISTRIBUTIONS = ("values", "column", "uniform", "normal", "integer", "faker")


def columns(
    config: Mapping[str, Any], inputs: Mapping[str, Sequence[str] | None]
) -> Sequence[str] | None:
    """`_id`, the grid's columns, then the attributes', in the order written."""
    grid = list(config.get("grid") or {})
    attributes = [a for a in config.get("attributes") or {} if a not in grid]
    return [ROW_ID, *grid, *attributes]


def _cells(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values (one empty cell without a grid)."""
    names = list(grid)
    return [dict(zip(names, combo, strict=True)) for combo in product(*grid.values())]


def _uniforms(keys: Sequence[str], salt: str) -> np.ndarray:
    """One number in (0, 1) per key, from XXH3-64 of (key, salt): 53 bits, never 0 or 1."""
    import numpy as np

    bits = [xxh3_64_intdigest(f"{key}{_SEP}{salt}".encode()) >> 11 for key in keys]
    return (np.asarray(bits, dtype=np.float64) + 0.5) * 2.0**-53


def _categorical(u: np.ndarray, values: Sequence[Any], weights: Sequence[float]) -> list[Any]:
    import numpy as np

    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
    picks = np.searchsorted(cumulative, u * cumulative[-1], side="right")
    picks = np.minimum(picks, len(values) - 1)
    return [values[int(i)] for i in picks]


def _column_distribution(ctx: StepContext, name: str, column: str) -> tuple[list[Any], list[int]]:
    """The distinct values of an upstream column and their counts, in a canonical order
    (so the upstream's row order never changes what is drawn)."""
    frame = ctx.input()
    if column not in frame.columns:
        shown = ", ".join(c for c in frame.columns if not c.startswith("_"))
        raise ValueError(f"attribute '{name}': '{column}' is not an upstream column ({shown})")
    counts = Counter(
        json.dumps(v, sort_keys=True, default=str)
        for v in frame.get_column(column).to_list()
        if v is not None
    )
    if not counts:
        raise ValueError(f"attribute '{name}': column '{column}' has no values to draw from")
    ordered = sorted(counts)
    return [json.loads(text) for text in ordered], [counts[text] for text in ordered]


def _faker_values(keys: Sequence[str], salt: str, provider: str, locale: str) -> list[Any]:
    from faker import Faker

    from synthc.recipe.schema import did_you_mean

    fake = Faker(locale)
    method = getattr(fake, provider, None) if not provider.startswith("_") else None
    if not callable(method):
        known = [n for n in dir(fake) if not n.startswith("_")]
        raise ValueError(f"'{provider}' is not a Faker provider{did_you_mean(provider, known)}")
    values = []
    for key in keys:
        fake.seed_instance(xxh3_64_intdigest(f"{key}{_SEP}{salt}".encode()))
        values.append(method())
    return values


def _draw(
    ctx: StepContext, name: str, spec: Mapping[str, Any], keys: Sequence[str], salt: str
) -> list[Any]:
    """The attribute's value for every row key."""
    import numpy as np
    from scipy.special import ndtri

    if "faker" in spec:
        locale = str(ctx.config.get("locale") or DEFAULT_LOCALE)
        return _faker_values(keys, salt, str(spec["faker"]), locale)
    u = _uniforms(keys, salt)
    if "values" in spec:
        values = list(spec["values"])
        weights = spec.get("weights") or [1] * len(values)
        return _categorical(u, values, weights)
    if "column" in spec:
        return _categorical(u, *_column_distribution(ctx, name, str(spec["column"])))
    if "uniform" in spec:
        low, high = float(spec["uniform"]["min"]), float(spec["uniform"]["max"])
        return (low + u * (high - low)).tolist()
    if "normal" in spec:
        mean, std = float(spec["normal"].get("mean", 0)), float(spec["normal"].get("std", 1))
        return (mean + std * ndtri(u)).tolist()
    if "integer" in spec:
        low, high = int(spec["integer"]["min"]), int(spec["integer"]["max"])
        drawn = low + np.floor(u * (high - low + 1)).astype(np.int64)
        return np.minimum(drawn, high).tolist()
    raise ValueError(f"attribute '{name}' needs one of: {', '.join(DISTRIBUTIONS)}")


def run(ctx: StepContext) -> pl.DataFrame:
    """Sample `rows` rows per grid cell (see the module docstring)."""
    import polars as pl

    config = ctx.config
    grid: Mapping[str, Sequence[Any]] = config.get("grid") or {}
    per_cell = int(config.get("rows") or 1)
    cells = _cells(grid)
    cell_keys = [json.dumps(cell, sort_keys=True, default=str) for cell in cells]
    row_cells = [cell for cell in cells for _ in range(per_cell)]
    parents = [key for key in cell_keys for _ in range(per_cell)]
    indexes = [i for _ in cells for i in range(per_cell)]
    keys = [f"{ctx.recipe.seed}{_SEP}{ctx.name}{_SEP}{p}{_SEP}{i}" for p, i in zip(parents, indexes, strict=True)]  # fmt: skip
    data: dict[str, Any] = {ROW_ID: derived_row_ids(ctx.name, parents, indexes)}
    for column in grid:
        data[column] = [cell[column] for cell in row_cells]
    for name, spec in (config.get("attributes") or {}).items():
        if name not in grid:
            data[name] = _draw(ctx, name, spec, keys, salt=name)
    return pl.DataFrame(data, strict=False)


KIND = StepKind(
    name="sample",
    version=1,
    run=run,
    columns=columns,
)
