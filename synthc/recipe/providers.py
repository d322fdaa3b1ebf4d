"""Which model strings litellm can route, decided offline and without importing
litellm (its import takes seconds): the provider prefix against litellm's provider
list, a bare name against its bundled price table. `validate` and `plan` use it, so a
typo such as `opnai/gpt-4o` or `local/smolm2` fails before any call is made.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

LOCAL_PREFIX = "local/"
LOCAL_MODELS = ("local/smollm2",)  # synthc's in-process provider
# litellm's `LlmProviders` (litellm 1.110); the price table adds any newer ones.
PROVIDERS = frozenset(
    [
        "a2a",
        "a2a_agent",
        "abliteration",
        "ai21",
        "ai21_chat",
        "aiand",
        "aiml",
        "aiohttp_openai",
        "amazon_nova",
        "anthropic",
        "anthropic_text",
        "apertis",
        "assemblyai",
        "auto_router",
        "aws_polly",
        "aws_textract",
        "azure",
        "azure_ai",
        "azure_speech",
        "azure_text",
        "baseten",
        "bedrock",
        "bedrock_mantle",
        "bespoke",
        "bigmodel",
        "black_forest_labs",
        "bytez",
        "cerebras",
        "charity_engine",
        "chatgpt",
        "chutes",
        "clarifai",
        "clf_ai_gateway",
        "cloudflare",
        "codestral",
        "cognition",
        "cohere",
        "cohere_chat",
        "cometapi",
        "compactifai",
        "coralbricks",
        "cortecs",
        "cursor",
        "custom",
        "custom_openai",
        "darkbloom",
        "dashscope",
        "databricks",
        "databricks_agent",
        "datarobot",
        "deepgram",
        "deepinfra",
        "deepseek",
        "docker_model_runner",
        "dotprompt",
        "edenai",
        "elevenlabs",
        "empiriolabs",
        "empower",
        "eu_jev",
        "fal_ai",
        "featherless_ai",
        "fireworks_ai",
        "friendliai",
        "galadriel",
        "gdc",
        "gemini",
        "gigachat",
        "github",
        "github_copilot",
        "gradient_ai",
        "groq",
        "helicone",
        "heroku",
        "hosted_vllm",
        "hostinger_router",
        "huggingface",
        "humanloop",
        "hyperbolic",
        "inception",
        "inferenceapis",
        "infinity",
        "jina_ai",
        "kyma",
        "lambda_ai",
        "langflow",
        "langfuse",
        "langgraph",
        "laya",
        "lemonade",
        "libertai",
        "litellm_agent",
        "litellm_proxy",
        "llamafile",
        "lm_studio",
        "manus",
        "maritalk",
        "meta",
        "meta_llama",
        "microsoft_365_copilot",
        "milvus",
        "minimax",
        "mistral",
        "modelscope",
        "mongodb",
        "moonshot",
        "morph",
        "nace",
        "nadir",
        "nano-gpt",
        "nebius",
        "neosantara",
        "nlp_cloud",
        "novita",
        "nscale",
        "nvidia_nim",
        "nvidia_riva",
        "oci",
        "ollama",
        "ollama_chat",
        "oobabooga",
        "openai",
        "openai_like",
        "opencode_go",
        "openinfer",
        "openrouter",
        "opensearch",
        "ovhcloud",
        "parallel_ai",
        "parasail",
        "perplexity",
        "petals",
        "pg_vector",
        "pinstripes",
        "poe",
        "predibase",
        "prism",
        "publicai",
        "qwen_ai_platform",
        "qwencloud",
        "ragflow",
        "recraft",
        "reducto",
        "refuseless",
        "reka",
        "replicate",
        "runwayml",
        "s3_vectors",
        "sagemaker",
        "sagemaker_chat",
        "sagemaker_nova",
        "sail",
        "sambanova",
        "sap",
        "scaledown",
        "scaleway",
        "scx-ai",
        "snowflake",
        "soniox",
        "stability",
        "strands_decider",
        "streamlake",
        "synthetic",
        "tencent",
        "tensormesh",
        "text-completion-codestral",
        "text-completion-inception",
        "text-completion-openai",
        "together_ai",
        "topaz",
        "transcribe",
        "triton",
        "typesafe",
        "v0",
        "valkey",
        "vercel_ai_gateway",
        "vertex_ai",
        "vertex_ai_beta",
        "vllm",
        "volcengine",
        "voyage",
        "wally",
        "wandb",
        "watsonx",
        "watsonx_text",
        "xai",
        "xiaomi_mimo",
        "xinference",
        "zai",
        "zerogpu",
    ]
)
# Bare model names litellm routes without a provider prefix.
BARE_PREFIXES = ("gpt-", "o1", "o3", "o4", "claude", "chatgpt-", "text-embedding-")


@cache
def price_table() -> Mapping[str, Any]:
    """litellm's bundled price table, read as JSON; empty when litellm is not installed."""
    try:
        return dict(json.loads(price_table_text()))
    except ValueError:
        return {}


@cache
def price_table_text() -> str:
    """litellm's bundled price table as text (not parsed), read once; empty when litellm
    is not installed. Found with `find_spec`, so litellm is not imported."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return ""
    path = Path(next(iter(spec.submodule_search_locations)))
    try:
        return (path / "model_prices_and_context_window_backup.json").read_text(encoding="utf-8")
    except OSError:
        return ""


def known_providers() -> frozenset[str]:
    """`PROVIDERS` and every provider the price table names."""
    named = {
        entry.get("litellm_provider")
        for entry in price_table().values()
        if isinstance(entry, Mapping)
    }
    return PROVIDERS | {p for p in named if isinstance(p, str)}


def routing_problem(model: str) -> str | None:
    """Why litellm could not route `model` (a model string, not an alias), or None."""
    if model.startswith(LOCAL_PREFIX):
        if model in LOCAL_MODELS:
            return None
        hint = _did_you_mean(model, LOCAL_MODELS)
        return f"unknown local model '{model}'{hint}; local models: {', '.join(LOCAL_MODELS)}"
    provider, slash, _ = model.partition("/")
    if slash:
        if provider in PROVIDERS or provider in known_providers():
            return None
        hint = _did_you_mean(provider, sorted(known_providers()))
        return f"litellm cannot route '{model}': unknown provider '{provider}'{hint}"
    if model.startswith(BARE_PREFIXES) or model in price_table():
        return None
    return (
        f"litellm cannot route '{model}': no provider prefix "
        f"(write it as 'provider/model', e.g. 'openai/{model}')"
    )


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


# Providers whose batch API synthc drives through litellm (OpenAI's `/v1/files` and
# `/v1/batches`, also served by OpenAI-compatible servers at an `api_base`).
BATCH_PROVIDERS = ("openai",)
_BARE_OPENAI = ("gpt-", "o1", "o3", "o4", "chatgpt-")


def batch_problem(model: str) -> str | None:
    """Why `batch:` cannot apply to `model` (a model string), or None."""
    provider, slash, _ = model.partition("/")
    if not slash:
        provider = "openai" if model.startswith(_BARE_OPENAI) else provider
    if provider in BATCH_PROVIDERS:
        return None
    return (
        f"batch: is supported for models litellm sends to {', '.join(BATCH_PROVIDERS)} "
        f"(OpenAI's /v1/batches, or a compatible server at `api_base`); '{model}' is not one; "
        "remove `batch:` or use an `openai/...` model string"
    )
