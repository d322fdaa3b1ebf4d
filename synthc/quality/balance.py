"""Balance of a categorical attribute: the outputs' distribution against the seeds' (or
a uniform or given one), so that a generator that collapses onto a few categories, or
amplifies one, is caught.

Figures, over the union of categories:

- total variation distance, TVD = 1/2 sum |p - q| (0 same, 1 disjoint);
- Jensen-Shannon divergence in bits (`fidelity.js_divergence`, scipy's
  `jensenshannon(base=2) ** 2`);
- amplification per category, output share / expected share (inf for a category the
  reference never has);
- coverage: the share of expected categories (share > 0) present in the outputs;
- a chi-square test: of homogeneity (`scipy.stats.chi2_contingency`) against reference
  rows, whose own sampling error it accounts for; of goodness of fit
  (`scipy.stats.chisquare`) against given shares.
- against reference rows, the chi-square statistic calibrated with a real-vs-real
  bootstrap: the reference resampled against itself (two samples with replacement, of
  the outputs' and the reference's sizes) gives the statistic's null distribution
  without the asymptotic chi-square approximation, which is poor for rare categories
  and small counts. The calibrated p-value is (1 + resamples at or above the observed
  statistic) / (1 + resamples) (Davison & Hinkley 1997, eq. 4.11).

`label_shift` compares P(attribute | label) in the outputs with the reference's, for a
label x attribute pairing the generator may have skewed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from synthc.quality.fidelity import js_divergence


@dataclass(frozen=True)
class Balance:
    """The figures of one attribute. `categories` is sorted; `observed` counts outputs,
    `expected` holds the reference's shares (summing to 1)."""

    categories: tuple[str, ...]
    observed: np.ndarray
    expected: np.ndarray
    reference_counts: np.ndarray | None  # reference rows per category, when rows were given
    tvd: float
    jsd: float
    coverage: float
    chi2: float
    p_value: float
    calibrated_p_value: float = float("nan")  # real-vs-real bootstrap; NaN when not run
    resamples: int = 0

    @property
    def shares(self) -> np.ndarray:
        total = self.observed.sum()
        return self.observed / total if total else np.zeros(len(self.observed))

    @property
    def amplification(self) -> np.ndarray:
        """Output share / expected share per category (inf where none is expected)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = self.shares / self.expected
        return np.where(self.expected > 0, ratio, np.where(self.shares > 0, np.inf, 1.0))

    def table(self) -> pl.DataFrame:
        """One row per category: counts, shares and amplification (the `_balance` table)."""
        return pl.DataFrame(
            {
                "category": list(self.categories),
                "output_rows": self.observed.astype(np.int64),
                "output_share": self.shares,
                "expected_share": self.expected,
                "amplification": self.amplification,
                "reference_rows": None
                if self.reference_counts is None
                else self.reference_counts.astype(np.int64),
            },
            schema_overrides={"reference_rows": pl.Int64},
        )


def category_counts(values: Sequence[object]) -> Counter[str]:
    """Rows per category; None counts as the category "null"."""
    return Counter("null" if value is None else str(value) for value in values)


def against_rows(
    outputs: Sequence[object], reference: Sequence[object], resamples: int = 0, seed: int = 0
) -> Balance:
    """The outputs' categories against a reference sample's (e.g. the seed rows); with
    `resamples`, the chi-square p-value also calibrated by a bootstrap seeded by `seed`."""
    from scipy.stats import chi2_contingency

    mine, theirs = category_counts(outputs), category_counts(reference)
    categories = tuple(sorted(set(mine) | set(theirs)))
    observed = np.array([mine[c] for c in categories], dtype=np.float64)
    counts = np.array([theirs[c] for c in categories], dtype=np.float64)
    expected = counts / counts.sum() if counts.sum() else np.zeros(len(categories))
    chi2, p_value = np.nan, np.nan
    if observed.sum() and counts.sum() and len(categories) > 1:
        result = chi2_contingency(np.vstack([observed, counts]), correction=False)
        chi2, p_value = float(result.statistic), float(result.pvalue)
    found = _figures(categories, observed, expected, counts, chi2, p_value)
    if resamples and np.isfinite(chi2):
        null = bootstrap_chi2(int(observed.sum()), counts, resamples, seed)
        calibrated = (1 + int(np.sum(null >= chi2 - TIE_TOLERANCE))) / (1 + resamples)
        found = replace(found, calibrated_p_value=calibrated, resamples=resamples)
    return found


TIE_TOLERANCE = 1e-9  # a resample's statistic this close to the observed one counts as a tie


def bootstrap_chi2(size: int, counts: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """The chi-square statistic of `resamples` real-vs-real tables: two samples drawn
    with replacement from the reference rows (`counts` per category), of `size` rows and
    of the reference's own size. Draws: `numpy.random.default_rng(seed)`, then
    `multinomial(size, shares, resamples)` and `multinomial(reference rows, shares,
    resamples)`, in that order."""
    rng = np.random.default_rng(seed)
    shares = counts / counts.sum()
    first = rng.multinomial(size, shares, size=resamples).astype(np.float64)
    second = rng.multinomial(int(counts.sum()), shares, size=resamples).astype(np.float64)
    return homogeneity_chi2(first, second)


def homogeneity_chi2(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Per row pair, the chi-square statistic of the 2 x k table [first; second], leaving
    out categories neither has (as `chi2_contingency` on the non-empty columns does)."""
    columns = first + second
    total = columns.sum(axis=1, keepdims=True)
    statistic = np.zeros(len(first))
    for side in (first, second):
        expected = side.sum(axis=1, keepdims=True) * columns / total
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(columns > 0, (side - expected) ** 2 / expected, 0.0)
        statistic += terms.sum(axis=1)
    return statistic


