"""From a cold state, the calls a build sends (counted by the loopback server) lie within
the bounds `plan` prints for the whole recipe, and equal them where the plan says exact:
chained recipes whose later steps cannot be rendered before the earlier ones answer."""

from __future__ import annotations

import json

import pytest
from test_adversarial import APP, ATTACKS, verdict
from test_augment import OPS, ROWS
from test_self_instruct import REPLY, SEEDS

from synthc.api import estimate_recipe, plan_recipe
from synthc.plan.render import plan_table

SCORE = json.dumps({"score": 7, "rationale": "clear"})
JUDGE = {"kind": "judge", "rubric": "Is it a good item?"}


def judged(upstream: str) -> dict[str, object]:
    return {**JUDGE, "from": upstream}


CHAINS = {
    "generate_judge": {
        "seeds": {"kind": "seed", "rows": ROWS},
        "answers": {"kind": "generate", "from": "seeds", "prompt": "Solve: {{ question }}", "n": 2},
        "scored": judged("answers"),
    },
    "self_instruct_distill_judge": {
        "seeds": {"kind": "seed", "rows": SEEDS},
        "tasks": {"kind": "self_instruct", "from": "seeds", "rounds": 2, "per_round": 5,
                  "examples": 2, "prompt": REPLY},
        "answers": {"kind": "distill", "from": "tasks", "student": "srv"},
        "scored": judged("answers"),
    },
    "adversarial_target_judge": {
        "app": {"kind": "seed", "rows": APP},
        "attacks": {"kind": "adversarial", "from": "app", "context": "{{ system_prompt }}",
                    "categories": ["system_prompt_extraction", "prompt_injection"],
                    "per_category": 2, "target": "bot", "judge": "srv"},
    },
    "augment_judge": {
        "seeds": {"kind": "seed", "rows": ROWS},
        "variants": {"kind": "augment", "from": "seeds", "ops": OPS},
        "scored": judged("variants"),
    },
}  # fmt: skip


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_a_cold_build_makes_a_number_of_calls_within_the_plans_bounds(project, script, chain):
    script([
        ("grading one red-team test", verdict),
        ("red-team", ATTACKS),
        ("good item", SCORE),
    ])  # fmt: skip
    proj = project(CHAINS[chain], models={"bot": {"model": "openai/bot"}})
    estimates = estimate_recipe(plan_recipe(proj.path))
    low = sum(e.to_make for e in estimates.values())
    highs = [e.to_make_max for e in estimates.values()]
    high = None if None in highs else sum(h or 0 for h in highs)
    table = plan_table(plan_recipe(proj.path), estimates)
    shown = next(line for line in table.splitlines() if "model call(s) to make" in line)
    assert proj.requests() == 0
    assert proj.build().exit_code == 0
    made = proj.requests()
    assert low <= made and (high is None or made <= high), (chain, low, made, high, shown)
    if low == high:
        assert made == low
    bounds = f"{low}" if low == high else f"≥{low}" if high is None else f"{low}–{high}"
    assert f"; {bounds} model call(s) to make" in shown
