"""MinHash signatures are datasketch's own, computed for a whole column at once."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from datasketch import MinHash
from datasketch.hashfunc import sha1_hash32
from hypothesis import given, settings
from hypothesis import strategies as st

from synthc.quality.minhash import (
    Permutations,
    band_keys,
    bucket_pairs,
    candidate_pairs,
    jaccard_pairs,
    lsh_params,
    partition_band_keys,
    sha1_prefix32,
    signatures,
)
from synthc.quality.text import grams, normalise, shingle_sets, word_ngrams

WORDS = [
    "alpha",
    "beta",
    "Gamma",
    "délta",
    "ЭХО",
    "日本語",
    "ｆｕｌｌ",
    "x1",
    "don't",
    "🙂",
    "",
    "  ",
]


def random_texts(seed: int, count: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(0, 12))) for _ in range(count)] + [
        "",
        "one",
    ]


def datasketch_signature(shingles: set[str], scheme: str, num_perm: int = 128, seed: int = 1):
    sketch = MinHash(num_perm=num_perm, seed=seed, scheme=scheme)
    for shingle in shingles:
        sketch.update(shingle.encode("utf-8"))
    return sketch.hashvalues.astype(np.uint64)


def test_normalise_folds_case_width_digits_punctuation_and_space():
    assert normalise(["Ｈｅｌｌｏ,  World 42!", None, " a\t\tb\nc ", "don't_stop"]).to_list() == [
        "hello world 00",
        "",
        "a b c",
        "don t stop",
    ]


@pytest.mark.parametrize("n", [1, 3, 5])
def test_vectorised_shingles_match_the_per_record_reference(n):
    texts = normalise(random_texts(seed=n, count=60))
    found = grams(texts, n)
    strings = found.texts(np.arange(len(found.key))).to_list()
    got: list[set[str]] = [set() for _ in range(len(texts))]
    for owner, text in zip(found.owner, strings, strict=True):
        got[owner].add(text)
    assert got == [word_ngrams(t, n) for t in texts.to_list()]
    assert list(shingle_sets(texts, n).sizes) == [len(s) for s in got]
    joined, start, size = found.gram_spans(np.arange(len(found.key)))  # what sha1 hashes
    as_bytes = [bytes(joined[a : a + z]) for a, z in zip(start, size, strict=True)]
    assert as_bytes == [text.encode("utf-8") for text in strings]


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=200),
    slices=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 40)), max_size=30),
    window=st.sampled_from([1, 7, 16, 1 << 30]),
)
def test_sha1_prefix32_is_datasketchs_sha1_hash32_of_each_slice(data, slices, window):
    """Slices of any length (inline in the Arrow view or not), anywhere in the data, and
    data spanning several view buffers."""
    spans = [(min(a, len(data)), min(z, len(data) - min(a, len(data)))) for a, z in slices]
    start = np.array([a for a, _ in spans], dtype=np.int64)
    size = np.array([z for _, z in spans], dtype=np.int64)
    got = sha1_prefix32(np.frombuffer(data, dtype=np.uint8), start, size, window=window)
    assert got.tolist() == [sha1_hash32(data[a : a + z]) for a, z in spans]


@pytest.mark.parametrize("scheme", ["affine32", "legacy"])
@pytest.mark.parametrize("seed", [1, 7])
def test_signatures_are_bit_identical_to_datasketch(scheme, seed):
    texts = normalise(random_texts(seed=seed, count=80))
    perms = Permutations.create(64, seed=seed, scheme=scheme)
    # A small batch size makes records span several batches and blocks.
    sigs = signatures(texts, 3, perms, batch=7)
    for text, row in zip(texts.to_list(), sigs, strict=True):
        expected = datasketch_signature(word_ngrams(text, 3), scheme, num_perm=64, seed=seed)
        assert np.array_equal(row.astype(np.uint64), expected), text


@settings(max_examples=40, deadline=None)
@given(
    texts=st.lists(st.text(max_size=60), max_size=12),
    scheme=st.sampled_from(["affine32", "legacy"]),
    ngram=st.integers(1, 4),
)
def test_signatures_of_any_unicode_texts_are_datasketchs(texts, scheme, ngram):
    """Arbitrary unicode (empty, one word, whitespace only, astral symbols), every
    record in batches of 3: row r is datasketch's MinHash of its n-grams' UTF-8 bytes."""
    normalised = normalise(texts)
    perms = Permutations.create(32, seed=5, scheme=scheme)
    sigs = signatures(normalised, ngram, perms, batch=3)
    for text, row in zip(normalised.to_list(), sigs, strict=True):
        expected = datasketch_signature(word_ngrams(text, ngram), scheme, num_perm=32, seed=5)
        assert np.array_equal(row.astype(np.uint64), expected), text


def test_empty_record_signature_is_an_empty_datasketch_minhash():
    sigs = signatures(normalise(["", "!!!"]), 3, Permutations.create(16))
    assert (sigs == np.iinfo(np.uint32).max).all()


def test_lsh_bands_favour_recall_as_in_the_design():
    assert lsh_params(0.7, 128) == (18, 7)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), max_size=8),
        min_size=2,
        max_size=12,
    )
)
def test_exact_jaccard_matches_python_sets(word_lists):
    texts = pl.Series([" ".join(words) for words in word_lists])
    sets = shingle_sets(texts, 2)
    first, second = np.triu_indices(len(texts), k=1)
    got = jaccard_pairs(sets, first, second)
    for a, b, value in zip(first, second, got, strict=True):
        sa, sb = word_ngrams(texts[int(a)], 2), word_ngrams(texts[int(b)], 2)
        union = len(sa | sb)
        assert value == pytest.approx(len(sa & sb) / union if union else 0.0)


def test_near_duplicates_become_candidates_and_unrelated_texts_do_not():
    rng = np.random.default_rng(3)
    vocab = [f"w{chr(97 + i)}{chr(97 + j)}" for i in range(26) for j in range(26)]
    base = [" ".join(rng.choice(vocab, 50)) for _ in range(40)]
    edited = [t.replace(t.split()[10], "zzz", 1) for t in base[:20]]
    sigs = signatures(normalise(base + edited), 3, Permutations.create(128))
    first, second = candidate_pairs(band_keys(sigs, *lsh_params(0.7, 128)))
    pairs = set(zip(first.tolist(), second.tolist(), strict=True))
    assert {(i, 40 + i) for i in range(20)} <= pairs
    assert all(j - i == 40 for i, j in pairs)


def test_signatures_load_into_a_datasketch_lsh_index():
    from datasketch import MinHashLSH

    from synthc.quality.minhash import to_datasketch

    base = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu"
    texts = normalise([base, base.replace("kappa", "nu"), "something else entirely here"])
    perms = Permutations.create(128, seed=1)
    sigs = signatures(texts, 3, perms)
    index = MinHashLSH(threshold=0.5, num_perm=128)
    for key, row in zip(["a", "b", "c"], sigs, strict=True):
        index.insert(key, to_datasketch(row, perms))
    assert sorted(index.query(to_datasketch(sigs[0], perms))) == ["a", "b"]
    expected = datasketch_signature(word_ngrams(texts[0], 3), "affine32")
    assert np.array_equal(to_datasketch(sigs[0], perms).hashvalues.astype(np.uint64), expected)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 900),
    bands=st.integers(1, 6),
    distinct=st.integers(1, 400),
    parts=st.integers(1, 7),
    blocks=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_band_keys_shuffled_by_partition_give_the_same_candidate_pairs(
    rows: int, bands: int, distinct: int, parts: int, blocks: int, seed: int
) -> None:
    """As the Ray executor's shuffle runs it: map blocks split (band, key, row) by key
    into partitions, each partition's pieces grouped apart, the pairs united; buckets
    over MAX_BUCKET (few distinct keys) keep the local rule."""
    keys = np.random.default_rng(seed).integers(0, distinct, (rows, bands)).astype(np.uint64)
    size = -(-rows // blocks)
    pieces = [partition_band_keys(keys, lo, min(rows, lo + size), parts)
              for lo in range(0, rows, size)]  # fmt: skip
    grouped = [bucket_pairs(*(piece[p] for piece in pieces)) for p in range(parts)]
    packed = np.unique(np.concatenate(grouped))
    first, second = candidate_pairs(keys)
    assert np.array_equal(packed >> 32, first) and np.array_equal(packed & 0xFFFFFFFF, second)
