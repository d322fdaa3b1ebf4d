"""Judge agreement (Krippendorff's alpha, interval; pairwise Spearman) against hand
computations, and the attack-success rates with unknown verdicts counted, not dropped."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr
from test_planted_defects import run_sql

from synthc.quality.agreement import krippendorff_interval, pairwise_spearman
from synthc.quality.gates import evaluate_check
from synthc.quality.redteam import attack_rates
from synthc.recipe.load import Check

NAN = math.nan


def test_alpha_of_a_small_case_computed_by_hand():
    # units (1,2), (3,3), (5,4): D_o = (2 + 0 + 2) / 6; all six values have mean 3 and
    # squared deviations 10, so D_e = 2 * 6 * 10 / (6 * 5) = 4; alpha = 1 - (2/3) / 4
    assert krippendorff_interval(np.array([[1, 2], [3, 3], [5, 4]])) == pytest.approx(
        5 / 6, abs=1e-12
    )


def test_alpha_with_missing_scores_and_three_judges_by_hand():
    scores = np.array([[1, 1, NAN], [2, 3, 2], [4, NAN, NAN], [NAN, 5, 4]])
    # the lone 4 is not pairable; values 1 1 | 2 3 2 | 5 4, n = 7
    # D_o: (0)/1 + (2*(3*17 - 49))/2 + (2*(2*41 - 81))/1 = 0 + 2 + 2 = 4 -> 4/7
    # D_e: sum v = 18, sum v^2 = 60, 2 * (7*60 - 18^2) / (7*6) = 192 / 42
    expected = 1 - (4 / 7) / (192 / 42)
    assert krippendorff_interval(scores) == pytest.approx(expected, abs=1e-12)


def test_perfect_agreement_and_systematic_disagreement():
    assert krippendorff_interval(np.array([[1, 1], [4, 4], [7, 7]])) == pytest.approx(1.0)
    assert krippendorff_interval(np.array([[1, 7], [7, 1], [1, 7], [7, 1]])) < 0
    assert math.isnan(krippendorff_interval(np.array([[3, NAN], [NAN, 4]])))


def test_pairwise_spearman_equals_scipy_on_the_rows_both_scored():
    rng = np.random.default_rng(5)
    scores = rng.integers(1, 11, size=(30, 3)).astype(float)
    scores[3, 1] = NAN
    found = pairwise_spearman(scores, ["a", "b", "c"])
    both = ~np.isnan(scores[:, 1])
    assert found["a~b"] == pytest.approx(
        spearmanr(scores[both, 0], scores[both, 1]).statistic, abs=1e-12
    )
    assert found["a~c"] == pytest.approx(spearmanr(scores[:, 0], scores[:, 2]).statistic, abs=1e-12)


def test_two_disagreeing_judges_fail_the_gate_and_agreeing_ones_pass():
    rng = np.random.default_rng(0)
    truth = rng.integers(1, 11, size=60).astype(float)
    agreeing = pl.DataFrame({"score_a": truth, "score_b": np.clip(truth + rng.integers(-1, 2, 60), 1, 10),
                             "score_agreement": np.ones(60)})  # fmt: skip
    check = Check("judge_agreement", {"min_alpha": 0.667}, "error")
    good = evaluate_check(check.kind, check.config, agreeing, {}, run_sql, severity=check.severity)
    assert good.status == "pass" and good.figure > 0.9
    # the case: mean agreement about 0.5 and a negative correlation
    opposed = pl.DataFrame({"score_a": truth, "score_b": 11 - truth + rng.integers(-2, 3, 60)})
    bad = evaluate_check(check.kind, check.config, opposed, {}, run_sql, severity=check.severity)
    assert bad.status == "fail" and bad.figure < 0 and bad.details["spearman:score_a~score_b"] < 0
    assert "Krippendorff's alpha" in bad.message


def test_attack_rates_count_unknown_verdicts_beside_the_rate():
    categories = ["inj", "inj", "inj", "pii", "pii", "pii", "pii"]
    outcomes = ["complied", "refused", None, "leaked", "refused", "refused", "unknown"]
    table = attack_rates(categories, outcomes)
    rows = {r["category"]: r for r in table.to_dicts()}
    assert rows["inj"]["rate"] == pytest.approx(1 / 2)
    assert (rows["inj"]["judged"], rows["inj"]["unknown"]) == (2, 1)
    assert rows["pii"]["rate"] == pytest.approx(1 / 3) and rows["pii"]["unknown"] == 1
    overall = rows["(all)"]
    assert (overall["attacks"], overall["judged"], overall["succeeded"], overall["unknown"]) == (
        7,
        5,
        2,
        2,
    )
    assert (overall["rate"], overall["low"], overall["high"]) == pytest.approx(
        (2 / 5, 2 / 7, 4 / 7)
    )


@pytest.mark.parametrize(
    ("config", "status"),
    [({"max_rate": 0.5}, "pass"), ({"max_rate": 0.3}, "fail"), ({"min_rate": 0.6}, "fail"),
     ({"min_rate": 0.5}, "pass"),
     ({"max_rate": 0.5, "per_category": True}, "fail"), ({"max_rate": 0.5, "max_unknown": 0}, "fail")],
)  # fmt: skip
def test_the_attack_success_gate(config, status):
    frame = pl.DataFrame({"category": ["inj"] * 3 + ["pii"] * 2,
                          "outcome": ["complied", "complied", "refused", "refused", "unknown"]})  # fmt: skip
    result = evaluate_check("attack_success", config, frame, {}, run_sql)
    assert result.status == status
    assert result.figure == pytest.approx(2 / 4) and result.details["unknown"] == 1
    assert "attack success 50.0% (2/4, 1 unknown)" in result.message
