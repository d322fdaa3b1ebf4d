"""OpenAI-compatible endpoints without litellm: the gateway sends the very body litellm's
transform would, and a build of such models never imports litellm."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from gateway_helpers import SECRET, ask, server_recipe
from llm_server import LLMTestServer

from synthc.llm.client import LLMClient
from synthc.llm.models import ModelSpec
from synthc.llm.wire import plain_messages, plain_model, plain_params

ROOT = Path(__file__).resolve().parents[2]
PLAIN = {"temperature": 0.3, "top_p": 0.9, "max_tokens": 50, "seed": 4, "stop": ["\n\n"],
         "presence_penalty": 0.1, "frequency_penalty": 0.2, "logit_bias": {"50256": -100},
         "logprobs": True, "top_logprobs": 2, "max_completion_tokens": 60,
         "response_format": {"type": "json_object"}}  # fmt: skip
SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "answer", "strict": True, "schema": {
        "type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"],
        "additionalProperties": False}},
}  # fmt: skip
DIALOGUE = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "hello"},
    {"role": "assistant", "content": "hi"},
    {"role": "user", "content": "and now?"},
]


def litellm_body(
    provider: str, model: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
) -> dict[str, Any]:
    """The body litellm's provider config builds (the gateway's transform before)."""
    from litellm.types.utils import LlmProviders
    from litellm.utils import ProviderConfigManager

    config: Any = ProviderConfigManager.get_provider_chat_config(
        model=model, provider=LlmProviders(provider)
    )
    supported = set(config.get_supported_openai_params(model))
    mapped = config.map_openai_params(
        non_default_params={k: v for k, v in params.items() if k in supported},
        optional_params={}, model=model, drop_params=False,
    )  # fmt: skip
    body: dict[str, Any] = config.transform_request(
        model, [dict(m) for m in messages], mapped, {}, {}
    )
    body.update({k: v for k, v in params.items() if k not in supported})
    return body


@pytest.mark.parametrize("model", ["openai/echo", "hosted_vllm/echo"])
def test_plain_calls_reach_the_server_as_litellm_would_send_them(
    server: LLMTestServer, tmp_path: Path, model: str
) -> None:
    recipe = server_recipe(server, tmp_path)
    alias = dataclasses.replace(recipe.models["srv"], model=model)
    recipe = dataclasses.replace(recipe, models={"srv": alias})
    client = LLMClient(recipe, cache_path=tmp_path / "cache")
    requests = [ask("hello", **PLAIN), ask("x", temperature=0.7), ask("y", max_tokens=9)]
    requests.append(ask("w", response_format=SCHEMA_FORMAT, stop="\n"))
    requests.append(dataclasses.replace(ask("z"), messages=DIALOGUE, params=PLAIN))
    assert all(r.ok for r in client.complete(requests, step="answers"))
    provider, name = model.split("/")
    expected = [litellm_body(provider, name, r.messages, r.params) for r in requests]
    assert sorted(server.stats.bodies) == sorted(json.dumps(body) for body in expected)


def spec(model: str, api_base: str | None = "http://127.0.0.1:9/v1") -> ModelSpec:
    return ModelSpec("m", model, model, api_base=api_base)


def test_only_unknown_openai_compatible_models_and_plain_calls_skip_litellm() -> None:
    assert plain_model(spec("openai/echo")) == ("openai", "echo")
    assert plain_model(spec("hosted_vllm/org/llama")) == ("hosted_vllm", "org/llama")
    for model in ("openai/gpt-4o-mini", "openai/o3-mini", "openai/gpt-5-nano", "anthropic/x"):
        assert plain_model(spec(model)) is None, model
    assert plain_model(spec("openai/echo", api_base=None)) is None  # api.openai.com
    assert plain_params(PLAIN)
    assert not plain_params({"temperature": 0.3, "tools": []})
    assert plain_messages(DIALOGUE)
    assert not plain_messages([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    assert not plain_messages([{"role": "tool", "content": "42", "tool_call_id": "a"}])


def test_a_build_on_an_openai_compatible_endpoint_never_imports_litellm(
    server: LLMTestServer, tmp_path: Path
) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "synthc: 1\nname: plain\nmodel: srv\nparams: {temperature: 0.7, max_tokens: 40}\n"
        f"models:\n  srv: {{model: openai/echo, api_base: '{server.base_url}', "
        "api_key_env: OPENAI_API_KEY}\n"
        "steps:\n  seeds: {kind: seed, rows: [{q: a}, {q: b}, {q: c}]}\n"
        "  answers: {kind: generate, from: seeds, prompt: '{{ q }}'}\n",
        encoding="utf-8",
    )
    code = (
        "import sys\nfrom synthc.cli import cli\n"
        f"try:\n    cli(['build', {str(recipe)!r}])\nexcept SystemExit:\n    pass\n"
        "print('litellm' in sys.modules)"
    )
    env = {**os.environ, "OPENAI_API_KEY": SECRET, "SYNTHC_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env, cwd=ROOT)  # fmt: skip
    assert done.stdout.strip().splitlines()[-1] == "False", done.stderr
    assert server.stats.total == 3
