"""Canaries: rows planted into a private seed to prove whether a generator copies.

A canary is a copy of a real seed row (so it is in-distribution: it reads like the
others and is as likely to be shown in a prompt) whose text column ends in a random
suffix of SUFFIX_WORDS words of WORD_LETTERS lowercase letters (about 226 bits of
entropy). No model writes such a suffix by chance, so any word n-gram of it found in
an output was copied from the seed. Letters only: the suffix reads the same after
`synthc.quality.text.normalise` (which folds digits) as before it.

The suffixes come from a seeded generator (the recipe seed and the step name), so the
same recipe plants the same canaries on every build and the seed's data version stays
stable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

SUFFIX_WORDS = 6
WORD_LETTERS = 8
CANARY_TABLE = "_canaries"  # per private seed: _id, template_id, column, suffix
CANARY_SCHEMA_COLUMNS = ("_id", "template_id", "column", "suffix")


@dataclass(frozen=True)
class CanarySettings:
    """`canaries:` of a seed step: how many to plant, into which text column (default:
    the text column holding the most characters)."""

    count: int
    column: str | None = None

    @classmethod
    def parse(cls, value: int | Mapping[str, Any]) -> CanarySettings:
        if isinstance(value, Mapping):
            column = value.get("column")
            return cls(int(value["count"]), None if column is None else str(column))
        return cls(int(value))


def random_suffixes(rng: np.random.Generator, count: int) -> list[str]:
    """`count` suffixes of SUFFIX_WORDS random lowercase words."""
    import numpy as np

    letters = rng.integers(0, 26, size=(count, SUFFIX_WORDS, WORD_LETTERS))
    codes = (letters + ord("a")).astype(np.uint8)
    return [" ".join(bytes(word).decode("ascii") for word in suffix) for suffix in codes.tolist()]


def text_column(frame: pl.DataFrame, column: str | None) -> str:
    """`column`, else the user text column with the most characters in all."""
    import polars as pl

    names = [c for c, t in frame.schema.items() if t == pl.String and not c.startswith("_")]
    if column is not None:
        if column not in names:
            raise ValueError(
                f"canaries: column '{column}' is not a text column; text columns: "
                f"{', '.join(names) or 'none'}"
            )
        return column
    if not names:
        raise ValueError("canaries: the seed has no text column to plant a suffix into")
    lengths = frame.select(pl.col(names).str.len_chars().sum()).row(0)
    return max(zip(lengths, names, strict=True), key=lambda pair: (pair[0] or 0, pair[1]))[1]


def plant_canaries(
    frame: pl.DataFrame,
    settings: CanarySettings,
    rng: np.random.Generator,
    row_ids: Callable[[pl.DataFrame], pl.Series],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(canary rows with the schema of `frame`, their `_canaries` table).

    Each canary copies a row of `frame` (which has an `_id` column) drawn by `rng`,
    without replacement while rows last, and appends a suffix to its text column; its
    `_id` is `row_ids` of the canary rows (the seed step hashes their content).
    """
    import polars as pl

    if not frame.height:
        raise ValueError("canaries: the seed has no rows to copy")
    column = text_column(frame, settings.column)
    picks = rng.permutation(frame.height)
    picks = picks[[i % frame.height for i in range(settings.count)]]
    suffixes = random_suffixes(rng, settings.count)
    templates = frame.select(pl.all().gather(picks.tolist()))
    planted = templates.with_columns(
        pl.concat_str([pl.col(column).fill_null(""), pl.Series(suffixes)], separator=" ").alias(
            column
        )
    )
    ids = row_ids(planted).alias("_id")
    planted = planted.with_columns(ids)
    table = pl.DataFrame(
        {
            "_id": ids,
            "template_id": templates.get_column("_id"),
            "column": [column] * settings.count,
            "suffix": suffixes,
        }
    )
    return planted, table


def suffix_grams(suffix: str, n: int) -> list[str]:
    """The word n-grams of a suffix (the whole suffix when it is shorter than n)."""
    words = suffix.split()
    if len(words) <= n:
        return [" ".join(words)]
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


def canary_matches(outputs: Sequence[str], suffixes: Sequence[str], n: int = 1) -> pl.DataFrame:
    """One row per (output, canary) where the output holds a word n-gram of the canary's
    suffix: output_row, canary (index into `suffixes`), score (share of the suffix's
    n-grams found), span (the n-grams found, in suffix order).

    Outputs are normalised first, so case and punctuation around the words do not hide
    a copy; candidates are found with one Aho-Corasick pass over the suffix words, then
    checked n-gram by n-gram.
    """
    import polars as pl

    from synthc.quality.text import normalise

    schema = {"output_row": pl.Int64, "canary": pl.Int64, "score": pl.Float64, "span": pl.String}
    if not suffixes or not len(outputs):
        return pl.DataFrame(schema=schema)
    texts = normalise(outputs)
    words = sorted({word for suffix in suffixes for word in suffix.split()})
    candidates = texts.str.contains_any(words).arg_true().to_list()
    grams = [suffix_grams(suffix, n) for suffix in suffixes]
    found: list[tuple[int, int, float, str]] = []
    for row in candidates:
        padded = f" {texts[row]} "
        for canary, options in enumerate(grams):
            hits = [gram for gram in options if f" {gram} " in padded]
            if hits:
                found.append((row, canary, len(hits) / len(options), " | ".join(hits)))
    return pl.DataFrame(found, schema=schema, orient="row")
