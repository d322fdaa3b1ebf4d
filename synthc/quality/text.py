"""Text normalisation and word n-gram shingling, vectorised over a column.

Every quality function that compares texts goes through `normalise` first, so that
"Hello, World!" and "hello world" are the same record for dedup and leakage.

Shingles are identified by a 64-bit key mixed from their words' xxh3 hashes, computed
in numpy without building n-gram strings. Two different n-grams share a key with
probability about 2^-64 per pair (for 10^8 distinct shingles, under 10^-3 overall),
which at worst nudges one Jaccard estimate; the strings are built only where a caller
needs them (`Grams.texts`; `Grams.gram_spans` locates their bytes for SHA-1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import xxhash

from synthc.quality._arrays import binary_views, run_starts

# Records per batch: bounds the n-gram working arrays (about 1.5 KB per record) to a few MB.
BATCH_RECORDS = 4096
# Auto n-gram choice: corpora whose median word count exceeds this get 5-grams.
LONG_RECORD_WORDS = 100
SHORT_NGRAM = 3
LONG_NGRAM = 5
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_PAD_HASH = np.uint64(0x2545F4914F6CDD1D)  # stands for "no word" in short records


def as_series(texts: pl.Series | Sequence[str | None]) -> pl.Series:
    """A string Series from a Series or a list of strings (None becomes "")."""
    series = texts if isinstance(texts, pl.Series) else pl.Series(list(texts), dtype=pl.String)
    return series.cast(pl.String).fill_null("")


def normalise(texts: pl.Series | Sequence[str | None], fold_digits: bool = True) -> pl.Series:
    """NFKC, lowercase, digits -> 0, punctuation and symbols -> space, collapsed whitespace.

    Example: ``normalise(["Ｈｅｌｌｏ,  World 42!"])`` gives ``["hello world 00"]``.
    Null becomes "". Punctuation separates words ("don't" -> "don t") so that
    punctuation edits never glue two words into a new one. `fold_digits=False` keeps
    the digits, so texts that differ only in their numbers stay different (dedup's
    default: "2 + 3" and "4 + 5" are two problems, not one).
    """
    series = as_series(texts)
    # NFKC is the slowest step and the identity on ASCII: apply it only where needed.
    non_ascii = series.str.contains(r"[^\x00-\x7F]")
    if non_ascii.any():
        where = non_ascii.arg_true()
        series = series.clone().scatter(where, series.gather(where).str.normalize("NFKC"))
    lowered = series.str.to_lowercase()
    if fold_digits:
        lowered = lowered.str.replace_all(r"\d", "0")
    return (
        lowered.str.replace_all(r"[^\w\s]+|_+", " ")
        # Runs of 2+ whitespace, or one non-space whitespace: cheaper than rewriting every space.
        .str.replace_all(r"\s{2,}|[^\S ]", " ")
        .str.strip_chars()
    )


def token_counts(normalised: pl.Series) -> np.ndarray:
    """Words per normalised text (0 for the empty string)."""
    counts = normalised.str.count_matches(" ").to_numpy().astype(np.int64) + 1
    counts[(normalised.str.len_bytes() == 0).to_numpy()] = 0
    return counts


def choose_ngram(
    *columns: pl.Series | Sequence[str | None], long_words: int = LONG_RECORD_WORDS
) -> int:
    """3 for short records, 5 for long ones, decided once per corpus by its median length
    (words of a row summed over the given columns).

    One n for the whole corpus keeps every pair comparable: a record shingled with
    3-grams shares nothing with a near-copy shingled with 5-grams.
    """
    counts = [as_series(c).str.count_matches(r"\S+").to_numpy() for c in columns]
    if not counts or counts[0].size == 0:
        return SHORT_NGRAM
    return LONG_NGRAM if float(np.median(np.sum(counts, axis=0))) > long_words else SHORT_NGRAM


@dataclass(frozen=True)
class Grams:
    """Every word n-gram occurrence of a batch of normalised texts.

    Occurrence k belongs to record ``owner[k]`` (non-decreasing) and has identity
    ``key[k]``. Records with fewer than n words (but at least one) have their whole
    text as their only shingle; empty records have none. Repeats are kept.

    Words are located, not copied: word w is ``data[word_start[w]:word_end[w]]``,
    where `data` is the batch's UTF-8 bytes (its records back to back).
    """

    owner: np.ndarray  # int64
    key: np.ndarray  # uint64
    words: np.ndarray  # (occurrences, n) int64 word indices, -1 = no word
    records: int
    data: np.ndarray  # uint8
    word_start: np.ndarray  # int64
    word_end: np.ndarray  # int64

    def texts(self, occurrences: np.ndarray) -> pl.Series:
        """The n-gram strings of the given occurrences, words joined by one space."""
        data, start, size = self.gram_spans(occurrences)
        return pl.Series(_string_view(data, start, size))

    def gram_spans(self, occurrences: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(the batch's UTF-8 bytes, start, size): occurrence k's n-gram string (its
        words joined by one space) is ``data[start[k]:start[k] + size[k]]``.

        Normalised words are one space apart, so an n-gram (consecutive words of one
        record) is the contiguous slice from its first word's start to its last's end.
        """
        first_word, last_word = self.words[occurrences, 0], self.words[occurrences, -1]
        short = last_word < 0  # a record of fewer than n words: its whole text
        last_word[short] = self.words[occurrences[short]].max(axis=1)
        start = self.word_start[first_word]
        return self.data, start, self.word_end[last_word] - start


