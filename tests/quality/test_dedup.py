"""dedup removes exact and near copies, explains each removal, and is idempotent."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthc.quality.dedup import dedup

BASE = "the quick brown fox jumps over the lazy dog near the old river bank today"


def frame(texts: list[str], **extra: list) -> pl.DataFrame:
    return pl.DataFrame({"_id": [f"r{i}" for i in range(len(texts))], "text": texts, **extra})


def test_exact_copies_after_normalisation_keep_the_first():
    kept, matches = dedup(frame([BASE, BASE.upper() + "!!", "something else"]), "text")
    assert kept["_id"].to_list() == ["r0", "r2"]
    assert matches.to_dicts() == [
        {"removed_id": "r1", "kept_id": "r0", "similarity": 1.0, "reason": "exact"}
    ]


def test_near_copy_is_removed_with_its_jaccard():
    edited = BASE.replace("lazy", "sleepy")
    texts = [BASE, edited, "a different sentence entirely about cats"]
    kept, matches = dedup(frame(texts), "text", threshold=0.6)
    assert kept["_id"].to_list() == ["r0", "r2"]
    row = matches.row(0, named=True)
    assert (row["removed_id"], row["kept_id"], row["reason"]) == ("r1", "r0", "near")
    assert row["similarity"] == pytest.approx(10 / 16)  # 3 of 13 trigrams changed


def test_texts_below_the_threshold_are_kept():
    kept, _ = dedup(frame([BASE, BASE.replace("lazy", "sleepy")]), "text", threshold=0.9)
    assert kept.height == 2


def test_exact_method_skips_near_duplicates():
    kept, _ = dedup(frame([BASE, BASE.replace("lazy", "sleepy")]), "text", method="exact")
    assert kept.height == 2


@pytest.mark.parametrize(
    ("keep", "survivor"), [("first", "r0"), ("longest", "r1"), ("highest(score)", "r2")]
)
def test_keep_rule_chooses_the_survivor(keep, survivor):
    texts = [BASE, BASE + " again", BASE.replace("lazy", "sleepy")]
    kept, matches = dedup(frame(texts, score=[1, 2, 3]), "text", threshold=0.6, keep=keep)
    assert kept["_id"].to_list() == [survivor]
    assert set(matches["kept_id"]) == {survivor}


def test_against_removes_copies_of_reference_rows_and_names_them():
    reference = pl.DataFrame({"_id": ["eval-1"], "text": [BASE]})
    texts = [
        "unrelated words about a sunny garden and its many flowers",
        BASE.replace("lazy", "sleepy"),
        BASE,
    ]
    kept, matches = dedup(frame(texts), "text", threshold=0.6, against=[reference])
    assert kept["_id"].to_list() == ["r0"]
    assert sorted(matches.select("removed_id", "kept_id", "reason").rows()) == [
        ("r1", "eval-1", "against"),
        ("r2", "eval-1", "against"),
    ]


def test_several_columns_are_compared_together():
    data = frame([BASE, BASE], answer=["yes", "no"])
    kept, _ = dedup(data, ["text", "answer"], method="exact")
    assert kept.height == 2


def test_empty_frame_and_empty_texts():
    kept, matches = dedup(frame([]).cast({"text": pl.String}), "text")
    assert kept.height == 0 and matches.height == 0
    kept, _ = dedup(frame(["", "", "word"]), "text")
    assert kept["_id"].to_list() == ["r0", "r2"]


def test_unknown_keep_rule_is_an_error_naming_the_choices():
    with pytest.raises(ValueError, match="highest"):
        dedup(frame([BASE]), "text", keep="newest")


WORD = st.sampled_from(["fox", "dog", "cat", "the", "runs", "Jumps", "over", "lazy", "42", "ÉTÉ"])
TEXT = st.lists(WORD, min_size=0, max_size=12).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(TEXT, max_size=25),
    st.sampled_from([0.3, 0.5, 0.7]),
    st.sampled_from(["first", "longest"]),
)
def test_dedup_is_idempotent(texts, threshold, keep):
    reference = [pl.DataFrame({"_id": ["ref"], "text": ["the lazy dog runs over the cat"]})]
    once, _ = dedup(frame(texts), "text", threshold=threshold, keep=keep, against=reference)
    twice, matches = dedup(once, "text", threshold=threshold, keep=keep, against=reference)
    assert twice.equals(once)
    assert matches.height == 0


def test_a_huge_cluster_of_near_copies_collapses_to_one_row():
    # More members than MAX_BUCKET share every band bucket: the bounded star path.
    suffixes = [chr(97 + i % 26) + chr(97 + i // 26) for i in range(600)]
    texts = [f"{BASE} {suffix}" for suffix in suffixes]
    kept, matches = dedup(frame(texts), "text", threshold=0.7)
    assert kept["_id"].to_list() == ["r0"]
    assert matches.height == 599 and set(matches["reason"]) == {"near"}


def test_rows_without_an_id_column_are_named_by_position():
    kept, matches = dedup(pl.DataFrame({"text": ["x y z", "other words", "X, y z"]}), "text")
    assert kept.height == 2
    assert matches.select("removed_id", "kept_id").rows() == [("2", "0")]


def test_digits_are_kept_by_default_and_folded_on_request() -> None:
    from synthc.quality.dedup import dedup

    frame = pl.DataFrame(
        {"_id": ["a", "b", "c"], "q": ["What is 2 + 3?", "What is 4 + 5?", "what is 2+3"]}
    )
    kept, matches = dedup(frame, "q", method="exact")
    assert kept["_id"].to_list() == ["a", "b"] and matches["removed_id"].to_list() == ["c"]
    folded, _ = dedup(frame, "q", method="exact", fold_digits=True)
    assert folded["_id"].to_list() == ["a"]
