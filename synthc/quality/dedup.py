"""Exact and near-duplicate removal on polars frames, every removal explained.

`dedup(frame, columns)` returns the kept rows and a matches frame with one row per
removed row: its `_id`, the `_id` it duplicates (a kept row, or a reference row for
`against`), the exact Jaccard similarity of their shingle sets, and why.

Order of passes: rows equal (after normalisation) to a reference row, then exact
duplicates (xxh3 of the normalised text), then MinHash LSH candidates verified by
exact Jaccard: near-copies of references first, then clusters among the rest
(union-find), keeping one survivor per cluster by the `keep` rule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import xxhash

from synthc.quality._arrays import run_starts
from synthc.quality.minhash import (
    BATCH_RECORDS,
    Permutations,
    band_keys,
    candidate_pairs,
    components,
    jaccard_pairs,
    lsh_params,
    signatures,
    unique_inverse,
)
from synthc.quality.text import ShingleSets, choose_ngram, normalise, shingle_sets

ROW_ID = "_id"
MATCH_SCHEMA = {
    "removed_id": pl.String,
    "kept_id": pl.String,
    "similarity": pl.Float64,
    "reason": pl.String,
}
_HIGHEST = re.compile(r"^highest\((?P<column>[^()]+)\)$")


@dataclass(frozen=True)
class Corpus:
    """Normalised texts of the frame's rows followed by the reference rows."""

    texts: pl.Series
    ids: list[str]
    frame_rows: int


def dedup(
    frame: pl.DataFrame,
    columns: str | Sequence[str],
    method: str = "minhash",
    threshold: float = 0.7,
    ngram: int | None = None,
    num_perm: int = 128,
    keep: str = "first",
    against: Sequence[pl.DataFrame] | None = None,
    seed: int = 1,
    shingle_hash: str = "sha1",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Remove exact and near-duplicate rows; returns ``(kept_frame, matches_frame)``.

    columns: the text column(s) compared (several are joined with " | " after
        normalisation). method: "exact" or "minhash". threshold: Jaccard similarity of
        word n-gram sets at or above which two rows are near-duplicates. ngram: n, or
        None for 3 (5 when the median record is over 100 words). keep: which row of a
        cluster survives: "first", "longest" or "highest(<column>)". against: reference
        frames whose (near-)copies are removed too; their `_id` is reported as kept_id.
        shingle_hash: "sha1" (datasketch-identical signatures) or "xxh3" (faster).

    Rows are identified by `_id` (row positions when the frame has none). The result is
    idempotent: dedup of the kept frame removes nothing more. Example::

        kept, matches = dedup(frame, "instruction", threshold=0.7, against=[seeds])
    """
    if method not in ("exact", "minhash"):
        raise ValueError(f"method must be 'exact' or 'minhash', got {method!r}")
    names = [columns] if isinstance(columns, str) else list(columns)
    corpus = _corpus(frame, names, list(against or []))
    priority = _priority(frame, names, keep)
    removed = np.zeros(corpus.frame_rows, dtype=bool)
    matches = [_exact_against(corpus, removed), _exact_within(corpus, priority, removed)]
    if method == "minhash" and corpus.frame_rows:
        n = ngram or choose_ngram(_joined(frame, names))
        matches += _near(
            corpus,
            priority,
            removed,
            threshold,
            n,
            Permutations.create(num_perm, seed),
            shingle_hash,
        )
    return frame.filter(pl.Series(~removed)), pl.concat(matches, how="vertical")


def _joined(frame: pl.DataFrame, names: list[str]) -> pl.Series:
    return frame.select(
        pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in names], separator=" ")
    ).to_series()


def _corpus(frame: pl.DataFrame, names: list[str], against: list[pl.DataFrame]) -> Corpus:
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise ValueError(f"dedup: no column {missing} in the frame (columns: {frame.columns})")
    texts = [_normalised(frame, names)]
    texts += [_normalised(ref, _reference_columns(ref, names)) for ref in against]
    ids = _ids(frame) + [i for ref in against for i in _ids(ref)]
    return Corpus(texts=pl.concat(texts), ids=ids, frame_rows=frame.height)


def _reference_columns(reference: pl.DataFrame, names: list[str]) -> list[str]:
    """The same columns as the frame, or else the reference's only text column."""
    if all(c in reference.columns for c in names):
        return names
    texts = [c for c, t in reference.schema.items() if t == pl.String and not c.startswith("_")]
    if len(texts) != 1:
        raise ValueError(
            f"dedup against: a reference lacks column(s) {names} and has "
            f"{len(texts)} text columns ({texts}), so which one to compare is ambiguous"
        )
    return texts


def _normalised(frame: pl.DataFrame, names: list[str]) -> pl.Series:
    parts = [normalise(frame.get_column(c)) for c in names]
    if len(parts) == 1:
        return parts[0].rename("text")
    return (
        pl.DataFrame(parts)
        .select(pl.concat_str(pl.all(), separator=" | ").alias("text"))
        .to_series()
    )


def _ids(frame: pl.DataFrame) -> list[str]:
    if ROW_ID in frame.columns:
        return frame.get_column(ROW_ID).cast(pl.String).to_list()
    return [str(i) for i in range(frame.height)]


def _priority(frame: pl.DataFrame, names: list[str], keep: str) -> np.ndarray:
    """Rank of each row as a cluster's survivor: 0 is the best, ties go to the earlier row."""
    position = np.arange(frame.height)
    if keep == "first":
        return position
    if keep == "longest":
        length = _joined(frame, names).str.len_chars().to_numpy()
        order = np.lexsort((position, -length.astype(np.int64)))
    elif (found := _HIGHEST.match(keep)) and found["column"] in frame.columns:
        score = frame.get_column(found["column"]).cast(pl.Float64).fill_nan(None)
        nulls_last = score.is_null().to_numpy()
        order = np.lexsort((position, -score.fill_null(0).to_numpy(), nulls_last))
    else:
        raise ValueError(
            f"keep must be 'first', 'longest' or 'highest(<column>)' naming a column, got {keep!r}"
        )
    rank = np.empty(frame.height, dtype=np.int64)
    rank[order] = position
    return rank


def _matches(
    removed: list[str], kept: list[str], similarity: np.ndarray | list[float], reason: str
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "removed_id": removed,
            "kept_id": kept,
            "similarity": np.asarray(similarity, dtype=np.float64),
            "reason": [reason] * len(removed),
        },
        schema=MATCH_SCHEMA,
    )


