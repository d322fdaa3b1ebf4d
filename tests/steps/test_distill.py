"""distill: teacher (and student) answers per row, reasoning capture, caching."""

from __future__ import annotations

ROWS = [
    {"instruction": "Add 2 and 3.", "input": ""},
    {"instruction": "Translate to French.", "input": "Good morning"},
]


def steps(**options):
    return {
        "seeds": {"kind": "seed", "rows": ROWS},
        "answers": {"kind": "distill", "from": "seeds", **options},
    }


def test_teacher_and_student_side_by_side(project):
    proj = project(
        steps(teacher="big", student="small"),
        models={"big": {"model": "openai/big"}, "small": {"model": "openai/small"}},
    )
    assert proj.build().exit_code == 0
    out = proj.step("answers")
    seeds = proj.step("seeds")
    assert out.columns == ["_id", "instruction", "input", "response", "student_response",
                           "_parent_id", "_model", "_call_key"]  # fmt: skip
    assert out["_parent_id"].to_list() == seeds["_id"].to_list()
    assert out["_model"].unique().to_list() == ["big"]
    # the default prompt is the instruction, with its input when there is one
    assert out["response"][0].endswith(": Add 2 and 3.")
    assert out["response"][1].endswith(": Translate to French.\n\nGood morning")
    assert out["student_response"][0] != out["response"][0]  # another model, another answer
    assert proj.requests() == 4


def test_reasoning_in_think_blocks_is_split_out(project):
    reply = "[[reply=<think>2 plus 3 is 5</think>The answer is 5.]] {{ instruction }}"
    proj = project(steps(prompt=reply, reasoning="why"))
    proj.build()
    out = proj.step("answers")
    assert out["response"].to_list() == ["The answer is 5."] * 2
    assert out["why"].to_list() == ["2 plus 3 is 5"] * 2


def test_rebuild_zero_requests_and_fresh_builds_identical(project):
    one = project(steps(), folder="one")
    one.build()
    one.build(force=True)
    assert one.requests() == 2
    two = project(steps(), folder="two")
    two.build()
    assert two.step("answers").equals(one.step("answers"))


def test_template_variables_are_checked_before_any_call(project):
    proj = project(steps(prompt="{{ question }}"))
    try:
        proj.build()
    except Exception as exc:  # RecipeError, raised at compile time
        assert "question" in str(exc)
    else:
        raise AssertionError("an unknown template variable must fail the build")
    assert proj.requests() == 0


def test_allow_truncated_keeps_cut_off_answers(project):
    proj = project(steps())
    proj.set_params(max_tokens=2)
    assert proj.build().exit_code == 1  # cut-off answers are rejected by default
    proj.set_params(max_tokens=2, allow_truncated=True)
    assert proj.build().exit_code == 0
    assert proj.step("answers")["response"].str.split(" ").list.len().to_list() == [2, 2]


def test_teacher_alias_params_beat_recipe_params(project):
    """The compiler layers a teacher's params as for the step's own model: recipe,
    then alias, then step."""
    from synthc.plan import compile_plan
    from synthc.recipe import load_recipe

    proj = project(
        steps(teacher="big"),
        models={"big": {"model": "openai/big", "params": {"temperature": 0.1}}},
    )
    answers = compile_plan(load_recipe(proj.path)).step("answers")
    assert answers.model_params == {"big": {"temperature": 0.1}}  # alias over recipe
    assert answers.config["params"] == {"temperature": 0.7}  # the step's own model: srv


def test_changing_a_teacher_alias_params_makes_the_step_stale_and_repays_it(project):
    """A teacher alias's params reach its calls, so they are part of the step's identity:
    editing them makes the step stale, `plan` names the model and the key, and the
    build sends the new calls (server-side count)."""
    import yaml

    from synthc.api import plan_recipe

    proj = project(steps(teacher="big"), models={"big": {"model": "openai/big"}})
    assert proj.build().exit_code == 0
    assert proj.requests() == 2
    data = yaml.safe_load(proj.path.read_text())
    data["models"]["big"]["params"] = {"temperature": 0.1}
    proj.path.write_text(yaml.safe_dump(data, sort_keys=False))

    answers = plan_recipe(proj.path).step("answers")
    assert answers.status == "stale"
    assert answers.stale_reason == "params of model 'big' changed: temperature"
    assert proj.build().exit_code == 0
    assert proj.requests() == 4  # two new calls at the new temperature
    assert proj.build().built == []  # and fresh afterwards
