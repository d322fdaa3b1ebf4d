"""The generated reference covers the whole language."""

from __future__ import annotations

from synthc.recipe.kinds import step_kinds
from synthc.recipe.reference import schema_reference_markdown, type_label


def test_reference_has_a_section_per_kind_op_and_check() -> None:
    text = schema_reference_markdown()
    for kind in step_kinds():
        assert f"### `{kind}`" in text
    for name in ("paraphrase", "translate", "reformat", "perturb_numbers", "noise"):
        assert f"### `{name}`" in text
    for name in ("rows", "distinct_n", "leakage", "utility", "tail_coverage"):
        assert f"### `{name}`" in text


def test_reference_rows_show_type_default_and_description() -> None:
    text = schema_reference_markdown()
    assert (
        "| `n` | integer ≥ 1 | `1` | Samples per row; each is its own cached call, "
        "so raising it only pays for the new ones. |"
    ) in text
    assert "| `where` | string | required |" in text
    assert "| `novelty.max_rouge_l` | number in [0, 1] | `0.7` |" in text


def test_type_labels() -> None:
    assert type_label({"enum": ["text", "json"]}) == "`text` | `json`"
    assert type_label({"type": "array", "items": {"type": "string"}}) == "list of strings"
    assert type_label({"type": "number", "exclusiveMinimum": 0}) == "number > 0"
    assert type_label({"$ref": "#/$defs/template"}) == "template"
