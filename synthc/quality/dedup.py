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

from synthc.quality._arrays import run_starts
from synthc.quality.minhash import Permutations, candidate_pairs, components, unique_inverse
from synthc.quality.near import (
    BlockMap,
    PairGrouping,
    Sketch,
    local_map,
    pair_similarity,
    sketch,
    verify,
    xxh3_keys,
)
from synthc.quality.text import BATCH_RECORDS, as_series, choose_ngram, normalise

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
    """The frame's rows followed by every reference's rows, normalised on demand.

    Holding frames rather than normalised copies keeps dedup's memory to a few bytes
    per record beyond the data (see bench/dedup.py).
    """

    parts: tuple[tuple[pl.DataFrame, tuple[str, ...]], ...]
    starts: np.ndarray  # first corpus row of each part, plus the total
    frame_rows: int
    fold_digits: bool = False

    @property
    def rows(self) -> int:
        return int(self.starts[-1])

    def texts(self, rows: np.ndarray) -> pl.Series:
        """Normalised texts of the given corpus rows (several columns joined by " | ")."""
        part_of = np.searchsorted(self.starts, rows, side="right") - 1
        pieces = []
        for part in np.unique(part_of):
            frame, names = self.parts[part]
            local = rows[part_of == part] - self.starts[part]
            pieces.append(_normalised(frame, list(names), local, self.fold_digits))
        return pl.concat(pieces) if pieces else pl.Series("text", [], dtype=pl.String)

    def ids(self, rows: np.ndarray) -> list[str]:
        """`_id` of each corpus row as a string (its position where a frame has no `_id`)."""
        part_of = np.searchsorted(self.starts, rows, side="right") - 1
        out = np.empty(len(rows), dtype=object)
        for part in np.unique(part_of):
            frame, local = self.parts[part][0], rows[part_of == part] - self.starts[part]
            column = (
                frame.get_column(ROW_ID)
                if ROW_ID in frame.columns
                else pl.Series(np.arange(frame.height))
            )
            out[part_of == part] = column.gather(local).cast(pl.String).to_list()
        return out.tolist()


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
    fold_digits: bool = False,
    map_blocks: BlockMap = local_map,
    group_pairs: PairGrouping = candidate_pairs,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Remove exact and near-duplicate rows; returns ``(kept_frame, matches_frame)``.

    columns: the text column(s) compared (several are joined with " | " after
        normalisation). method: "exact" or "minhash". threshold: Jaccard similarity of
        word n-gram sets at or above which two rows are near-duplicates. ngram: n, or
        None for 3 (5 when the median record is over 100 words). keep: which row of a
        cluster survives: "first", "longest" or "highest(<column>)". against: reference
        frames whose (near-)copies are removed too; their `_id` is reported as kept_id.
        shingle_hash: "sha1" (datasketch-identical signatures) or "xxh3" (faster).
        fold_digits: compare texts with every digit read as 0 (by default numbers count,
        so problems that differ only in their numbers are kept).
        map_blocks: where signature and verification blocks run (see `near.BlockMap`),
        group_pairs: how LSH band keys become candidate pairs (`near.PairGrouping`,
        e.g. a Ray shuffle); the result depends on neither.

    Rows are identified by `_id` (row positions when the frame has none). The result is
    idempotent, dedup of the kept frame removing nothing more, because whether two rows
    match depends on those two rows only; two exceptions, both outside typical data: an
    LSH bucket of over MAX_BUCKET rows (linked from its first row), and `ngram=None`
    when removals move the median record length across 100 words. Example::

        kept, matches = dedup(frame, "instruction", threshold=0.7, against=[seeds])
    """
    if method not in ("exact", "minhash"):
        raise ValueError(f"method must be 'exact' or 'minhash', got {method!r}")
    names = [columns] if isinstance(columns, str) else list(columns)
    corpus = _corpus(frame, names, list(against or []), fold_digits)
    priority = _priority(frame, names, keep)
    n = ngram or choose_ngram(*(frame.get_column(c) for c in names))
    perms = Permutations.create(num_perm, seed)
    near = method == "minhash" and corpus.frame_rows > 0
    if near:
        sketched = sketch(
            corpus.texts, corpus.rows, n, perms, threshold, shingle_hash, True, map_blocks
        )
        keys = sketched.text_keys
    else:
        keys = _text_keys(corpus)
    assert keys is not None
    removed = np.zeros(corpus.frame_rows, dtype=bool)
    matches = [
        _exact_against(corpus, keys, removed),
        _exact_within(corpus, keys, priority, removed),
    ]
    if near:
        matches += _near(corpus, sketched, priority, removed, threshold, n, map_blocks, group_pairs)
    return frame.filter(pl.Series(~removed)), pl.concat(matches, how="vertical")


def _corpus(
    frame: pl.DataFrame, names: list[str], against: list[pl.DataFrame], fold_digits: bool
) -> Corpus:
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise ValueError(f"dedup: no column {missing} in the frame (columns: {frame.columns})")
    parts = [(frame, tuple(names))]
    parts += [(ref, tuple(_reference_columns(ref, names))) for ref in against]
    starts = np.concatenate([[0], np.cumsum([p[0].height for p in parts])]).astype(np.int64)
    return Corpus(tuple(parts), starts, frame.height, fold_digits)


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


def _normalised(
    frame: pl.DataFrame, names: list[str], rows: np.ndarray, fold_digits: bool
) -> pl.Series:
    parts = [normalise(frame.get_column(c).gather(rows), fold_digits) for c in names]
    if len(parts) == 1:
        return parts[0].rename("text")
    return (
        pl.DataFrame(parts)
        .select(pl.concat_str(pl.all(), separator=" | ").alias("text"))
        .to_series()
    )


def _priority(frame: pl.DataFrame, names: list[str], keep: str) -> np.ndarray:
    """Rank of each row as a cluster's survivor: 0 is the best, ties go to the earlier row."""
    position = np.arange(frame.height)
    if keep == "first":
        return position
    if keep == "longest":
        length = np.sum([as_series(frame[c]).str.len_chars().to_numpy() for c in names], axis=0)
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