def _text_keys(texts: pl.Series) -> np.ndarray:
    digest = xxhash.xxh3_64_intdigest
    return np.array([digest(b) for b in texts.cast(pl.Binary).to_list()], dtype=np.uint64)


def _exact_against(corpus: Corpus, removed: np.ndarray) -> pl.DataFrame:
    """Frame rows whose normalised text equals a reference row's."""
    keys = _text_keys(corpus.texts)
    frame_keys, ref_keys = keys[: corpus.frame_rows], keys[corpus.frame_rows :]
    first_ref: dict[int, int] = {}
    for index, key in enumerate(ref_keys.tolist()):
        first_ref.setdefault(key, corpus.frame_rows + index)
    hits = [
        (row, first_ref[key]) for row, key in enumerate(frame_keys.tolist()) if key in first_ref
    ]
    removed[[row for row, _ in hits]] = True
    return _matches(
        [corpus.ids[r] for r, _ in hits],
        [corpus.ids[k] for _, k in hits],
        [1.0] * len(hits),
        "against",
    )


def _exact_within(corpus: Corpus, priority: np.ndarray, removed: np.ndarray) -> pl.DataFrame:
    """Rows whose normalised text equals another remaining row's: the best-ranked stays."""
    rows = np.flatnonzero(~removed)
    keys = _text_keys(corpus.texts.gather(rows))
    _, group = unique_inverse(keys)
    losers, winners = _survivors(group, priority[rows])
    removed[rows[losers]] = True
    return _matches(
        [corpus.ids[i] for i in rows[losers]],
        [corpus.ids[i] for i in rows[winners]],
        np.ones(len(losers)),
        "exact",
    )


