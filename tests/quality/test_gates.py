"""evaluate_check: every check kind yields pass / warn / fail with its figure."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from test_planted_defects import run_sql

from synthc.quality.gates import GATE_KINDS, LABELLED, TEXTS, evaluate_check
from synthc.recipe.kinds import recipe_schema

FRAME = pl.DataFrame(
    {"_id": ["a", "b", "c"], "text": ["one two", "three four", None], "n": [1, 5, 9]}
)


def check(kind: str, severity: str = "error", **config) -> tuple[str, dict, str]:
    return kind, config, severity


def evaluate(check: tuple[str, dict, str], *args, **options):
    kind, config, severity = check
    return evaluate_check(kind, config, *args, severity=severity, **options)


def test_every_check_kind_of_the_design_is_implemented():
    kinds = {
        "rows",
        "sql",
        "distinct_n",
        "near_duplicates",
        "diversity",
        "fidelity",
        "leakage",
        "utility",
        "tail_coverage",
        "privacy",
        "balance",
        "attack_success",
        "judge_agreement",
    }
    assert set(GATE_KINDS) == kinds


def test_each_gate_record_agrees_with_its_schema_definition():
    """A gate kind is its record plus its schema definition; they must tell one story."""
    defs = recipe_schema()["$defs"]
    assert set(GATE_KINDS) == set(defs["check"]["properties"])
    for name, gate in GATE_KINDS.items():
        fields = set(defs[f"check_{name}"]["properties"])
        assert gate.uses_embeddings == ("embeddings" in fields), name
        assert (gate.reference is not None) == ("reference" in fields), name
    assert GATE_KINDS["utility"].reference == LABELLED
    assert GATE_KINDS["leakage"].reference == TEXTS
    assert GATE_KINDS["diversity"].must_reach(2.0, {"min_vendi": 2.0})
    assert not GATE_KINDS["leakage"].must_reach(0.0, {"max_rate": 0.0})
    assert GATE_KINDS["rows"].must_reach(3, {"min": 3, "max": 9})
    assert not GATE_KINDS["rows"].must_reach(9, {"min": 3, "max": 9})


@pytest.mark.parametrize(
    ("config", "status", "figure"),
    [
        ({"min": 3}, "pass", 3),
        ({"min": 4}, "fail", 3),
        ({"max": 2}, "fail", 3),
        ({"min": 1, "max": 3}, "pass", 3),
    ],
)
def test_rows(config, status, figure):
    result = evaluate(check("rows", **config), FRAME, {}, run_sql)
    assert (result.status, result.figure) == (status, figure)


def test_warn_severity_turns_a_failure_into_a_warning():
    result = evaluate(check("rows", severity="warn", min=10), FRAME, {}, run_sql)
    assert result.status == "warn"
    assert "fewer than min 10" in result.message


def test_sql_check_returns_the_failing_rows_under_the_step_name():
    result = evaluate(
        check("sql", query="select * from final where n > 4"), FRAME, {}, run_sql, table="final"
    )
    assert result.status == "fail" and result.figure == 2
    assert result.failing_rows is not None
    assert result.failing_rows["_id"].to_list() == ["b", "c"]
    assert evaluate(
        check("sql", query="select * from this where n > 100"), FRAME, {}, run_sql
    ).passed


def test_distinct_n_reports_the_figure_and_threshold():
    result = evaluate(check("distinct_n", column="text", n=1, min=0.5), FRAME, {}, run_sql)
    assert (result.status, result.figure, result.threshold) == ("pass", 1.0, 0.5)


def test_near_duplicates_lists_the_repeats():
    texts = [
        "the cat sat on the mat today",
        "The cat sat on the mat today!",
        "a dog ran in the park",
    ]
    frame = pl.DataFrame({"_id": ["x", "y", "z"], "text": texts})
    result = evaluate(check("near_duplicates", column="text", max_rate=0), frame, {}, run_sql)
    assert result.status == "fail" and result.figure == pytest.approx(1 / 3)
    assert result.failing_rows is not None and result.failing_rows["_id"].to_list() == ["y"]


def test_utility_check_against_a_reference_frame():
    rng = np.random.default_rng(0)
    words = {"pos": ["great", "love", "fine", "happy"], "neg": ["awful", "hate", "bad", "sad"]}

    def sample(count: int) -> pl.DataFrame:
        labels = rng.choice(["pos", "neg"], count).tolist()
        texts = [" ".join(rng.choice(words[label], 4)) for label in labels]
        return pl.DataFrame({"text": texts, "label": labels})

    config = {"reference": "real", "text": "text", "label": "label", "max_drop": 0.1}
    result = evaluate(check("utility", **config), sample(80), {"real": sample(80)}, run_sql)
    assert result.status == "pass"
    assert result.details["drop_spread"] >= 0


def test_missing_reference_or_column_is_a_clear_error():
    with pytest.raises(ValueError, match="reference 'eval' was not provided"):
        evaluate(check("leakage", column="text", reference="eval"), FRAME, {}, run_sql)
    with pytest.raises(ValueError, match="no column 'prompt'"):
        evaluate(check("distinct_n", column="prompt", min=0.1), FRAME, {}, run_sql)
    with pytest.raises(ValueError, match="unknown check"):
        evaluate(check("vibes"), FRAME, {}, run_sql)


def test_reference_with_another_text_column_name_is_used():
    reference = pl.DataFrame({"question": ["three four"]})
    result = evaluate(
        check("leakage", column="text", reference="eval", ngram=13, max_rate=0),
        FRAME,
        {"eval": reference},
        run_sql,
    )
    assert result.status == "fail"
    assert result.failing_rows is not None and result.failing_rows["_id"].to_list() == ["b"]


def test_a_custom_embedder_replaces_the_offline_default():
    calls: list[int] = []

    def one_hot(texts):
        calls.append(len(texts))
        return np.eye(len(texts))

    config = {"column": "text", "min_vendi": 2.9}
    result = evaluate(check("diversity", **config), FRAME, {}, run_sql, embed=one_hot)
    assert calls == [3]
    assert result.figure == pytest.approx(3.0) and result.passed
