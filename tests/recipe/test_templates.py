"""Prompt templates: sandboxed Jinja2 where an undefined variable is an error."""

from __future__ import annotations

import jinja2
import pytest
from jinja2.exceptions import SecurityError

from synthc.recipe.templates import check_syntax, compile_template, render, template_variables


def test_render_fills_columns_from_the_row() -> None:
    assert render("Q: {{ question }}\nA:", {"question": "2+2?"}) == "Q: 2+2?\nA:"


def test_render_keeps_a_trailing_newline_because_prompt_bytes_are_cache_keys() -> None:
    assert render("{{ x }}\n", {"x": 1}) == "1\n"


def test_a_missing_column_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(jinja2.UndefinedError, match="'answer' is undefined"):
        render("{{ question }} {{ answer }}", {"question": "q"})


def test_templates_cannot_reach_outside_the_sandbox() -> None:
    with pytest.raises(SecurityError):
        render("{{ row.__class__.__mro__ }}", {"row": {}})


def test_variables_are_what_the_template_reads_from_the_row() -> None:
    text = "{% set n = 3 %}{{ a }} {% for x in items %}{{ x }}{{ n }}{% endfor %} {{ b | upper }}"
    assert template_variables(text) == {"a", "b", "items"}


def test_check_syntax_names_the_line_inside_the_template() -> None:
    assert check_syntax("fine {{ x }}") is None
    message = check_syntax("line one\nline two\n{{ x }\n")
    assert message == "template syntax error on line 3 of the template: unexpected '}'"


def test_compiled_templates_are_cached() -> None:
    assert compile_template("{{ cached }}") is compile_template("{{ cached }}")
