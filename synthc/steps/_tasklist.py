"""Turn a model's answer into a list of tasks, whatever shape the model chose.

Models asked for "a numbered list of new tasks" answer in many ways; each of these
gives the same list::

    1. Write a haiku.          Task 1: Write a haiku.     - Write a haiku.
    2) Sort the list.          Task 2: Sort the list.     * Sort the list.

    ["Write a haiku.", "Sort the list."]
    {"tasks": ["Write a haiku.", {"instruction": "Sort the list."}]}

JSON (bare or in a ``` fence) is tried first; otherwise list markers split the text,
and lines without a marker continue the item above them. An answer with no markers is
one task per non-empty line. Labels such as "Instruction:" after a marker are dropped.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Field names, in order of preference, that hold a task in a JSON object.
TASK_FIELDS = ("instruction", "task", "prompt", "question", "text", "content", "query")
LIST_FIELDS = ("tasks", "instructions", "prompts", "questions", "items", "data", "examples")

_FENCE = re.compile(r"```[a-zA-Z]*\s*\n(.*?)```", re.S)
_ITEM = re.compile(
    r"""^\s*(?:\#{1,6}\s*)?(?:\*\*)?          # markdown heading or bold
        (?:
            (?:task|instruction|question|prompt|example)\s*\#?\s*\d+\s*[:.)\-]?  # Task 1:
          | \#?\d+\s*[.):\]]                                                     # 1. 1) 1:
          | \(\d+\)                                                              # (1)
          | [-*•+]\s                                                             # bullets
        )(?:\*\*)?\s*""",
    re.I | re.X,
)
_JSON_START = re.compile(r"^[ \t]*[\[{]", re.M)
_LABEL = re.compile(r"^(?:new\s+)?(?:task|instruction|question|prompt)\s*:\s*", re.I)


def parse_tasks(text: str) -> list[str]:
    """The tasks in a model answer, stripped, empty ones dropped, in order.

    Example: `parse_tasks("1. Add two numbers.\\n2) Name a colour.")` gives
    `["Add two numbers.", "Name a colour."]`.
    """
    found = _from_json(text)
    if found is None:
        found = _from_lines(text)
    return [task for task in (_clean(item) for item in found) if task]


def _clean(item: str) -> str:
    item = item.strip().strip("*").strip()
    return _LABEL.sub("", item).strip()


def _from_json(text: str) -> list[str] | None:
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    # JSON must open a line: a bracket inside a sentence ("Sort [3, 1, 2]") is text.
    opening = _JSON_START.search(body)
    if opening is None:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(body[opening.end() - 1 :])
    except ValueError:
        return None
    items = _json_items(value)
    if items is None:
        return None
    tasks = [task for task in (_json_task(item) for item in items) if task is not None]
    return tasks or None


def _json_items(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if not isinstance(value, dict):
        return None
    for name in LIST_FIELDS:
        if isinstance(value.get(name), list):
            return list(value[name])
    lists = [v for v in value.values() if isinstance(v, list)]
    if lists:
        return list(lists[0])
    task = _json_task(value)  # a single task object
    return [value] if task is not None else None


def _json_task(item: Any) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, int | float) and not isinstance(item, bool):
        return None
    if isinstance(item, dict):
        for name in TASK_FIELDS:
            if isinstance(item.get(name), str):
                return str(item[name])
        strings = [v for v in item.values() if isinstance(v, str)]
        return strings[0] if strings else None
    return None


def _from_lines(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").split("\n")
    if not any(_ITEM.match(line) for line in lines):
        # One task per line; a line ending in ":" introduces the others ("Here they are:").
        return [line for line in lines if line.strip() and not line.rstrip().endswith(":")]
    items: list[str] = []
    open_item = False  # a blank line closes an item: what follows unmarked is an epilogue
    for line in lines:
        marker = _ITEM.match(line)
        if marker:
            items.append(line[marker.end() :])
            open_item = True
        elif not line.strip():
            open_item = False
        elif items and open_item:
            items[-1] = f"{items[-1].rstrip()} {line.strip()}"
        # lines before the first marker ("Here are 5 tasks:") are a preamble
    return items
