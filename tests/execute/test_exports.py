"""Exports follow the data: a target is current only when its bytes are what the lock
says the step's data version and the export settings produce; anything else is
rewritten by the next clean build, and `plan` shows it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from buildkit import LINEAR, load, write_jsonl, write_recipe

from synthc.api import build_recipe, plan_recipe, query_recipe
from synthc.errors import RecipeError
from synthc.plan.render import plan_json, plan_table
from synthc.recipe.load import load_recipe
from synthc.store.exports import export_status
from synthc.store.store import Store


def gated(project: Path, rows: int, minimum: int) -> Path:
    write_jsonl(project / "seeds.jsonl", ({"q": f"question {i}", "n": i} for i in range(rows)))
    steps = json.loads(json.dumps(LINEAR))
    steps["big"]["checks"] = [{"rows": {"min": minimum}}]
    return write_recipe(project, steps, exports={"big": ["out/big.jsonl", "out/big.csv"]})


def exported_questions(project: Path) -> list[str]:
    lines = (project / "out" / "big.jsonl").read_text().splitlines()
    return [json.loads(line)["q"] for line in lines]


def set_gate(recipe: Path, minimum: int) -> None:
    data = yaml.safe_load(recipe.read_text())
    data["steps"]["big"]["checks"] = [{"rows": {"min": minimum}}]
    recipe.write_text(yaml.safe_dump(data, sort_keys=False))


def stale_exports(recipe: Path) -> list[str]:
    loaded = load(recipe)
    return [
        s.target for s in export_status(loaded, Store.for_recipe(loaded).read_lock()) if s.reason
    ]


def test_relaxing_a_gate_rewrites_the_exports_withheld_while_it_failed(project: Path) -> None:
    recipe = gated(project, rows=20, minimum=10)
    assert build_recipe(recipe).exit_code == 0
    assert len(exported_questions(project)) == 15
    write_jsonl(project / "seeds.jsonl", ({"q": f"new {i}", "n": i} for i in range(12)))
    set_gate(recipe, 100)  # 7 rows now pass the filter: the gate fails, exports are withheld
    assert build_recipe(recipe).exit_code == 1
    assert exported_questions(project)[0] == "question 5"
    assert stale_exports(recipe) == ["out/big.jsonl", "out/big.csv"]
    set_gate(recipe, 5)
    assert build_recipe(recipe).exit_code == 0
    assert exported_questions(project) == [f"new {i}" for i in range(5, 12)]
    assert (project / "out" / "big.csv").read_text().splitlines()[1] == "new 5,10"
    assert stale_exports(recipe) == []


def test_an_export_edited_or_deleted_by_hand_is_rewritten(project: Path) -> None:
    recipe = gated(project, rows=20, minimum=1)
    build_recipe(recipe)
    target = project / "out" / "big.jsonl"
    written = target.read_bytes()
    target.write_text('{"q": "hand edit"}\n')
    (project / "out" / "big.csv").unlink()
    plan = plan_recipe(recipe)
    table = plan_table(plan)
    assert "export out/big.jsonl  stale: changed since it was written" in table
    assert "export out/big.csv    stale: missing" in table
    assert "2 export(s) to rewrite" in table
    rows = json.loads(plan_json(plan))["exports"]
    assert [(r["target"], r["status"]) for r in rows] == [
        ("out/big.jsonl", "stale"),
        ("out/big.csv", "stale"),
    ]
    result = build_recipe(recipe)
    assert result.exit_code == 0 and result.built == []
    assert target.read_bytes() == written
    assert "export" not in plan_table(plan_recipe(recipe))
    assert build_recipe(recipe).exit_code == 0  # nothing to rewrite: the files stay as they are
    assert target.read_bytes() == written


def test_the_lock_records_each_export(project: Path) -> None:
    recipe = gated(project, rows=20, minimum=1)
    build_recipe(recipe)
    lock = json.loads((project / "recipe.lock").read_text())
    record = lock["exports"]["out/big.jsonl"]
    assert record["step"] == "big"
    assert record["data_version"] == lock["steps"]["big"]["data_version"]
    assert set(record) == {"step", "data_version", "format", "settings", "sha256"}


def recipe_with_exports(project: Path, exports: object, **steps: object) -> Path:
    write_jsonl(project / "seeds.jsonl", [{"q": "a", "n": 1}])
    data = {
        "synthc": 1,
        "name": "t",
        "steps": {
            "seeds": {"kind": "seed", "path": "seeds.jsonl"},
            "other": {"kind": "sql", "from": "seeds", "query": "select * from seeds"},
            **steps,
        },
        "exports": exports,
    }
    path = project / "recipe.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def problems(recipe: Path) -> str:
    with pytest.raises(RecipeError) as caught:
        load_recipe(recipe)
    return str(caught.value)


def test_two_exports_to_one_target_are_refused(project: Path) -> None:
    recipe = recipe_with_exports(
        project, {"seeds": ["out/a.jsonl"], "other": ["out/./a.jsonl", "out/b.csv"]}
    )
    assert problems(recipe) == (
        f"{recipe}:15:5: exports.other.0: 'out/./a.jsonl' is also the target of "
        "exports.seeds.0; each file can hold one export"
    )


def test_an_export_outside_the_recipe_folder_needs_allow_outside(project: Path) -> None:
    recipe = recipe_with_exports(project, {"seeds": ["../a.jsonl"], "other": ["/tmp/b.jsonl"]})
    text = problems(recipe)
    assert "exports.seeds.0: '../a.jsonl' is outside the recipe's folder" in text
    assert "exports.other.0: '/tmp/b.jsonl' is outside the recipe's folder" in text
    assert "allow_outside: true" in text
    allowed = recipe_with_exports(
        project, {"seeds": [{"path": "../a.jsonl", "allow_outside": True}]}
    )
    exports = load_recipe(allowed).exports
    assert [(e.path, e.format, e.allow_outside) for e in exports["seeds"]] == [
        ("../a.jsonl", "jsonl", True)
    ]
    build_recipe(allowed)
    assert json.loads((project.parent / "a.jsonl").read_text()) == {"q": "a", "n": 1}


def test_an_export_target_that_is_a_folder_is_refused(project: Path) -> None:
    (project / "out" / "a.jsonl").mkdir(parents=True)
    recipe = recipe_with_exports(project, {"seeds": "out/a.jsonl"})
    assert problems(recipe) == (
        f"{recipe}:12:10: exports.seeds: 'out/a.jsonl' is a folder; "
        "an export target must be a file path"
    )


def test_synthc_export_withholds_data_that_failed_an_error_gate(project: Path) -> None:
    from synthc.api import export_recipe
    from synthc.errors import StoreError

    recipe = gated(project, rows=20, minimum=10)
    build_recipe(recipe)
    set_gate(recipe, 100)
    assert build_recipe(recipe).exit_code == 1
    with pytest.raises(StoreError, match=r"step\(s\) big failed an error-level check"):
        export_recipe(recipe)


def test_an_export_over_the_seed_file_is_refused(project: Path) -> None:
    recipe = recipe_with_exports(project, {"other": ["seeds.jsonl"]})
    assert problems(recipe).endswith(
        "exports.other.0: 'seeds.jsonl' is read by steps.seeds.path; an export would "
        "overwrite the data the recipe starts from"
    )


def test_trainer_exports_are_tracked_in_the_lock_like_the_others(project: Path) -> None:
    sft = {"path": "out/sft.jsonl", "format": "messages", "prompt": "q", "response": "q"}
    hf = {"path": "out/hf", "format": "datasets", "splits": {"train": 0.5, "test": 0.5}}
    recipe = recipe_with_exports(project, {"seeds": [sft, hf]})
    assert build_recipe(recipe).exit_code == 0
    lock = json.loads((project / "recipe.lock").read_text())
    assert {lock["exports"][p]["format"] for p in ("out/sft.jsonl", "out/hf")} == {
        "messages",
        "datasets",
    }
    assert stale_exports(recipe) == []
    assert build_recipe(recipe).exit_code == 0  # the folder it wrote is no "folder" error
    split = project / "out" / "hf" / "data" / "test-00000-of-00001.parquet"
    split.unlink()
    assert "export out/hf  stale: missing" in plan_table(plan_recipe(recipe))
    assert build_recipe(recipe).exit_code == 0
    assert split.is_file() and stale_exports(recipe) == []
    data = yaml.safe_load(recipe.read_text())
    data["exports"]["seeds"][0]["response"] = "n"  # another column: other bytes
    recipe.write_text(yaml.safe_dump(data, sort_keys=False))
    assert "export out/sft.jsonl  stale: export settings changed" in plan_table(plan_recipe(recipe))
    assert build_recipe(recipe).exit_code == 0
    row = json.loads((project / "out" / "sft.jsonl").read_text())
    assert row["messages"][1] == {"role": "assistant", "content": "1"}
    assert stale_exports(recipe) == []


def test_a_jsonl_record_stays_one_line_whatever_line_breaks_its_text_holds(project: Path) -> None:
    """JSON allows U+0085, U+2028 and U+2029 raw inside strings, but Python's
    str.splitlines (and older JavaScript) break lines there: exports and `query --format
    jsonl` escape them, so each record is one line for any reader."""
    texts = ["next\x85line", "line\u2028separator", "paragraph\u2029separator"]
    write_jsonl(project / "seeds.jsonl", ({"q": text, "n": 10} for text in texts))
    recipe = write_recipe(project, LINEAR, exports={"big": ["out/big.jsonl"]})
    assert build_recipe(recipe).exit_code == 0
    assert exported_questions(project) == texts  # read with str.splitlines
    queried = query_recipe(recipe, "select q from big order by q", "jsonl")
    assert sorted(json.loads(line)["q"] for line in queried.splitlines()) == sorted(texts)
