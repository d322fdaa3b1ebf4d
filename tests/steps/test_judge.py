"""judge: scores and rationales, bounded JSON repair, several judges."""

from __future__ import annotations

import json

from synthc.steps.judge import agreement

ROWS = [
    {"question": "What is 2 + 2?", "answer": "4"},
    {"question": "Capital of France?", "answer": "Berlin"},
]


def steps(**options):
    return {
        "seeds": {"kind": "seed", "rows": ROWS},
        "scored": {"kind": "judge", "from": "seeds", "rubric": "Is the answer correct?", **options},
    }


def by_answer(prompt: str) -> str:
    good = "answer: 4" in prompt
    return json.dumps({"score": 9 if good else 2, "rationale": "right" if good else "wrong"})


def test_scores_and_rationales_keep_row_ids(project, script):
    script([("Is the answer correct?", by_answer)])
    proj = project(steps())
    assert proj.build().exit_code == 0
    out = proj.step("scored")
    assert out.columns == ["_id", "question", "answer", "score", "rationale"]
    assert out["_id"].to_list() == proj.step("seeds")["_id"].to_list()
    assert out["score"].to_list() == [9.0, 2.0]
    assert out["rationale"].to_list() == ["right", "wrong"]
    good = proj.query("select answer from scored where score >= 7")
    assert good["answer"].to_list() == ["4"]


def test_invalid_json_is_repaired_within_bounds(project, script):
    # The first answer is prose, the repair turn gets a valid object.
    script(
        [
            ("could not be used", '{"score": 5, "rationale": "fixed"}'),
            ("Is the answer", "Looks fine to me"),
        ]
    )
    proj = project(steps())
    proj.build()
    assert proj.step("scored")["rationale"].to_list() == ["fixed", "fixed"]
    assert proj.requests() == 4  # one call and one repair per row


def test_out_of_range_scores_fail_after_the_repairs(project, script):
    script([("", '{"score": 42, "rationale": "too high"}')])
    proj = project(steps())
    result = proj.build()
    assert result.exit_code == 1  # failed rows: the step stays stale
    assert proj.step("scored").height == 0
    failures = proj.query("select * from _failures")
    assert failures.height == 2
    assert "between 1 and 10" in failures["message"][0]
    assert proj.requests() == 2 * 3  # one call and two repairs per row, no more
    # recorded as `generate` records an unusable answer: the same call path
    recorded = failures.select("error_class", "error_kind", "attempts", "sample").to_dicts()
    assert (
        recorded
        == [
            {
                "error_class": "UnparsableResponse",
                "error_kind": "rejected",
                "attempts": 3,
                "sample": 0,
            }
        ]
        * 2
    )


def test_several_judges_mean_and_agreement(project, script):
    script([("Is the answer correct?", by_answer)])
    proj = project(
        steps(judges=["srv", "other"], scale=[0, 10]), models={"other": {"model": "openai/other"}}
    )
    proj.build()
    out = proj.step("scored")
    assert out.columns == ["_id", "question", "answer", "score", "rationale", "score_srv",
                           "rationale_srv", "score_other", "rationale_other", "score_agreement"]  # fmt: skip
    assert out["score"].to_list() == [9.0, 2.0]
    assert out["score_agreement"].to_list() == [1.0, 1.0]
    assert agreement([2.0, 7.0], (0.0, 10.0)) == 0.5


def test_rebuild_zero_requests_and_fresh_builds_identical(project, script):
    script([("Is the answer correct?", by_answer)])
    one = project(steps(), folder="one")
    one.build()
    one.build(force=True)
    assert one.requests() == 2
    two = project(steps(), folder="two")
    two.build()
    assert two.step("scored").equals(one.step("scored"))


def test_a_bare_score_is_read_without_a_repair(project, script):
    script([("Is the answer correct?", "Score: 7. The answer is right but terse.")])
    proj = project(steps())
    proj.build()
    out = proj.step("scored")
    assert out["score"].to_list() == [7.0, 7.0]
    assert out["rationale"][0] == "Score: 7. The answer is right but terse."
    assert proj.requests() == 2


def test_bare_score_shapes():
    from synthc.steps.judge import bare_score

    assert bare_score("8") == {"score": 8.0, "rationale": ""}
    assert bare_score(" 7/10. ") == {"score": 7.0, "rationale": ""}
    assert bare_score("I give it a score of 6.5 overall")["score"] == 6.5
    assert bare_score("It is fine.") is None
