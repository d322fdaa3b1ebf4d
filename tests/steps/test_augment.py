"""augment: variants linked to their parents, seeded edits, per-op caching."""

from __future__ import annotations

import json

ROWS = [
    {"question": "A train travels 120 km in 1.5 hours. What is its speed?", "answer": "80 km/h"},
    {"question": "Name a primary colour.", "answer": "Red"},
]
OPS = [
    {"paraphrase": {"column": "question", "n": 2}},
    {"translate": {"column": "question", "to": ["es", "de"]}},
    {"reformat": {"column": "answer", "to": "a json object"}},
    {"perturb_numbers": {"column": "question", "relative": 0.2}},
    {"noise": {"column": "question", "rate": 0.3}},
]


def steps(ops=OPS, **options):
    return {
        "seeds": {"kind": "seed", "rows": ROWS},
        "variants": {"kind": "augment", "from": "seeds", "ops": ops, **options},
    }


def test_columns_and_lineage(project):
    proj = project(steps())
    assert proj.build().exit_code == 0
    out = proj.step("variants")
    seeds = proj.step("seeds")
    assert out.columns == ["_id", "question", "answer", "_parent_id", "_op", "_number_changes",
                           "_numbers_kept", "_model", "_call_key"]  # fmt: skip
    ops = out["_op"].to_list()
    assert ops.count("original") == 2
    assert ops.count("paraphrase") == 4 and ops.count("translate:es") == 2
    assert ops.count("translate:de") == 2 and ops.count("reformat:a json object") == 2
    assert ops.count("perturb_numbers") == 1  # the colour question has no number
    assert ops.count("noise") == 2
    assert out["_id"].n_unique() == out.height
    variants = out.filter(out["_op"] != "original")
    assert set(variants["_parent_id"]) == set(seeds["_id"])
    perturbed = out.filter(_op="perturb_numbers").row(0, named=True)
    changes = json.loads(perturbed["_number_changes"])
    assert [old for old, _ in changes] == ["120", "1.5"]
    assert perturbed["question"] == ROWS[0]["question"].replace("120", changes[0][1]).replace(
        "1.5", changes[1][1]
    )
    assert perturbed["answer"] == "80 km/h"  # other columns are the parent's
    assert proj.requests() == 2 * 2 + 2 * 2 + 2


def test_keep_original_false(project):
    proj = project(steps(ops=[OPS[3]], keep_original=False))
    proj.build()
    out = proj.step("variants")
    assert out["_op"].to_list() == ["perturb_numbers"]
    assert proj.requests() == 0


def test_rebuild_zero_requests_and_fresh_builds_identical(project):
    one = project(steps(), folder="one")
    one.build()
    sent = one.requests()
    one.build(force=True)
    assert one.requests() == sent
    two = project(steps(), folder="two")
    two.build()
    assert two.step("variants").equals(one.step("variants"))


def test_changing_one_op_repays_only_that_op(project):
    proj = project(steps())
    proj.build()
    before = proj.requests()
    ops = [dict(op) for op in OPS]
    ops[0] = {"paraphrase": {"column": "question", "n": 3}}  # one more paraphrase per row
    ops[1] = {"translate": {"column": "question", "to": ["es", "fr"]}}  # fr is new, de gone
    ops[3] = {"perturb_numbers": {"column": "question", "relative": 0.5}}
    proj.edit("variants", ops=ops)
    proj.build()
    assert proj.requests() - before == 2 + 2  # the third paraphrases and the French ones
    out = proj.step("variants")
    assert out["_op"].to_list().count("translate:fr") == 2
    assert "translate:de" not in out["_op"].to_list()


def test_perturb_numbers_leaves_years_and_ids_alone_and_says_so(project):
    question = "In 2024 order #5512 shipped 120 boxes at 9:30; how many by 2030?"
    ops = [{"perturb_numbers": {"column": "question", "relative": 0.3}}]
    proj = project({"seeds": {"kind": "seed", "rows": [{"question": question}]},
                    "variants": {"kind": "augment", "from": "seeds", "ops": ops,
                                 "keep_original": False}})  # fmt: skip
    proj.build()
    [row] = proj.step("variants").rows(named=True)
    assert [old for old, _ in json.loads(row["_number_changes"])] == ["120"]
    assert json.loads(row["_numbers_kept"]) == [["2024", "years"], ["5512", "ids"], ["9", "times"],
                                                ["30", "times"], ["2030", "years"]]  # fmt: skip
    assert row["question"].startswith("In 2024 order #5512 shipped ")
    assert row["question"].endswith(" boxes at 9:30; how many by 2030?")
    assert row["question"] != question


def test_variants_differing_only_in_numbers_survive_dedup(project):
    rows = [
        {"question": f"A train travels {d} km in 2 hours. What is its speed?"}
        for d in (120, 150, 180)
    ]
    ops = [{"perturb_numbers": {"column": "question", "relative": 0.3}}]
    proj = project({"seeds": {"kind": "seed", "rows": rows},
                    "variants": {"kind": "augment", "from": "seeds", "ops": ops},
                    "deduped": {"kind": "dedup", "from": "variants", "column": "question"}})  # fmt: skip
    proj.build()
    assert proj.step("variants").height == 6
    assert proj.step("deduped").height == 6


def test_rows_that_give_no_seeded_variant_are_a_warning(project):
    from synthc.progress import RecordingReporter

    ops = [{"perturb_numbers": {"column": "question", "relative": 0.2}}]
    proj = project(steps(ops=ops, keep_original=False))
    reporter = RecordingReporter()
    proj.build(reporter=reporter)
    assert proj.step("variants").height == 1
    assert reporter.of("warning") == [
        ("warning", "variants: perturb_numbers on 'question': 1 of 2 row(s) gave no variant "
                    "(no number it may change)")
    ]  # fmt: skip
