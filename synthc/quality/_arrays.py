"""Small numpy helpers shared by the quality modules."""

from __future__ import annotations

import numpy as np


def run_starts(sorted_values: np.ndarray) -> np.ndarray:
    """Boolean mask: True where a run of equal values begins (safe on empty input)."""
    mask = np.ones(len(sorted_values), dtype=bool)
    if len(sorted_values) > 1:
        mask[1:] = sorted_values[1:] != sorted_values[:-1]
    return mask


# Bytes one Arrow binary-view buffer spans (view offsets are int32).
VIEW_WINDOW = 1 << 30


def binary_views(
    data: np.ndarray, start: np.ndarray, size: np.ndarray, window: int = VIEW_WINDOW
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Arrow binary-view structs (length, then up to 12 bytes inline, or a 4-byte prefix,
    buffer index and offset) for the slices ``data[start[i]:start[i] + size[i]]``, and
    the buffers they point into: an Arrow string array of slices without copying them.

    Offsets are int32, so buffer k is `data` from k * window on (window <= 2**31): every
    slice lies in the buffer its start falls in.
    """
    padded = np.concatenate([data, np.zeros(16, dtype=np.uint8)])  # room to read past the end
    inline = size <= 12
    views = np.empty((len(start), 4), dtype=np.uint32)
    views[:, 0] = size
    views[:, 1] = _bytes_le(padded, start, size, 0)
    views[:, 2] = np.where(inline, _bytes_le(padded, start, size, 1), start // window)
    views[:, 3] = np.where(inline, _bytes_le(padded, start, size, 2), start % window)
    windows = max(1, -(-len(data) // window))
    return views, [padded[k * window :] for k in range(windows)]


def _bytes_le(padded: np.ndarray, start: np.ndarray, size: np.ndarray, word: int) -> np.ndarray:
    """Bytes 4*word .. 4*word+3 of each slice as a little-endian uint32, the bytes past
    the slice's end zeroed (Arrow's inline padding)."""
    unaligned = np.ndarray((len(padded) - 3,), dtype="<u4", buffer=padded, strides=(1,))
    values = unaligned[start + 4 * word].astype(np.uint64)
    kept_bits = (np.clip(size - 4 * word, 0, 4) * 8).astype(np.uint64)
    return (values & ((np.uint64(1) << kept_bits) - np.uint64(1))).astype(np.uint32)
