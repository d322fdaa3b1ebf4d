"""The privacy measures against reference computations, and planted defects: an echo
generator fails, a paraphraser that never saw the holdout passes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from privacy_data import customer_rows, paraphrase

from synthc.quality.pii import find_pii, iban_valid, luhn_valid
from synthc.quality.privacy import (
    evaluate_privacy,
    exact_copies,
    membership_test,
    minhash_copies,
    ngram_copies,
)
from synthc.quality.text import choose_ngram, normalise, word_ngrams
from synthc.steps.seed import holdout_mask

LIMITS = {"pii_replayed": 0.0, "copied_rows": 0.0, "membership_advantage": 0.1}


@pytest.mark.parametrize(
    ("text", "kind", "normalised"),
    [
        ("write to Bob.Smith@Example.ORG today", "email", "bob.smith@example.org"),
        ("call +1 (415) 555-0100", "phone", "4155550100"),
        ("call 415.555.0100", "phone", "4155550100"),
        ("card 4111 1111 1111 1111 please", "card_number", "4111111111111111"),
        ("card 5500-0000-0000-0004", "card_number", "5500000000000004"),
        ("IBAN GB82 WEST 1234 5698 7654 32.", "iban", "GB82WEST12345698765432"),
        ("iban DE89370400440532013000", "iban", "DE89370400440532013000"),
        ("ssn 123-45-6789", "us_ssn", "123456789"),
        ("host 192.168.0.1 down", "ipv4", "192.168.0.1"),
        ("host fe80:0:0:0:0:0:0:1 down", "ipv6", "fe80::1"),
    ],
)
def test_each_detector_finds_its_kind_in_normal_form(text, kind, normalised):
    found = find_pii([text])
    assert found.select("kind", "normalised").rows() == [(kind, normalised)]
    row = found.row(0, named=True)
    assert text[row["start"] : row["end"]] == row["value"]


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112",  # Luhn fails
        "iban GB82 WEST 1234 5698 7654 33",  # mod 97 fails
        "ssn 000-12-3456 and 666-12-3456",  # never issued
        "ip 999.1.1.1",  # not an address
        "order 12345 on 2024-05-01 costs 19.99",  # too few digits for a phone
        "0000 0000 0000 0000",  # one repeated digit is no card
    ],
)
def test_look_alikes_are_not_pii(text):
    assert find_pii([text]).is_empty()


def _luhn_reference(digits: str) -> bool:
    doubled = "".join(str(int(d) * (2 if i % 2 else 1)) for i, d in enumerate(reversed(digits)))
    return sum(int(d) for d in doubled) % 10 == 0


def test_luhn_and_iban_match_reference_definitions():
    rng = np.random.default_rng(3)
    for _ in range(2000):
        number = "".join(map(str, rng.integers(0, 10, int(rng.integers(13, 20)))))
        if len(set(number)) > 1:
            assert luhn_valid(number) == _luhn_reference(number), number
    # ISO 13616 check digits computed from scratch for a random BBAN
    for _ in range(200):
        bban = "".join(map(str, rng.integers(0, 10, 18)))
        check = 98 - int(bban + "131400") % 97  # "DE" = 13 14, then "00"
        assert iban_valid(f"DE{check:02d}{bban}")
        assert not iban_valid(f"DE{(check % 97) + 1:02d}{bban}")


def test_membership_figures_equal_a_brute_force_nearest_neighbour_loop():
    rng = np.random.default_rng(11)

    def unit(n: int) -> np.ndarray:
        x = rng.normal(size=(n, 8))
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    outputs, used, holdout = unit(70), unit(30), unit(12)
    outputs[:20] = used[:20] + rng.normal(scale=0.05, size=(20, 8))  # near-copies of used rows
    outputs[:20] /= np.linalg.norm(outputs[:20], axis=1, keepdims=True)
    found = membership_test(outputs, used, holdout)

    def nearest(q, points):
        return min(
            1.0 - sum(float(a) * float(b) for a, b in zip(q, p, strict=True)) for p in points
        )

    to_used = [nearest(q, used) for q in outputs]
    to_holdout = [nearest(q, holdout) for q in outputs]
    assert np.allclose(found.used_distance, to_used, rtol=0, atol=1e-9)
    assert np.allclose(found.holdout_distance, to_holdout, rtol=0, atol=1e-9)
    k = sum(u < h for u, h in zip(to_used, to_holdout, strict=True))
    n = sum(u != h for u, h in zip(to_used, to_holdout, strict=True))
    p0 = 30 / 42
    tail = sum(math.comb(n, i) * p0**i * (1 - p0) ** (n - i) for i in range(k, n + 1))
    assert (found.closer, found.decided) == (k, n)
    assert found.expected == pytest.approx(p0, abs=1e-12)
    assert found.p_value == pytest.approx(tail, abs=1e-9)
    assert found.advantage == pytest.approx((k / n - p0) / (1 - p0), abs=1e-12)


def _texts():
    return [row["note"] for row in customer_rows()]


def test_ngram_and_exact_copies_equal_a_brute_force_comparison():
    seeds = _texts()
    outputs = [
        f"Summary: {seeds[3]}",  # shares every 13-gram of seed 3
        seeds[7].upper(),  # an exact copy once normalised
        " ".join(seeds[9].split()[:12]) + " and more",  # 12 shared words: no 13-gram
        "Nothing private here at all, only a general remark about printers.",
    ]
    found = ngram_copies(outputs, seeds, 13)
    mine = [word_ngrams(t, 13) for t in normalise(outputs).to_list()]
    theirs = [word_ngrams(t, 13) for t in normalise(seeds).to_list()]
    expected = {}
    for i, grams in enumerate(mine):
        shared = [(len(grams & other), -j) for j, other in enumerate(theirs) if grams & other]
        if shared:
            count, seed = max(shared)
            expected[i] = (-seed, count / len(grams))
    got = {r["output_row"]: (r["seed_row"], r["score"]) for r in found.iter_rows(named=True)}
    assert got.keys() == expected.keys() == {0, 1}
    for row, (seed, score) in expected.items():
        assert got[row][0] == seed and got[row][1] == pytest.approx(score, abs=1e-12)
    assert exact_copies(outputs, seeds).select("output_row", "seed_row").rows() == [(1, 7)]


def test_minhash_copies_are_exactly_verified_pairs():
    seeds = _texts()
    outputs = [seeds[5].replace("after six", "after seven"), "an unrelated sentence about tea"]
    found = minhash_copies(outputs, seeds, threshold=0.7)
    n = choose_ngram([*outputs, *seeds])
    assert found.get_column("output_row").to_list() == [0]
    row = found.row(0, named=True)
    a = word_ngrams(normalise([outputs[0]])[0], n)
    b = word_ngrams(normalise([seeds[row["seed_row"]]])[0], n)
    assert row["seed_row"] == 5
    assert row["score"] == pytest.approx(len(a & b) / len(a | b), abs=1e-12)


def _split(seed: int) -> tuple[list[str], list[str]]:
    rows = customer_rows()
    held = holdout_mask([str(i) for i in range(len(rows))], 0.25, seed, "customers").to_list()
    used = [r["note"] for r, h in zip(rows, held, strict=True) if not h]
    holdout = [r["note"] for r, h in zip(rows, held, strict=True) if h]
    return used, holdout


@pytest.mark.parametrize("seed", range(10))
def test_an_echo_fails_and_a_paraphraser_passes_on_every_seed(seed):
    used, holdout = _split(seed)
    echoed = evaluate_privacy([f"Sure! {note}" for note in used], used, holdout)
    ok, message = echoed.verdict(LIMITS, alpha=0.01)
    details = echoed.details
    assert not ok
    assert details["pii_replayed"] == 2 * len(used) and details["copied_rows"] == len(used)
    assert details["membership_advantage"] == 1.0 and details["membership_p_value"] < 0.01

    paraphrased = evaluate_privacy([paraphrase(f"Paraphrase: {n}") for n in used], used, holdout)
    ok, message = paraphrased.verdict(LIMITS, alpha=0.01)
    assert ok, message
    assert paraphrased.details["pii_entities"] == len(used)  # invented emails: fine
