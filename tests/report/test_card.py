"""dataset_card: the README a user would publish on the Hub next to the exports."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml
from reportkit import STEPS, build_project, write_project

from synthc.report.card import _redacted, dataset_card, size_category, task_categories, write_card
from synthc.store.exports import write_exports
from synthc.store.lock import LockEntry, LockState


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    head, _, _ = card[4:].partition("\n---\n")
    return yaml.safe_load(head)


def test_front_matter_names_the_dataset_its_size_and_the_exported_file(built):
    recipe, store = built
    write_exports(recipe, store.read_lock(), store)
    out = recipe.root / "out"
    card = dataset_card(recipe, store.read_lock(), store, card_dir=out)
    meta = front_matter(card)
    assert meta["pretty_name"] == "support-faq"
    assert meta["size_categories"] == ["n<1K"]
    assert "task_categories" not in meta  # a seed/filter/sql recipe: nothing to infer
    assert meta["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "final.parquet"}]}
    ]
    assert (out / meta["configs"][0]["data_files"][0]["path"]).is_file()


def test_the_card_tells_how_the_data_was_made_and_how_good_it_is(built):
    recipe, store = built
    card = dataset_card(recipe, store.read_lock(), store)
    assert "# support-faq" in card
    assert "- **good**: Keep the questions that scored 3 or more." in card
    assert "```yaml\n" + recipe.path.read_text().rstrip() + "\n```" in card
    assert "- `deduped` (dedup) ← `good`" in card
    assert "| `final` | sql | 33 |" in card
    assert "| `final` | leakage | instruction |" in card and "| ≤ 0 | fail |" in card
    assert "unigram_jsd" in card  # the fidelity gate's metric figures
    assert "| `final.instruction` | 33 | " in card  # text metrics of the exported step
    assert "against data/eval.jsonl" in card
    assert "- `out/final.jsonl`: `final`, 33 rows" in card
    assert '"instruction": ' in card  # an example row
    assert "_id" not in card.split("## Dataset structure")[1].split("## How")[0]


def test_models_are_listed_by_identity(built):
    recipe, store = built
    state = store.read_lock()
    entry = replace(state.steps["good"], model="openai/gpt-4o-mini")
    card = dataset_card(recipe, replace(state, steps={**state.steps, "good": entry}))
    assert "- `openai/gpt-4o-mini`: `good` (model)" in card


def test_several_exported_steps_get_one_config_each(tmp_path: Path):
    path = write_project(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["exports"] = {"final": ["out/final.jsonl"], "seeds": ["out/seeds.csv"]}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    recipe, store, _ = build_project(path)
    meta = front_matter(dataset_card(recipe, store.read_lock(), store))
    assert [c["config_name"] for c in meta["configs"]] == ["final", "seeds"]
    assert meta["configs"][0]["default"] is True
    assert meta["configs"][1]["data_files"] == [{"split": "train", "path": "out/seeds.csv"}]


def test_an_unbuilt_recipe_still_gets_a_card(tmp_path: Path):
    from synthc.recipe.load import load_recipe

    recipe = load_recipe(write_project(tmp_path, STEPS))
    card = dataset_card(recipe, LockState())
    assert front_matter(card)["size_categories"] == ["n<1K"]
    assert "nothing is exported yet" in card and "| `final` | sql | not built |" in card


def test_literal_keys_are_redacted_but_key_variable_names_stay():
    text = "models:\n  mine:\n    api_key_env: VLLM_KEY\n    api_key: sk-live-123\nparams: {max_tokens: 9}\n"
    redacted = _redacted(text)
    assert "sk-live-123" not in redacted
    assert "api_key: <redacted>" in redacted
    assert "api_key_env: VLLM_KEY" in redacted and "max_tokens: 9" in redacted


def test_size_categories_follow_the_hub_buckets():
    assert [size_category(n) for n in (0, 999, 1_000, 54_321, 2_000_000)] == [
        "n<1K",
        "n<1K",
        "1K<n<10K",
        "10K<n<100K",
        "1M<n<10M",
    ]


def test_task_categories_come_from_the_exported_columns(built):
    recipe, _ = built

    def lock_with(*columns: str) -> LockState:
        entry = LockEntry("sql", "f", "c", {}, None, {}, {}, "v", 1, columns)
        return LockState(steps={"final": entry})

    assert task_categories(recipe, lock_with("instruction", "response"), ["final"]) == [
        "text-generation"
    ]
    assert task_categories(recipe, lock_with("question", "answer"), ["final"]) == [
        "question-answering"
    ]
    assert task_categories(recipe, lock_with("text", "label"), ["final"]) == ["text-classification"]
    assert task_categories(recipe, lock_with("instruction", "product"), ["final"]) == []


def test_write_card_puts_readme_beside_the_exports(built):
    recipe, store = built
    path = write_card(recipe, store.read_lock(), store)
    assert path == recipe.root / "out" / "README.md"
    meta = front_matter(path.read_text())
    assert meta["configs"][0]["data_files"][0]["path"] == "final.parquet"
    assert write_card(recipe, store.read_lock(), store) == path  # its own card: rewritten


def test_write_card_never_overwrites_a_readme_it_did_not_write(built):
    recipe, store = built
    mine = recipe.root / "out" / "README.md"
    mine.parent.mkdir(exist_ok=True)
    mine.write_text("# my notes\n")
    path = write_card(recipe, store.read_lock(), store)
    assert path == recipe.root / "out" / "DATASET_CARD.md"
    assert mine.read_text() == "# my notes\n"


def test_exports_in_the_recipe_folder_get_a_dataset_card_file(tmp_path: Path):
    path = write_project(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["exports"] = {"final": ["final.jsonl"]}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    recipe, store, _ = build_project(path)
    assert write_card(recipe, store.read_lock(), store) == tmp_path / "DATASET_CARD.md"


def test_the_card_and_the_report_never_publish_credentials(tmp_path: Path, monkeypatch) -> None:
    from synthc.report.write import report_recipe

    monkeypatch.setenv("TUNED_KEY", "sk-live-7f3a9c")
    path = write_project(tmp_path / "support")
    data = yaml.safe_load(path.read_text())
    data["models"] = {
        "tuned": {
            "model": "hosted_vllm/qwen",
            "api_base": "https://alice:pa55word@gpu.example.com/v1?api-key=sk-live-7f3a9c",
            "api_key_env": "TUNED_KEY",
        }
    }
    data["steps"]["good"]["description"] = "mirrors sk-live-7f3a9c by mistake"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    recipe, store, _ = build_project(path)
    card = dataset_card(recipe, store.read_lock(), store)
    page, summary = report_recipe(path)
    for published in (card, page.read_text(), summary):
        assert "pa55word" not in published and "alice" not in published
        assert "sk-live-7f3a9c" not in published
    assert "https://<redacted>@gpu.example.com/v1?<redacted>" in card
    assert "api_key_env: TUNED_KEY" in card
    assert "mirrors <redacted> by mistake" in card
