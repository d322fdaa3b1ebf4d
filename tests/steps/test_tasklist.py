"""Model answers in any common list shape become the same list of tasks."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthc.steps._tasklist import parse_tasks

TASKS = ["Write a haiku about rain.", "Sort the list [3, 1, 2].", "Name three primary colours."]


@pytest.mark.parametrize(
    "answer",
    [
        "1. Write a haiku about rain.\n2. Sort the list [3, 1, 2].\n3. Name three primary colours.",
        "1) Write a haiku about rain.\n2) Sort the list [3, 1, 2].\n3) Name three primary colours.",
        "Here are three new tasks:\n\nTask 1: Write a haiku about rain.\nTask 2: Sort the list [3, 1, 2].\n"
        "Task 3: Name three primary colours.\n\nI hope these help!",
        "- Write a haiku about rain.\n* Sort the list [3, 1, 2].\n• Name three primary colours.",
        "### 1. Instruction: Write a haiku about rain.\n### 2. Instruction: Sort the list [3, 1, 2].\n"
        "### 3. Instruction: Name three primary colours.",
        "**1.** Write a haiku about rain.\n**2.** Sort the list [3, 1, 2].\n**3.** Name three primary colours.",
        json.dumps(TASKS),
        "```json\n" + json.dumps([{"instruction": t} for t in TASKS]) + "\n```",
        json.dumps({"tasks": [TASKS[0], {"task": TASKS[1]}, {"text": TASKS[2]}]}),
        "Sure!\n" + json.dumps({"questions": TASKS}) + "\nEnjoy.",
    ],
)
def test_list_shapes(answer: str) -> None:
    assert parse_tasks(answer) == TASKS


def test_continuation_lines_join_their_item() -> None:
    answer = "1. Write a story\n   about a dragon.\n2. Add two numbers."
    assert parse_tasks(answer) == ["Write a story about a dragon.", "Add two numbers."]


def test_no_markers_means_one_task_per_line() -> None:
    assert parse_tasks("Write a haiku.\n\nName a colour.\n") == ["Write a haiku.", "Name a colour."]
    assert parse_tasks("Here are two prompts:\nWrite a haiku.\nName a colour.") == [
        "Write a haiku.",
        "Name a colour.",
    ]


@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40)
        .map(str.strip)
        .filter(lambda t: t and not t.startswith(("-", "*", "•", "+", "#"))),
        min_size=1,
        max_size=8,
    )
)
def test_json_arrays_round_trip(tasks: list[str]) -> None:
    assert parse_tasks(json.dumps(tasks)) == [
        t.strip("*").strip() for t in tasks if t.strip("*").strip()
    ]


@given(st.text(max_size=200))
def test_never_raises(text: str) -> None:
    assert all(isinstance(task, str) and task for task in parse_tasks(text))
