"""Identity: equal settings give equal fingerprints whatever their order; any change shows."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthc.fingerprint import canonical_json, fingerprint

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False)
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
configs = st.dictionaries(st.text(min_size=1, max_size=8), values, min_size=1, max_size=6)


def shuffled(value: object, rng: random.Random) -> object:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


@given(configs, st.integers())
def test_key_order_never_changes_the_fingerprint(config: dict, seed: int) -> None:
    assert fingerprint(shuffled(config, random.Random(seed))) == fingerprint(config)


@given(configs, st.data())
def test_changing_any_setting_changes_the_fingerprint(config: dict, data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(config)))
    new_value = data.draw(values.filter(lambda v: canonical_json(v) != canonical_json(config[key])))
    changed = {**config, key: new_value}
    assert fingerprint(changed) != fingerprint(config)


@given(configs, st.text(min_size=1, max_size=8))
def test_adding_a_setting_changes_the_fingerprint(config: dict, key: str) -> None:
    if key in config:
        return
    assert fingerprint({**config, key: None}) != fingerprint(config)


def test_integral_floats_are_the_same_setting_as_ints() -> None:
    assert fingerprint({"temperature": 1.0}) == fingerprint({"temperature": 1})
    assert fingerprint({"temperature": 0.7}) != fingerprint({"temperature": 0.70001})


def test_list_order_matters() -> None:
    assert fingerprint({"to": ["es", "de"]}) != fingerprint({"to": ["de", "es"]})


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_numbers_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        fingerprint({"x": bad})


def test_prompt_text_is_byte_exact() -> None:
    assert fingerprint({"prompt": "Hello "}) != fingerprint({"prompt": "Hello"})
    assert fingerprint({"prompt": "\u00e9"}) != fingerprint({"prompt": "e\u0301"})  # NFC vs NFD
