"""Near-duplicate pairs: MinHash LSH candidates verified by exact Jaccard, in batches.

Texts come from a `TextSource`, which normalises rows on demand, so that a corpus is
never held twice in memory: only per-record LSH band keys (bands x 8 bytes) and the
current batch's working arrays are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
import xxhash

from synthc.quality.minhash import (
    Permutations,
    band_keys,
    candidate_pairs,
    intersections,
    jaccard_pairs,
    lsh_params,
    signatures,
)
from synthc.quality.text import BATCH_RECORDS, normalise, shingle_sets

# Row positions -> their normalised texts.
TextSource = Callable[[np.ndarray], pl.Series]
_LONER = np.uint64(0xE3779B97F4A7C15)


def series_source(texts: pl.Series, normalised: bool = False) -> TextSource:
    """A TextSource over a Series of raw (or already normalised) texts."""

    def source(rows: np.ndarray) -> pl.Series:
        picked = texts.gather(rows)
        return picked if normalised else normalise(picked)

    return source


@dataclass(frozen=True)
class Verified:
    """Candidate pairs (first < second) whose exact Jaccard >= the threshold."""

    first: np.ndarray
    second: np.ndarray
    similarity: np.ndarray


@dataclass(frozen=True)
class Sketch:
    """Per row: LSH band keys, whether the text is empty, and optionally an xxh3-64 key
    of the whole normalised text (for exact duplicates)."""

    band_keys: np.ndarray  # (rows, bands) uint64
    empty: np.ndarray  # bool
    text_keys: np.ndarray | None


def sketch(
    source: TextSource,
    rows: int,
    ngram: int,
    perms: Permutations,
    threshold: float,
    shingle_hash: str = "sha1",
    text_keys: bool = False,
) -> Sketch:
    """One batched pass over the texts: band keys (tuned for `threshold`), empties, and
    with `text_keys` the exact-duplicate keys, so each text is normalised once."""
    bands, band_rows = lsh_params(threshold, perms.num_perm)
    keys = np.empty((rows, bands), dtype=np.uint64)
    empty = np.zeros(rows, dtype=bool)
    exact = np.empty(rows, dtype=np.uint64) if text_keys else None
    for lo in range(0, rows, BATCH_RECORDS):
        batch = source(np.arange(lo, min(rows, lo + BATCH_RECORDS)))
        sigs = signatures(batch, ngram, perms, shingle_hash)
        keys[lo : lo + len(batch)] = band_keys(sigs, bands, band_rows)
        empty[lo : lo + len(batch)] = (batch.str.len_bytes() == 0).to_numpy()
        if exact is not None:
            exact[lo : lo + len(batch)] = xxh3_keys(batch)
    return Sketch(band_keys=keys, empty=empty, text_keys=exact)


def xxh3_keys(texts: pl.Series) -> np.ndarray:
    """xxh3-64 of each text's UTF-8 bytes."""
    digest = xxhash.xxh3_64_intdigest
    return np.array([digest(b) for b in texts.cast(pl.Binary).to_list()], dtype=np.uint64)


def verify(
    source: TextSource,
    sketched: Sketch,
    ngram: int,
    threshold: float,
    exclude: np.ndarray | None = None,
    measure: str = "jaccard",
) -> Verified:
    """Candidate pairs from the band keys, kept where the exact measure >= threshold.

    Rows marked in `exclude` (and empty texts) pair with nothing.
    """
    lonely = sketched.empty if exclude is None else sketched.empty | exclude
    keys = sketched.band_keys.copy() if lonely.any() else sketched.band_keys
    # A key no other row has: its own index, out of the range band keys mix into.
    keys[lonely] = np.flatnonzero(lonely).astype(np.uint64)[:, None] ^ _LONER
    first, second = candidate_pairs(keys)
    del keys
    similarity = pair_similarity(source, ngram, first, second, measure)
    hit = similarity >= threshold
    return Verified(first[hit], second[hit], similarity[hit])


def verified_pairs(
    source: TextSource,
    rows: int,
    ngram: int,
    perms: Permutations,
    threshold: float,
    shingle_hash: str = "sha1",
    candidate_threshold: float | None = None,
    measure: str = "jaccard",
) -> Verified:
    """Near-duplicate pairs among `rows` texts: LSH candidates checked by exact Jaccard
    (or containment of the first in the second, with measure="containment").

    The LSH bands are tuned for `candidate_threshold` (default: `threshold`).
    """
    sketched = sketch(source, rows, ngram, perms, candidate_threshold or threshold, shingle_hash)
    return verify(source, sketched, ngram, threshold, measure=measure)


def pair_similarity(
    source: TextSource,
    ngram: int,
    first: np.ndarray,
    second: np.ndarray,
    measure: str = "jaccard",
    batch: int = BATCH_RECORDS // 2,
) -> np.ndarray:
    """Exact Jaccard |A ∩ B| / |A ∪ B| (or containment |A ∩ B| / |A|) of the n-gram sets
    of each (first[k], second[k]) pair.

    Pairs are taken in batches, and each batch's records are shingled afresh, so memory
    stays bounded however many candidates there are.
    """
    out = np.zeros(len(first), dtype=np.float64)
    for lo in range(0, len(first), batch):
        a, b = first[lo : lo + batch], second[lo : lo + batch]
        members, where = np.unique(np.concatenate([a, b]), return_inverse=True)
        sets = shingle_sets(source(members), ngram)
        left, right = where[: len(a)], where[len(a) :]
        if measure == "jaccard":
            out[lo : lo + len(a)] = jaccard_pairs(sets, left, right)
        else:
            shared, size = intersections(sets, left, right), sets.sizes[left]
            out[lo : lo + len(a)] = np.divide(shared, size, out=np.zeros(len(a)), where=size > 0)
    return out
