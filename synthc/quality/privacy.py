"""Privacy of outputs against private seeds: replayed PII, copies, and a membership test.

- **Replayed PII**: a PII entity of an output (`synthc.quality.pii`) whose normalised
  value also occurs in a private seed row.
- **Copies**: an output whose normalised text equals a seed's (`exact`), shares a word
  n-gram with one (`ngram`, 13 by default, the contamination check of GPT-3 and Llama),
  or has MinHash-verified Jaccard >= a threshold with one (`minhash`). Each output row
  keeps its best seed per kind, with the score and the shared span.
- **Membership**: each output's nearest neighbour among the used seeds against among
  the held-out seeds. For a generator that learnt the distribution, not the rows, the
  nearest seed is a used one as often as the used share of the seeds (0.5 for an even
  split); the share of outputs nearer a used seed is tested against it with a one-sided
  binomial test. (Cutting the used seeds to the holdout's size would make the null
  exactly 0.5 but dilute a copying generator's signal by the same factor.)
- **Canaries** (`synthc.quality.canaries`): planted seed rows with a random suffix; an
  output holding a word n-gram of a suffix copied it (`canary` matches).

Every function is pure: texts and vectors in, frames and figures out.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from synthc.quality.embeddings import Embedder, tfidf_svd
from synthc.quality.pii import find_pii
from synthc.quality.text import BATCH_RECORDS, as_series, choose_ngram, grams, normalise

MATCH_SCHEMA = {
    "output_row": pl.Int64,
    "seed_row": pl.Int64,
    "kind": pl.String,
    "score": pl.Float64,
    "span": pl.String,
}
SPAN_CHARS = 200  # longest shared span kept per match
_CHUNK = 1024  # output rows per block of the nearest-neighbour search


def replayed_pii(outputs: Sequence[str], seeds: Sequence[str]) -> tuple[int, pl.DataFrame]:
    """(PII entities in `outputs`, one match row per output entity whose normalised value
    occurs in `seeds`: kind `pii:<kind>`, the first seed row holding it, the value)."""
    found = find_pii(outputs)
    private = (
        find_pii(seeds).group_by("kind", "normalised").agg(pl.col("row").min().alias("seed_row"))
    )
    replayed = found.join(private, on=["kind", "normalised"], how="inner").sort("row", "start")
    matches = replayed.select(
        pl.col("row").alias("output_row"),
        pl.col("seed_row"),
        pl.lit("pii:").add(pl.col("kind")).alias("kind"),
        pl.lit(1.0).alias("score"),
        pl.col("value").alias("span"),
    )
    return found.height, matches


def exact_copies(outputs: Sequence[str], seeds: Sequence[str]) -> pl.DataFrame:
    """Outputs whose normalised text equals a seed's (the first such seed)."""
    mine = pl.DataFrame({"text": normalise(outputs)}).with_row_index("output_row")
    theirs = (
        pl.DataFrame({"text": normalise(seeds)})
        .with_row_index("seed_row")
        .filter(pl.col("text") != "")
        .group_by("text")
        .agg(pl.col("seed_row").min())
    )
    joined = mine.join(theirs, on="text", how="inner").sort("output_row")
    return joined.select(
        pl.col("output_row").cast(pl.Int64),
        pl.col("seed_row").cast(pl.Int64),
        pl.lit("exact").alias("kind"),
        pl.lit(1.0).alias("score"),
        pl.col("text").str.slice(0, SPAN_CHARS).alias("span"),
    )


