"""OpenAI-compatible endpoints without litellm: which models and calls litellm would send
unchanged, and the request body it would send for them.

An `openai/` or `hosted_vllm/` model with its own `api_base` whose name litellm does
not know (not in its price table, not a reasoning-series name) gets litellm's generic
OpenAI config, which copies the usual sampling parameters into the body and passes
plain text messages through as they are. For such a model and such a call the body is
`{"model", "messages", **params}`, so the gateway builds it itself and never pays
litellm's import (~3 s, ~195 MB). Anything else (tools, reasoning options, content
parts, a model litellm knows) goes through litellm's own transform, imported on first
need. `tests/llm/test_wire.py` pins the equivalence against litellm's transform.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from synthc.llm.models import ModelSpec
from synthc.recipe.providers import price_table_text

# Providers whose chat endpoint speaks the OpenAI wire format as litellm sends it.
FAST_PROVIDERS = frozenset({"openai", "hosted_vllm"})
# Parameters litellm's generic OpenAI config copies into the body unchanged.
PLAIN_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "seed",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "response_format",
    }
)
PLAIN_ROLES = frozenset({"system", "user", "assistant"})
# Names litellm maps to its reasoning-series config whatever the endpoint.
REASONING_MARKERS = ("gpt-5", "gpt-6")


def plain_model(spec: ModelSpec) -> tuple[str, str] | None:
    """(provider, the provider's model name) when litellm would treat `spec` as a generic
    OpenAI-compatible endpoint, else None (litellm decides)."""
    provider, slash, name = spec.model.partition("/")
    if not slash or provider not in FAST_PROVIDERS or not spec.api_base or spec.is_local:
        return None
    if any(marker in name for marker in REASONING_MARKERS):
        return None
    if may_be_priced(spec.model, name):  # a model litellm knows may get its own config
        return None
    return provider, name


def plain_params(params: Mapping[str, Any]) -> bool:
    """Whether litellm would copy every one of `params` into the body unchanged."""
    return all(name in PLAIN_PARAMS for name in params)


def plain_messages(messages: Sequence[Mapping[str, Any]]) -> bool:
    """Whether every message is plain text in a role litellm passes through unchanged."""
    for message in messages:
        if message.keys() - {"role", "content"} or message.get("role") not in PLAIN_ROLES:
            return False
        if not isinstance(message.get("content"), str):
            return False
    return True


def plain_body(
    name: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
) -> dict[str, Any]:
    """The body litellm sends for a plain model, plain params and plain messages."""
    return {"model": name, "messages": [dict(m) for m in messages], **params}


@cache
def may_be_priced(*names: str) -> bool:
    """Whether litellm's price table may list any of `names` (then litellm is asked).

    A substring test on the table's text, not a JSON parse (~0.25 s and ~25 MB): a name
    that only appears elsewhere in the file answers True, which costs litellm's import
    but never a wrong price."""
    text = price_table_text()
    return any(f'"{name}"' in text for name in names)
