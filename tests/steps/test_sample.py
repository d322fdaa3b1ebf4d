"""sample: rows from declared attributes, seeded per row so growing `rows` only adds rows."""

from __future__ import annotations

import pytest
from scipy.stats import chisquare

from synthc.errors import RecipeError, StepFailed
from synthc.recipe.load import load_recipe


def sampled(rows, **attributes):
    return {"kind": "sample", "rows": rows, "attributes": attributes}


def test_raising_rows_adds_only_new_rows_and_new_calls(project):
    people = sampled(1000, n={"integer": {"min": 0, "max": 10**12}}, name={"faker": "name"})
    answers = {"kind": "generate", "from": "people", "prompt": "Greet {{ name }}, client {{ n }}."}
    proj = project({"people": people, "answers": answers})
    assert proj.build().exit_code == 0
    before = proj.step("people")
    assert proj.requests() == 1000

    proj.edit("people", rows=1100)
    assert proj.build().exit_code == 0
    after = proj.step("people")
    assert after.height == 1100
    assert after.head(1000).equals(before)  # ids and values of the first 1000 unchanged
    assert proj.requests() == 1100  # exactly the 100 new rows' prompts were sent
    assert proj.step("answers").height == 1100


def test_categorical_marginals_match_the_weights(project):
    weights = [5, 3, 2, 0.5]
    values = ["easy", "medium", "hard", "expert"]
    proj = project({"s": sampled(4000, level={"values": values, "weights": weights})})
    proj.build()
    counts = proj.step("s")["level"].value_counts()
    observed = [int(counts.filter(level=v)["count"].sum()) for v in values]
    expected = [4000 * w / sum(weights) for w in weights]
    assert chisquare(observed, expected).pvalue > 0.01
    assert proj.requests() == 0


def test_column_attribute_follows_the_upstream_distribution(project):
    topics = [{"topic": "billing"}] * 6 + [{"topic": "login"}] * 3 + [{"topic": "api"}]
    steps = {
        "topics": {"kind": "seed", "rows": topics},
        "s": {"kind": "sample", "from": "topics", "rows": 3000,
              "attributes": {"topic": {"column": "topic"}}},
    }  # fmt: skip
    proj = project(steps)
    proj.build()
    counts = proj.step("s")["topic"].value_counts()
    observed = [int(counts.filter(topic=t)["count"].sum()) for t in ("billing", "login", "api")]
    assert chisquare(observed, [1800, 900, 300]).pvalue > 0.01


def test_numeric_ranges_and_grid(project):
    steps = {
        "s": {
            "kind": "sample",
            "rows": 500,
            "grid": {"lang": ["en", "fr"], "tone": ["formal", "casual", "terse"]},
            "attributes": {
                "price": {"uniform": {"min": 10, "max": 20}},
                "score": {"normal": {"mean": 100, "std": 15}},
                "age": {"integer": {"min": 18, "max": 21}},
            },
        }
    }
    proj = project(steps)
    proj.build()
    out = proj.step("s")
    assert out.columns == ["_id", "lang", "tone", "price", "score", "age"]
    assert out.height == 6 * 500
    assert out.group_by("lang", "tone").len()["len"].to_list() == [500] * 6
    assert out["price"].min() >= 10 and out["price"].max() <= 20
    assert set(out["age"].to_list()) == {18, 19, 20, 21}
    assert abs(out["score"].mean() - 100) < 2 and abs(out["score"].std() - 15) < 2
    assert out["_id"].n_unique() == out.height


def test_adding_a_grid_value_or_attribute_changes_no_other_value(project):
    proj = project({"s": {"kind": "sample", "rows": 20, "grid": {"lang": ["en"]},
                          "attributes": {"age": {"integer": {"min": 0, "max": 99}}}}})  # fmt: skip
    proj.build()
    before = proj.step("s")
    proj.edit("s", grid={"lang": ["en", "fr"]},
              attributes={"age": {"integer": {"min": 0, "max": 99}}, "job": {"faker": "job"}})  # fmt: skip
    proj.build()
    after = proj.step("s").filter(lang="en").select(before.columns)
    assert after.equals(before)


def test_same_recipe_same_rows_other_seed_other_rows(project):
    steps = {"s": sampled(50, name={"faker": "name"}, x={"uniform": {"min": 0, "max": 1}})}
    first, second, reseeded = project(steps, "a"), project(steps, "b"), project(steps, "c", seed=8)
    for proj in (first, second, reseeded):
        proj.build()
    assert first.step("s").equals(second.step("s"))
    assert first.step("s")["name"].to_list() != reseeded.step("s")["name"].to_list()


def test_mismatched_weights_are_located(project):
    proj = project({"s": sampled(5, level={"values": ["a", "b"], "weights": [1, 2, 3]})})
    with pytest.raises(RecipeError) as caught:
        load_recipe(proj.path)
    assert "steps.s.attributes.level.weights: 3 weights for 2 values" in str(caught.value)


def test_unknown_faker_provider_suggests_one(project):
    proj = project({"s": sampled(5, who={"faker": "nmae"})})
    with pytest.raises(
        StepFailed, match=r"'nmae' is not a Faker provider \(did you mean 'name'\?\)"
    ):
        proj.build()


def test_preview_takes_the_first_sampled_rows_and_writes_nothing(project):
    from synthc.api import preview_recipe

    people = sampled(1000, n={"integer": {"min": 0, "max": 10**12}})
    answers = {"kind": "generate", "from": "people", "prompt": "Client {{ n }}."}
    proj = project({"people": people, "answers": answers})
    rows = preview_recipe(proj.path, "answers", limit=4)
    assert rows.height == 4 and proj.requests() == 4
    assert not (proj.path.parent / ".synthc" / "methods").exists()
    assert not proj.path.with_suffix(".lock").exists()
    proj.build()
    assert proj.step("people").head(4)["n"].to_list() == rows["n"].to_list()
    assert proj.requests() == 1000  # the 4 previewed prompts came from the cache
