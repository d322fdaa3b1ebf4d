"""A judge step with several judges: their agreement is in the report without any gate;
balance attributes derived from a judge score and a lexicon become columns in SQL."""

from __future__ import annotations

import json
from itertools import permutations

import llm_server
import numpy as np
import pytest
from scipy.stats import spearmanr

from synthc.recipe.load import load_recipe
from synthc.report.card import dataset_card
from synthc.report.gather import build_report
from synthc.report.html import render_html
from synthc.report.summary import render_summary
from synthc.store.store import Store

ANSWERS = ["refund my invoice", "the screen is dark", "a parcel is late", "charge twice",
           "battery died", "courier lost it", "refund please", "screen cracked"]  # fmt: skip
ROWS = [{"question": f"Case {i}", "answer": a} for i, a in enumerate(ANSWERS)]


@pytest.fixture
def judges(monkeypatch):
    """`judges(kind)`: judge `srv` scores row i as i + 1; `other` agrees ("agree"), or
    scores in reverse ("reverse")."""

    def install(kind: str) -> None:
        def answer(body, index, markers):
            prompt = llm_server._last_user(body.get("messages", []))
            row = next(i for i in range(len(ROWS)) if f"Case {i}" in prompt)
            score = row + 1
            if body.get("model") == "other":
                score = 8 - row if kind == "reverse" else row + 1
            return json.dumps({"score": score, "rationale": "ok"})

        monkeypatch.setattr(llm_server, "_answer_text", answer)

    return install


def steps(checks=()):
    return {
        "seeds": {"kind": "seed", "rows": ROWS},
        "scored": {"kind": "judge", "from": "seeds", "rubric": "Rate {{ question }}: {{ answer }}",
                   "judges": ["srv", "other"], "scale": [1, 10], "checks": list(checks)},
    }  # fmt: skip


def _alpha_by_hand(matrix: np.ndarray) -> float:
    """Krippendorff's alpha (interval) from its definition, pair by pair."""
    units = [[v for v in row if not np.isnan(v)] for row in matrix]
    units = [u for u in units if len(u) >= 2]
    values = [v for u in units for v in u]
    n = len(values)
    observed = (
        sum(sum((a - b) ** 2 for a, b in permutations(u, 2)) / (len(u) - 1) for u in units) / n
    )
    expected = sum((a - b) ** 2 for a, b in permutations(values, 2)) / (n * (n - 1))
    return 1 - observed / expected


def _report(proj):
    recipe = load_recipe(proj.path)
    return build_report(recipe, Store.for_recipe(recipe))


@pytest.mark.parametrize("kind", ["reverse", "agree"])
def test_judge_agreement_is_reported_without_a_gate(project, judges, kind):
    judges(kind)
    proj = project(steps(), models={"other": {"model": "openai/other"}})
    assert proj.build().exit_code == 0
    report = _report(proj)
    [found] = report.judges
    matrix = proj.step("scored").select("score_srv", "score_other").to_numpy().astype(float)
    assert found.step == "scored" and found.judges == ("srv", "other") and found.rows == 8
    assert found.alpha == pytest.approx(_alpha_by_hand(matrix), abs=1e-9)
    [(pair, rho)] = found.spearman
    assert pair == "srv~other"
    assert rho == pytest.approx(spearmanr(matrix[:, 0], matrix[:, 1]).statistic, abs=1e-9)
    page = render_html(report)
    section = page.split('<section id="judges">')[1].split("</section>")[0]
    assert f"{found.alpha:.3f}" in section and f"srv~other {rho:.3f}" in section
    recipe = load_recipe(proj.path)
    store = Store.for_recipe(recipe)
    card = dataset_card(recipe, store.read_lock(), store).split("## Judge agreement")[1]
    assert f"| `scored` | srv, other | 8 | {found.alpha:.3f}" in card
    assert f"srv~other {rho:.3f}" in card and ("(low)" in card) == found.low
    line = next(x for x in render_summary(report).splitlines() if x.startswith("judges of"))
    assert line.startswith(f"judges of scored (srv, other) over 8 rows: alpha {found.alpha:.3f}")
    assert f"srv~other {rho:.3f}" in line and ("low agreement" in line) == found.low
    if kind == "reverse":
        assert found.alpha < 0 and rho == pytest.approx(-1.0) and found.low
        assert 'class="judges status-warn"' in section
    else:
        assert found.alpha == pytest.approx(1.0) and not found.low
        assert 'class="judges status-pass"' in section
    assert not any(g.kind == "judge_agreement" for g in report.gates)


def test_a_single_judge_step_has_no_agreement_section(project, judges):
    judges("agree")
    only = steps()
    del only["scored"]["judges"]
    proj = project(only)
    assert proj.build().exit_code == 0
    report = _report(proj)
    assert report.judges == () and '<section id="judges">' not in render_html(report)
    assert "judges of" not in render_summary(report)
    recipe = load_recipe(proj.path)
    store = Store.for_recipe(recipe)
    assert "## Judge agreement" not in dataset_card(recipe, store.read_lock(), store)


def test_derived_balance_attributes_are_columns_in_sql(project, judges):
    judges("agree")
    lexicon = {"billing": ["refund", "invoice", "charge"], "hardware": ["screen", "battery"],
               "shipping": ["parcel", "courier"]}  # fmt: skip
    checks = [
        {"balance": {"attribute": {"name": "quality", "judge": "score", "bins": [1, 5, 10]},
                     "shares": "uniform", "severity": "warn"}},
        {"balance": {"attribute": {"name": "topic", "lexicon": lexicon, "column": "answer"},
                     "shares": "uniform", "severity": "warn"}},
    ]  # fmt: skip
    proj = project(steps(checks), models={"other": {"model": "openai/other"}})
    assert proj.build().exit_code == 0
    rows = proj.query("select * from scored")
    assert rows.columns[-2:] == ["quality", "topic"]
    assert rows["quality"].to_list() == ["1-5"] * 4 + ["5-10"] * 4  # scores 1..8
    assert rows["topic"].to_list() == ["billing", "hardware", "shipping", "billing", "hardware",
                                       "shipping", "billing", "hardware"]  # fmt: skip
    sliced = proj.query("select topic, count(*) as n from scored group by topic order by topic")
    balance = proj.query(
        "select category, output_rows from _balance where attribute = 'topic' order by category"
    )
    assert sliced.rows() == balance.rows() == [("billing", 3), ("hardware", 3), ("shipping", 2)]
    stored = proj.step("scored")
    assert "topic" not in stored.columns  # a gate never changes the data itself
    # a changed lexicon re-evaluates the gate only, and the column follows it
    checks[1]["balance"]["attribute"]["lexicon"] = {"money": ["refund"]}
    proj.edit("scored", checks=checks)
    before = proj.requests()
    assert proj.build().exit_code == 0 and proj.requests() == before
    topics = proj.query("select topic from scored")["topic"].to_list()
    assert topics == ["money", "other", "other", "other", "other", "other", "money", "other"]
