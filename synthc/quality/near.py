"""Near-duplicate pairs: MinHash LSH candidates verified by exact Jaccard, in batches.

Texts come from a `TextSource`, which normalises rows on demand, so that a corpus is
never held twice in memory: only per-record LSH band keys (bands x 8 bytes) and the
current batch's working arrays are.

The two heavy passes, signatures and exact verification, work on independent blocks
(a batch of normalised texts, a batch of candidate pairs with their texts) through a
`BlockMap`: `local_map` here, or the Ray executor's, which runs the same block functions
on a cluster. Each block's result depends on that block alone and the blocks come back
in order, so the result is the same wherever they run. Grouping the band keys into
candidate pairs is a `PairGrouping`: `candidate_pairs` here, or the Ray executor's
hash-partitioned shuffle, which returns the same pairs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

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
# (block function, blocks) -> each block's result, in order.
BlockMap = Callable[[Callable[[Any], Any], Iterable[Any]], Iterator[Any]]
# (records, bands) band keys -> candidate pairs, as `minhash.candidate_pairs` returns them.
PairGrouping = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def local_map(function: Callable[[Any], Any], blocks: Iterable[Any]) -> Iterator[Any]:
    """Blocks one after another in this process."""
    return map(function, blocks)


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
    map_blocks: BlockMap = local_map,
) -> Sketch:
    """One batched pass over the texts: band keys (tuned for `threshold`), empties, and
    with `text_keys` the exact-duplicate keys, so each text is normalised once."""
    bands, band_rows = lsh_params(threshold, perms.num_perm)
    keys = np.empty((rows, bands), dtype=np.uint64)
    empty = np.zeros(rows, dtype=bool)
    exact = np.empty(rows, dtype=np.uint64) if text_keys else None
    blocks = (
        source(np.arange(lo, min(rows, lo + BATCH_RECORDS))) for lo in range(0, rows, BATCH_RECORDS)
    )
    block = functools.partial(
        _sketch_block,
        ngram=ngram,
        perms=perms,
        bands=bands,
        band_rows=band_rows,
        shingle_hash=shingle_hash,
        text_keys=text_keys,
    )
    lo = 0
    for block_keys, block_empty, block_exact in map_blocks(block, blocks):
        hi = lo + len(block_keys)
        keys[lo:hi], empty[lo:hi] = block_keys, block_empty
        if exact is not None:
            exact[lo:hi] = block_exact
        lo = hi
    return Sketch(band_keys=keys, empty=empty, text_keys=exact)


def _sketch_block(
    texts: pl.Series,
    ngram: int,
    perms: Permutations,
    bands: int,
    band_rows: int,
    shingle_hash: str,
    text_keys: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One block of normalised texts: band keys, empties, exact keys."""
    sigs = signatures(texts, ngram, perms, shingle_hash)
    empty = (texts.str.len_bytes() == 0).to_numpy()
    return band_keys(sigs, bands, band_rows), empty, xxh3_keys(texts) if text_keys else None


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
    map_blocks: BlockMap = local_map,
    group_pairs: PairGrouping = candidate_pairs,
) -> Verified:
    """Candidate pairs from the band keys (grouped by `group_pairs`), kept where the
    exact measure >= threshold.

    Rows marked in `exclude` (and empty texts) pair with nothing.
    """
    lonely = sketched.empty if exclude is None else sketched.empty | exclude
    keys = sketched.band_keys.copy() if lonely.any() else sketched.band_keys
    # A key no other row has: its own index, out of the range band keys mix into.
    keys[lonely] = np.flatnonzero(lonely).astype(np.uint64)[:, None] ^ _LONER
    first, second = group_pairs(keys)
    del keys
    similarity = pair_similarity(source, ngram, first, second, measure, map_blocks=map_blocks)
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
    map_blocks: BlockMap = local_map,
) -> np.ndarray:
    """Exact Jaccard |A ∩ B| / |A ∪ B| (or containment |A ∩ B| / |A|) of the n-gram sets
    of each (first[k], second[k]) pair.

    Pairs are taken in batches, and each batch's records are shingled afresh, so memory
    stays bounded however many candidates there are.
    """
    blocks = (
        _pair_block(source, first[lo : lo + batch], second[lo : lo + batch])
        for lo in range(0, len(first), batch)
    )
    measured = functools.partial(_similarity_block, ngram=ngram, measure=measure)
    parts = list(map_blocks(measured, blocks))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)


def _pair_block(
    source: TextSource, a: np.ndarray, b: np.ndarray
) -> tuple[pl.Series, np.ndarray, np.ndarray]:
    """A batch of pairs as (texts of their members, left and right positions in them)."""
    members, where = np.unique(np.concatenate([a, b]), return_inverse=True)
    return source(members), where[: len(a)], where[len(a) :]


def _similarity_block(
    block: tuple[pl.Series, np.ndarray, np.ndarray], ngram: int, measure: str
) -> np.ndarray:
    texts, left, right = block
    sets = shingle_sets(texts, ngram)
    if measure == "jaccard":
        return np.asarray(jaccard_pairs(sets, left, right), dtype=np.float64)
    shared, size = intersections(sets, left, right), sets.sizes[left]
    return np.divide(shared, size, out=np.zeros(len(left)), where=size > 0)
