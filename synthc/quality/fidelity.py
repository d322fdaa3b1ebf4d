"""Fidelity of synthetic texts to real ones: histogram divergences and MMD.

Jensen-Shannon divergence is reported in bits (base 2), so it lies in [0, 1]; it is the
square of scipy's ``jensenshannon(p, q, base=2)`` distance.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synthc.quality.embeddings import Embedder, embed_together, single_threaded
from synthc.quality.text import normalise, token_counts

MAX_LENGTH_BINS = 30
MAX_VOCABULARY = 5_000


def js_divergence(
    p_counts: Sequence[float] | np.ndarray, q_counts: Sequence[float] | np.ndarray
) -> float:
    """Jensen-Shannon divergence (base 2) of two histograms over the same bins."""
    p = np.asarray(p_counts, dtype=np.float64)
    q = np.asarray(q_counts, dtype=np.float64)
    if p.sum() == 0 or q.sum() == 0:
        return 1.0 if p.sum() != q.sum() else 0.0
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    return float(_kl(p, m) / 2 + _kl(q, m) / 2)


def _kl(p: np.ndarray, m: np.ndarray) -> float:
    present = p > 0
    return float(np.sum(p[present] * np.log2(p[present] / m[present])))


def length_jsd(synthetic: Sequence[str], real: Sequence[str]) -> float:
    """JSD of word-count histograms, on bins shared by both sets (at most 30)."""
    a = token_counts(normalise(synthetic)).astype(np.float64)
    b = token_counts(normalise(real)).astype(np.float64)
    pooled = np.concatenate([a, b])
    if pooled.size == 0:
        return 0.0
    bins = min(MAX_LENGTH_BINS, max(1, len(np.unique(pooled))))
    edges = np.histogram_bin_edges(pooled, bins=bins)
    return js_divergence(np.histogram(a, edges)[0], np.histogram(b, edges)[0])


def unigram_jsd(synthetic: Sequence[str], real: Sequence[str]) -> float:
    """JSD of word frequencies; words beyond the 5,000 most frequent share one bin."""
    counts_a = Counter(w for t in normalise(synthetic).to_list() for w in t.split())
    counts_b = Counter(w for t in normalise(real).to_list() for w in t.split())
    vocabulary = [w for w, _ in (counts_a + counts_b).most_common(MAX_VOCABULARY)]
    kept = set(vocabulary)
    p = [counts_a[w] for w in vocabulary] + [sum(c for w, c in counts_a.items() if w not in kept)]
    q = [counts_b[w] for w in vocabulary] + [sum(c for w, c in counts_b.items() if w not in kept)]
    return js_divergence(p, q)


def topic_clusters(
    synthetic: Sequence[str],
    real: Sequence[str],
    k: int = 10,
    embed: Embedder | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """K-means topic cluster of each text, fitted on the real set, in a shared embedding."""
    from sklearn.cluster import KMeans

    a, b = embed_together(synthetic, real, embed)
    k = max(1, min(k, len(b)))
    with single_threaded():
        model = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(b)
        return model.predict(a) if len(a) else np.zeros(0, dtype=np.int64), model.labels_


def topic_jsd(
    synthetic: Sequence[str],
    real: Sequence[str],
    k: int = 10,
    embed: Embedder | None = None,
    seed: int = 0,
) -> float:
    """JSD of topic-cluster shares (k-means on the real set's embeddings)."""
    if not len(synthetic) or not len(real):
        return 1.0
    labels_a, labels_b = topic_clusters(synthetic, real, k, embed, seed)
    bins = int(max(labels_a.max(initial=0), labels_b.max(initial=0))) + 1
    return js_divergence(
        np.bincount(labels_a, minlength=bins), np.bincount(labels_b, minlength=bins)
    )


@dataclass(frozen=True)
class MMDResult:
    """Unbiased MMD² with an RBF kernel, its bandwidth and a permutation p-value."""

    mmd2: float
    p_value: float
    bandwidth: float


def rbf_kernel(x: np.ndarray, y: np.ndarray, bandwidth: float) -> np.ndarray:
    """exp(-||x - y||² / (2 σ²)) for every pair of rows."""
    squared = np.sum(x**2, 1)[:, None] + np.sum(y**2, 1)[None, :] - 2 * x @ y.T
    return np.exp(-np.maximum(squared, 0) / (2 * bandwidth**2))


def median_bandwidth(pooled: np.ndarray) -> float:
    """The median heuristic: σ = median distance between distinct pooled rows."""
    squared = np.sum(pooled**2, 1)[:, None] + np.sum(pooled**2, 1)[None, :] - 2 * pooled @ pooled.T
    upper = np.sqrt(np.maximum(squared[np.triu_indices(len(pooled), k=1)], 0))
    median = float(np.median(upper)) if upper.size else 0.0
    return median if median > 0 else 1.0


def mmd2_unbiased(kernel: np.ndarray, in_first: np.ndarray) -> np.ndarray:
    """Unbiased MMD² from a pooled kernel matrix, for each column of `in_first`.

    in_first: (rows,) or (rows, labelings) booleans marking the first sample's rows.
    Each labeling's sums are quadratic forms of its indicator vector, so all the
    permutations of a test cost two matrix products instead of a loop of submatrices.
    """
    x = np.asarray(in_first, dtype=np.float64).reshape(len(kernel), -1)
    y = 1.0 - x
    m, n = x.sum(0), y.sum(0)
    diagonal = np.diag(kernel)
    kx, ky = kernel @ x, kernel @ y
    within_x = ((x * kx).sum(0) - diagonal @ x) / (m * (m - 1))
    within_y = ((y * ky).sum(0) - diagonal @ y) / (n * (n - 1))
    between = (x * ky).sum(0) / (m * n)
    return within_x + within_y - 2 * between


def mmd_test(
    first: np.ndarray,
    second: np.ndarray,
    permutations: int = 200,
    seed: int = 0,
    max_rows: int = 1000,
) -> MMDResult:
    """Unbiased MMD² between two samples of vectors and its permutation-test p-value.

    Each sample is subsampled (seeded) to at most `max_rows` rows to bound the O(n²)
    kernel. p = (1 + #{permuted MMD² >= observed}) / (1 + permutations).
    """
    rng = np.random.default_rng(seed)
    first, second = _subsample(first, max_rows, rng), _subsample(second, max_rows, rng)
    if len(first) < 2 or len(second) < 2:
        raise ValueError("MMD needs at least two rows in each sample")
    pooled = np.vstack([first, second]).astype(np.float64)
    with single_threaded():
        bandwidth = median_bandwidth(pooled)
        kernel = rbf_kernel(pooled, pooled, bandwidth)
        labels = np.arange(len(pooled)) < len(first)
        shuffled = np.column_stack(
            [labels] + [rng.permutation(labels) for _ in range(permutations)]
        )
        values = mmd2_unbiased(kernel, shuffled)
    observed = float(values[0])
    exceed = int(np.sum(values[1:] >= observed))
    return MMDResult(mmd2=observed, p_value=(1 + exceed) / (1 + permutations), bandwidth=bandwidth)


def _subsample(rows: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    rows = np.asarray(rows)
    return (
        rows if len(rows) <= limit else rows[np.sort(rng.choice(len(rows), limit, replace=False))]
    )


def text_mmd(
    synthetic: Sequence[str],
    real: Sequence[str],
    embed: Embedder | None = None,
    permutations: int = 200,
    seed: int = 0,
) -> MMDResult:
    """MMD test between two sets of texts in a shared embedding space."""
    a, b = embed_together(synthetic, real, embed)
    return mmd_test(a, b, permutations=permutations, seed=seed)
