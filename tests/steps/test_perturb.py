"""perturb_numbers keeps every number's format and is a pure function of its seed; noise too."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthc.steps._perturb import (
    NUMBER,
    PROTECTED_KINDS,
    noise,
    parse_number,
    perturb_numbers,
    protected_numbers,
)


@st.composite
def numbers(draw: st.DrawFn) -> str:
    sign = draw(st.sampled_from(["", "", "-", "+"]))
    value = draw(st.integers(0, 10**7))
    grouped = draw(st.booleans()) and value >= 1000
    decimals = draw(st.sampled_from([0, 0, 1, 2, 3]))
    text = f"{value:,}" if grouped else str(value)
    if decimals:
        text += "." + "".join(
            draw(st.lists(st.sampled_from("0123456789"), min_size=decimals, max_size=decimals))
        )
    return sign + text


@st.composite
def texts_with_numbers(draw: st.DrawFn) -> str:
    words = st.sampled_from(["costs", "about", "items", "kg", "%", " USD", "(", ")", "in", "was"])
    parts = draw(st.lists(st.one_of(words, numbers()), min_size=1, max_size=10))
    return " ".join(parts)


amounts = st.one_of(
    st.fixed_dictionaries({"relative": st.floats(0.01, 2.0)}),
    st.fixed_dictionaries({"absolute": st.floats(0.01, 5000.0)}),
)


@given(texts_with_numbers(), st.integers(0, 2**32), amounts)
def test_format_is_preserved(text: str, seed: int, amount: dict[str, float]) -> None:
    new, changes = perturb_numbers(text, np.random.default_rng(seed), **amount, keep=())
    assert len(changes) == len(NUMBER.findall(text))
    # Everything that is not a number is untouched, in place.
    assert NUMBER.split(text)[:: NUMBER.groups + 1] == _between(new, changes)
    for old, replaced in changes:
        old_match, new_match = NUMBER.fullmatch(old), NUMBER.fullmatch(replaced)
        assert old_match is not None and new_match is not None, (old, replaced)
        _, old_fmt = parse_number(old_match)
        magnitude, new_fmt = parse_number(new_match)
        assert new_fmt.sign == old_fmt.sign
        assert new_fmt.decimals == old_fmt.decimals  # integers stay integers
        assert ("," in replaced) == (old_fmt.grouped and magnitude >= 1000)


def _between(new: str, changes: list[tuple[str, str]]) -> list[str]:
    """The text around the replaced numbers, found left to right."""
    parts, rest = [], new
    for _, replaced in changes:
        head, _, rest = rest.partition(replaced)
        parts.append(head)
    return [*parts, rest]


@given(texts_with_numbers(), st.integers(0, 2**32), amounts)
def test_same_seed_same_output(text: str, seed: int, amount: dict[str, float]) -> None:
    first = perturb_numbers(text, np.random.default_rng(seed), **amount)
    assert perturb_numbers(text, np.random.default_rng(seed), **amount) == first


@given(texts_with_numbers(), st.integers(0, 2**32), amounts)
def test_kept_numbers_stay_as_written_and_the_rest_change(
    text: str, seed: int, amount: dict[str, float]
) -> None:
    new, changes = perturb_numbers(text, np.random.default_rng(seed), **amount)
    kept = protected_numbers(text)
    numbers = Counter(m.group(0) for m in NUMBER.finditer(text))
    assert Counter(old for old, _ in changes) + Counter(n for n, _ in kept) == numbers
    for number, kind in kept:
        assert kind in PROTECTED_KINDS and number in new


@given(st.integers(0, 10**6), st.floats(0.01, 0.5), st.integers(0, 2**32))
def test_relative_jitter_is_bounded(value: int, relative: float, seed: int) -> None:
    _, [(_, new)] = perturb_numbers(
        f"n={value}", np.random.default_rng(seed), relative=relative, keep=()
    )
    assert abs(int(new) - value) <= value * relative + 0.5


def test_examples_keep_their_shape() -> None:
    text = "Paid $1,250.50 for 3 items (+12% vs 2023), 007 agents, gpt-4, H2O, v1.2.3, -5C"
    new, changes = perturb_numbers(text, np.random.default_rng(0), relative=0.2, keep=())
    assert [old for old, _ in changes] == ["1,250.50", "3", "+12", "2023", "007", "-5"]
    assert "gpt-4" in new and "H2O" in new and "v1.2.3" in new
    assert changes[4][1].isdigit() and len(changes[4][1]) == 3  # zero padding kept


@given(st.text(max_size=80), st.floats(0.0, 1.0), st.integers(0, 2**32))
def test_noise_is_seeded_and_bounded(text: str, rate: float, seed: int) -> None:
    first = noise(text, np.random.default_rng(seed), rate)
    assert noise(text, np.random.default_rng(seed), rate) == first
    assert len(first) <= 2 * len(text)


def test_noise_rate_zero_is_identity_and_some_rate_changes_text() -> None:
    text = "The quick brown fox jumps over the lazy dog."
    assert noise(text, np.random.default_rng(0), 0.0) == text
    assert noise(text, np.random.default_rng(0), 0.3) != text


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("In 2024 the 3 trains ran late", [("2024", "years")]),
        ("Founded in 1999, it has 40 staff", [("1999", "years")]),
        ("Built in 1867 by 40 people", []),
        ("Due 2024-05-01 or 5/1/24, or May 5", [("2024", "dates"), ("05", "dates"), ("01", "dates"),
                                                 ("5", "dates"), ("1", "dates"), ("24", "dates"),
                                                 ("5", "dates")]),
        ("Meet at 9:30 or 7 pm with 4 people", [("9", "times"), ("30", "times"), ("7", "times")]),
        ("Upgrade to version 2.1 from 1.9.4 for 5 users", [("2.1", "versions")]),
        ("Call (555) 123-4567 or +44 20 7946 0958 for 2 tickets",
         [("555", "phones"), ("123", "phones"), ("4567", "phones"), ("+44", "phones"),
          ("20", "phones"), ("7946", "phones"), ("0958", "phones")]),
        ("Order #1234, account 5512 and ref 88812345 cost 30 USD",
         [("1234", "ids"), ("5512", "ids"), ("88812345", "ids")]),
        ("A 20% rise to 2000% of 1,950 units", []),
    ],
)  # fmt: skip
def test_years_dates_times_versions_phones_and_ids_are_left_alone(text: str, kept: list) -> None:
    assert protected_numbers(text) == kept
    for seed in range(20):
        new, changes = perturb_numbers(text, np.random.default_rng(seed), relative=0.5)
        numbers = Counter(m.group(0) for m in NUMBER.finditer(text))
        assert Counter(old for old, _ in changes) + Counter(n for n, _ in kept) == numbers
        for number, _ in kept:
            assert number in new
    assert protected_numbers(text, keep=()) == []


def test_keep_names_the_kinds_left_alone() -> None:
    text = "In 2024 we sold 300 units at 9:30"
    assert protected_numbers(text, keep=["times"]) == [("9", "times"), ("30", "times")]
    new, changes = perturb_numbers(text, np.random.default_rng(1), relative=0.5, keep=["times"])
    assert [old for old, _ in changes] == ["2024", "300"] and "9:30" in new
