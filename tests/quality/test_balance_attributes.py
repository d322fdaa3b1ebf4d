"""Balance attributes derived from the rows: a lexicon over the text, a binned judge
score. Categories equal a brute-force count; a topic-collapsed generator fails, one
drawn like the seeds passes; the derived attribute comes back for every row."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from test_planted_defects import run_sql

from synthc.quality.balance import binned, lexicon_categories
from synthc.quality.gates import evaluate_check
from synthc.quality.text import normalise

LEXICON = {
    "billing": ["invoice", "refund", "credit card", "charge"],
    "hardware": ["screen", "battery", "card"],
    "shipping": ["parcel", "courier", "delivery"],
}
OPENINGS = {
    "billing": [
        "My invoice shows a double charge.",
        "I want a refund for the credit card payment.",
    ],
    "hardware": ["The screen flickers.", "The battery drains overnight and the screen dims."],
    "shipping": ["The parcel never came.", "The courier left the delivery at the wrong door."],
}
SHARES = {"billing": 0.5, "hardware": 0.3, "shipping": 0.2}


def _brute_force(text: str) -> str:
    words = normalise([text], fold_digits=False)[0].split()
    best, best_count = "other", 0
    for category, terms in LEXICON.items():
        count = 0
        phrases = sorted((t.split() for t in terms), key=len, reverse=True)
        i = 0
        while i < len(words):  # longest phrase first at each position, no overlaps
            hit = next((p for p in phrases if words[i : i + len(p)] == p), None)
            count += hit is not None
            i += len(hit) if hit else 1
        if count > best_count:
            best, best_count = category, count
    return best


def test_lexicon_categories_equal_a_brute_force_count():
    texts = [
        "INVOICE: refund, please!",  # billing 2
        "Screen and battery; my card too.",  # hardware 3
        "A refund for the screen.",  # tie 1-1: billing is listed first
        "credit card charge",  # billing 2 (one phrase, one word), hardware 1 ("card")
        "Nothing about any of it.",
        "screens and invoices",  # no whole-word match
        None,
        "Parcel, courier, delivery, refund.",
    ]
    found = lexicon_categories(texts, LEXICON)
    assert found == [_brute_force(t or "") for t in texts]
    assert found == ["billing", "hardware", "billing", "billing", "other", "other", "other",
                     "shipping"]  # fmt: skip


def test_binned_scores_follow_the_edges():
    values = [1.0, 3.99, 4.0, 7.0, 10.0, 10.5, None, 0.0]
    assert binned(values, [1, 4, 7, 10]) == ["1-4", "1-4", "4-7", "7-10", "7-10", None, None, None]


def texts(rng: np.random.Generator, n: int, shares: dict[str, float]) -> list[str]:
    topics = rng.choice(list(shares), size=n, p=list(shares.values()))
    return [f"{OPENINGS[t][int(rng.integers(0, 2))]} Order {i}." for i, t in enumerate(topics)]


def frame(texts: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"_id": [f"r{i}" for i in range(len(texts))], "text": texts})


def gate(outputs: pl.DataFrame, seeds: pl.DataFrame, **config: object):
    attribute = {"name": "topic", "lexicon": LEXICON, "column": "text"}
    settings = {"attribute": attribute, "reference": "seeds", **config}
    return evaluate_check("balance", settings, outputs, {"seeds": seeds}, run_sql)


@pytest.mark.parametrize("seed", range(10))
def test_a_topic_collapsed_generator_fails_and_one_drawn_like_the_seeds_passes(seed):
    rng = np.random.default_rng(seed)
    seeds = frame(texts(rng, 300, SHARES))
    collapsed = frame(texts(rng, 300, {"billing": 1.0, "hardware": 0.0, "shipping": 0.0}))
    failed = gate(collapsed, seeds, max_amplification=1.5)
    assert failed.status == "fail" and "no hardware, shipping" in failed.message
    assert failed.details["coverage"] == pytest.approx(1 / 3)
    table = failed.tables["_attributes"]
    assert (
        table.columns == ["_id", "topic"] and table["_id"].to_list() == collapsed["_id"].to_list()
    )
    assert set(table["topic"]) == {"billing"}

    drawn = frame(texts(rng, 600, SHARES))
    passed = gate(drawn, seeds, max_amplification=1.5)
    assert passed.status == "pass", passed.message
    assert passed.tables["_attributes"]["topic"].to_list() == lexicon_categories(
        drawn["text"].to_list(), LEXICON
    )


def test_a_judge_score_attribute_is_binned_and_compared_with_given_shares():
    scores = [9.0] * 60 + [5.0] * 30 + [2.0] * 10
    outputs = pl.DataFrame({"_id": [f"r{i}" for i in range(100)], "score": scores})
    attribute = {"name": "quality", "judge": "score", "bins": [0, 4, 7, 10]}
    config = {"attribute": attribute, "shares": {"0-4": 1, "4-7": 1, "7-10": 1}}
    result = evaluate_check("balance", config, outputs, {}, run_sql)
    assert result.status == "fail"  # 60% high scores against a third expected
    assert result.details["tvd"] == pytest.approx(0.5 * (abs(0.1 - 1 / 3) + abs(0.3 - 1 / 3)
                                                         + abs(0.6 - 1 / 3)), abs=1e-12)  # fmt: skip
    assert result.tables["_attributes"]["quality"].to_list() == binned(scores, [0, 4, 7, 10])
    even = pl.DataFrame({"_id": [f"r{i}" for i in range(90)], "score": [2.0, 5.0, 9.0] * 30})
    assert evaluate_check("balance", config, even, {}, run_sql).status == "pass"


def test_a_derived_attribute_may_not_shadow_a_column():
    outputs = pl.DataFrame({"_id": ["a"], "text": ["refund"], "topic": ["x"]})
    attribute = {"name": "topic", "lexicon": LEXICON}
    with pytest.raises(ValueError, match="'topic' is already a column"):
        evaluate_check(
            "balance", {"attribute": attribute, "shares": "uniform"}, outputs, {}, run_sql
        )


def test_a_plain_column_attribute_emits_no_attribute_table():
    outputs = pl.DataFrame({"_id": ["a", "b"], "region": ["n", "s"]})
    result = evaluate_check("balance", {"attribute": "region", "shares": "uniform"}, outputs, {},
                            run_sql)  # fmt: skip
    assert "_attributes" not in result.tables
