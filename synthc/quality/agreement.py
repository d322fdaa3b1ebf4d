"""Agreement between judges who scored the same rows: Krippendorff's alpha for interval
data and pairwise Spearman rank correlation.

Alpha = 1 - D_o / D_e, where D_o is the mean squared difference between two scores of
the same row (over every ordered pair of judges who scored it, each row weighted by
1 / (its scores - 1)) and D_e the mean squared difference between any two scores at
all. Rows with fewer than two scores carry no information and are left out; 1 is
perfect agreement, 0 agreement no better than chance, below 0 systematic disagreement.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np


def krippendorff_interval(scores: np.ndarray) -> float:
    """Alpha of a rows x judges matrix (NaN = not scored). NaN when undefined (no row
    with two scores, or every score the same)."""
    values = np.asarray(scores, dtype=np.float64)
    present = ~np.isnan(values)
    counts = present.sum(axis=1)
    pairable = counts >= 2
    if not pairable.any():
        return float("nan")
    values, present, counts = values[pairable], present[pairable], counts[pairable]
    filled = np.where(present, values, 0.0)
    sums, squares = filled.sum(axis=1), (filled**2).sum(axis=1)
    # sum over ordered pairs i != j of (v_i - v_j)^2 = 2 (m sum v^2 - (sum v)^2)
    within = 2.0 * (counts * squares - sums**2) / (counts - 1)
    n = counts.sum()
    observed = within.sum() / n
    total, total_squares = sums.sum(), squares.sum()
    expected = 2.0 * (n * total_squares - total**2) / (n * (n - 1))
    if expected == 0:
        return float("nan")
    return float(1.0 - observed / expected)


def pairwise_spearman(scores: np.ndarray, names: list[str]) -> dict[str, float]:
    """Spearman's rho for each pair of judges over the rows both scored
    ("a~b" -> rho; NaN when fewer than two such rows or a constant column)."""
    from scipy.stats import spearmanr

    values = np.asarray(scores, dtype=np.float64)
    found: dict[str, float] = {}
    for i, j in combinations(range(values.shape[1]), 2):
        both = ~np.isnan(values[:, i]) & ~np.isnan(values[:, j])
        rho = float("nan")
        left, right = values[both, i], values[both, j]
        if both.sum() >= 2 and np.ptp(left) > 0 and np.ptp(right) > 0:
            rho = float(spearmanr(left, right).statistic)
        found[f"{names[i]}~{names[j]}"] = rho
    return found
