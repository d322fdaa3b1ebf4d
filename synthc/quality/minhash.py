"""MinHash signatures and LSH candidate pairs, vectorised in numpy over a whole corpus.

Signatures are bit-identical to ``datasketch.MinHash(num_perm, seed, scheme)`` fed
each shingle's UTF-8 bytes with ``update`` (default ``shingle_hash="sha1"``, the
hash datasketch uses). ``shingle_hash="xxh3"`` hashes shingles faster but is no
longer datasketch-compatible.

The speed comes from three places: every distinct shingle in the corpus is hashed
once (near-duplicate corpora repeat most shingles), permutations are applied to whole
blocks of records at once, and the per-record minimum is one ``np.minimum.reduceat``.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import polars as pl

from synthc.quality._arrays import VIEW_WINDOW, binary_views, run_starts
from synthc.quality.text import BATCH_RECORDS, Grams, ShingleSets, grams

MERSENNE_PRIME = np.uint64((1 << 61) - 1)
MAX_HASH32 = np.uint64((1 << 32) - 1)
SCHEMES = ("affine32", "legacy")
SHINGLE_HASHES = ("sha1", "xxh3")
# Recall matters more than precision: candidates are verified by exact Jaccard anyway.
# (0.2, 0.8) gives 18 bands x 7 rows at threshold 0.7 with 128 permutations (DESIGN §5).
LSH_WEIGHTS = (0.2, 0.8)
# Occurrences (record x shingle) permuted per block; bounds memory at ~BLOCK*num_perm*8 bytes.
BLOCK = 1 << 14
# Buckets larger than this are linked as a star from their first member instead of all
# pairs, to bound work on template-collapsed corpora (see `candidate_pairs`).
MAX_BUCKET = 256


@dataclass(frozen=True)
class Permutations:
    """datasketch's permutation parameters for (num_perm, seed, scheme)."""

    a: np.ndarray
    b: np.ndarray
    scheme: str

    @classmethod
    def create(cls, num_perm: int = 128, seed: int = 1, scheme: str = "affine32") -> Permutations:
        """Draw a and b exactly as ``datasketch.MinHash._init_permutations`` does."""
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
        gen = np.random.RandomState(seed)
        if scheme == "legacy":
            pairs = [
                (
                    gen.randint(1, MERSENNE_PRIME, dtype=np.uint64),
                    gen.randint(0, MERSENNE_PRIME, dtype=np.uint64),
                )
                for _ in range(num_perm)
            ]
            a, b = np.array(pairs, dtype=np.uint64).T
            return cls(a=a, b=b, scheme=scheme)
        a32 = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        b32 = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
        return cls(a=a32, b=b32, scheme=scheme)

    @property
    def num_perm(self) -> int:
        return len(self.a)

    def apply(self, hashes: np.ndarray) -> np.ndarray:
        """(num_perm, len(hashes)) permuted values as uint32.

        Permutation-major, so that each row is one contiguous multiply-add and the
        per-record minimum reduces along contiguous memory (about 4x faster).
        """
        if self.scheme == "legacy":
            # uint64 products wrap before the modulo, exactly as in datasketch.
            wide = np.multiply(self.a[:, None], hashes.astype(np.uint64)[None, :])
            wide += self.b[:, None]
            wide %= MERSENNE_PRIME
            return (wide & MAX_HASH32).astype(np.uint32)
        permuted = np.multiply(self.a[:, None], _fmix32(hashes.astype(np.uint32))[None, :])
        permuted += self.b[:, None]
        return permuted


def _fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, datasketch's pre-mix for the affine32 scheme."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


def gram_hashes(found: Grams, shingle_hash: str = "sha1") -> np.ndarray:
    """32-bit hash per n-gram occurrence: datasketch's sha1_hash32 of its UTF-8 bytes
    (each distinct n-gram of the batch hashed once), or ``"xxh3"``: bits of its key."""
    if shingle_hash == "xxh3":
        return (found.key >> np.uint64(32)).astype(np.uint32)
    if shingle_hash != "sha1":
        raise ValueError(f"shingle_hash must be one of {SHINGLE_HASHES}, got {shingle_hash!r}")
    first, inverse = unique_inverse(found.key)
    return sha1_prefix32(*found.gram_spans(first))[inverse]