def against_shares(outputs: Sequence[object], shares: Mapping[str, float]) -> Balance:
    """The outputs' categories against given shares (normalised to sum to 1)."""
    from scipy.stats import chisquare

    mine = category_counts(outputs)
    categories = tuple(sorted(set(mine) | {str(c) for c in shares}))
    observed = np.array([mine[c] for c in categories], dtype=np.float64)
    weights = np.array([float(shares.get(c, 0.0)) for c in categories])
    expected = weights / weights.sum()
    chi2, p_value = np.nan, np.nan
    if observed.sum() and not np.any((expected == 0) & (observed > 0)):
        keep = expected > 0
        if keep.sum() > 1:
            result = chisquare(observed[keep], expected[keep] * observed.sum())
            chi2, p_value = float(result.statistic), float(result.pvalue)
    return _figures(categories, observed, expected, None, chi2, p_value)


def uniform_shares(categories: Sequence[str]) -> dict[str, float]:
    return {str(c): 1.0 for c in categories}


def _figures(
    categories: tuple[str, ...],
    observed: np.ndarray,
    expected: np.ndarray,
    reference_counts: np.ndarray | None,
    chi2: float,
    p_value: float,
) -> Balance:
    total = observed.sum()
    shares = observed / total if total else np.zeros(len(observed))
    wanted = expected > 0
    coverage = float(np.mean(observed[wanted] > 0)) if wanted.any() else 1.0
    return Balance(
        categories=categories,
        observed=observed,
        expected=expected,
        reference_counts=reference_counts,
        tvd=float(0.5 * np.abs(shares - expected).sum()),
        jsd=js_divergence(observed, expected),
        coverage=coverage,
        chi2=chi2,
        p_value=p_value,
    )


def label_shift(
    labels: Sequence[object],
    values: Sequence[object],
    reference_labels: Sequence[object],
    reference_values: Sequence[object],
) -> dict[str, float]:
    """Per label both sides have: TVD between P(attribute | label) in the outputs and in
    the reference. An injected shift of s moves s of a label's rows to another category,
    so its TVD grows by about s."""
    shifts: dict[str, float] = {}
    mine = pl.DataFrame({"label": [str(v) for v in labels], "value": [str(v) for v in values]})
    theirs = pl.DataFrame(
        {"label": [str(v) for v in reference_labels], "value": [str(v) for v in reference_values]}
    )
    for label in sorted(set(mine["label"]) & set(theirs["label"])):
        ours = mine.filter(pl.col("label") == label)["value"].to_list()
        ref = theirs.filter(pl.col("label") == label)["value"].to_list()
        shifts[label] = against_rows(ours, ref).tvd
    return shifts


