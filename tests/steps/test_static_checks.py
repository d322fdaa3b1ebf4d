"""Mistakes in SQL, column names and step names are caught before any model call: a
build of each recipe below stops at compile time, with a located error, and the
loopback server counts no request (the generate step upstream is never run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthc.errors import RecipeError

SEEDS = {"kind": "seed", "rows": [{"question": "What is 2+2?"}, {"question": "Name a colour."}]}
ANSWERS = {"kind": "generate", "from": "seeds", "prompt": "Answer: {{ question }}"}

MISTAKES: dict[str, tuple[str, dict[str, object]]] = {
    "where_syntax": ("where", {"kind": "filter", "from": "answers", "where": "length(output) >>> 3 and"}),
    "where_unknown_column": ("where", {"kind": "filter", "from": "answers", "where": "nosuchcol > 3"}),
    "where_unknown_function": ("where", {"kind": "filter", "from": "answers", "where": "lenght(output) > 3"}),
    "where_breakout": ("where", {"kind": "filter", "from": "answers",
                                 "where": "true) union all select * from answers --"}),
    "query_syntax": ("query", {"kind": "sql", "from": "answers", "query": "selec * frm answers"}),
    "query_unknown_column": ("query", {"kind": "sql", "from": "answers", "query": "select outputt from answers"}),
    "query_copy": ("query", {"kind": "sql", "from": "answers", "query": "copy answers to 'leak.csv'"}),
    "query_create": ("query", {"kind": "sql", "from": "answers",
                               "query": "create table t as select * from answers"}),
    "query_two_statements": ("query", {"kind": "sql", "from": "answers",
                                       "query": "select * from answers; copy answers to 'leak.csv'"}),
    "dedup_column": ("column", {"kind": "dedup", "from": "answers", "column": "outputt"}),
    "dedup_keep": ("keep", {"kind": "dedup", "from": "answers", "column": "output", "keep": "highest(nosuch)"}),
    "check_column": ("column", {"kind": "filter", "from": "answers", "where": "true",
                                "checks": [{"distinct_n": {"column": "outputt", "min": 0.1}}]}),
    "check_query": ("query", {"kind": "filter", "from": "answers", "where": "true",
                              "checks": [{"sql": {"query": "select * from this where answr is null"}}]}),
}  # fmt: skip


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_sql_or_column_mistake_stops_the_build_before_any_request(project, mistake):
    field, step = MISTAKES[mistake]
    proj = project({"seeds": SEEDS, "answers": ANSWERS, "checked": step})
    with pytest.raises(RecipeError) as caught:
        proj.build()
    assert "recipe.yaml:" in str(caught.value) and "steps.checked." in str(caught.value)
    assert f".{field}:" in str(caught.value)
    assert proj.requests() == 0
    assert not (proj.path.parent / "leak.csv").exists()


@pytest.mark.parametrize("name", ["unique", "order", "_calls"])
def test_a_step_name_synthc_could_not_query_stops_the_build_before_any_request(project, name):
    kept = {"kind": "filter", "from": "answers", "where": "true"}
    proj = project({"seeds": SEEDS, "answers": ANSWERS, name: kept})
    with pytest.raises(RecipeError, match=rf"steps\.{name}: step name '{name}'"):
        proj.build()
    assert proj.requests() == 0


def test_the_same_recipe_without_the_mistake_does_call_the_server(project):
    kept = {"kind": "filter", "from": "answers", "where": "length(output) > 3",
            "checks": [{"sql": {"query": "select * from this where output is null"}}]}  # fmt: skip
    proj = project({"seeds": SEEDS, "answers": ANSWERS, "checked": kept})
    result = proj.build()
    assert result.exit_code == 0 and proj.requests() == 2


def test_a_plan_never_runs_a_writing_statement(project, tmp_path: Path):
    from synthc.api import estimate_recipe, plan_recipe

    step = {"kind": "sql", "from": "answers", "query": "copy answers to 'leak.csv'"}
    proj = project({"seeds": SEEDS, "answers": ANSWERS, "checked": step})
    with pytest.raises(RecipeError, match="COPY"):
        estimate_recipe(plan_recipe(proj.path))
    assert not (proj.path.parent / "leak.csv").exists() and not Path("leak.csv").exists()
    assert proj.requests() == 0
