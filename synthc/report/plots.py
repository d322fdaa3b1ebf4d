"""The report's plot data: length histograms of the final steps' text columns against a
reference, topic-cluster shares against that reference, and dedup similarity.

A step's reference is the `reference:` of one of its fidelity, leakage or tail_coverage
checks (a step name or a file). Everything here returns plain `Plot`s: shares or counts
per labelled bin, which `synthc.report.svg` draws.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from synthc.quality.gates import GATE_KINDS, TEXTS
from synthc.report.model import Plot, Series, TextMetrics, _lit

if TYPE_CHECKING:
    import polars as pl

    from synthc.recipe.load import Recipe
    from synthc.store.lock import LockState
    from synthc.store.store import Store

MAX_TEXT_COLUMNS = 3  # per step
LENGTH_BINS = 20
CLUSTER_SAMPLE = 2_000
MIN_CLUSTER_REFERENCE = 10
SIMILARITY_STEP = 0.05
MAX_CATEGORIES = 12
# Words too common to name a topic cluster.
_STOPWORDS_TEXT = (
    "what does have this that with from your when where which there their about would could "
    "should into than then them they were will been also just like some more most much very "
    "doesn onto over under after before while these those here"
)
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
MAX_PLOT_ROWS = 200_000  # a seeded sample of larger columns is plotted
_NICE_WIDTHS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000)


@dataclass(frozen=True)
class Reference:
    """Reference texts for one column, and where they came from."""

    label: str
    texts: pl.Series


@dataclass(frozen=True)
class Figures:
    """The report's plots and text metrics."""

    plots: tuple[Plot, ...]
    metrics: tuple[TextMetrics, ...]


def build_figures(recipe: Recipe, store: Store, lock: LockState, tables: set[str]) -> Figures:
    """Every plot and text metric the report shows, in step order, then column order."""
    plots: list[Plot] = []
    metrics: list[TextMetrics] = []
    for step in _plotted_steps(recipe, lock, tables):
        frame = store.read_step(step, lock.steps[step])
        for column in _text_columns(frame)[:MAX_TEXT_COLUMNS]:
            texts = _sample(frame[column])
            if not texts.len():
                continue  # no rows, or no values: nothing to plot
            if is_categorical(texts):
                plots.append(category_plot(step, column, texts))
                continue
            reference = _reference(recipe, store, lock, step, column)
            plots += _text_plots(step, column, texts, reference)
            metrics.append(_metrics(step, column, texts, reference))
    for step in recipe.steps:
        if recipe.steps[step].kind == "dedup" and "_dedup_matches" in tables and step in tables:
            similarity = similarity_plot(store, step)
            plots += [similarity] if similarity is not None else []
    return Figures(tuple(plots), tuple(metrics))


def step_metrics(recipe: Recipe, store: Store, lock: LockState, step: str) -> list[TextMetrics]:
    """Text metrics of a built step's text columns (labels excluded), as the report has them."""
    frame = store.read_step(step, lock.steps[step])
    found = []
    for column in _text_columns(frame)[:MAX_TEXT_COLUMNS]:
        texts = _sample(frame[column])
        if texts.len() and not is_categorical(texts):
            reference = _reference(recipe, store, lock, step, column)
            found.append(_metrics(step, column, texts, reference))
    return found


def _text_plots(
    step: str, column: str, texts: pl.Series, reference: Reference | None
) -> list[Plot]:
    """Lengths, and topic clusters against a reference."""
    plots = [length_plot(step, column, texts, reference)]
    if reference is not None:
        clusters = cluster_plot(step, column, texts, reference)
        plots += [clusters] if clusters is not None else []
    return plots


def _metrics(step: str, column: str, texts: pl.Series, reference: Reference | None) -> TextMetrics:
    from synthc.report.metrics import text_metrics

    if reference is None:
        return text_metrics(step, column, texts)
    return text_metrics(step, column, texts, reference.texts, reference.label)


def _sample(texts: pl.Series) -> pl.Series:
    """The non-null values as text; a seeded sample of MAX_PLOT_ROWS when there are more."""
    import polars as pl

    texts = texts.drop_nulls().cast(pl.String)
    return texts.sample(MAX_PLOT_ROWS, seed=0) if texts.len() > MAX_PLOT_ROWS else texts


def _plotted_steps(recipe: Recipe, lock: LockState, tables: set[str]) -> list[str]:
    """Final steps (read by no other step), exported steps, and steps with a reference."""
    read = {source for step in recipe.steps.values() for source in step.inputs}
    chosen = []
    for name, step in recipe.steps.items():
        has_reference = any(_compares_texts(c.kind) for c in step.checks)
        wanted = name not in read or name in recipe.exports or has_reference
        if wanted and name in lock.steps and name in tables:
            chosen.append(name)
    return chosen


