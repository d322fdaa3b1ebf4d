"""Leakage: synthetic rows that copy an evaluation or reference set.

Two detectors, both over normalised words: exact long n-gram overlap (the GPT-3 / Llama
contamination check with 13-grams), and near-copies by MinHash containment.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from synthc.quality._arrays import run_starts
from synthc.quality.minhash import Permutations
from synthc.quality.text import as_series, grams, normalise

Texts = pl.Series | Sequence[str | None]


def ngram_overlap(texts: Texts, reference: Texts, n: int = 13) -> np.ndarray:
    """Per text: True when it shares a word n-gram with any reference text.

    A text or reference shorter than n words counts as one n-gram of all its words, so
    a short evaluation row copied verbatim is still caught. Example::

        leaking = np.flatnonzero(ngram_overlap(synthetic, eval_rows))
    """
    mine = grams(normalise(texts), n)
    theirs = grams(normalise(reference), n)
    hit = np.isin(mine.key, theirs.key)
    leaks = np.zeros(mine.records, dtype=bool)
    leaks[mine.owner[hit]] = True
    return leaks


def containment(
    texts: Texts,
    reference: Texts,
    ngram: int = 5,
    candidate_jaccard: float = 0.3,
    num_perm: int = 128,
) -> tuple[np.ndarray, np.ndarray]:
    """Per text: the highest containment |T ∩ R| / |T| of its n-gram set in a reference
    text, and which reference row (-1 if none).

    Candidates come from MinHash LSH banded for `candidate_jaccard` (a text contained in
    a much longer reference has a low Jaccard, so this floor sets what is caught); each
    candidate's containment is then computed exactly.
    """
    from synthc.quality.near import series_source, verified_pairs

    mine, theirs = as_series(texts), as_series(reference)
    pooled = series_source(pl.concat([mine, theirs]))
    found = verified_pairs(
        pooled,
        len(mine) + len(theirs),
        ngram,
        Permutations.create(num_perm),
        0.0,
        candidate_threshold=candidate_jaccard,
        measure="containment",
    )
    # Pooled order puts texts first, so a cross pair is (text, reference).
    cross = (found.first < len(mine)) & (found.second >= len(mine))
    text, ref, value = found.first[cross], found.second[cross], found.similarity[cross]
    best = np.zeros(len(mine))
    source = np.full(len(mine), -1, dtype=np.int64)
    order = np.lexsort((-value, text))
    lead = order[run_starts(text[order])]
    best[text[lead]] = value[lead]
    source[text[lead]] = ref[lead] - len(mine)
    return best, source
