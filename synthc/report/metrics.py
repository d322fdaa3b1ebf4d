"""Headline text metrics for the report, whether or not the recipe declares gates:
distinct-n at a fixed token budget, gzip compression ratio and median length of each
plotted text column, and, against the column's reference, the Jensen-Shannon divergence
of lengths and of word frequencies. Computed on a seeded sample so large steps stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synthc.report.model import TextMetrics

if TYPE_CHECKING:
    import polars as pl

METRIC_SAMPLE = 20_000
# Column order of the metrics table; a metric a column lacks shows as a dash.
METRIC_NAMES = (
    "distinct-1",
    "distinct-2",
    "compression",
    "median words",
    "length JSD",
    "unigram JSD",
)


def text_metrics(
    step: str,
    column: str,
    texts: pl.Series,
    reference: pl.Series | None = None,
    reference_label: str | None = None,
) -> TextMetrics:
    """The headline metrics of one text column (and against its reference, when given)."""
    from synthc.quality.diversity import compression_ratio, distinct_n
    from synthc.quality.fidelity import length_jsd, unigram_jsd

    ours = _sample(texts)
    distinct = distinct_n(ours, ns=(1, 2))
    median = ours.str.count_matches(r"\S+").median()
    figures = [
        ("distinct-1", distinct[1]),
        ("distinct-2", distinct[2]),
        ("compression", compression_ratio(ours)),
        ("median words", float(median) if isinstance(median, int | float) else 0.0),
    ]
    if reference is not None and reference.len():
        theirs = _sample(reference)
        synthetic, real = ours.to_list(), theirs.to_list()
        figures += [
            ("length JSD", length_jsd(synthetic, real)),
            ("unigram JSD", unigram_jsd(synthetic, real)),
        ]
    return TextMetrics(step, column, texts.len(), tuple(figures), reference_label)


def _sample(texts: pl.Series) -> pl.Series:
    return texts.sample(METRIC_SAMPLE, seed=0) if texts.len() > METRIC_SAMPLE else texts
