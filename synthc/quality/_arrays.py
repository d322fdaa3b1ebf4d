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
# A native uint32 whose first k bytes in memory are set, whatever the machine's byte
# order: zeroes what lies past a slice's end (Arrow's padding).
_LOW_BYTES = np.frombuffer(
    b"".join(b"\xff" * k + b"\x00" * (4 - k) for k in range(5)), dtype=np.uint32
).copy()


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
    # Every 4 bytes from every offset, as native uint32 (an unaligned view): stored back
    # into the native views, the bytes keep their order in memory.
    quads = np.ndarray((len(padded) - 3,), dtype=np.uint32, buffer=padded, strides=(1,))
    views = np.empty((len(start), 4), dtype=np.uint32)
    views[:, 0] = size
    views[:, 1] = quads[start] & _LOW_BYTES[np.minimum(size, 4)]
    views[:, 2] = start // window
    views[:, 3] = start % window
    inline = np.flatnonzero(size <= 12)
    at, left = start[inline], size[inline]
    views[inline, 2] = quads[at + 4] & _LOW_BYTES[np.clip(left - 4, 0, 4)]
    views[inline, 3] = quads[at + 8] & _LOW_BYTES[np.clip(left - 8, 0, 4)]
    windows = max(1, -(-len(data) // window))
    return views, [padded[k * window :] for k in range(windows)]