def _survivors(group: np.ndarray, priority: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(members that lose, the survivor of each one's group), as positions into `group`."""
    order = np.lexsort((priority, group))
    leads = run_starts(group[order])
    survivor_of_run = order[leads][np.cumsum(leads) - 1]
    losers = order[~leads]
    return losers, survivor_of_run[~leads]


@dataclass(frozen=True)
class Verified:
    """Candidate pairs (local positions, first < second) whose exact Jaccard >= threshold,
    plus the shingle sets of every record in a candidate pair (for later similarities)."""

    first: np.ndarray
    second: np.ndarray
    similarity: np.ndarray
    sets: ShingleSets
    slot: np.ndarray  # local position -> row in `sets`, -1 if not a candidate

    def jaccard(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return jaccard_pairs(self.sets, self.slot[a], self.slot[b])


def verified_pairs(
    texts: pl.Series,
    ngram: int,
    perms: Permutations,
    threshold: float,
    shingle_hash: str = "sha1",
    candidate_threshold: float | None = None,
) -> Verified:
    """Near-duplicate pairs among normalised texts: LSH candidates checked by exact Jaccard.

    The LSH bands are tuned for `candidate_threshold` (default: `threshold`).
    """
    bands, rows = lsh_params(candidate_threshold or threshold, perms.num_perm)
    keys = np.empty((len(texts), bands), dtype=np.uint64)
    # Batches keep only the band keys (bands x 8 bytes per record), never all signatures.
    for lo in range(0, len(texts), BATCH_RECORDS):
        batch = texts.slice(lo, BATCH_RECORDS)
        keys[lo : lo + len(batch)] = band_keys(
            signatures(batch, ngram, perms, shingle_hash), bands, rows
        )
    empty = (texts.str.len_bytes() == 0).to_numpy()
    keys[empty] = np.arange(int(empty.sum()), dtype=np.uint64)[:, None] ^ np.uint64(
        0xE3779B97F4A7C15
    )
    first, second = candidate_pairs(keys)
    first, second = first[~empty[first] & ~empty[second]], second[~empty[first] & ~empty[second]]
    members = np.unique(np.concatenate([first, second]))
    slot = np.full(len(texts), -1, dtype=np.int64)
    slot[members] = np.arange(len(members))
    sets = shingle_sets(texts.gather(members), ngram)
    similarity = jaccard_pairs(sets, slot[first], slot[second])
    hit = similarity >= threshold
    return Verified(first[hit], second[hit], similarity[hit], sets, slot)


def _near(
    corpus: Corpus,
    priority: np.ndarray,
    removed: np.ndarray,
    threshold: float,
    ngram: int,
    perms: Permutations,
    shingle_hash: str,
) -> list[pl.DataFrame]:
    """Near-copies of references, then near-duplicate clusters among the remaining rows."""
    frame_rows = np.flatnonzero(~removed)
    rows = np.concatenate([frame_rows, np.arange(corpus.frame_rows, len(corpus.texts))])
    found = verified_pairs(corpus.texts.gather(rows), ngram, perms, threshold, shingle_hash)
    local_frame = len(frame_rows)
    # first < second and frame rows come first: a reference pair has second >= local_frame.
    to_ref = (found.second >= local_frame) & (found.first < local_frame)
    against = _near_against(found.first[to_ref], found.second[to_ref], found.similarity[to_ref])
    removed[rows[against[0]]] = True
    within = (
        (found.second < local_frame)
        & ~np.isin(found.first, against[0])
        & ~np.isin(found.second, against[0])
    )
    labels = components(local_frame, found.first[within], found.second[within])
    losers, winners = _survivors(labels, priority[frame_rows])
    removed[rows[losers]] = True
    ids = corpus.ids
    return [
        _matches(
            [ids[i] for i in rows[against[0]]],
            [ids[i] for i in rows[against[1]]],
            against[2],
            "against",
        ),
        _matches(
            [ids[i] for i in rows[losers]],
            [ids[i] for i in rows[winners]],
            found.jaccard(losers, winners),
            "near",
        ),
    ]


def _near_against(
    first: np.ndarray, second: np.ndarray, similarity: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each frame row with a near-copy among the references: (row, best reference, similarity)."""
    order = np.lexsort((-similarity, first))
    best = order[run_starts(first[order])]
    return first[best], second[best], similarity[best]
