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
from typing import TYPE_CHECKING, Any

import numpy as np

from synthc.errors import SynthcError
from synthc.fingerprint import fingerprint
from synthc.llm.cache import KEY_VERSION, output_params
from synthc.llm.calls import FATAL, RATE_LIMITED
from synthc.llm.models import ModelSpec
from synthc.llm.transport import CallFailure, Transports, scrub

if TYPE_CHECKING:
    from synthc.llm.client import LLMClient

BATCH_SIZE = 128  # texts per request; providers accept 2048, but a failed batch costs less
# Parameters that change an embedding; an alias's chat parameters are not sent.
EMBEDDING_PARAMS = frozenset({"dimensions"})


class EmbeddingFailed(SynthcError):
    """An embedding request failed after its retries (or the budget stopped it)."""


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
            "params": output_params(params),
            "text": text,
        }
    )


def decode(stored: bytes) -> np.ndarray:
    """A cached vector (float32 bytes) as float64."""
    return np.frombuffer(stored, dtype=np.float32).astype(np.float64)


async def embed_missing(
    client: LLMClient,
    spec: ModelSpec,
    missing: Mapping[str, str],
    params: Mapping[str, Any],
    batch_size: int = BATCH_SIZE,
) -> dict[str, bytes]:
    """Embed `missing` (key -> text) in batches, caching each vector as it arrives;
    return key -> stored vector. Raises `EmbeddingFailed`."""
    items = list(missing.items())
    batches = [items[i : i + batch_size] for i in range(0, len(items), max(1, batch_size))]
    transports = Transports(client.timeout, force_litellm=True)
    try:
        results = await asyncio.gather(
            *(_embed_batch(client, transports, spec, batch, params) for batch in batches)
        )
    finally:
        await transports.close()
    return {key: vector for batch in results for key, vector in batch.items()}


async def _embed_batch(
    client: LLMClient,
    transports: Transports,
    spec: ModelSpec,
    batch: Sequence[tuple[str, str]],
    params: Mapping[str, Any],
) -> dict[str, bytes]:
    texts = [text for _, text in batch]
    estimate = sum(len(text) for text in texts) // 4 + len(texts)
    estimate_usd = transports.cost(spec, estimate, 0) or 0.0
    stop = client.budget.reserve(estimate, estimate_usd)
    if stop is not None:
        client.budget_stop = client.budget_stop or stop
        raise EmbeddingFailed(f"embeddings with {spec.name}: budget {stop}")
    limiter = client.limiter(spec)
    for attempt in range(1, client.max_attempts + 1):
        await limiter.enter(estimate)
        used = estimate
        try:
            vectors, used = await transports.embed(spec, texts, params)
        except CallFailure as failure:
            await limiter.leave(estimate, used)
            if failure.kind == FATAL or attempt == client.max_attempts:
                client.budget.settle(estimate, estimate_usd, 0, 0.0)
                message = scrub(failure.message, client._secrets(spec))
                raise EmbeddingFailed(
                    f"embeddings with {spec.name} failed after {attempt} attempt(s): "
                    f"{failure.error_class}: {message}"
                ) from None
            if failure.kind == RATE_LIMITED:
                limiter.slots.rate_limited()
            await asyncio.sleep(client._backoff(attempt, failure.retry_after))
            continue
        await limiter.leave(estimate, used)
        limiter.slots.succeeded()
        cost = transports.cost(spec, used, 0)
        client.budget.settle(estimate, estimate_usd, used, cost or 0.0)
        return _store(client, spec, batch, vectors, used)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _store(
    client: LLMClient,
    spec: ModelSpec,
    batch: Sequence[tuple[str, str]],
    vectors: Sequence[Sequence[float]],
    tokens: int,
) -> dict[str, bytes]:
    """Cache each vector at once (a crash loses nothing already paid for)."""
    stored = {}
    for (key, _), vector in zip(batch, vectors, strict=True):
        data = np.asarray(vector, dtype=np.float32).tobytes()
        client.cache.put_embedding(key, data, spec.model, tokens // max(1, len(batch)))
        stored[key] = data
    return stored
