"""Content identity: canonical JSON and sha256 over it.

Everything that decides "is this already done?" goes through `fingerprint`, so two
equal values always give the same hash whatever their key order, and any change to a
value gives a different one.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HASH_PREFIX_LEN = 16  # characters shown to people; identity always uses the full hash


def _normalise(value: Any) -> Any:
    # The common shapes first, by exact type: an ABC check costs more than the rest.
    kind = type(value)
    if kind is str:
        return value
    if kind is dict:
        return {str(k): _normalise(v) for k, v in value.items()}
    if kind is list:
        return [_normalise(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"cannot fingerprint non-finite number {value!r}")
        # 2.0 and 2 are the same setting; keep them one key.
        return int(value) if value.is_integer() else value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return {"__bytes_sha256__": hashlib.sha256(value).hexdigest()}
    if isinstance(value, set | frozenset):
        return sorted(_normalise(v) for v in value)
    raise TypeError(f"cannot fingerprint value of type {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys, no whitespace, no NaN, integral floats as ints."""
    return json.dumps(
        _normalise(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def fingerprint(value: Any) -> str:
    """sha256 hex digest of the canonical JSON of `value`."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def short(digest: str) -> str:
    return digest[:HASH_PREFIX_LEN]
