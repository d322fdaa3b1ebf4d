"""Small numpy helpers shared by the quality modules."""

from __future__ import annotations

import numpy as np


def run_starts(sorted_values: np.ndarray) -> np.ndarray:
    """Boolean mask: True where a run of equal values begins (safe on empty input)."""
    mask = np.ones(len(sorted_values), dtype=bool)
    if len(sorted_values) > 1:
        mask[1:] = sorted_values[1:] != sorted_values[:-1]
    return mask
