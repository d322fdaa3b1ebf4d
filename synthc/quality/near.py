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


def verified_pairs(
    source: TextSource,
    rows: int,
    ngram: int,
    perms: Permutations,
    threshold: float,
    shingle_hash: str = "sha1",
    candidate_threshold: float | None = None,
    exclude: np.ndarray | None = None,
    measure: str = "jaccard",
) -> Verified:
    """Near-duplicate pairs among `rows` texts: LSH candidates checked by exact Jaccard
    (or containment of the first in the second, with measure="containment").

    The LSH bands are tuned for `candidate_threshold` (default: `threshold`). Rows marked
    in `exclude` (and empty texts) pair with nothing.
    """
    bands, band_rows = lsh_params(candidate_threshold or threshold, perms.num_perm)
    keys = np.empty((rows, bands), dtype=np.uint64)
    lonely = np.zeros(rows, dtype=bool) if exclude is None else exclude.copy()
    for lo in range(0, rows, BATCH_RECORDS):
        batch = source(np.arange(lo, min(rows, lo + BATCH_RECORDS)))
        sigs = signatures(batch, ngram, perms, shingle_hash)
        keys[lo : lo + len(batch)] = band_keys(sigs, bands, band_rows)
        lonely[lo : lo + len(batch)] |= (batch.str.len_bytes() == 0).to_numpy()
    # A key no other row has: its own index, out of the range band keys mix into.
    keys[lonely] = np.flatnonzero(lonely).astype(np.uint64)[:, None] ^ _LONER
    first, second = candidate_pairs(keys)
    del keys
    similarity = pair_similarity(source, ngram, first, second, measure)
    hit = similarity >= threshold
    return Verified(first[hit], second[hit], similarity[hit])


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
