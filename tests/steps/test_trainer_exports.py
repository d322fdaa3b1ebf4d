"""Trainer-ready exports: chat `messages` (SFT), `prompt/chosen/rejected` (DPO) and a
Hugging Face `datasets` folder with splits, each loaded by the real libraries."""

from __future__ import annotations

import json

import pytest
import yaml

from synthc.errors import RecipeError, StoreError

datasets = pytest.importorskip("datasets")

QUESTIONS = [{"question": f"How do I reset my password, case {i}?"} for i in range(40)]


def chat_tokenizer():
    """A word-level tokenizer with a small chat template, built offline (no download)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]")
    tokenizer.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    return tokenizer


def with_exports(proj, exports):
    data = yaml.safe_load(proj.path.read_text())
    data["exports"] = exports
    proj.path.write_text(yaml.safe_dump(data, sort_keys=False))


def answered(project, rows=QUESTIONS, **options):
    return project(
        {
            "topics": {"kind": "seed", "rows": rows},
            "answers": {"kind": "generate", "from": "topics", "prompt": "{{ question }}",
                        "output": "answer"},
        },
        **options,
    )  # fmt: skip


def test_messages_export_loads_as_a_conversational_sft_dataset(project):
    proj = answered(project)
    with_exports(proj, {"answers": [
        "out/answers.jsonl",
        {"path": "out/sft.jsonl", "format": "messages", "prompt": "question", "response": "answer"},
    ]})  # fmt: skip
    assert proj.build().exit_code == 0
    stored = proj.step("answers")
    loaded = datasets.load_dataset(
        "json",
        data_files=str(proj.path.parent / "out/sft.jsonl"),
        cache_dir=str(proj.path.parent / "hf"),
    )
    rows = loaded["train"].to_list()
    assert rows == [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in zip(stored["question"], stored["answer"], strict=True)
    ]
    # the plain export beside it is still the step's columns
    plain = (proj.path.parent / "out/answers.jsonl").read_text().splitlines()
    assert json.loads(plain[0]) == {
        "question": stored["question"][0],
        "answer": stored["answer"][0],
    }
    trl = pytest.importorskip("trl.data_utils")
    assert all(trl.is_conversational(row) for row in rows)
    # TRL renders each conversation through a chat template, as SFTTrainer does
    text = trl.apply_chat_template(rows[0], chat_tokenizer())["text"]
    assert text == f"<|user|>{stored['question'][0]}\n<|assistant|>{stored['answer'][0]}\n"


def test_preference_pairs_from_a_distill_step_load_for_dpo(project):
    proj = project(
        {
            "prompts": {"kind": "seed", "rows": QUESTIONS[:6]},
            "answers": {"kind": "distill", "from": "prompts", "prompt": "{{ question }}",
                        "teacher": "big", "student": "small"},
        },
        models={"big": {"model": "openai/big"}, "small": {"model": "openai/small"}},
    )  # fmt: skip
    with_exports(proj, {"answers": {"path": "out/dpo.jsonl", "format": "preference",
                                    "prompt": "question"}})  # fmt: skip
    assert proj.build().exit_code == 0
    stored = proj.step("answers")
    loaded = datasets.load_dataset(
        "json",
        data_files=str(proj.path.parent / "out/dpo.jsonl"),
        cache_dir=str(proj.path.parent / "hf"),
    )
    train = loaded["train"]
    assert train.column_names == ["prompt", "chosen", "rejected"]
    assert train["chosen"] == stored["response"].to_list()  # the teacher is chosen
    assert train["rejected"] == stored["student_response"].to_list()
    assert train["prompt"] == stored["question"].to_list()
    trl = pytest.importorskip("trl.data_utils")
    unpaired = trl.unpair_preference_dataset(train)  # TRL's own reading of the pairs
    assert unpaired.num_rows == 2 * train.num_rows
    assert sorted(unpaired["label"]) == [False] * 6 + [True] * 6


def test_datasets_folder_splits_load_and_rows_never_move(project):
    proj = answered(project)
    spec = {"path": "out/hf", "format": "datasets", "splits": {"train": 0.75, "test": 0.25}}
    with_exports(proj, {"answers": [spec]})
    assert proj.build().exit_code == 0
    folder = str(proj.path.parent / "out/hf")
    loaded = datasets.load_dataset(folder, cache_dir=str(proj.path.parent / "hf1"))
    assert sorted(loaded) == ["test", "train"]
    split_of = {row["question"]: name for name in loaded for row in loaded[name]}
    stored = proj.step("answers")
    assert sorted(split_of) == sorted(stored["question"])  # every row once, none lost
    assert 0 < loaded["test"].num_rows < loaded["train"].num_rows
    row = loaded["train"][0]
    assert set(row) == {"question", "answer"}
    assert row["answer"] == stored.filter(stored["question"] == row["question"])["answer"][0]

    more = [{"question": f"Where is my invoice, case {i}?"} for i in range(20)]
    proj.edit("topics", rows=QUESTIONS + more)
    assert proj.build().exit_code == 0
    grown = datasets.load_dataset(folder, cache_dir=str(proj.path.parent / "hf2"))
    after = {row["question"]: name for name in grown for row in grown[name]}
    assert len(after) == 60
    assert {q: after[q] for q in split_of} == split_of  # no old row changed split


def test_missing_column_is_a_recipe_error_before_any_call(project):
    proj = answered(project, rows=QUESTIONS[:2])
    with_exports(proj, {"answers": {"path": "out/sft.jsonl", "format": "messages"}})
    with pytest.raises(RecipeError) as caught:
        proj.build()
    message = str(caught.value)
    assert "exports.answers.0: the messages export reads column 'prompt' (as user)" in message
    assert "reads column 'response' (as assistant)" in message
    assert "columns: question, answer" in message
    assert proj.requests() == 0  # found at compile time: nothing was paid for
    assert not (proj.path.parent / "out/sft.jsonl").exists()


def test_an_empty_cell_stops_the_export_and_names_the_column(project):
    rows = [{"question": "Where is my invoice?", "answer": "In Billing."},
            {"question": "How do I log in?", "answer": None}]  # fmt: skip
    proj = project({"qa": {"kind": "seed", "rows": rows}})
    with_exports(proj, {"qa": {"path": "out/sft.jsonl", "format": "messages",
                               "prompt": "question", "response": "answer"}})  # fmt: skip
    with pytest.raises(StoreError, match=r"exports.qa: 1 row\(s\) have no 'answer'"):
        proj.build()
    assert not (proj.path.parent / "out/sft.jsonl").exists()