def _compares_texts(check_kind: str) -> bool:
    """Whether a check compares the step's texts with its `reference:` (worth plotting)."""
    gate = GATE_KINDS.get(check_kind)
    return gate is not None and gate.reference == TEXTS


def _text_columns(frame: pl.DataFrame) -> list[str]:
    import polars as pl

    return [
        name
        for name, dtype in frame.schema.items()
        if dtype == pl.String and not name.startswith("_")
    ]


def _reference(
    recipe: Recipe, store: Store, lock: LockState, step: str, column: str
) -> Reference | None:
    """Texts of the reference named by the step's first check that covers `column`."""
    from synthc.datafiles import looks_like_file

    for check in recipe.steps[step].checks:
        target = check.config.get("reference")
        if not _compares_texts(check.kind) or not isinstance(target, str):
            continue
        if check.config.get("column", column) != column:
            continue
        frame: pl.DataFrame | None
        if target in lock.steps and not looks_like_file(target):
            frame = store.read_step(target, lock.steps[target])
        else:
            frame = _read_reference_file(recipe, target)
        if frame is None:
            continue
        source = column if column in frame.columns else next(iter(_text_columns(frame)), None)
        if source is not None:
            return Reference(target, _sample(frame.get_column(source)))
    return None


def _read_reference_file(recipe: Recipe, target: str) -> pl.DataFrame | None:
    """A reference file's rows (or a glob's); None when it is gone or unreadable."""
    from synthc.datafiles import read_files

    try:
        return read_files(recipe.root, target)
    except (OSError, ValueError):
        return None


# -- lengths ------------------------------------------------------------------------


def word_lengths(texts: pl.Series) -> list[int]:
    """Words (runs of non-space characters) per text."""
    return texts.str.count_matches(r"\S+").fill_null(0).to_list()


def length_plot(step: str, column: str, texts: pl.Series, reference: Reference | None) -> Plot:
    """Histogram of words per row: the step's column, and its reference on the same bins."""
    lengths = word_lengths(texts)
    others = word_lengths(reference.texts) if reference else []
    width = _bin_width(max([*lengths, *others], default=0) + 1)
    count = max([*lengths, *others], default=0) // width + 1
    bins = tuple(
        f"{i * width}" if width == 1 else f"{i * width}–{(i + 1) * width - 1}" for i in range(count)
    )
    series = [Series(step, _shares(lengths, width, count), len(lengths))]
    caption = f"{step}: {_quantiles(lengths)}"
    if reference is not None:
        series.append(Series(reference.label, _shares(others, width, count), len(others)))
        caption += f"; reference {reference.label}: {_quantiles(others)}"
    return Plot(
        key=f"length-{step}-{column}",
        title=f"Length of {step}.{column}",
        caption=caption,
        x_label="words per row",
        bins=bins,
        series=tuple(series),
    )


def _bin_width(span: int) -> int:
    for width in _NICE_WIDTHS:
        if span / width <= LENGTH_BINS:
            return width
    return math.ceil(span / LENGTH_BINS)


