"""Canaries: planted rows with a random suffix. Matches equal a brute-force word search;
an echo generator that sees them is caught every time, a paraphraser never."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from privacy_data import customer_rows, paraphrase

from synthc.quality.canaries import (
    SUFFIX_WORDS,
    WORD_LETTERS,
    CanarySettings,
    canary_matches,
    plant_canaries,
)
from synthc.quality.privacy import evaluate_privacy
from synthc.quality.text import normalise
from synthc.rows import content_row_ids
from synthc.steps.seed import holdout_mask

LIMITS = {"pii_replayed": 1e9, "copied_rows": 1e9, "membership_advantage": 1.0}


def ids(rows: pl.DataFrame) -> pl.Series:
    return content_row_ids(rows, salt="canary")


def seed_frame(count: int = 120) -> pl.DataFrame:
    frame = pl.DataFrame(customer_rows(count))
    return frame.with_columns(content_row_ids(frame)).select("_id", *frame.columns)


def test_canaries_copy_real_rows_and_end_in_a_random_suffix():
    frame = seed_frame(40)
    planted, table = plant_canaries(frame, CanarySettings(5), np.random.default_rng(3), ids)
    assert planted.columns == frame.columns and planted.height == table.height == 5
    assert table["column"].to_list() == ["note"] * 5  # the longest text column
    templates = dict(zip(frame["_id"], frame["note"], strict=True))
    for row, canary in zip(planted.iter_rows(named=True), table.iter_rows(named=True), strict=True):
        words = canary["suffix"].split()
        assert len(words) == SUFFIX_WORDS and all(len(w) == WORD_LETTERS for w in words)
        assert row["note"] == f"{templates[canary['template_id']]} {canary['suffix']}"
        assert row["_id"] == canary["_id"] and row["_id"] not in templates
    assert table["template_id"].n_unique() == 5  # distinct rows while rows last
    again, same = plant_canaries(frame, CanarySettings(5), np.random.default_rng(3), ids)
    assert same.equals(table) and again.equals(planted)
    other = plant_canaries(frame, CanarySettings(5), np.random.default_rng(4), ids)[1]
    assert set(other["suffix"]).isdisjoint(table["suffix"])


def test_a_named_column_must_be_a_text_column():
    with pytest.raises(ValueError, match="column 'age' is not a text column"):
        plant_canaries(seed_frame(5), CanarySettings(1, "age"), np.random.default_rng(0), ids)


def _brute_force(outputs: list[str], suffixes: list[str], n: int) -> dict[tuple[int, int], float]:
    """(output, canary) -> share of the suffix's n-grams the output holds, word by word."""
    found = {}
    for i, text in enumerate(outputs):
        words = normalise([text])[0].split()
        grams = {tuple(words[j : j + n]) for j in range(len(words) - n + 1)}
        for k, suffix in enumerate(suffixes):
            parts = suffix.split()
            mine = [tuple(parts[j : j + n]) for j in range(len(parts) - n + 1)]
            hits = sum(gram in grams for gram in mine)
            if hits:
                found[(i, k)] = hits / len(mine)
    return found


@pytest.mark.parametrize("n", [1, 2, 3])
def test_matches_equal_a_brute_force_word_search(n):
    rng = np.random.default_rng(n)
    _, table = plant_canaries(seed_frame(30), CanarySettings(8), rng, ids)
    suffixes = table["suffix"].to_list()
    outputs = []
    for i in range(200):
        words = ["the", "router", "is", "slow"] * 3
        if i % 5 == 0:  # a run of suffix words, shouted and punctuated
            parts = suffixes[i % 8].split()
            start = int(rng.integers(0, SUFFIX_WORDS))
            words += [w.upper() + "," for w in parts[start : start + int(rng.integers(1, 4))]]
        if i % 7 == 0:  # a suffix word glued inside a longer word: no match
            words.append("x" + suffixes[0].split()[0])
        outputs.append(" ".join(words))
    found = canary_matches(outputs, suffixes, n)
    expected = _brute_force(outputs, suffixes, n)
    got = {(row, canary): score for row, canary, score, _ in found.iter_rows()}
    assert got.keys() == expected.keys() and len(got) >= 5
    for key, score in expected.items():
        assert got[key] == pytest.approx(score, abs=1e-9)
    full = canary_matches([suffixes[3]], suffixes, n).row(0, named=True)
    assert full["canary"] == 3 and full["score"] == 1.0


def _split(seed: int, canaries: int = 10):
    frame = seed_frame()
    held = holdout_mask(frame["_id"].to_list(), 0.25, seed, "customers")
    used = frame.filter(~held)
    planted, table = plant_canaries(
        used, CanarySettings(canaries), np.random.default_rng(seed), ids
    )
    used = pl.concat([used, planted])
    rows = {row_id: i for i, row_id in enumerate(used["_id"])}
    marks = [(rows[i], s) for i, s in table.select("_id", "suffix").iter_rows()]
    return used["note"].to_list(), frame.filter(held)["note"].to_list(), marks


@pytest.mark.parametrize("seed", range(10))
def test_an_echo_is_caught_on_every_canary_and_a_paraphraser_on_none(seed):
    used, holdout, marks = _split(seed)
    echoed = evaluate_privacy([f"Sure! {note}" for note in used], used, holdout, canaries=marks)
    ok, message = echoed.verdict(LIMITS, alpha=0.01)
    assert not ok and "10 of 10 canaries found in outputs" in message
    assert echoed.details["canaries_leaked"] == 10 and echoed.details["canary_rows"] == 10
    canary = echoed.matches.filter(pl.col("kind") == "canary")
    assert sorted(canary["seed_row"]) == sorted(row for row, _ in marks)
    assert canary["score"].to_list() == [1.0] * 10

    paraphrased = evaluate_privacy(
        [paraphrase(f"Paraphrase: {note}") for note in used], used, holdout, canaries=marks
    )
    ok, message = paraphrased.verdict(LIMITS, alpha=0.01)
    assert ok, message
    assert paraphrased.details["canaries_leaked"] == 0 and "0 of 10 canaries" in message


def test_one_leaked_canary_fails_unless_allowed():
    used, holdout, marks = _split(0, canaries=3)
    leaked = used[marks[1][0]].split()[-1]  # one word of one suffix
    found = evaluate_privacy(
        ["A note on routers.", f"Code: {leaked}."], used, holdout, canaries=marks
    )
    assert found.canaries_leaked == 1
    assert not found.verdict(LIMITS, alpha=0.01)[0]
    assert found.verdict({**LIMITS, "canaries_leaked": 1.0}, alpha=0.01)[0]
    assert found.copied_rows == 0  # a canary word is not a copied row
