"""Each metric against a reference computation on small inputs."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from synthc.quality.coverage import length_coverage, length_quantiles, rare_token_coverage
from synthc.quality.diversity import compression_ratio, distinct_n, near_duplicates, vendi_score
from synthc.quality.embeddings import embed_together, embedder, tfidf_svd
from synthc.quality.fidelity import (
    js_divergence,
    length_jsd,
    median_bandwidth,
    mmd_test,
    rbf_kernel,
    unigram_jsd,
)
from synthc.quality.leakage import containment, ngram_overlap
from synthc.quality.utility import utility_drop


def word(i: int, prefix: str = "w") -> str:
    """A distinct word per integer, made of letters (normalisation folds digits to 0)."""
    letters = ""
    while True:
        letters += chr(97 + i % 26)
        i //= 26
        if not i:
            return prefix + letters


def test_distinct_n_hand_computed():
    # unigrams a b a b: 2 of 4; bigrams ab ba ab: 2 of 3; trigrams aba bab: 2 of 2.
    assert distinct_n(["a b a b"], ns=(1, 2, 3)) == {1: 0.5, 2: pytest.approx(2 / 3), 3: 1.0}


def test_distinct_n_uses_a_fixed_token_budget():
    texts = [f"{word(i)} common words here" for i in range(1000)]
    small = distinct_n(texts, ns=(1,), budget=40)[1]
    # 10 records of 4 words: 10 distinct w-words + 3 common words = 13 distinct of 40.
    assert small == pytest.approx(13 / 40)


def test_compression_ratio_matches_gzip_and_rises_with_repetition():
    texts = ["the cat sat", "on the mat"]
    raw = b"the cat sat\non the mat"
    assert compression_ratio(texts) == len(raw) / len(gzip.compress(raw, 9, mtime=0))
    assert compression_ratio(["same words again"] * 200) > compression_ratio(
        [f"text {i} {i * 7919 % 1000} {i**2}" for i in range(200)]
    )


def test_near_duplicate_rate_and_largest_cluster():
    base = "the quick brown fox jumps over the lazy dog near the river"
    texts = [
        base,
        base + "!",
        base.replace("lazy", "idle"),
        "totally different words in this one",
        "x y z",
    ]
    result = near_duplicates(texts, threshold=0.5)
    assert result.rate == pytest.approx(2 / 5)
    assert result.largest_cluster_share == pytest.approx(3 / 5)


def test_vendi_hand_computed_cases():
    assert vendi_score(np.eye(3)) == pytest.approx(3.0)
    assert vendi_score(np.ones((4, 2))) == pytest.approx(1.0)
    # Two vectors at 60 degrees: K = [[1, .5], [.5, 1]], eigenvalues of K/2 are .75 and .25.
    x = np.array([[1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    expected = np.exp(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25)))
    assert vendi_score(x) == pytest.approx(expected)


def test_vendi_matches_the_kernel_definition_on_random_vectors():
    x = np.random.default_rng(0).normal(size=(7, 4))
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    eig = np.linalg.eigvalsh(unit @ unit.T / 7)
    eig = eig[eig > 1e-12]
    assert vendi_score(x) == pytest.approx(np.exp(-np.sum(eig * np.log(eig))))


@pytest.mark.parametrize("seed", range(5))
def test_jsd_is_scipys_base2_distance_squared(seed):
    rng = np.random.default_rng(seed)
    p, q = rng.integers(0, 20, 12), rng.integers(0, 20, 12)
    assert js_divergence(p, q) == pytest.approx(jensenshannon(p, q, base=2) ** 2)


def test_jsd_bounds():
    assert js_divergence([1, 0], [0, 1]) == pytest.approx(1.0)
    assert js_divergence([3, 5], [6, 10]) == pytest.approx(0.0)


def test_length_and_unigram_jsd_on_hand_built_sets():
    assert length_jsd(["a b", "c d"], ["e f", "g h"]) == pytest.approx(0.0)
    assert length_jsd(["a"] * 5, ["a b c d e f g h"] * 5) == pytest.approx(1.0)
    # Word histograms {a: 2, b: 0} vs {a: 1, b: 1}.
    assert unigram_jsd(["a a"], ["a b"]) == pytest.approx(
        jensenshannon([2, 0], [1, 1], base=2) ** 2
    )


def direct_mmd2(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
    """The O(n²) textbook formula with explicit loops."""

    def k(a, b):
        return np.exp(-np.sum((a - b) ** 2) / (2 * sigma**2))

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_mmd_matches_the_direct_computation_and_detects_a_shift():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 3)), rng.normal(loc=1.5, size=(9, 3))
    result = mmd_test(x, y, permutations=200)
    pooled = np.vstack([x, y])
    distances = [np.linalg.norm(a - b) for i, a in enumerate(pooled) for b in pooled[i + 1 :]]
    assert result.bandwidth == pytest.approx(np.median(distances))
    assert result.mmd2 == pytest.approx(direct_mmd2(x, y, result.bandwidth))
    assert result.p_value < 0.05
    same = mmd_test(rng.normal(size=(30, 3)), rng.normal(size=(30, 3)), permutations=200)
    assert same.p_value > 0.05


def test_rbf_kernel_and_median_bandwidth():
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    assert rbf_kernel(x, x, 5.0)[0, 1] == pytest.approx(np.exp(-25 / 50))
    assert median_bandwidth(x) == pytest.approx(5.0)


def test_ngram_overlap_lists_exactly_the_copied_rows():
    evaluation = [" ".join(word(20 * i + j, "e") for j in range(20)) for i in range(3)]
    synthetic = [" ".join(word(20 * i + j, "s") for j in range(20)) for i in range(5)]
    synthetic[1] = "prefix words " + " ".join(evaluation[2].split()[:13]) + " suffix"
    synthetic[4] = "Short Eval"
    leaks = ngram_overlap(synthetic, [*evaluation, "short eval"], n=13)
    assert np.flatnonzero(leaks).tolist() == [1, 4]


def test_containment_finds_a_text_inside_a_longer_reference():
    reference = [" ".join(word(j) for j in range(60)), "unrelated words only here and there"]
    inside = " ".join(word(j) for j in range(10, 30))
    best, source = containment([inside, "nothing to see in this one at all"], reference, ngram=3)
    assert best[0] == pytest.approx(1.0) and source[0] == 0
    assert best[1] == 0.0 and source[1] == -1


def test_utility_drop_is_small_for_real_like_data_and_large_for_noise():
    rng = np.random.default_rng(0)
    topics = {
        "sport": ["goal", "match", "team", "score"],
        "food": ["pasta", "sauce", "bake", "salt"],
    }

    def sample(count: int) -> tuple[list[str], list[str]]:
        labels = rng.choice(list(topics), count).tolist()
        texts = [" ".join(rng.choice(topics[label], 5)) + " the a of" for label in labels]
        return texts, labels

    real_x, real_y = sample(120)
    synth_x, synth_y = sample(120)
    good = utility_drop(synth_x, synth_y, real_x, real_y, seeds=(0, 1, 2))
    assert len(good.real_scores) == 3
    assert abs(good.relative_drop) < 0.05
    swapped = ["food" if label == "sport" else "sport" for label in synth_y]
    bad = utility_drop(synth_x, swapped, real_x, real_y, seeds=(0, 1, 2))
    assert bad.relative_drop > 0.2


def test_length_quantiles_and_rare_token_coverage():
    texts = [" ".join(["w"] * n) for n in range(1, 101)]
    assert length_quantiles(texts) == pytest.approx(
        tuple(np.percentile(np.arange(1, 101), [1, 99]))
    )
    assert length_coverage(texts, texts) == pytest.approx(1.0)
    real = ["common common common common rarea", "common common common common rareb"]
    assert rare_token_coverage(["common rarea"], real, rare_mass=0.2) == pytest.approx(0.5)


def test_default_embedder_is_registered_and_shares_one_space():
    a, b = embed_together(["red apple pie", "green apple"], ["apple pie"], tfidf_svd(8))
    assert a.shape[1] == b.shape[1]
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0)
    with pytest.raises(ValueError, match="registered"):
        embedder("sentence-transformers")
