"""Jinja2 templates for prompts: sandboxed, and an undefined variable is an error.

The loader checks syntax (`check_syntax`), the compiler checks variables against
upstream columns (`template_variables`), and LLM steps render per row (`render`).
Compiled templates are cached, so rendering a million rows parses each template once.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment

# keep_trailing_newline: a prompt's bytes are part of the call key, so rendering must
# not silently drop the final newline a user wrote.
_ENV = SandboxedEnvironment(
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
)


@lru_cache(maxsize=1024)
def compile_template(text: str) -> jinja2.Template:
    """Compile `text` once; raises `jinja2.TemplateSyntaxError` when it is malformed.

    Example::

        compile_template("Answer: {{ question }}").render(question="2+2?")
    """
    return _ENV.from_string(text)


@lru_cache(maxsize=1024)
def _variables(text: str) -> frozenset[str]:
    return frozenset(meta.find_undeclared_variables(_ENV.parse(text)))


def template_variables(text: str) -> set[str]:
    """The names a template reads from its row (variables it does not set itself).

    Example: `template_variables("{{ a }} {% for x in b %}{{ x }}{% endfor %}") == {"a", "b"}`.
    """
    return set(_variables(text))


def render(text: str, row: Mapping[str, Any]) -> str:
    """Render template `text` with the columns of `row` as variables.

    Raises `jinja2.UndefinedError` when the template reads a column `row` lacks, and
    `jinja2.exceptions.SecurityError` when it reaches outside the sandbox.
    """
    return compile_template(text).render(row)


def syntax_error(text: str) -> tuple[int, str] | None:
    """None if `text` compiles, else (line inside the template, Jinja's message)."""
    try:
        compile_template(text)
    except jinja2.TemplateSyntaxError as exc:
        return exc.lineno, exc.message or "syntax error"
    return None


def check_syntax(text: str) -> str | None:
    """None if `text` is a valid template, else a message naming the line inside it.

    Example: `check_syntax("{{ x ")` returns
    "template syntax error on line 1 of the template: unexpected end of template, ..."
    """
    error = syntax_error(text) or loader_tag(text)
    if error is None:
        return None
    line, message = error
    return f"template syntax error on line {line} of the template: {message}"


# Tags that read another template by name: they need a loader, and synthc has none.
_LOADER_TAGS = {
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
    nodes.Extends: "extends",
}


def loader_tag(text: str) -> tuple[int, str] | None:
    """(line, message) for the first `{% include %}`, `{% import %}` or `{% extends %}`:
    templates have no loader, so these could only fail when the first row renders."""
    for node in _ENV.parse(text).find_all(tuple(_LOADER_TAGS)):
        tag = _LOADER_TAGS[type(node)]
        return node.lineno, (
            f"{{% {tag} %}} reads another template, but templates have no loader; "
            "write the text into this template instead"
        )
    return None
