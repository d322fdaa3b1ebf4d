"""Tail coverage: does the synthetic set reach the rare corners of the real one?

Model collapse shows first in the tails: lengths drift toward the middle, rare words and
small topics vanish. Three views, each a share in [0, 1] where 1 is full coverage:

- length tails: the synthetic p1..p99 word-count range against the real one;
- rare tokens: real words in the bottom `rare_mass` of real word frequency that occur
  in the synthetic set;
- low-mass clusters: real topic clusters (k-means) holding less than an even share of
  the real rows that receive at least one synthetic row.

The summary figure is the weakest of the three.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synthc.quality.embeddings import Embedder
from synthc.quality.fidelity import topic_clusters
from synthc.quality.text import normalise, token_counts


@dataclass(frozen=True)
class TailCoverage:
    synthetic_p1: float
    synthetic_p99: float
    real_p1: float
    real_p99: float
    length_coverage: float
    rare_token_coverage: float
    low_mass_cluster_coverage: float

    @property
    def figure(self) -> float:
        return min(self.length_coverage, self.rare_token_coverage, self.low_mass_cluster_coverage)


def length_quantiles(
    texts: Sequence[str], quantiles: Sequence[float] = (1, 99)
) -> tuple[float, ...]:
    """Word-count percentiles of normalised texts (nan for an empty set)."""
    counts = token_counts(normalise(texts))
    if counts.size == 0:
        return tuple(float("nan") for _ in quantiles)
    return tuple(float(v) for v in np.percentile(counts, quantiles))


def length_coverage(synthetic: Sequence[str], real: Sequence[str]) -> float:
    """Overlap of the synthetic [p1, p99] word-count range with the real one, as a share
    of the real range (1 when the real range has no width and is covered)."""
    s1, s99 = length_quantiles(synthetic)
    r1, r99 = length_quantiles(real)
    if np.isnan(s1) or np.isnan(r1):
        return 0.0
    overlap = max(0.0, min(s99, r99) - max(s1, r1))
    if r99 == r1:
        return 1.0 if s1 <= r1 <= s99 else 0.0
    return overlap / (r99 - r1)


def rare_token_coverage(
    synthetic: Sequence[str], real: Sequence[str], rare_mass: float = 0.1
) -> float:
    """Share of the real set's rare words (least frequent, together `rare_mass` of all
    real word occurrences) that appear in the synthetic set."""
    real_counts = Counter(w for t in normalise(real).to_list() for w in t.split())
    if not real_counts:
        return 1.0
    ranked = sorted(real_counts.items(), key=lambda item: (item[1], item[0]))
    budget = rare_mass * sum(real_counts.values())
    rare: list[str] = []
    mass = 0
    for word, count in ranked:
        if rare and mass + count > budget:
            break
        rare.append(word)
        mass += count
    present = {w for t in normalise(synthetic).to_list() for w in t.split()}
    return sum(w in present for w in rare) / len(rare)


def low_mass_cluster_coverage(
    synthetic: Sequence[str],
    real: Sequence[str],
    k: int = 10,
    embed: Embedder | None = None,
    seed: int = 0,
) -> float:
    """Share of small real topic clusters (below an even 1/k share) that synthetic rows reach."""
    if not len(synthetic) or not len(real):
        return 0.0
    labels_synth, labels_real = topic_clusters(synthetic, real, k, embed, seed)
    sizes = np.bincount(labels_real)
    small = np.flatnonzero(sizes < len(labels_real) / len(sizes))
    if small.size == 0:
        return 1.0
    return float(np.isin(small, labels_synth).mean())


def tail_coverage(
    synthetic: Sequence[str], real: Sequence[str], k: int = 10, embed: Embedder | None = None
) -> TailCoverage:
    """All three tail views and the real/synthetic length percentiles."""
    s1, s99 = length_quantiles(synthetic)
    r1, r99 = length_quantiles(real)
    return TailCoverage(
        synthetic_p1=s1,
        synthetic_p99=s99,
        real_p1=r1,
        real_p99=r99,
        length_coverage=length_coverage(synthetic, real),
        rare_token_coverage=rare_token_coverage(synthetic, real),
        low_mass_cluster_coverage=low_mass_cluster_coverage(synthetic, real, k, embed),
    )