def sha1_prefix32(
    data: np.ndarray, start: np.ndarray, size: np.ndarray, window: int = VIEW_WINDOW
) -> np.ndarray:
    """datasketch's sha1_hash32 (the first 4 digest bytes, little-endian) of each message
    ``data[start[i]:start[i] + size[i]]``.

    DuckDB's vectorised sha1 (a dependency already) costs about a third of a
    ``hashlib.sha1`` call per message, whose Python-level overhead dominates on
    shingles of a few dozen bytes. The messages reach it as an Arrow binary view
    array over `data` itself, so no message is copied out first. One thread, so that
    dedup stays on one core.
    """
    import pyarrow as pa

    if len(start) == 0:
        return np.empty(0, dtype=np.uint32)
    views, buffers = binary_views(data, start, size, window)
    messages = pa.Array.from_buffers(
        pa.binary_view(), len(start), [None, pa.py_buffer(views), *map(pa.py_buffer, buffers)]
    )
    batch = pa.table({"message": messages})  # noqa: F841 (DuckDB reads it by name)
    # The whole hex digest: slicing it in SQL costs more than in numpy.
    digests = _connection().sql("SELECT sha1(message) AS digest FROM batch").to_arrow_table()
    chunks = [_string_bytes(chunk).reshape(-1, 40) for chunk in digests.column("digest").chunks]
    # The first 8 hex characters of each digest: one little-endian uint64 per message.
    return _hex8_to_uint32_le(np.concatenate(chunks)[:, :8].copy().view("<u8").ravel())


def _hex8_to_uint32_le(text: np.ndarray) -> np.ndarray:
    """8 lowercase hex characters (packed in a uint64, first character lowest) -> the
    4 bytes they spell, read as a little-endian uint32. Branch-free, 8 lanes at once."""
    # '0'-'9' are 0x30-0x39 and 'a'-'f' are 0x61-0x66: low nibble, plus 9 for letters.
    nibbles = (text & np.uint64(0x0F0F0F0F0F0F0F0F)) + np.uint64(9) * (
        (text >> np.uint64(6)) & np.uint64(0x0101010101010101)
    )
    # Byte pairs (high, low) -> one byte in the low half of each 16-bit lane.
    lanes = ((nibbles & np.uint64(0x00FF00FF00FF00FF)) << np.uint64(4)) | (
        (nibbles >> np.uint64(8)) & np.uint64(0x00FF00FF00FF00FF)
    )
    lanes = (lanes | (lanes >> np.uint64(8))) & np.uint64(0x0000FFFF0000FFFF)
    return ((lanes | (lanes >> np.uint64(16))) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


_local = threading.local()


def _connection() -> Any:
    """This thread's in-memory DuckDB connection for hashing (opening one costs ~10 ms)."""
    import duckdb

    if not hasattr(_local, "connection"):
        _local.connection = duckdb.connect(config={"threads": 1})
    return _local.connection


def _string_bytes(strings: Any) -> np.ndarray:
    """The UTF-8 bytes of an Arrow string array's values, concatenated."""
    wide = strings.type in ("large_string", "large_binary")
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int64 if wide else np.int32)
    lo, hi = offsets[strings.offset], offsets[strings.offset + len(strings)]
    return np.frombuffer(strings.buffers()[2], dtype=np.uint8)[lo:hi]