OTHER = "other"  # a lexicon attribute's category for a text that names no category


def lexicon_categories(
    texts: Sequence[str | None], lexicon: Mapping[str, Sequence[str]], default: str = OTHER
) -> list[str]:
    """Per text, the lexicon category whose terms occur most often (whole words or
    phrases, after `synthc.quality.text.normalise` without digit folding on both
    sides); a tie goes to the category listed first, no occurrence to `default`."""
    import re

    from synthc.quality.text import normalise

    normalised = normalise(texts, fold_digits=False)
    counts = []
    for terms in lexicon.values():
        phrases = sorted({t for t in normalise(list(terms), fold_digits=False).to_list() if t})
        if not phrases:
            counts.append(np.zeros(len(normalised), dtype=np.int64))
            continue
        # longest first, so "credit card" is one occurrence, not "card" inside it
        pattern = (
            r"\b(?:"
            + "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
            + r")\b"
        )
        counts.append(normalised.str.count_matches(pattern).fill_null(0).to_numpy())
    if not counts:
        return [default] * len(normalised)
    matrix = np.vstack(counts)  # categories x texts
    best = matrix.argmax(axis=0)  # the first of equal maxima: the category listed first
    names = list(lexicon)
    return [names[b] if matrix[b, i] > 0 else default for i, b in enumerate(best)]


def binned(values: Sequence[float | None], edges: Sequence[float]) -> list[str | None]:
    """Each value's bin among sorted `edges`, labelled "lo-hi": [lo, hi), the last one
    [lo, hi]. None for a missing value or one outside the edges."""
    from itertools import pairwise

    edges = sorted(float(e) for e in edges)
    labels = [f"{lo:g}-{hi:g}" for lo, hi in pairwise(edges)]
    found: list[str | None] = []
    for value in values:
        if value is None or not np.isfinite(value) or not edges[0] <= value <= edges[-1]:
            found.append(None)
            continue
        index = min(int(np.searchsorted(edges, value, side="right")) - 1, len(labels) - 1)
        found.append(labels[index])
    return found


def attribute_name(spec: str | Mapping[str, Any]) -> str:
    """A balance `attribute:`'s name: the column, or a derived attribute's `name:`."""
    return spec if isinstance(spec, str) else str(spec["name"])


def attribute_values(
    frame: pl.DataFrame, spec: str | Mapping[str, Any], where: str, strict: bool = True
) -> list[Any]:
    """Each row's attribute: a column's values; a `lexicon:` category of its text
    (`column:`, default every text column; with `strict` False, as for a reference, a
    frame without that column is read whole); a `judge:` score, binned by `bins:`.
    Raises ValueError naming `where` for a missing or non-numeric column."""
    from synthc.quality.privacy import row_texts

    if isinstance(spec, str):
        return _column_of(frame, spec, where).to_list()
    if "lexicon" in spec:
        column = spec.get("column")
        if column is not None and strict:
            _column_of(frame, str(column), where)
        columns = [str(column)] if column is not None and column in frame.columns else None
        texts = row_texts(frame, columns)
        return lexicon_categories(texts, spec["lexicon"], str(spec.get("default", OTHER)))
    scores = _column_of(frame, str(spec["judge"]), where)
    if not scores.dtype.is_numeric():
        raise ValueError(f"judge column '{scores.name}' in {where} is {scores.dtype}, not a number")
    numbers = scores.cast(pl.Float64).to_list()
    if spec.get("bins"):
        return binned(numbers, spec["bins"])
    return [None if v is None else f"{v:g}" for v in numbers]


def _column_of(frame: pl.DataFrame, column: str, where: str) -> pl.Series:
    if column not in frame.columns:
        raise ValueError(f"no column '{column}' in {where}; columns: {', '.join(frame.columns)}")
    return frame.get_column(column)