def _text_keys(corpus: Corpus) -> np.ndarray:
    """xxh3-64 of every corpus row's normalised text, in batches."""
    keys = np.empty(corpus.rows, dtype=np.uint64)
    for lo in range(0, corpus.rows, BATCH_RECORDS):
        rows = np.arange(lo, min(corpus.rows, lo + BATCH_RECORDS))
        keys[rows] = xxh3_keys(corpus.texts(rows))
    return keys


def _exact_against(corpus: Corpus, keys: np.ndarray, removed: np.ndarray) -> pl.DataFrame:
    """Frame rows whose normalised text equals a reference row's."""
    frame_keys, ref_keys = keys[: corpus.frame_rows], keys[corpus.frame_rows :]
    first_ref: dict[int, int] = {}
    for index, key in enumerate(ref_keys.tolist()):
        first_ref.setdefault(key, corpus.frame_rows + index)
    hits = [
        (row, first_ref[key]) for row, key in enumerate(frame_keys.tolist()) if key in first_ref
    ]
    rows = np.array([r for r, _ in hits], dtype=np.int64)
    refs = np.array([k for _, k in hits], dtype=np.int64)
    removed[rows] = True
    return _matches(corpus.ids(rows), corpus.ids(refs), np.ones(len(rows)), "against")


def _exact_within(
    corpus: Corpus, keys: np.ndarray, priority: np.ndarray, removed: np.ndarray
) -> pl.DataFrame:
    """Rows whose normalised text equals another remaining row's: the best-ranked stays."""
    rows = np.flatnonzero(~removed)
    _, group = unique_inverse(keys[rows])
    losers, winners = _survivors(group, priority[rows])
    removed[rows[losers]] = True
    return _matches(
        corpus.ids(rows[losers]), corpus.ids(rows[winners]), np.ones(len(losers)), "exact"
    )


def _survivors(group: np.ndarray, priority: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(members that lose, the survivor of each one's group), as positions into `group`."""
    order = np.lexsort((priority, group))
    leads = run_starts(group[order])
    survivor_of_run = order[leads][np.cumsum(leads) - 1]
    losers = order[~leads]
    return losers, survivor_of_run[~leads]


def _near(
    corpus: Corpus,
    sketched: Sketch,
    priority: np.ndarray,
    removed: np.ndarray,
    threshold: float,
    ngram: int,
    map_blocks: BlockMap,
    group_pairs: PairGrouping,
) -> list[pl.DataFrame]:
    """Near-copies of references, then near-duplicate clusters among the remaining rows."""
    exclude = np.concatenate([removed, np.zeros(corpus.rows - corpus.frame_rows, dtype=bool)])
    found = verify(corpus.texts, sketched, ngram, threshold, exclude,
                   map_blocks=map_blocks, group_pairs=group_pairs)  # fmt: skip
    # first < second and frame rows come first: a pair with a reference has second there.
    to_ref = (found.second >= corpus.frame_rows) & (found.first < corpus.frame_rows)
    copied, source, similarity = _near_against(
        found.first[to_ref], found.second[to_ref], found.similarity[to_ref]
    )
    removed[copied] = True
    in_frame = found.second < corpus.frame_rows
    first, second = found.first[in_frame], found.second[in_frame]
    within = ~removed[first] & ~removed[second]
    labels = components(corpus.frame_rows, first[within], second[within])
    # Rows already removed are singletons here; they lose to nobody.
    losers, winners = _survivors(labels, priority)
    source_sims = pair_similarity(corpus.texts, ngram, losers, winners, map_blocks=map_blocks)
    removed[losers] = True
    return [
        _matches(corpus.ids(copied), corpus.ids(source), similarity, "against"),
        _matches(corpus.ids(losers), corpus.ids(winners), source_sims, "near"),
    ]


def _near_against(
    first: np.ndarray, second: np.ndarray, similarity: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each frame row with a near-copy among the references: (row, best reference, similarity)."""
    order = np.lexsort((-similarity, first))
    best = order[run_starts(first[order])]
    return first[best], second[best], similarity[best]