def unique_inverse(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of one occurrence of each distinct key, distinct id per element), by sorting.

    numpy's own unique(return_inverse=True) is several times slower here, and so is a
    stable sort (ids are ranks of the sorted keys, the same either way).
    """
    order = np.argsort(keys)
    sorted_keys = keys[order]
    new_run = run_starts(sorted_keys)
    run_id = np.cumsum(new_run) - 1
    inverse = np.empty(len(keys), dtype=np.int64)
    inverse[order] = run_id
    return order[new_run], inverse


def signatures(
    normalised: pl.Series,
    ngram: int,
    perms: Permutations,
    shingle_hash: str = "sha1",
    batch: int = BATCH_RECORDS,
) -> np.ndarray:
    """(records, num_perm) uint32 MinHash signatures of normalised texts.

    Row r equals ``datasketch.MinHash(num_perm, seed, scheme=perms.scheme)`` updated with
    each of the record's word n-grams as UTF-8 bytes (with ``shingle_hash="sha1"``).
    Empty records get all 0xFFFFFFFF, as an empty datasketch MinHash. Example::

        perms = Permutations.create(128, seed=1)
        sigs = signatures(normalise(texts), 3, perms)
    """
    out = np.full((len(normalised), perms.num_perm), 0xFFFFFFFF, dtype=np.uint32)
    for lo in range(0, len(normalised), batch):
        found = grams(normalised.slice(lo, batch), ngram)
        if len(found.key) == 0:
            continue
        hashes = gram_hashes(found, shingle_hash)
        _minimum_per_owner(hashes, found.owner, perms, out[lo : lo + batch])
    return out


def _minimum_per_owner(
    hashes: np.ndarray, owner: np.ndarray, perms: Permutations, out: np.ndarray
) -> None:
    """out[r] = min over r's occurrences of the permuted hashes, in blocks of whole records."""
    starts = np.flatnonzero(run_starts(owner))
    block_of = starts // BLOCK
    for group in np.split(np.arange(len(starts)), np.flatnonzero(np.diff(block_of)) + 1):
        lo = starts[group[0]]
        hi = starts[group[-1] + 1] if group[-1] + 1 < len(starts) else len(owner)
        permuted = perms.apply(hashes[lo:hi])
        out[owner[starts[group]]] = np.minimum.reduceat(permuted, starts[group] - lo, axis=1).T


@cache
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) from datasketch's optimiser, weighted toward recall (LSH_WEIGHTS)."""
    from datasketch.lsh import _optimal_param

    bands, rows = _optimal_param(threshold, num_perm, *LSH_WEIGHTS)
    return int(bands), int(rows)


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(records, bands) uint64: one key per LSH band of `rows` signature values.

    Two records share a band's bucket when all its rows agree; a 64-bit key collision
    between different bands' values only adds a candidate, which verification drops.
    """
    keys = np.empty((len(sigs), bands), dtype=np.uint64)
    for band in range(bands):
        keys[:, band] = _band_keys(sigs[:, band * rows : (band + 1) * rows])
    return keys


def candidate_pairs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pairs (i < j) of records sharing a bucket in at least one band.

    Every pair inside a bucket is emitted, so whether (i, j) is a candidate depends only
    on the two records: that is what makes dedup idempotent. Buckets of more than
    MAX_BUCKET members (hundreds of near-identical records) emit only the pairs of
    their first member with the others, which bounds the work but makes candidacy
    depend on the bucket's first member.
    """
    found = [np.empty(0, dtype=np.int64)]
    for band in range(keys.shape[1]):
        column = keys[:, band]
        order = np.argsort(column, kind="stable")
        i, j = _pairs_in_runs(column[order], order)
        found.append((i << 32) | j)
    packed = np.unique(np.concatenate(found))
    return packed >> 32, packed & 0xFFFFFFFF


def partition_band_keys(
    keys: np.ndarray, lo: int, hi: int, parts: int
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]:
    """The map side of a shuffle of band keys: rows `lo`..`hi` of `keys` as
    (band, key, row) triples, split into `parts` partitions by key, so every member of
    a bucket lands in the same partition. `bucket_pairs` of all the pieces of one
    partition, united over the partitions, is `candidate_pairs(keys)`."""
    block = keys[lo:hi]
    count, bands = block.shape
    key = block.ravel()  # row-major: each row's bands in turn
    band = np.tile(np.arange(bands, dtype=np.int32), count)
    row = np.repeat(np.arange(lo, hi, dtype=np.int64), bands)
    part = (key % np.uint64(parts)).astype(np.int64)
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(parts + 1))
    band, key, row = band[order], key[order], row[order]
    return tuple((band[a:b], key[a:b], row[a:b]) for a, b in itertools.pairwise(bounds.tolist()))