def grams(normalised: pl.Series, n: int) -> Grams:
    """Word n-gram occurrences of already-normalised texts (see `normalise`).

    Words are found in the texts' UTF-8 bytes (split at each ASCII space, as
    ``str.split(" ")``), without building a string per word.
    """
    if n < 1:
        raise ValueError(f"ngram must be >= 1, got {n}")
    data, bounds = _utf8_bytes(normalised)
    word_start, word_end, counts = _words(data, bounds)
    token_hash = _token_hashes(data, word_start, word_end)
    records = len(counts)
    # Grams per record: one per position with n words left, or the whole of a short record.
    per_record = np.where(counts >= n, counts - n + 1, np.minimum(counts, 1))
    owner = np.repeat(np.arange(records, dtype=np.int64), per_record)
    first_word = np.cumsum(counts) - counts
    first_gram = np.cumsum(per_record) - per_record
    starts = np.arange(len(owner), dtype=np.int64) + np.repeat(first_word - first_gram, per_record)
    offsets = np.arange(n, dtype=np.int64)
    words = starts[:, None] + offsets
    short = np.flatnonzero((counts > 0) & (counts < n))
    if len(short):
        rows = first_gram[short]
        words[rows] = np.where(offsets < counts[short][:, None], words[rows], -1)
    # "No word" (-1) indexes the last element: the pad hash appended to the words' hashes.
    padded = np.append(token_hash, _PAD_HASH)
    key = np.zeros(len(starts), dtype=np.uint64)
    scratch = np.empty_like(key)
    for k in range(n):
        key ^= padded[words[:, k]]
        key *= _GOLDEN
        key += np.uint64(k)
        _mix64_inplace(key, scratch)
    return Grams(
        owner=owner,
        key=key,
        words=words,
        records=records,
        data=data,
        word_start=word_start,
        word_end=word_end,
    )


def _utf8_bytes(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(the texts' UTF-8 bytes back to back, record bounds: text r is
    ``data[bounds[r]:bounds[r + 1]]``), read from Polars' Arrow export without a copy."""
    import pyarrow as pa

    strings = texts.to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    wide = strings.type in (pa.large_string(), pa.large_binary())
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int64 if wide else np.int32)
    bounds = offsets[strings.offset : strings.offset + len(strings) + 1].astype(np.int64)
    values = strings.buffers()[2]
    data = np.frombuffer(values, dtype=np.uint8) if values is not None else np.empty(0, np.uint8)
    return data[bounds[0] : bounds[-1]], bounds - bounds[0]


