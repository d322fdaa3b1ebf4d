"""Embedding calls through the gateway: one cached vector per text, batched requests.

Each text's vector is cached under its own content key (`embedding_key`), in the same
call cache as completions, so re-evaluating a gate on the same rows sends no request
and a grown dataset only pays for its new rows. Requests go through litellm's
`aembedding` (imported only when some text misses the cache) under the model's limits,
retries and the build's budget, like completions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from synthc.errors import SynthcError
from synthc.fingerprint import fingerprint
from synthc.llm.cache import KEY_VERSION, CallCache
from synthc.llm.calls import Budget
from synthc.llm.limits import ModelLimiter
from synthc.llm.models import ModelSpec
from synthc.llm.params import split_params
from synthc.llm.retry import RetryPolicy, attempt
from synthc.llm.transport import Transports, scrub, secret_values

BATCH_SIZE = 128  # texts per request; providers accept 2048, but a failed batch costs less
# Parameters that change an embedding; an alias's chat parameters are not sent.
EMBEDDING_PARAMS = frozenset({"dimensions"})


class EmbeddingFailed(SynthcError):
    """An embedding request failed after its retries (or the budget stopped it)."""

    def __init__(self, message: str, budget_stop: str | None = None) -> None:
        super().__init__(message)
        self.budget_stop = budget_stop


def embedding_params(spec: ModelSpec, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The alias's embedding parameters under the caller's (only `EMBEDDING_PARAMS`)."""
    merged = {**spec.params, **(params or {})}
    return {k: v for k, v in merged.items() if k in EMBEDDING_PARAMS and v is not None}


def embedding_key(spec: ModelSpec, text: str, params: Mapping[str, Any]) -> str:
    """The content hash of one text's embedding by one model. Example::

    key = embedding_key(resolve_model("openai/text-embedding-3-small"), "hello", {})
    """
    return fingerprint(
        {
            "key_version": KEY_VERSION,
            "model": spec.identity,
            "kind": "embedding",
            "params": dict(split_params(params).keyed),
            "text": text,
        }
    )


def decode(stored: bytes) -> np.ndarray:
    """A cached vector (float32 bytes) as float64."""
    return np.frombuffer(stored, dtype=np.float32).astype(np.float64)


@dataclass(frozen=True)
class EmbedSession:
    """What embedding calls share with the client that opened them: its cache, budget,
    the model's limiter, the retry policy and the request timeout."""

    cache: CallCache
    budget: Budget
    limiter: ModelLimiter
    retry: RetryPolicy
    timeout: float


async def embed_missing(
    session: EmbedSession,
    spec: ModelSpec,
    missing: Mapping[str, str],
    params: Mapping[str, Any],
    batch_size: int = BATCH_SIZE,
) -> dict[str, bytes]:
    """Embed `missing` (key -> text) in batches, caching each vector as it arrives;
    return key -> stored vector. Raises `EmbeddingFailed` (with `budget_stop` set when
    the budget stopped it)."""
    items = list(missing.items())
    batches = [items[i : i + batch_size] for i in range(0, len(items), max(1, batch_size))]
    transports = Transports(session.timeout, force_litellm=True)
    transports.prepare(spec)
    try:
        results = await asyncio.gather(
            *(_embed_batch(session, transports, spec, batch, params) for batch in batches)
        )
    finally:
        await transports.close()
    return {key: vector for batch in results for key, vector in batch.items()}


async def _embed_batch(
    session: EmbedSession,
    transports: Transports,
    spec: ModelSpec,
    batch: Sequence[tuple[str, str]],
    params: Mapping[str, Any],
) -> dict[str, bytes]:
    texts = [text for _, text in batch]
    estimate = sum(len(text) for text in texts) // 4 + len(texts)
    estimate_usd = transports.cost(spec, estimate, 0) or 0.0
    stop = session.budget.reserve(estimate, estimate_usd)
    if stop is not None:
        raise EmbeddingFailed(f"embeddings with {spec.name}: budget {stop}", budget_stop=stop)

    async def send() -> tuple[tuple[Sequence[Sequence[float]], int], int]:
        vectors, used = await transports.embed(spec, texts, params)
        return (vectors, used), used

    tried = await attempt(send, session.limiter, estimate, session.retry)
    if tried.value is None:
        assert tried.failure is not None
        if tried.attempts:
            session.budget.settle(estimate, estimate_usd, 0, 0.0)
        else:
            session.budget.cancel(estimate, estimate_usd)
        message = scrub(tried.failure.message, secret_values(spec))
        raise EmbeddingFailed(
            f"embeddings with {spec.name} failed after {tried.attempts} attempt(s): "
            f"{tried.failure.error_class}: {message}"
        )
    vectors, used = tried.value
    cost = transports.cost(spec, used, 0)
    session.budget.settle(estimate, estimate_usd, used, cost or 0.0)
    return _store(session.cache, spec, batch, vectors, used)


def _store(
    cache: CallCache,
    spec: ModelSpec,
    batch: Sequence[tuple[str, str]],
    vectors: Sequence[Sequence[float]],
    tokens: int,
) -> dict[str, bytes]:
    """Cache each vector at once (a crash loses nothing already paid for)."""
    stored = {}
    for (key, _), vector in zip(batch, vectors, strict=True):
        data = np.asarray(vector, dtype=np.float32).tobytes()
        cache.put_embedding(key, data, spec.model, tokens // max(1, len(batch)))
        stored[key] = data
    return stored
