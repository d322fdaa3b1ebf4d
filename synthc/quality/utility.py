"""Downstream utility: does a small model trained on the synthetic set do as well on real
data as the same model trained on real data?

For each seed the real set is split (stratified) into train and test; one model is
trained on the real train split, one on the synthetic set, and both are scored (macro
F1) on the same real test split. The figure is the relative drop
``(real - synthetic) / real``, averaged over the seeds, with its spread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from synthc.quality.text import normalise

ModelFactory = Callable[[int], Any]  # seed -> an unfitted scikit-learn pipeline


@dataclass(frozen=True)
class UtilityResult:
    """Scores per seed and the relative drop of training on synthetic instead of real."""

    real_scores: tuple[float, ...]
    synthetic_scores: tuple[float, ...]
    relative_drop: float  # mean over seeds; negative when synthetic does better
    drop_spread: float  # standard deviation over seeds


def tfidf_logistic(seed: int) -> Any:
    """The default model: TF-IDF word 1-2-grams + logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"\S+", min_df=1),
        LogisticRegression(max_iter=1000, random_state=seed),
    )


def utility_drop(
    synthetic_texts: Sequence[str],
    synthetic_labels: Sequence[Any],
    real_texts: Sequence[str],
    real_labels: Sequence[Any],
    seeds: Sequence[int] = (0, 1, 2),
    test_size: float = 0.3,
    model: ModelFactory = tfidf_logistic,
) -> UtilityResult:
    """Train on synthetic vs on real, test on the same held-out real split, per seed."""
    from sklearn.model_selection import train_test_split

    if len(seeds) < 1:
        raise ValueError("utility needs at least one seed (three or more recommended)")
    synth_x = normalise(list(synthetic_texts)).to_list()
    real_x = normalise(list(real_texts)).to_list()
    real_y, synth_y = np.asarray(real_labels), np.asarray(synthetic_labels)
    if len(set(synth_y.tolist())) < 2:
        raise ValueError("the synthetic set needs at least two labels to train a classifier")
    real_scores, synthetic_scores = [], []
    for seed in seeds:
        train_x, test_x, train_y, test_y = train_test_split(
            real_x, real_y, test_size=test_size, random_state=seed, stratify=_stratify(real_y)
        )
        real_scores.append(_score(model(seed), train_x, train_y, test_x, test_y))
        synthetic_scores.append(_score(model(seed), synth_x, synth_y, test_x, test_y))
    real, synth = np.array(real_scores), np.array(synthetic_scores)
    drops = np.divide(real - synth, real, out=np.zeros_like(real), where=real > 0)
    return UtilityResult(
        real_scores=tuple(real.tolist()),
        synthetic_scores=tuple(synth.tolist()),
        relative_drop=float(drops.mean()),
        drop_spread=float(drops.std()),
    )


def _stratify(labels: np.ndarray) -> np.ndarray | None:
    _, counts = np.unique(labels, return_counts=True)
    return labels if counts.min(initial=0) >= 2 else None


def _score(
    model: Any, train_x: list[str], train_y: np.ndarray, test_x: list[str], test_y: np.ndarray
) -> float:
    from sklearn.metrics import f1_score

    model.fit(train_x, train_y)
    return float(f1_score(test_y, model.predict(test_x), average="macro"))