def ngram_copies(outputs: Sequence[str], seeds: Sequence[str], n: int = 13) -> pl.DataFrame:
    """Outputs sharing a word n-gram with a seed. Per output, the seed sharing the most
    distinct n-grams; score = shared n-grams / the output's distinct n-grams. Outputs are
    shingled BATCH_RECORDS at a time, so memory holds one batch's n-grams and the seeds'."""
    theirs = grams(normalise(seeds), n)
    right = pl.DataFrame({"seed_row": theirs.owner, "key": theirs.key}).unique()
    found = [pl.DataFrame(schema=MATCH_SCHEMA)]
    texts = as_series(outputs)
    for lo in range(0, len(texts), BATCH_RECORDS):
        mine = grams(normalise(texts.slice(lo, BATCH_RECORDS)), n)
        left = pl.DataFrame({"output_row": mine.owner + lo, "key": mine.key}).unique()
        if left.is_empty() or right.is_empty():
            continue
        sizes = left.group_by("output_row").len("grams")
        shared = (
            left.join(right, on="key", how="inner")
            .group_by("output_row", "seed_row")
            .len("shared")
            .sort(["output_row", "shared", "seed_row"], descending=[False, True, False])
            .unique("output_row", keep="first", maintain_order=True)
            .join(sizes, on="output_row")
        )
        found.append(
            shared.select(
                pl.col("output_row").cast(pl.Int64),
                pl.col("seed_row").cast(pl.Int64),
                pl.lit("ngram").alias("kind"),
                (pl.col("shared") / pl.col("grams")).cast(pl.Float64).alias("score"),
                pl.lit("").alias("span"),
            )
        )
    return pl.concat(found)


def minhash_copies(
    outputs: Sequence[str], seeds: Sequence[str], threshold: float = 0.7, num_perm: int = 128
) -> pl.DataFrame:
    """Outputs whose word-shingle Jaccard with a seed is >= `threshold`: MinHash LSH
    candidates, each verified exactly (synthc.quality.near). Per output, its best seed."""
    from synthc.quality.minhash import Permutations
    from synthc.quality.near import series_source, verified_pairs

    mine, theirs = as_series(outputs), as_series(seeds)
    if not len(mine) or not len(theirs):
        return pl.DataFrame(schema=MATCH_SCHEMA)
    pooled = pl.concat([mine, theirs])
    ngram = choose_ngram(pooled)
    found = verified_pairs(
        series_source(pooled), len(pooled), ngram, Permutations.create(num_perm), threshold
    )
    # Pooled order puts outputs first, so a cross pair is (output, seed).
    cross = (found.first < len(mine)) & (found.second >= len(mine))
    pairs = pl.DataFrame(
        {
            "output_row": found.first[cross].astype(np.int64),
            "seed_row": (found.second[cross] - len(mine)).astype(np.int64),
            "score": found.similarity[cross].astype(np.float64),
        }
    )
    best = pairs.sort(["output_row", "score", "seed_row"], descending=[False, True, False]).unique(
        "output_row", keep="first", maintain_order=True
    )
    return best.select(
        "output_row", "seed_row", pl.lit("minhash").alias("kind"), "score", pl.lit("").alias("span")
    )


def with_spans(matches: pl.DataFrame, outputs: Sequence[str], seeds: Sequence[str]) -> pl.DataFrame:
    """Fill each empty `span` with the longest run of words the two texts share."""
    spans = [
        span or shared_span(outputs[out], seeds[seed])
        for out, seed, span in matches.select("output_row", "seed_row", "span").iter_rows()
    ]
    return matches.with_columns(pl.Series("span", spans, dtype=pl.String))


def shared_span(first: str, second: str) -> str:
    """The longest run of normalised words the two texts share (at most SPAN_CHARS)."""
    a, b = normalise([first, second]).to_list()
    left, right = a.split(), b.split()
    match = difflib.SequenceMatcher(None, left, right, autojunk=False).find_longest_match(
        0, len(left), 0, len(right)
    )
    return " ".join(left[match.a : match.a + match.size])[:SPAN_CHARS]


@dataclass(frozen=True)
class Membership:
    """The membership test's figures.

    `used_distance` / `holdout_distance`: per output, the cosine distance (1 - cosine
    similarity) to its nearest used and nearest held-out seed. `closer` outputs are
    nearer a used seed; `decided` ones are not ties. Without memorisation the holdout
    is a random share of the seeds, so an output is nearer a used seed with probability
    `expected` = used / (used + held out); `p_value` is the one-sided binomial test of
    `share` = closer / decided above it, `advantage` = (share - expected) / (1 - expected)
    (0: none, 1: every output nearer a seed it was shown) and `protection` = 1 - max(0,
    advantage). With as many used as held-out seeds, `expected` is 0.5.
    """

    used_distance: np.ndarray
    holdout_distance: np.ndarray
    closer: int
    decided: int
    share: float
    expected: float
    p_value: float

    @property
    def advantage(self) -> float:
        return (self.share - self.expected) / (1.0 - self.expected)

    @property
    def protection(self) -> float:
        return 1.0 - max(0.0, self.advantage)


