"""ROUGE-L novelty: rouge_score's numbers, all-pairs decisions, and a pool of 10,000."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer
from rouge_score.tokenize import tokenize

from synthc.steps._novelty import NoveltyPool, lcs_length, rouge_l_f1, rouge_tokens

SCORER = rouge_scorer.RougeScorer(["rougeL"])
WORDS = ["write", "a", "poem", "about", "the", "sea", "list", "three", "ideas", "for", "x"]

sentences = st.lists(st.sampled_from(WORDS), min_size=0, max_size=14).map(" ".join)


def reference_f1(a: str, b: str) -> float:
    return SCORER.score(b, a)["rougeL"].fmeasure


def all_pairs_offer(pool: list[str], candidate: str, threshold: float) -> bool:
    """The loop self-instruct implementations run: novel iff no pool item scores above."""
    novel = all(reference_f1(candidate, item) <= threshold for item in pool)
    if novel:
        pool.append(candidate)
    return novel


@given(st.text(max_size=60))
def test_tokens_are_rouge_scores_tokens(text: str) -> None:
    assert rouge_tokens(text) == tokenize(text, None)


@given(sentences, sentences)
def test_f1_equals_rouge_score_bit_for_bit(a: str, b: str) -> None:
    assert rouge_l_f1(rouge_tokens(a), rouge_tokens(b)) == reference_f1(a, b)


@given(st.lists(st.integers(0, 4), max_size=30), st.lists(st.integers(0, 4), max_size=30))
def test_bit_parallel_lcs_matches_dynamic_programming(a: list[int], b: list[int]) -> None:
    table = np.zeros((len(a) + 1, len(b) + 1), dtype=int)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1, j + 1] = (
                table[i, j] + 1 if x == y else max(table[i, j + 1], table[i + 1, j])
            )
    assert lcs_length(a, b) == table[-1, -1]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(sentences, max_size=12),
    st.lists(sentences, min_size=1, max_size=12),
    st.sampled_from([0.0, 0.3, 0.5, 0.7, 0.9, 1.0]),
)
def test_same_decisions_as_all_pairs(
    seed_pool: list[str], candidates: list[str], threshold: float
) -> None:
    pool = NoveltyPool(seed_pool, max_rouge_l=threshold)
    reference = list(seed_pool)
    for candidate in candidates:
        verdict = pool.offer(candidate)
        assert verdict.novel == all_pairs_offer(reference, candidate, threshold)
        if not verdict.novel:
            scores = [reference_f1(candidate, item) for item in reference]
            assert verdict.max_rouge_l == max(scores)
            assert verdict.most_similar is not None
            assert scores[verdict.most_similar] == max(scores)
    assert pool.texts == reference


def test_near_copy_rejected_with_its_score() -> None:
    pool = NoveltyPool(["Write a poem about the sea."], max_rouge_l=0.7)
    verdict = pool.offer("Write a short poem about the sea!")
    assert not verdict.novel
    assert verdict.most_similar == 0
    assert verdict.max_rouge_l == pytest.approx(2 * 6 / (6 + 7))
    assert pool.offer("Summarise this email in one line.").novel
    assert len(pool) == 2


def synthetic_tasks(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    verbs = [
        "write",
        "explain",
        "list",
        "describe",
        "compare",
        "summarise",
        "classify",
        "translate",
    ]
    nouns = [f"topic{i}" for i in range(400)] + ["email", "story", "poem", "recipe", "function"]
    glue = ["the", "a", "of", "for", "in", "about", "and", "with", "to"]
    tasks = []
    for _ in range(count):
        length = int(rng.integers(6, 20))
        words = [str(rng.choice(verbs))]
        words += [str(rng.choice(nouns if rng.random() < 0.5 else glue)) for _ in range(length)]
        tasks.append(" ".join(words).capitalize() + ".")
    return tasks


@pytest.mark.slow
def test_pool_of_ten_thousand_checks_fast_and_agrees_on_a_sample() -> None:
    pool_texts = synthetic_tasks(10_000, seed=1)
    pool = NoveltyPool(pool_texts, max_rouge_l=0.7)
    novel = synthetic_tasks(200, seed=2)
    copies = [text.replace(".", " please.") for text in pool_texts[:50]]
    started = time.perf_counter()
    verdicts = [pool.check(text) for text in novel + copies]
    per_candidate = (time.perf_counter() - started) / len(verdicts)
    assert per_candidate < 0.02  # all-pairs rouge_score takes ~0.5 s per candidate here
    assert all(not v.novel for v in verdicts[len(novel) :])
    assert pool.verified < 20 * len(verdicts)  # LCS for a handful of items, not 10,000
    for text, verdict in list(zip(novel + copies, verdicts, strict=True))[::70]:
        expected = all(reference_f1(text, item) <= 0.7 for item in pool_texts)
        assert verdict.novel == expected
