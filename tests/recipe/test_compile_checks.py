"""`validate` across stages and at scale: the loader's and the compiler's problems come
out together, and long chains are checked without recursion."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from synthc.api import validate_recipe
from synthc.errors import RecipeError


def chain(length: int, *, cycle: bool = False) -> str:
    """A chain of filters written downstream-first: s{n-1} <- ... <- s1 <- s0 (a seed)."""
    lines = ["synthc: 1", "name: chain", "steps:"]
    for index in range(length - 1, 0, -1):
        lines += [
            f"  s{index}:",
            "    kind: filter",
            f"    from: s{index - 1}",
            '    where: "x > 0"',
        ]
    if cycle:
        lines += ["  s0:", "    kind: filter", f"    from: s{length - 1}", '    where: "x > 0"']
    else:
        lines += ["  s0:", "    kind: seed", "    rows: [{x: 1}]"]
    return "\n".join(lines) + "\n"


def test_a_chain_of_1100_steps_written_downstream_first_validates(
    write_recipe: Callable[[str], Path],
) -> None:
    plan = validate_recipe(write_recipe(chain(1100)))
    assert plan.names[0] == "s0" and len(plan.names) == 1100
    assert plan.step("s1099").columns == ("_id", "x")


def test_a_cycle_through_1100_steps_is_one_located_problem(
    write_recipe: Callable[[str], Path],
) -> None:
    with pytest.raises(RecipeError) as caught:
        validate_recipe(write_recipe(chain(1100, cycle=True)))
    (problem,) = caught.value.problems
    assert problem.path.endswith(".from") and "dependency cycle: s" in problem.message
    assert problem.message.count("->") == 1100


def test_a_schema_error_and_a_template_typo_in_other_steps_are_reported_together(
    write_recipe: Callable[[str], Path],
) -> None:
    recipe = write_recipe(
        "synthc: 1\n"
        "steps:\n"
        "  seeds:\n"
        "    kind: seed\n"
        "    rows: [{question: 'What is 2+2?'}]\n"
        "  answers:\n"
        "    kind: generate\n"
        "    from: seeds\n"
        "    prompt: '{{ question }}'\n"
        "    n: 0\n"
        "  scored:\n"
        "    kind: judge\n"
        "    from: seeds\n"
        "    rubric: 'Is {{ questoin }} clear?'\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "synthc", "validate", str(recipe)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = done.stderr.removeprefix("error: ").strip().splitlines()
    assert lines == [
        f"{recipe}:10:8: steps.answers.n: 0 is less than the minimum of 1",
        f"{recipe}:14:13: steps.scored.rubric: template variable 'questoin' is not a column "
        "of 'seeds' (did you mean 'question'?); columns: question",
    ]


def test_steps_below_a_broken_step_are_still_checked(write_recipe: Callable[[str], Path]) -> None:
    recipe = write_recipe(
        "synthc: 1\n"
        "steps:\n"
        "  seeds:\n"
        "    kind: seed\n"
        "    rows: [{question: 'What is 2+2?'}]\n"
        "  kept:\n"
        "    kind: filter\n"
        "    from: seeds\n"
        "    where: 'question is not null'\n"
        "    wher: typo\n"
        "  counted:\n"
        "    kind: sql\n"
        "    from: kept\n"
        "    query: 'selec 1'\n"
        "  bad:\n"
        "    kind: filter\n"
        "    from: seeds\n"
        "    where: 'nosuch > 1'\n"
    )
    with pytest.raises(RecipeError) as caught:
        validate_recipe(recipe)
    paths = [problem.path for problem in caught.value.problems]
    # `kept` did not load, so `counted` cannot be bound, but its syntax and `bad` are checked
    assert paths == ["steps.kept.wher", "steps.counted.query", "steps.bad.where"]


def test_plan_says_which_references_wait_for_the_build(
    write_recipe: Callable[[str], Path],
) -> None:
    from synthc.api import plan_recipe
    from synthc.plan.render import plan_table

    recipe = write_recipe(
        "synthc: 1\n"
        "name: later\n"
        "steps:\n"
        "  seeds:\n"
        "    kind: seed\n"
        "    sql: \"select * from 'https://example.org/questions.parquet'\"\n"
        "  kept:\n"
        "    kind: filter\n"
        "    from: seeds\n"
        "    where: 'score > 3'\n"
        "    checks:\n"
        "      - distinct_n: {column: text, min: 0.1}\n"
    )
    shown = plan_table(plan_recipe(recipe))
    assert shown.endswith(
        "note: kept: where, checks.0.distinct_n checked when the build reaches it "
        "(the columns of 'seeds' are known only then)\n"
    )
