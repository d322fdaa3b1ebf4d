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


def _reference_bootstrap(outputs, reference, resamples, seed):
    """The bootstrap by hand: the same draws, each table's statistic from scipy."""
    from scipy.stats import chi2_contingency

    categories = sorted(set(outputs) | set(reference))
    observed = np.array([outputs.count(c) for c in categories], dtype=float)
    counts = np.array([reference.count(c) for c in categories], dtype=float)
    statistic = chi2_contingency(np.vstack([observed, counts]), correction=False).statistic
    rng = np.random.default_rng(seed)
    first = rng.multinomial(int(observed.sum()), counts / counts.sum(), size=resamples)
    second = rng.multinomial(int(counts.sum()), counts / counts.sum(), size=resamples)
    null = []
    for a, b in zip(first, second, strict=True):
        table = np.vstack([a, b])
        table = table[:, table.sum(axis=0) > 0]
        null.append(
            chi2_contingency(table, correction=False).statistic if table.shape[1] > 1 else 0.0
        )
    at_least = sum(value >= statistic - 1e-9 for value in null)
    return (1 + at_least) / (1 + resamples)


def test_the_bootstrap_p_value_equals_a_reference_loop_and_is_seeded():
    rng = np.random.default_rng(5)
    reference = list(rng.choice(REGIONS, size=120, p=SEED_SHARES))
    outputs = list(rng.choice(REGIONS, size=40, p=[0.3, 0.3, 0.2, 0.1, 0.1]))
    found = against_rows(outputs, reference, resamples=500, seed=3)
    assert found.resamples == 500
    assert found.calibrated_p_value == pytest.approx(
        _reference_bootstrap(outputs, reference, 500, 3), abs=1e-9
    )
    same = against_rows(outputs, reference, resamples=500, seed=3)
    assert same.calibrated_p_value == found.calibrated_p_value
    assert against_rows(outputs, reference).resamples == 0  # off unless asked


def test_the_bootstrap_is_calibrated_where_the_asymptotic_test_is_not():
    """Many seed rows, few outputs, rare categories: expected counts far below 5. Over
    400 outputs drawn from the seeds' own distribution, the asymptotic test raises a
    false alarm at alpha 0.01 several times too often; the bootstrap about 1%."""
    shares = np.array([0.6, 0.2, 0.1, 0.04, 0.03, 0.02, 0.01])
    categories = [f"c{i}" for i in range(len(shares))]
    rng = np.random.default_rng(1)
    asymptotic, calibrated = [], []
    for trial in range(400):
        reference = list(rng.choice(categories, size=500, p=shares))
        outputs = list(rng.choice(categories, size=20, p=shares))
        found = against_rows(outputs, reference, resamples=400, seed=trial)
        asymptotic.append(found.p_value < 0.01)
        calibrated.append(found.calibrated_p_value < 0.01)
    assert np.mean(asymptotic) > 0.03
    assert np.mean(calibrated) < 0.02


@pytest.mark.parametrize("seed", range(10))
def test_the_gate_fails_a_shift_on_the_bootstrap_p_value_and_passes_a_sample(seed):
    rng = np.random.default_rng(200 + seed)
    reference = seeds(rng, 300)
    sampled = pl.DataFrame({"region": rng.choice(REGIONS, size=300, p=SEED_SHARES)})
    passed = gate(sampled, reference, max_tvd=1.0, alpha=0.01)
    assert passed.status == "pass", passed.message
    assert "bootstrap p=" in passed.message and "1000 resamples" in passed.message
    shifted = pl.DataFrame({"region": rng.choice(REGIONS, size=300, p=[0.2] * 5)})
    failed = gate(shifted, reference, max_tvd=1.0, alpha=0.01)
    assert failed.status == "fail" and failed.details["chi2_p_calibrated"] < 0.01
    assert failed.details["chi2_p_calibrated"] == pytest.approx(
        _reference_bootstrap(shifted["region"].to_list(), reference["region"].to_list(), 1000, 0),
        abs=1e-9,
    )
