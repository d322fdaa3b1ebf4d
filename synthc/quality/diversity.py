"""Diversity of one set of texts: distinct-n, compression ratio, near-duplicates, Vendi.

Each function is pure over a column of strings (a list or a polars Series).
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from synthc.quality.minhash import Permutations, components
from synthc.quality.text import as_series, choose_ngram, normalise

Texts = pl.Series | Sequence[str | None]
DEFAULT_BUDGET = 10_000


def distinct_n(
    texts: Texts, ns: Sequence[int] = (1, 2, 3, 4), budget: int = DEFAULT_BUDGET, seed: int = 0
) -> dict[int, float]:
    """Distinct word n-grams / all word n-grams, for each n, at a fixed token budget.

    Records are taken whole, in a seeded random order, until `budget` words are reached
    (all records if the set is smaller), so sets of different sizes compare fairly: a
    bigger set would otherwise look less diverse only because it is bigger. N-grams never
    span two records. Example: ``distinct_n(["a b a b"], ns=(1, 2))`` is ``{1: 0.5, 2: 2/3}``.
    """
    words = _budget_words(normalise(texts), budget, seed)
    result: dict[int, float] = {}
    for n in ns:
        grams = [tuple(w[i : i + n]) for w in words for i in range(len(w) - n + 1)]
        result[n] = len(set(grams)) / len(grams) if grams else 0.0
    return result


def _budget_words(normalised: pl.Series, budget: int, seed: int) -> list[list[str]]:
    order = np.random.default_rng(seed).permutation(len(normalised))
    chosen: list[list[str]] = []
    used = 0
    for index in order:
        words = normalised[int(index)].split()
        if not words:
            continue
        chosen.append(words)
        used += len(words)
        if used >= budget:
            break
    return chosen


def compression_ratio(texts: Texts) -> float:
    """Raw bytes / gzip bytes of the texts joined by newlines: higher is more repetitive."""
    raw = "\n".join(as_series(texts).to_list()).encode()
    if not raw:
        return 1.0
    return len(raw) / len(gzip.compress(raw, compresslevel=9, mtime=0))


@dataclass(frozen=True)
class NearDuplicates:
    """rate: share of rows that dedup would remove; largest_cluster_share: the biggest
    cluster of (near-)copies over all rows; labels: cluster per row."""

    rate: float
    largest_cluster_share: float
    labels: np.ndarray


def near_duplicates(
    texts: Texts, threshold: float = 0.7, ngram: int | None = None, num_perm: int = 128
) -> NearDuplicates:
    """Near-duplicate clusters by MinHash LSH verified by exact Jaccard (as in dedup)."""
    from synthc.quality.near import series_source, verified_pairs

    normalised = normalise(texts)
    if len(normalised) == 0:
        return NearDuplicates(0.0, 0.0, np.zeros(0, dtype=np.int64))
    n = ngram or choose_ngram(as_series(texts))
    source = series_source(normalised, normalised=True)
    found = verified_pairs(source, len(normalised), n, Permutations.create(num_perm), threshold)
    labels = components(len(normalised), found.first, found.second)
    sizes = np.bincount(labels)
    return NearDuplicates(
        rate=float((len(labels) - len(sizes)) / len(labels)),
        largest_cluster_share=float(sizes.max() / len(labels)),
        labels=labels,
    )


def vendi_score(embeddings: np.ndarray) -> float:
    """Vendi score (Friedman & Dieng 2023) with the cosine kernel: exp of the Shannon
    entropy of the eigenvalues of K/n, the "effective number of distinct items".

    n identical rows score 1, n orthogonal rows score n. Computed from the d x d matrix
    X^T X / n, which has the same non-zero eigenvalues as K/n, so it scales to many rows.
    """
    rows = np.asarray(embeddings, dtype=np.float64)
    if len(rows) == 0:
        return 0.0
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    unit = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
    eigen = np.linalg.eigvalsh(unit.T @ unit / len(unit))
    eigen = eigen[eigen > 1e-12]
    return float(np.exp(-np.sum(eigen * np.log(eigen))))