def _shares(lengths: Sequence[int], width: int, count: int) -> tuple[float, ...]:
    counts = Counter(min(length // width, count - 1) for length in lengths)
    total = len(lengths) or 1
    return tuple(counts.get(i, 0) / total for i in range(count))


def _quantiles(lengths: Sequence[int]) -> str:
    if not lengths:
        return "no rows"
    ordered = sorted(lengths)

    def at(q: float) -> int:
        return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]

    rows = f"{len(ordered):,} row" + ("" if len(ordered) == 1 else "s")
    return f"median {at(0.5)} words (p1 {at(0.01)}, p99 {at(0.99)}), {rows}"


# -- categories ---------------------------------------------------------------------


def is_categorical(texts: pl.Series) -> bool:
    """A label-like column: few distinct short values, each repeated."""
    distinct = texts.unique()
    if distinct.len() > MAX_CATEGORIES or distinct.len() * 2 > texts.len():
        return False
    return max(word_lengths(distinct), default=0) <= 3


def category_plot(step: str, column: str, texts: pl.Series) -> Plot:
    """Shares of each value of a label-like column, largest first."""
    counts = Counter(texts.to_list())
    ordered = sorted(counts, key=lambda value: (-counts[value], value))
    total = texts.len() or 1
    top = counts[ordered[0]] / total if ordered else 0.0
    return Plot(
        key=f"values-{step}-{column}",
        title=f"Values of {step}.{column}",
        caption=f"{len(counts)} distinct values; the most common covers {top:.0%} of rows",
        x_label=column,
        bins=tuple(ordered),
        series=(Series(step, tuple(counts[v] / total for v in ordered), texts.len()),),
        kind="bars",
    )


# -- topic clusters -----------------------------------------------------------------


def cluster_plot(step: str, column: str, texts: pl.Series, reference: Reference) -> Plot | None:
    """Shares of k-means topic clusters (fitted on the reference), synthetic vs reference."""
    if reference.texts.len() < MIN_CLUSTER_REFERENCE or not texts.len():
        return None
    try:
        from synthc.quality.fidelity import topic_clusters
    except ImportError:
        return None
    ours, theirs = _head_sample(texts), _head_sample(reference.texts)
    k = max(2, min(8, len(theirs) // 5))
    try:
        with warnings.catch_warnings():  # k-means on near-identical texts warns; not news here
            warnings.simplefilter("ignore")
            labels_ours, labels_theirs = topic_clusters(ours, theirs, k=k)
    except (ImportError, ValueError):
        return None  # no vocabulary to cluster on, or scikit-learn missing
    names = _cluster_names(theirs, [int(v) for v in labels_theirs], k)
    order = sorted(range(k), key=lambda c: (-list(labels_theirs).count(c), c))
    ours_counts, theirs_counts = Counter(map(int, labels_ours)), Counter(map(int, labels_theirs))
    return Plot(
        key=f"clusters-{step}-{column}",
        title=f"Topic clusters of {step}.{column}",
        caption=f"k-means on {reference.label} (TF-IDF); a cluster {step} lacks is a lost topic",
        x_label="topic (top words in the reference)",
        bins=tuple(names[c] for c in order),
        series=(
            Series(step, tuple(ours_counts[c] / len(ours) for c in order), len(ours)),
            Series(
                reference.label,
                tuple(theirs_counts[c] / len(theirs) for c in order),
                len(theirs),
            ),
        ),
        kind="bars",
    )


def _head_sample(texts: pl.Series) -> list[str]:
    """At most CLUSTER_SAMPLE texts, a seeded sample when there are more."""
    if texts.len() > CLUSTER_SAMPLE:
        texts = texts.sample(CLUSTER_SAMPLE, seed=0)
    return [str(text) for text in texts.to_list()]


def _cluster_names(texts: Sequence[str], labels: Sequence[int], k: int) -> list[str]:
    """Each cluster's two most distinctive words: frequent in it, rare in the others."""
    words: list[Counter[str]] = [Counter() for _ in range(k)]
    for text, label in zip(texts, labels, strict=True):
        words[label].update(w for w in str(text).lower().split() if len(w) > 3 and w.isalpha())
    overall: Counter[str] = sum(words, Counter())
    names = []
    for index, counter in enumerate(words):
        ranked = sorted(
            counter, key=lambda w: (-counter[w] / (1 + overall[w] - counter[w]), -counter[w], w)
        )
        name = " ".join(ranked[:2]) or f"topic {index + 1}"
        names.append(name if name not in names else f"{name} ({index + 1})")
    return names


# -- dedup similarity ---------------------------------------------------------------


def similarity_plot(store: Store, step: str) -> Plot | None:
    """How similar each removed row was to the row it duplicates, by removal reason."""
    frame = store.query_frame(
        f"select reason, similarity from _dedup_matches where _step = {_lit(step)}"
    )
    if not frame.height:
        return None
    values = [float(v) for v in frame.get_column("similarity").to_list() if v is not None]
    low = math.floor(min(values, default=1.0) / SIMILARITY_STEP) * SIMILARITY_STEP
    count = max(1, round((1.0 - low) / SIMILARITY_STEP) + 1)
    bins = tuple(f"{low + i * SIMILARITY_STEP:.2f}" for i in range(count))
    series = []
    for reason in sorted(set(frame.get_column("reason").to_list())):
        part = frame.filter(frame.get_column("reason") == reason).get_column("similarity")
        counts = Counter(
            min(count - 1, max(0, math.floor((float(v) - low) / SIMILARITY_STEP + 1e-9)))
            for v in part
        )
        series.append(Series(str(reason), tuple(float(counts[i]) for i in range(count)), len(part)))
    return Plot(
        key=f"similarity-{step}",
        title=f"Similarity of rows {step} removed",
        caption=f"{frame.height:,} removed rows by Jaccard similarity to the row kept (exact = 1.00)",
        x_label="Jaccard similarity",
        bins=bins,
        series=tuple(series),
        kind="counts",
    )