def bucket_pairs(*pieces: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """The reduce side: distinct pairs (i < j, packed as i << 32 | j, sorted) of rows
    sharing a (band, key) bucket among the pieces of one partition, with
    `candidate_pairs`'s rule for buckets over MAX_BUCKET (the first row is the lowest)."""
    if not pieces:
        return np.empty(0, dtype=np.int64)
    band = np.concatenate([p[0] for p in pieces])
    key = np.concatenate([p[1] for p in pieces])
    row = np.concatenate([p[2] for p in pieces])
    order = np.lexsort((row, key, band))
    band, key = band[order], key[order]
    changed = (band[1:] != band[:-1]) | (key[1:] != key[:-1])
    buckets = np.concatenate([[0], np.cumsum(changed)])  # one label per (band, key), sorted
    i, j = _pairs_in_runs(buckets, row[order])
    return np.unique((i << 32) | j)


def _band_keys(block: np.ndarray) -> np.ndarray:
    """A 64-bit key per row of a band. A collision only adds a candidate, never loses one."""
    keys = np.zeros(len(block), dtype=np.uint64)
    for column in block.T:
        keys = (keys ^ column.astype(np.uint64)) * np.uint64(0x9E3779B97F4A7C15)
        keys ^= keys >> np.uint64(29)
    return keys


def _pairs_in_runs(sorted_keys: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (i < j) pairs among items whose sorted keys are equal."""
    boundaries = np.flatnonzero(np.diff(sorted_keys)) + 1
    starts = np.concatenate([[0], boundaries])
    lengths = np.diff(np.concatenate([starts, [len(sorted_keys)]]))
    firsts: list[np.ndarray] = []
    seconds: list[np.ndarray] = []
    for size in np.unique(lengths[lengths > 1]):
        bucket_starts = starts[lengths == size]
        if size > MAX_BUCKET:
            left = np.zeros(int(size) - 1, dtype=np.int64)
            right = np.arange(1, int(size), dtype=np.int64)
        else:
            left, right = np.triu_indices(int(size), k=1)
        a = order[bucket_starts[:, None] + left].ravel()
        b = order[bucket_starts[:, None] + right].ravel()
        firsts.append(np.minimum(a, b))
        seconds.append(np.maximum(a, b))
    if not firsts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(firsts).astype(np.int64), np.concatenate(seconds).astype(np.int64)


def jaccard_pairs(shingles: ShingleSets, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Exact Jaccard similarity of the shingle sets of each (first[k], second[k]) pair.

    Two empty sets have similarity 0: an empty record duplicates nothing.
    """
    out = np.zeros(len(first), dtype=np.float64)
    sizes = shingles.sizes
    step = max(1, (BLOCK * 32) // max(1, int(sizes.mean()) if sizes.size else 1))
    for lo in range(0, len(first), step):
        a, b = first[lo : lo + step], second[lo : lo + step]
        inter = intersections(shingles, a, b)
        union = sizes[a] + sizes[b] - inter
        out[lo : lo + step] = np.divide(inter, union, out=np.zeros(len(a)), where=union > 0)
    return out


def intersections(shingles: ShingleSets, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|S_a ∩ S_b| per pair: concatenate both id lists per pair, count repeated (pair, id)."""
    pair_ids = np.arange(len(a), dtype=np.uint64)
    members = np.concatenate([a, b])
    owners = np.concatenate([pair_ids, pair_ids])
    sizes = shingles.sizes[members]
    starts = shingles.offsets[members]
    flat_owner = np.repeat(owners, sizes)
    within = np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(
        np.cumsum(sizes) - sizes, sizes
    )
    flat_ids = shingles.ids[np.repeat(starts, sizes) + within].astype(np.uint64)
    keys = np.sort((flat_owner << np.uint64(32)) | flat_ids)
    repeated = keys[1:][keys[1:] == keys[:-1]] >> np.uint64(32)
    return np.bincount(repeated.astype(np.int64), minlength=len(a))


def components(n: int, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Connected-component label per record (union-find over the verified pairs)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(first), dtype=np.int8), (first, second)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


def to_datasketch(signature: np.ndarray, perms: Permutations, seed: int = 1) -> Any:
    """A ``datasketch.LeanMinHash`` holding one row of `signatures` (same seed and scheme),
    for indexes that must persist across builds (``MinHashLSH`` with a storage backend)."""
    from datasketch import LeanMinHash, MinHash

    dtype = np.uint64 if perms.scheme == "legacy" else np.uint32
    sketch = MinHash(
        seed=seed,
        hashvalues=signature.astype(dtype),
        permutations=(perms.a, perms.b),
        scheme=perms.scheme,
    )
    return LeanMinHash(sketch)
