"""The balance gate: figures equal reference computations; a generator that collapses
onto one region fails, one sampled from the seed distribution passes; an injected
label x attribute shift is caught."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2 as chi2_distribution
from test_planted_defects import run_sql

from synthc.quality.balance import against_rows, against_shares
from synthc.quality.gates import evaluate_check
from synthc.recipe.load import Check

REGIONS = ["north", "south", "east", "west", "islands"]
SEED_SHARES = np.array([0.35, 0.25, 0.2, 0.15, 0.05])


def seeds(rng: np.random.Generator, n: int = 400) -> pl.DataFrame:
    region = rng.choice(REGIONS, size=n, p=SEED_SHARES)
    sentiment = rng.choice(["positive", "negative"], size=n)
    return pl.DataFrame({"_id": [f"s{i}" for i in range(n)], "region": region,
                         "sentiment": sentiment})  # fmt: skip


def gate(frame: pl.DataFrame, reference: pl.DataFrame, **config: object):
    check = Check("balance", {"attribute": "region", "reference": "seeds", **config}, "error")
    return evaluate_check(
        check.kind, check.config, frame, {"seeds": reference}, run_sql, severity=check.severity
    )


def test_figures_equal_reference_computations():
    outputs = ["north"] * 50 + ["south"] * 30 + ["east"] * 20 + ["mars"] * 3
    reference = ["north"] * 40 + ["south"] * 40 + ["east"] * 15 + ["west"] * 5
    found = against_rows(outputs, reference)
    assert found.categories == ("east", "mars", "north", "south", "west")
    p = np.array([20, 3, 50, 30, 0]) / 103
    q = np.array([15, 0, 40, 40, 5]) / 100
    assert found.tvd == pytest.approx(0.5 * np.abs(p - q).sum(), abs=1e-12)
    assert found.jsd == pytest.approx(jensenshannon(p, q, base=2) ** 2, abs=1e-9)
    assert found.coverage == pytest.approx(3 / 4)  # west is missing
    assert list(found.amplification) == pytest.approx(
        [p[0] / q[0], np.inf, p[2] / q[2], p[3] / q[3], 0.0]
    )
    # chi-square of homogeneity by hand: sum (O - E)^2 / E over the 2 x k table
    table = np.array([[20, 3, 50, 30, 0], [15, 0, 40, 40, 5]], dtype=float)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    assert found.chi2 == pytest.approx(statistic, abs=1e-9)
    assert found.p_value == pytest.approx(chi2_distribution.sf(statistic, 4), abs=1e-9)


def test_given_shares_use_a_goodness_of_fit_test():
    found = against_shares(["a"] * 30 + ["b"] * 50 + ["c"] * 20, {"a": 1, "b": 2, "c": 1})
    observed, expected = np.array([30, 50, 20]), np.array([25, 50, 25])
    statistic = float(((observed - expected) ** 2 / expected).sum())
    assert found.chi2 == pytest.approx(statistic, abs=1e-9)
    assert found.p_value == pytest.approx(chi2_distribution.sf(statistic, 2), abs=1e-9)
    assert found.tvd == pytest.approx(0.05, abs=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_a_region_collapsed_generator_fails_and_a_sampled_one_passes(seed):
    rng = np.random.default_rng(seed)
    reference = seeds(rng)
    collapsed = pl.DataFrame({"region": ["north"] * 300})
    failed = gate(collapsed, reference, max_amplification=2.0)
    assert failed.status == "fail"
    assert failed.details["coverage"] == pytest.approx(0.2)
    assert failed.details["max_amplification"] > 2.0
    assert "no east, islands, south, west" in failed.message

    sampled = pl.DataFrame({"region": rng.choice(REGIONS, size=1000, p=SEED_SHARES)})
    passed = gate(sampled, reference, max_amplification=2.0)
    assert passed.status == "pass", passed.message


@pytest.mark.parametrize("seed", range(3))
def test_a_label_by_attribute_shift_of_0_3_is_caught(seed):
    rng = np.random.default_rng(100 + seed)
    reference = seeds(rng, 2000)
    outputs = seeds(rng, 2000)
    assert gate(outputs, reference, pairs={"label": "sentiment"}).status == "pass"
    # move 0.3 of the negative rows to "islands": the marginal moves half as much
    negative = (outputs["sentiment"] == "negative").to_numpy()
    moved = negative & (rng.random(outputs.height) < 0.3)
    shifted = outputs.with_columns(
        pl.when(pl.Series(moved))
        .then(pl.lit("islands"))
        .otherwise(pl.col("region"))
        .alias("region")
    )
    result = gate(shifted, reference, max_tvd=1.0, pairs={"label": "sentiment"})
    assert result.status == "fail" and "given sentiment=negative" in result.message
    assert result.details["label_shift"] > 0.2


def test_uniform_shares_and_the_balance_table():
    frame = pl.DataFrame({"region": ["a"] * 70 + ["b"] * 30})
    check = Check(
        "balance",
        {"attribute": "region", "shares": "uniform", "categories": ["a", "b", "c"]},
        "warn",
    )
    result = evaluate_check(check.kind, check.config, frame, {}, run_sql, severity=check.severity)
    assert result.status == "warn" and result.details["coverage"] == pytest.approx(2 / 3)
    table = result.tables["_balance"]
    assert table["category"].to_list() == ["a", "b", "c"]
    assert table["expected_share"].to_list() == pytest.approx([1 / 3] * 3)
    assert table["amplification"].to_list() == pytest.approx([2.1, 0.9, 0.0])
