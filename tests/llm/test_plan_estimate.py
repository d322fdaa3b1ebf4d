"""`synthc plan` counts the model calls a build would make, from the cache, without
sending one: what a user checks before paying."""

from __future__ import annotations

from pathlib import Path

import pytest
from llm_server import LLMTestServer
from test_generate import ANSWERS, run, write

from synthc.api import estimate_recipe, plan_recipe
from synthc.execute.estimate import price_per_token
from synthc.llm.calls import EXPECTED_COMPLETION_SHARE
from synthc.plan.render import plan_table


def test_a_fresh_recipe_estimates_every_call_and_sends_none(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    path = write(tmp_path, server, {"answers": ANSWERS}, rows=5)
    estimates = estimate_recipe(plan_recipe(path))
    assert server.stats.total == 0
    answers = estimates["answers"]
    assert (answers.cached, answers.to_make, answers.exact) == (0, 10, True)
    assert answers.tokens > 0


def test_raising_n_estimates_exactly_the_new_samples(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    path = write(tmp_path, server, {"answers": ANSWERS}, rows=5)
    run(path)
    sent = server.stats.total
    path.write_text(path.read_text().replace("n: 2", "n: 3"))
    answers = estimate_recipe(plan_recipe(path))["answers"]
    assert (answers.cached, answers.to_make) == (10, 5)
    assert server.stats.total == sent
    run(path)
    assert server.stats.total == sent + 5  # the build made exactly the estimated calls


def test_calls_below_a_step_with_misses_are_counted_from_its_rows(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    critique = {
        "kind": "generate",
        "from": "answers",
        "prompt": "Critique: {{ text }}",
        "output": "critique",
    }
    judged = {"kind": "judge", "from": "critique", "rubric": "Is {{ critique }} fair?"}
    steps = {"answers": ANSWERS, "critique": critique, "judged": judged}
    path = write(tmp_path, server, steps, rows=3)
    estimates = estimate_recipe(plan_recipe(path))
    assert estimates["answers"].to_make == 6 and estimates["answers"].exact
    # 6 rows each below, unless answers repeat (identical prompts share one call);
    # a judge's JSON answers may each take two repairs
    assert (estimates["critique"].to_make, estimates["critique"].to_make_max) == (1, 6)
    assert (estimates["judged"].to_make, estimates["judged"].to_make_max) == (1, 18)
    table = plan_table(plan_recipe(path), estimates)
    assert "0 cached, 6 to make" in table and "0 cached, 1–18 to make" in table
    assert "\n4 of 4 step(s) to build; 8–30 model call(s)" in table
    run(path)
    assert 8 <= server.stats.total <= 30  # the build's calls lie within the printed bounds


def test_a_built_recipe_has_nothing_to_estimate(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    path = write(tmp_path, server, {"answers": ANSWERS}, rows=2)
    run(path)
    assert estimate_recipe(plan_recipe(path)) == {}


def test_prices_come_from_litellms_bundled_table() -> None:
    prompt, completion = price_per_token("openai/gpt-4o-mini") or (0.0, 0.0)
    assert 0 < prompt < completion
    assert price_per_token("openai/no-such-model-xyz") is None


def test_plan_warns_when_the_estimate_exceeds_what_is_left_of_the_budget(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    from synthc.api import budget_warning, build_recipe

    path = write(tmp_path, server, {"answers": ANSWERS}, rows=5, budget={"max_calls": 14})
    plan = plan_recipe(path)
    assert budget_warning(plan, estimate_recipe(plan)) is None  # 10 calls, 14 allowed
    build_recipe(path)
    path.write_text(path.read_text().replace("n: 2", "n: 3"))
    plan = plan_recipe(path)
    warning = budget_warning(plan, estimate_recipe(plan))  # 5 more, 4 left
    assert warning == (
        "the build needs about 5 calls but budget.max_calls leaves 4 after earlier builds; "
        "it will stop when the budget is spent"
    )


def test_a_priced_model_is_bounded_by_empty_and_full_answers_and_expected_between(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    alias = {"model": "openai/gpt-4o-mini", "api_base": server.base_url,
             "api_key_env": "OPENAI_API_KEY"}  # fmt: skip
    params = {"temperature": 0.7, "max_tokens": 100}
    path = write(tmp_path, server, {"answers": ANSWERS}, rows=3, models={"srv": alias},
                 params=params)  # fmt: skip
    answers = estimate_recipe(plan_recipe(path))["answers"]
    _prompt_rate, completion_rate = price_per_token("openai/gpt-4o-mini") or (0.0, 0.0)
    assert answers.exact and answers.to_make == 6
    assert answers.usd is not None and answers.usd_max is not None
    assert answers.usd_expected is not None and answers.tokens_max is not None
    expected = round(100 * EXPECTED_COMPLETION_SHARE)
    assert answers.usd_max - answers.usd == pytest.approx(6 * 100 * completion_rate)
    assert answers.usd_expected - answers.usd == pytest.approx(6 * expected * completion_rate)
    assert answers.tokens_max - answers.tokens == 6 * 100
    bounds = f"${answers.usd:.4f}–${answers.usd_max:.4f}"
    assert f"~${answers.usd_expected:.4f} expected, {bounds})" in answers.describe()
    table = plan_table(plan_recipe(path), {"answers": answers})
    assert f"else {EXPECTED_COMPLETION_SHARE:.0%} of max_tokens" in table
    assert server.stats.total == 0


def test_the_dollars_a_cold_build_spends_lie_within_the_plans_cost_range(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    alias = {"model": "openai/gpt-4o-mini", "api_base": server.base_url,
             "api_key_env": "OPENAI_API_KEY"}  # fmt: skip
    # answers of 6 words against room for 200: far shorter than any share of max_tokens
    params = {"temperature": 0.7, "max_tokens": 200}
    path = write(tmp_path, server, {"answers": ANSWERS}, rows=4, models={"srv": alias},
                 params=params)  # fmt: skip
    answers = estimate_recipe(plan_recipe(path))["answers"]
    run(path)
    prompt_rate, completion_rate = price_per_token("openai/gpt-4o-mini") or (0.0, 0.0)
    stats = server.stats  # the server's own token counts
    spent = stats.prompt_tokens * prompt_rate + stats.completion_tokens * completion_rate
    assert answers.usd is not None and answers.usd_max is not None
    assert answers.usd <= spent <= answers.usd_max, (answers.usd, spent, answers.usd_max)


def test_completion_tokens_are_counted_from_the_steps_observed_mean(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    path = write(tmp_path, server, {"answers": ANSWERS}, rows=5)
    run(path)
    mean = server.stats.completion_tokens / server.stats.total  # counted by the server
    path.write_text(path.read_text().replace("n: 2", "n: 3"))
    answers = estimate_recipe(plan_recipe(path))["answers"]
    assert answers.to_make == 5
    # each new answer expected at the mean of the 10 cached ones (bounds: 0 to max_tokens)
    assert answers.tokens_expected is not None and answers.tokens_max is not None
    assert answers.tokens_expected - answers.tokens == 5 * round(mean)
    assert answers.tokens_max - answers.tokens == 5 * 256


def test_a_huge_step_is_counted_from_its_rows_not_rendered(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    huge = {**ANSWERS, "n": 100_000}  # 3 rows x 100,000: past what plan renders one by one
    judged = {"kind": "judge", "from": "answers", "rubric": "Is {{ text }} good?"}
    path = write(tmp_path, server, {"answers": huge, "judged": judged}, rows=3)
    estimates = estimate_recipe(plan_recipe(path))
    assert (estimates["answers"].to_make, estimates["answers"].to_make_max) == (0, 300_000)
    assert estimates["judged"].to_make_max == 900_000  # each answer judged, repairs included
    assert "0–300000 to make (~? tokens, cost not known)" in estimates["answers"].describe()
    assert server.stats.total == 0


def test_after_a_prompt_edit_the_mean_comes_from_the_steps_previous_calls(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    path = write(tmp_path, server, {"answers": ANSWERS}, rows=5)
    run(path)
    mean = server.stats.completion_tokens / server.stats.total  # counted by the server
    path.write_text(path.read_text().replace("Write about", "Write a poem about"))
    answers = estimate_recipe(plan_recipe(path))["answers"]
    assert (answers.cached, answers.to_make) == (0, 10)  # no cached answer to learn from
    assert answers.tokens_expected is not None
    assert answers.tokens_expected - answers.tokens == 10 * round(mean)