def nearest_distances(queries: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Per query row, the smallest cosine distance 1 - q.p to a row of `points` (both
    L2-normalised), computed in blocks so memory stays at _CHUNK x len(points)."""
    out = np.empty(len(queries), dtype=np.float64)
    if not len(points):
        out.fill(np.inf)
        return out
    for lo in range(0, len(queries), _CHUNK):
        block = queries[lo : lo + _CHUNK] @ points.T
        out[lo : lo + _CHUNK] = 1.0 - block.max(axis=1)
    return out


def membership_test(outputs: np.ndarray, used: np.ndarray, holdout: np.ndarray) -> Membership:
    """Nearest used seed against nearest held-out seed for each output vector (rows
    L2-normalised), tested with `scipy.stats.binomtest`."""
    from scipy.stats import binomtest

    to_used = nearest_distances(outputs, used)
    to_holdout = nearest_distances(outputs, holdout)
    closer = int(np.sum(to_used < to_holdout))
    decided = int(np.sum(to_used != to_holdout))
    expected = len(used) / (len(used) + len(holdout))
    share = closer / decided if decided else expected
    p_value = 1.0
    if decided:
        p_value = float(binomtest(closer, decided, expected, alternative="greater").pvalue)
    return Membership(to_used, to_holdout, closer, decided, share, expected, p_value)


PRIVACY_MATCHES = "_privacy_matches"
COPY_KINDS = ("exact", "ngram", "minhash")


def row_texts(frame: pl.DataFrame, columns: Sequence[str] | None = None) -> list[str]:
    """Each row's text: its `columns` (default: every text column not starting with `_`)
    joined by a space, so PII or copied text in any field is seen."""
    names = list(
        columns or [c for c, t in frame.schema.items() if t == pl.String and not c.startswith("_")]
    )
    if not names or not frame.height:
        return [""] * frame.height
    return (
        frame.select(
            pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in names], separator=" ")
        )
        .to_series()
        .to_list()
    )


@dataclass(frozen=True)
class PrivacyFindings:
    """What `evaluate_privacy` found. `matches` rows index the outputs and the pooled
    seeds (used, then held out)."""

    pii_entities: int
    matches: pl.DataFrame  # MATCH_SCHEMA
    membership: Membership | None
    canaries: int = 0  # canaries planted in the private seeds

    @property
    def copied_rows(self) -> int:
        copies = self.matches.filter(pl.col("kind").is_in(COPY_KINDS))
        return copies.get_column("output_row").n_unique()

    @property
    def canaries_leaked(self) -> int:
        """Planted canaries with a suffix n-gram in some output."""
        return self.matches.filter(pl.col("kind") == "canary").get_column("seed_row").n_unique()

    @property
    def pii_replayed(self) -> int:
        return self.matches.filter(pl.col("kind").str.starts_with("pii:")).height

    @property
    def details(self) -> dict[str, float]:
        kinds = self.matches.get_column("kind")
        figures: dict[str, float] = {
            "pii_entities": float(self.pii_entities),
            "pii_replayed": float(self.pii_replayed),
            "copied_rows": float(self.copied_rows),
            "exact_copies": float((kinds == "exact").sum()),
            "ngram_copies": float((kinds == "ngram").sum()),
            "minhash_copies": float((kinds == "minhash").sum()),
        }
        if self.canaries:
            figures |= {
                "canaries": float(self.canaries),
                "canaries_leaked": float(self.canaries_leaked),
                "canary_rows": float((kinds == "canary").sum()),
            }
        if self.membership is not None:
            figures |= {
                "membership_share": self.membership.share,
                "membership_expected": self.membership.expected,
                "membership_advantage": self.membership.advantage,
                "membership_p_value": self.membership.p_value,
                "membership_rows": float(self.membership.decided),
                "protection": self.membership.protection,
            }
        return figures

    def verdict(self, limits: dict[str, float], alpha: float) -> tuple[bool, str]:
        """(ok, message): each figure within its limit; membership fails only when its
        advantage exceeds the limit *and* the binomial test is significant at `alpha`."""
        figures, problems, parts = self.details, [], []
        for name in ("pii_entities", "pii_replayed", "copied_rows"):
            limit = limits.get(name)
            shown = f"{int(figures[name])} {name.replace('_', ' ')}"
            parts.append(shown + (f" (max {limit:g})" if limit is not None else ""))
            if limit is not None and figures[name] > limit:
                problems.append(name)
        if self.canaries:
            limit = limits.get("canaries_leaked", 0.0)
            leaked = self.canaries_leaked
            parts.append(f"{leaked} of {self.canaries} canaries found in outputs (max {limit:g})")
            if leaked > limit:
                problems.append("canaries")
        if self.membership is not None:
            found, limit = self.membership, limits["membership_advantage"]
            parts.append(
                f"membership: {found.share:.3f} of {found.decided} outputs nearer a used seed "
                f"(expected {found.expected:.3f}; advantage {found.advantage:.3f}, max {limit:g}, "
                f"p={found.p_value:.2g})"
            )
            if found.advantage > limit and found.p_value < alpha:
                problems.append("membership")
        else:
            parts.append("membership: no held-out seeds")
        return not problems, "; ".join(parts)

    def matches_table(self, output_ids: pl.Series, seed_ids: pl.Series) -> pl.DataFrame:
        """`_privacy_matches`: output id, seed id, kind, score, shared span."""
        return self.matches.select(
            output_ids.gather(self.matches.get_column("output_row")).alias("output_id"),
            seed_ids.gather(self.matches.get_column("seed_row")).alias("seed_id"),
            "kind",
            "score",
            "span",
        )


def evaluate_privacy(
    outputs: Sequence[str],
    used: Sequence[str],
    holdout: Sequence[str],
    *,
    ngram: int = 13,
    minhash_threshold: float = 0.7,
    embed: Embedder | None = None,
    canaries: Sequence[tuple[int, str]] = (),
    canary_ngram: int = 1,
) -> PrivacyFindings:
    """Replayed PII and copies against every private seed (used and held out), and the
    membership test of outputs between used and held-out seeds. Example::

        found = evaluate_privacy(outputs, used_seed_texts, holdout_seed_texts)
        found.details["pii_replayed"], found.matches
    """
    seeds = [*used, *holdout]
    pii_entities, replayed = replayed_pii(outputs, seeds)
    copies = pl.concat(
        [
            exact_copies(outputs, seeds),
            ngram_copies(outputs, seeds, ngram),
            minhash_copies(outputs, seeds, minhash_threshold),
        ]
    )
    matches = pl.concat(
        [
            replayed,
            with_spans(copies, outputs, seeds),
            _canary_matches(outputs, canaries, canary_ngram),
        ]
    ).sort("output_row", "kind", "seed_row")
    membership = None
    if holdout and used and outputs:
        vectors = (embed or tfidf_svd())([*outputs, *used, *holdout])
        first, second = len(outputs), len(outputs) + len(used)
        membership = membership_test(vectors[:first], vectors[first:second], vectors[second:])
    return PrivacyFindings(pii_entities, matches, membership, len(canaries))


def _canary_matches(
    outputs: Sequence[str], canaries: Sequence[tuple[int, str]], n: int
) -> pl.DataFrame:
    from synthc.quality.canaries import canary_matches

    found = canary_matches(outputs, [suffix for _, suffix in canaries], n)
    seed_rows = pl.Series([row for row, _ in canaries], dtype=pl.Int64)
    return found.select(
        "output_row",
        seed_rows.gather(found.get_column("canary")).alias("seed_row"),
        pl.lit("canary").alias("kind"),
        "score",
        "span",
    )
