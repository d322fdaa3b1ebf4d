"""Which embedder a check measures with: its settings (the check's own `embeddings:`,
the recipe's, or the tfidf default), their identity for the lock, and the embedder
itself: a pure one from `synthc.quality.embeddings`, or a gateway model called through
the LLM client with each vector cached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from synthc.quality.embeddings import (
    MINILM_NAMES,
    Embedder,
    minilm_version,
    sentence_transformer,
    tfidf_svd,
    unit_rows,
)

if TYPE_CHECKING:
    from synthc.recipe.load import Check, Recipe


DEFAULT_EMBEDDINGS: Mapping[str, Any] = {"model": "tfidf", "dimensions": 64}


def embedding_settings(check: Check, recipe: Recipe) -> dict[str, Any]:
    """The embeddings a check uses: its own `embeddings:`, else the recipe's, else the
    default, with the tfidf defaults filled in. A check's setting replaces the recipe's
    whole (their fields are not merged)."""
    chosen = check.config.get("embeddings") or recipe.embeddings or DEFAULT_EMBEDDINGS
    settings = dict(chosen)
    if settings.get("model") == "tfidf":
        settings = {**DEFAULT_EMBEDDINGS, **settings}
    return settings


def embedding_identity(check: Check, recipe: Recipe) -> dict[str, Any] | None:
    """What a check's vectors depend on, for its gate identity; None for checks that use
    no embeddings and for the default (so locks written before `embeddings:` existed stay
    current). A `models:` alias counts by the model it names; minilm by package version."""
    from synthc.quality.gates import gate_kind

    if not gate_kind(check.kind).uses_embeddings:
        return None
    settings = embedding_settings(check, recipe)
    model = str(settings["model"])
    if settings == DEFAULT_EMBEDDINGS:
        return None
    if model in MINILM_NAMES:
        return {**settings, "model": "minilm", "package": minilm_version()}
    if model == "tfidf":
        return settings
    from synthc.llm.embed import embedding_params
    from synthc.llm.models import resolve_model

    spec = resolve_model(model, recipe)
    return {**settings, "model": spec.identity, "params": embedding_params(spec, settings)}


def uses_gateway(settings: Mapping[str, Any]) -> bool:
    """Whether these embeddings are computed by a model behind the LLM gateway."""
    return str(settings.get("model", "tfidf")) not in {"tfidf", *MINILM_NAMES}


def embedder_for(
    settings: Mapping[str, Any], recipe: Recipe | None = None, llm: Any = None
) -> Embedder:
    """The embedder for `embeddings:` settings (see `embedding_settings`). `llm`: the
    build's `LLMClient`, for gateway models (one is opened per call when None)."""
    model = str(settings.get("model", "tfidf"))
    if model == "tfidf":
        return tfidf_svd(dimensions=int(settings.get("dimensions", 64)))
    if model in MINILM_NAMES:
        return sentence_transformer()
    return gateway_embedder(model, recipe, llm, settings.get("dimensions"))


def gateway_embedder(
    model: str, recipe: Recipe | None = None, llm: Any = None, dimensions: int | None = None
) -> Embedder:
    """Embeddings from a litellm model through the gateway (cached per text)."""
    params = {"dimensions": dimensions} if dimensions else {}

    def embed(texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1))
        if llm is not None:
            return unit_rows(llm.embed(texts, model, params))
        from synthc.llm.client import LLMClient

        with LLMClient(recipe) as client:
            return unit_rows(client.embed(texts, model, params))

    return embed