def _words(data: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(word starts, word ends, words per record): every non-empty record split at each
    space, as ``str.split(" ")``; an empty record has no words."""
    spaces = np.flatnonzero(data == 32)
    non_empty = bounds[1:] > bounds[:-1]
    counts = np.where(non_empty, np.diff(np.searchsorted(spaces, bounds)) + 1, 0)
    total = int(counts.sum())
    last = np.cumsum(counts)[non_empty] - 1  # each non-empty record's last word
    word_end = np.empty(total, dtype=np.int64)
    ends_record = np.zeros(total, dtype=bool)
    ends_record[last] = True
    word_end[ends_record] = bounds[1:][non_empty]
    word_end[~ends_record] = spaces
    word_start = np.empty(total, dtype=np.int64)
    word_start[1:] = word_end[:-1] + 1
    if total:
        word_start[last - counts[non_empty] + 1] = bounds[:-1][non_empty]
    return word_start, word_end, counts


def _string_view(
    data: np.ndarray, start: np.ndarray, size: np.ndarray, binary: bool = False
) -> Any:
    """An Arrow string (or binary) view array of the slices ``data[start[i]:start[i] + size[i]]``."""
    import pyarrow as pa

    views, buffers = binary_views(data, start, size)
    kind = pa.binary_view() if binary else pa.string_view()
    return pa.Array.from_buffers(
        kind, len(start), [None, pa.py_buffer(views), *map(pa.py_buffer, buffers)]
    )


def _token_hashes(data: np.ndarray, word_start: np.ndarray, word_end: np.ndarray) -> np.ndarray:
    """xxh3-64 of each word's UTF-8 bytes, hashing each distinct word once."""
    import pyarrow.compute as pc

    # One hash pass finds the distinct words and each word's index among them.
    encoded = pc.dictionary_encode(_string_view(data, word_start, word_end - word_start, True))
    digest = xxhash.xxh3_64_intdigest
    vocabulary = [digest(word) for word in encoded.dictionary.to_pylist()]
    return np.array(vocabulary, dtype=np.uint64)[encoded.indices.to_numpy()]


def _mix64_inplace(values: np.ndarray, scratch: np.ndarray) -> None:
    """MurmurHash3's 64-bit finalizer (a bijection that spreads every input bit), in
    place: no temporary array per operation."""
    shift = np.uint64(33)
    for multiplier in (np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)):
        np.right_shift(values, shift, out=scratch)
        values ^= scratch
        values *= multiplier
    np.right_shift(values, shift, out=scratch)
    values ^= scratch


@dataclass(frozen=True)
class ShingleSets:
    """Distinct shingle ids per record, in CSR form: record r holds
    ``ids[offsets[r]:offsets[r+1]]`` (dense uint32 ids, sorted)."""

    offsets: np.ndarray  # int64, records + 1
    ids: np.ndarray  # uint32

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)


def shingle_sets(normalised: pl.Series, n: int, batch: int = BATCH_RECORDS) -> ShingleSets:
    """Each record's set of n-gram shingles, as dense ids (comparable within one call)."""
    owners, keys = [], []
    # Batches bound the n-gram working arrays; only (owner, key) pairs are kept.
    for lo in range(0, len(normalised), batch):
        found = grams(normalised.slice(lo, batch), n)
        owners.append(found.owner + lo)
        keys.append(found.key)
    key = np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64)
    owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
    order = np.argsort(key, kind="stable")
    dense = np.empty(len(order), dtype=np.uint64)
    dense[order] = np.cumsum(run_starts(key[order])) - 1
    del order
    pairs = np.sort((owner.astype(np.uint64) << np.uint64(32)) | dense)
    pairs = pairs[run_starts(pairs)]
    offsets = np.zeros(len(normalised) + 1, dtype=np.int64)
    np.cumsum(
        np.bincount((pairs >> np.uint64(32)).astype(np.int64), minlength=len(normalised)),
        out=offsets[1:],
    )
    return ShingleSets(offsets=offsets, ids=(pairs & np.uint64(0xFFFFFFFF)).astype(np.uint32))


def word_ngrams(normalised: str, n: int) -> set[str]:
    """Reference per-record shingling in pure Python, same rules as `grams`."""
    words = normalised.split()
    if not words:
        return set()
    if len(words) < n:
        return {" ".join(words)}
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}
