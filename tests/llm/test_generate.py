"""The `generate` step end to end: a recipe on the loopback server, built by the real
executor, rebuilt incrementally."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from gateway_helpers import SECRET
from llm_server import LLMTestServer

from synthc.execute.build import BuildContext, BuildResult, build
from synthc.llm.client import LLMClient
from synthc.plan.compile import compile_plan
from synthc.progress import RecordingReporter
from synthc.recipe.load import load_recipe
from synthc.steps.generate import extract_json, parse_answer
from synthc.store.store import Store


def write(
    folder: Path, server: LLMTestServer, steps: dict[str, Any], rows: int = 6, **top: Any
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    seeds = folder / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"topic": f"topic {i}"}) + "\n" for i in range(rows)))
    recipe = {
        "synthc": 1, "name": "gen", "seed": 7, "model": "srv",
        "models": {"srv": {"model": "openai/echo", "api_base": server.base_url,
                           "api_key_env": "OPENAI_API_KEY"}},
        "params": {"temperature": 0.7},
        "steps": {"seeds": {"kind": "seed", "path": "seeds.jsonl"}, **steps},
        **top,
    }  # fmt: skip
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def run(path: Path, **options: Any) -> tuple[BuildResult, Store]:
    recipe = load_recipe(path)
    store = Store.for_recipe(recipe)
    client = LLMClient(recipe, backoff_base=0.01, backoff_max=0.05, max_attempts=3)
    try:
        result = build(compile_plan(recipe, store.read_lock()),
                       BuildContext(store=store, reporter=RecordingReporter(), llm=client, **options))  # fmt: skip
    finally:
        client.close()
    return result, store


ANSWERS = {"kind": "generate", "from": "seeds", "prompt": "Write about {{ topic }}", "n": 2,
           "output": "text"}  # fmt: skip


def test_generate_writes_answers_with_lineage_and_accounting(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    path = write(tmp_path, server, {"answers": ANSWERS})
    result, store = run(path)
    assert result.exit_code == 0 and server.stats.total == 12
    frame = store.read_step("answers")
    assert frame.columns == ["_id", "topic", "text", "_parent_id", "_step", "_model", "_call_key"]
    assert frame.height == 12 and frame["_id"].n_unique() == 12
    assert all(t.endswith(p) for t, p in zip(frame["text"], frame["topic"], strict=True))
    assert set(frame["_step"]) == {"answers"} and set(frame["_model"]) == {"openai/echo"}
    seeds = store.read_step("seeds")
    assert set(frame["_parent_id"]) == set(seeds["_id"])


def test_rebuilds_cost_only_what_changed(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    path = write(
        tmp_path,
        server,
        {"answers": ANSWERS, "kept": {"kind": "filter", "from": "answers", "where": "true"}},
    )
    run(path)
    server.reset()
    assert run(path)[0].exit_code == 0 and server.stats.total == 0
    path = write(
        tmp_path,
        server,
        {
            "answers": {**ANSWERS, "n": 3},
            "kept": {"kind": "filter", "from": "answers", "where": "text is not null"},
        },
    )
    run(path)
    assert server.stats.total == 6  # one new sample per row, the filter edit costs nothing
    server.reset()
    write(tmp_path, server, {"answers": {**ANSWERS, "n": 3}}, rows=7)
    run(path)
    assert server.stats.total == 3  # the added seed's three samples only


def test_a_failing_row_fails_the_build_and_is_retried_alone(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    steps = {
        "answers": {
            **ANSWERS,
            "prompt": "{{ topic }}{% if topic == 'topic 3' %} [[status=500]]{% endif %}",
        }
    }
    path = write(tmp_path, server, steps)
    result, store = run(path)
    assert result.exit_code == 1 and result.failures == 2
    assert store.read_step("answers").height == 10
    failed = store.query_frame("select error_class, attempts from _failures")
    assert failed.to_dicts() == [{"error_class": "InternalServerError", "attempts": 3}] * 2
    server.reset()
    result, _ = run(path)
    assert set(server.stats.per_prompt) == {"topic 3 [[status=500]]"}


def test_parse_json_with_schema_and_explode(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    schema = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"text": {"type": "string"}, "id": {"type": "string"}},
        },
    }
    steps = {"items": {"kind": "generate", "from": "seeds", "prompt": "{{ topic }} [[json_list=3]]",
                       "parse": "json", "schema": schema, "explode": True}}  # fmt: skip
    path = write(tmp_path, server, steps, rows=2)
    result, store = run(path)
    frame = store.read_step("items")
    assert result.exit_code == 0 and frame.height == 6
    assert frame.columns == [
        "_id",
        "topic",
        "text",
        "id",
        "_parent_id",
        "_step",
        "_model",
        "_call_key",
    ]
    assert frame["_id"].n_unique() == 6
    assert frame.filter(pl.col("topic") == "topic 0")["text"].to_list() == [
        f"topic 0 #{i}" for i in range(3)
    ]


def test_unparsable_json_is_repaired_a_bounded_number_of_times_then_not_cached(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    steps = {"bad": {"kind": "generate", "from": "seeds", "prompt": "{{ topic }}", "parse": "json"}}
    path = write(tmp_path, server, steps, rows=2)
    result, store = run(path)
    assert result.exit_code == 1 and server.stats.total == 2 * 3  # first try + 2 repairs
    assert store.read_step("bad").height == 0
    failures = store.query_frame("select error_class, error_kind, attempts, sample from _failures")
    assert (
        failures.to_dicts()
        == [
            {
                "error_class": "UnparsableResponse",
                "error_kind": "rejected",
                "attempts": 3,
                "sample": 0,
            }
        ]
        * 2
    )  # recorded as every method kind records one: the same call path
    server.reset()
    run(path)
    assert server.stats.total == 2 * 3  # asked again: bad answers were dropped from the cache


def test_the_key_is_nowhere_in_the_workdir_or_lock(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    steps = {
        "answers": {
            **ANSWERS,
            "prompt": "{{ topic }}{% if topic == 'topic 1' %} [[leak_auth]]{% endif %}",
        }
    }
    path = write(tmp_path, server, steps)
    result, store = run(path)
    # The leaking row failed with a 401 whose body echoed the key (a 401 also stops the
    # model's remaining calls, so later rows fail unsent).
    assert result.failures >= 2
    printed = capfd.readouterr()
    assert SECRET not in printed.out + printed.err
    assert SECRET not in store.query_frame("select * from _failures").write_csv()
    for file in [*tmp_path.rglob("*")]:
        if file.is_file():
            assert SECRET.encode() not in file.read_bytes(), file


def test_budget_stops_the_build_cleanly_keeping_what_was_done(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    path = write(tmp_path, server, {"answers": ANSWERS}, budget={"max_calls": 5})
    result, store = run(path)
    assert result.exit_code == 1 and server.stats.total == 5
    assert store.read_step("answers").height == 5
    failures = store.query_frame("select error_class, count(*) as rows from _failures group by 1")
    assert failures.to_dicts() == [{"error_class": "BudgetExceeded", "rows": 7}]
    calls = store.query_frame(
        "select count(*) as sent from _calls where not cached and attempts > 0"
    )
    assert calls["sent"][0] == 5
    server.reset()
    path = write(tmp_path, server, {"answers": ANSWERS}, budget={"max_calls": 100})
    assert run(path)[0].exit_code == 0 and server.stats.total == 7


@pytest.mark.parametrize(
    "escape",
    ["{{ ''.__class__.__mro__[1].__subclasses__() }}", "{{ cycler.__init__.__globals__.os }}",
     "{{ topic.__class__.__base__ }}"],
)  # fmt: skip
def test_templates_cannot_reach_python_internals(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path, escape: str
) -> None:
    from synthc.errors import StepFailed

    path = write(tmp_path, server, {"answers": {**ANSWERS, "prompt": escape}})
    with pytest.raises(StepFailed, match=r"unsafe|undefined"):
        run(path)
    assert server.stats.total == 0


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ("Sure!\n```json\n[1, 2]\n```", [1, 2]),
        ('x {"b": [1]} y', {"b": [1]}),
    ],
)
def test_json_is_found_in_chatty_answers(text: str, value: Any) -> None:
    assert extract_json(text) == value


def test_schema_errors_say_where() -> None:
    config = {"parse": "json", "schema": {"type": "object", "required": ["score"]}}
    assert (
        parse_answer('{"x": 1}', config)[1]
        == "does not match the schema at the top level: 'score' is a required property"
    )
