"""Positions and duplicate keys, straight from the YAML reader."""

from __future__ import annotations

from synthc.errors import Location
from synthc.recipe.positions import parse_yaml

TEXT = """\
synthc: 1
steps:
  answers:
    kind: generate
    prompt: |
      Line one.
      {{ question }}
exports:
  answers: [a.jsonl, b.csv]
"""


def test_positions_by_dotted_path() -> None:
    parsed = parse_yaml(TEXT, "r.yaml")
    assert parsed.problems == []
    assert parsed.positions[""] == Location("r.yaml", 1, 1)
    assert parsed.positions["synthc"] == Location("r.yaml", 1, 9)
    assert parsed.positions["steps.answers"] == Location("r.yaml", 3, 3)
    assert parsed.key_positions["steps.answers.kind"] == Location("r.yaml", 4, 5)
    assert parsed.positions["steps.answers.kind"] == Location("r.yaml", 4, 11)
    assert parsed.positions["exports.answers.1"] == Location("r.yaml", 9, 22)


def test_literal_blocks_remember_where_their_text_starts() -> None:
    parsed = parse_yaml(TEXT, "r.yaml")
    assert parsed.literal_starts["steps.answers.prompt"] == Location("r.yaml", 6, 7)


def test_duplicate_keys_are_problems_at_the_second_key() -> None:
    parsed = parse_yaml("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", "r.yaml")
    assert [str(problem) for problem in parsed.problems] == [
        "r.yaml:4:3: b.c: duplicate key 'c' (first written at line 3, col 3)",
        "r.yaml:5:1: a: duplicate key 'a' (first written at line 1, col 1)",
    ]


def test_a_document_with_nothing_in_it_has_no_data() -> None:
    parsed = parse_yaml("# comment\n", "r.yaml")
    assert parsed.data is None and parsed.problems == []


def test_alternatives_report_the_most_relevant_branch() -> None:
    # No recipe field uses a oneOf of real alternatives yet; this pins the behaviour for
    # the first that does: the user sees the closest branch's problem, not a oneOf mush.
    from jsonschema import Draft202012Validator

    from synthc.recipe.schema import _problems_for

    parsed = parse_yaml("n: 1\n", "r.yaml")
    schema = {
        "properties": {
            "n": {"oneOf": [{"type": "string"}, {"type": "integer", "minimum": 3}]},
        }
    }
    [error] = Draft202012Validator(schema).iter_errors(parsed.data)
    assert [str(problem) for problem in _problems_for(error, parsed)] == [
        "r.yaml:1:4: n: 1 is less than the minimum of 3"
    ]
