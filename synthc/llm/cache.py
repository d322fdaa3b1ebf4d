"""The LLM call cache: one diskcache entry per successful call, keyed by content
(and one per embedded text, see `synthc.llm.embed`).

A call key is the fingerprint of everything that changes a model's answer (DESIGN §3):
the key-format version, the model identity, the rendered messages, every
output-affecting parameter (provider-specific ones included) and the sample index.
Keys, timeouts, retry and concurrency settings are not part of it (which parameters
are keyed is decided in `synthc.llm.params`). Only successes are
stored, and the cache never evicts on its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthc.errors import CacheDamaged, DiskFull
from synthc.fingerprint import fingerprint
from synthc.llm.models import ModelSpec
from synthc.llm.params import split_params

KEY_VERSION = 1


def cache_dir(state_dir: Path | None = None) -> Path:
    """`$SYNTHC_CACHE_DIR` if set, else `<state_dir>/cache`: `.synthc/cache/` beside the
    recipe, which every recipe in that folder shares (each recipe's own state is in
    `.synthc/<recipe>/`)."""
    shared = os.environ.get("SYNTHC_CACHE_DIR")
    if shared:
        return Path(shared)
    return (state_dir or Path(".synthc")) / "cache"


def call_key(
    spec: ModelSpec,
    messages: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    sample_index: int = 0,
) -> str:
    """The content hash that identifies one model call (one sample).

    Example::

        key = call_key(spec, [{"role": "user", "content": "hi"}], {"temperature": 0.7}, 0)
    """
    return fingerprint(
        {
            "key_version": KEY_VERSION,
            "model": spec.identity,
            "messages": [dict(m) for m in messages],
            "params": dict(split_params(params).keyed),
            "sample": sample_index,
        }
    )


@dataclass(frozen=True)
class CachedResponse:
    """What the cache keeps for a call: the answer and its accounting, never a key."""

    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    model: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "finish_reason": self.finish_reason,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
            "model": self.model,
        }


def rejection_reason(
    text: str | None, finish_reason: str | None, allow_truncated: bool = False
) -> str | None:
    """Why a response must not be cached as a success, or None when it may be."""
    if finish_reason == "content_filter":
        return "content filtered"
    if finish_reason == "length" and not allow_truncated:
        return "truncated (finish_reason=length); raise max_tokens or set allow_truncated"
    if text is None or not text.strip():
        return "empty response"
    return None


# SQLite result codes that mean "another process holds it": retried by diskcache, not damage.
_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED


class CallCache:
    """A diskcache.Cache with eviction off. Opened lazily, safe across processes."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._cache: Any = None

    def _open(self) -> Any:
        if self._cache is None:
            import diskcache

            with self._guard():
                self.directory.mkdir(parents=True, exist_ok=True)
                self._cache = diskcache.Cache(
                    str(self.directory), eviction_policy="none", size_limit=2**62
                )
        return self._cache

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """A damaged database or a full disk as one actionable error, decided by SQLite's
        result code (never by message text)."""
        import sqlite3

        try:
            yield
        except sqlite3.DatabaseError as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            if code == sqlite3.SQLITE_FULL:
                raise DiskFull(
                    f"No space left on device while writing the call cache at "
                    f"{self.directory}; free some space and run again (paid calls are kept)"
                ) from exc
            if code in _BUSY_CODES:
                raise
            raise CacheDamaged(
                f"the call cache at {self.directory} is damaged ({exc}): move it aside "
                f"(mv {self.directory} {self.directory}.damaged); nothing else is lost, "
                "calls it held are paid for again"
            ) from exc
        except OSError as exc:
            if (full := DiskFull.check(self.directory, exc)) is not None:
                raise full from exc
            raise

    def get(self, key: str) -> CachedResponse | None:
        with self._guard():
            value = self._open().get(key)
        return CachedResponse(**value) if isinstance(value, dict) and "text" in value else None

    def get_embedding(self, key: str) -> bytes | None:
        """A cached embedding vector (float32 bytes), or None."""
        with self._guard():
            value = self._open().get(key)
        return value["embedding"] if isinstance(value, dict) and "embedding" in value else None

    def put_embedding(self, key: str, vector: bytes, model: str, prompt_tokens: int) -> None:
        """Store one text's embedding (see `synthc.llm.embed`)."""
        entry = {"embedding": vector, "model": model, "prompt_tokens": prompt_tokens}
        with self._guard():
            self._open().set(key, entry)

    def __contains__(self, key: str) -> bool:
        with self._guard():
            return key in self._open()

    def put(self, key: str, response: CachedResponse) -> None:
        """Store one success at once, so a crash loses nothing already paid for."""
        with self._guard():
            self._open().set(key, response.as_dict())

    def delete(self, key: str) -> None:
        with self._guard():
            self._open().delete(key)

    def keys(self) -> list[str]:
        with self._guard():
            return [str(k) for k in self._open().iterkeys()]

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None
