"""End to end: a recipe with seed -> dedup builds, and `_dedup_matches` is queryable."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from synthc.execute.build import BuildContext, build
from synthc.plan.compile import compile_plan
from synthc.recipe.load import load_recipe
from synthc.store.store import Store

TEXT = "how do i reset my password if i no longer have access to my email account"


def write_project(root: Path) -> Path:
    rows = [
        {"instruction": TEXT},
        {"instruction": TEXT.upper() + "!"},
        {"instruction": TEXT.replace("email", "e-mail inbox")},
        {"instruction": "what is the capital of france and why is it famous"},
        {"instruction": "Name three rivers in Europe."},
    ]
    (root / "seeds.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (root / "eval.jsonl").write_text(json.dumps({"question": "name three rivers in europe"}) + "\n")
    heldout = {"instruction": "what is the capital of france and why is it so famous"}
    (root / "heldout.jsonl").write_text(json.dumps(heldout) + "\n")
    recipe = {
        "synthc": 1,
        "name": "dedup-e2e",
        "steps": {
            "seeds": {"kind": "seed", "path": "seeds.jsonl"},
            "heldout": {"kind": "seed", "path": "heldout.jsonl"},
            "final": {
                "kind": "dedup",
                "from": "seeds",
                "column": "instruction",
                "threshold": 0.6,
                "against": ["eval.jsonl", "heldout"],
            },
        },
    }
    path = root / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def test_recipe_with_dedup_builds_and_records_matches(tmp_path):
    recipe = load_recipe(write_project(tmp_path))
    store = Store.for_recipe(recipe)
    result = build(compile_plan(recipe, store.read_lock()), BuildContext(store=store))
    assert result.exit_code == 0
    kept = store.read_step("final")
    assert kept["instruction"].to_list() == [TEXT]
    matches = store.query_frame(
        "select reason, kept_id from _dedup_matches order by reason, kept_id"
    )
    assert matches["reason"].to_list() == ["against", "against", "exact", "near"]
    heldout_id = store.read_step("heldout")["_id"][0]
    assert sorted(matches["kept_id"][:2]) == sorted(["eval.jsonl#1", heldout_id])


def test_numbers_count_unless_digits_are_folded(tmp_path: Path) -> None:
    from synthc.api import build_recipe, query_recipe

    problems = [{"q": f"A train travels {d} km in {h} hours. What is its speed?"}
                for d, h in [(120, 2), (150, 3), (200, 4), (180, 6), (240, 8), (160, 5)]]  # fmt: skip
    steps = {
        "problems": {"kind": "seed", "rows": problems},
        "kept": {"kind": "dedup", "from": "problems", "column": "q"},
        "folded": {"kind": "dedup", "from": "problems", "column": "q",
                   "normalize": {"digits": "fold"}},
    }  # fmt: skip
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"synthc": 1, "steps": steps}, sort_keys=False))
    assert build_recipe(path).exit_code == 0
    counts = query_recipe(path, "select (select count(*) from kept) as kept, "
                          "(select count(*) from folded) as folded", "csv")  # fmt: skip
    assert counts == "kept,folded\n6,1\n"
