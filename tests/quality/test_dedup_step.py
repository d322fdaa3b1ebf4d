"""The `dedup` step kind: config in, kept rows out, removals in `_dedup_matches`."""

from __future__ import annotations

import json

import polars as pl

from synthc.steps import registry
from synthc.steps.dedup import KIND

TEXT = "how do i reset my password if i no longer have access to my email account"


def rows(*texts: str, prefix: str = "g") -> pl.DataFrame:
    return pl.DataFrame({"_id": [f"{prefix}{i}" for i in range(len(texts))], "instruction": texts})


def test_registry_finds_the_dedup_kind():
    assert registry()["dedup"] is KIND
    assert KIND.defaults["threshold"] == 0.7


def test_step_drops_duplicates_and_emits_matches(fake_context):
    ctx = fake_context(
        {**KIND.defaults, "column": "instruction"}, good=rows(TEXT, TEXT + "?", "other")
    )
    kept = KIND.run(ctx)
    assert kept["_id"].to_list() == ["g0", "g2"]
    assert ctx.emitted["_dedup_matches"]["reason"].to_list() == ["exact"]


def test_against_a_step_and_a_file(fake_context, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "eval.jsonl").write_text(
        "\n".join(
            json.dumps({"question": q}) for q in ["unrelated question", "leaked words here x"]
        )
    )
    config = {**KIND.defaults, "column": "instruction", "against": ["seeds", "data/eval.jsonl"]}
    good = rows(TEXT, "Leaked words here x!", "fresh new text about gardening")
    ctx = fake_context(config, good=good, seeds=rows(TEXT, prefix="s"))
    kept = KIND.run(ctx)
    assert kept["_id"].to_list() == ["g2"]
    matches = ctx.emitted["_dedup_matches"]
    assert sorted(matches.select("removed_id", "kept_id").rows()) == [
        ("g0", "s0"),
        ("g1", "data/eval.jsonl#2"),
    ]


def test_columns_and_files_for_the_compiler():
    config = {"column": "instruction", "against": ["seeds", "data/eval.jsonl"]}
    assert KIND.files(config) == [("against.1", "data/eval.jsonl")]
    assert KIND.columns(config, {"good": ["_id", "instruction"]}) == ["_id", "instruction"]
