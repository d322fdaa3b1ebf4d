"""Parse YAML while remembering where every key, value and list item was written.

PyYAML's constructed data forgets positions, so we compose the node tree first, walk
it to record positions by dotted recipe path ("steps.answers.n", "exports.final.0"),
reject duplicate keys (PyYAML silently keeps the last one), and only then construct
the plain Python data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from synthc.errors import Location, Problem

# Values a recipe may hold once YAML aliases are expanded; validation walks every one.
MAX_VALUES = 1_000_000


class PositionLoader(yaml.SafeLoader):
    """A SafeLoader that also yields the composed node, so positions can be read."""


@dataclass
class Parsed:
    """The result of `parse_yaml`: data plus positions.

    `positions` holds the most useful place for each path: the value for scalars, the
    key for mappings and lists (their value starts on the next line in block style).
    `key_positions` holds where each mapping key is written, for "unknown field" errors.
    `literal_starts` holds where the first content line of each `|` block scalar is, so
    a problem on line N of a multi-line template can point at its real line.
    """

    data: Any
    positions: dict[str, Location] = field(default_factory=dict)
    key_positions: dict[str, Location] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    literal_starts: dict[str, Location] = field(default_factory=dict)
    source_lines: list[str] = field(default_factory=list, repr=False)
    # Collection nodes already walked: a YAML alias (`*name`) reuses its anchor's node,
    # and walking it again for every alias is exponential ("billion laughs").
    walked: set[int] = field(default_factory=set, repr=False)


def join_path(parent: str, child: str | int) -> str:
    """The dotted path of `child` inside `parent` ("" is the document root)."""
    return f"{parent}.{child}" if parent else str(child)


def parse_yaml(text: str, file: str) -> Parsed:
    """Parse `text` (the contents of `file`, as the user named it) with positions.

    Syntax errors and duplicate keys come back as problems (data is None when the text
    is not YAML at all).
    """
    try:
        return _parse(text, file)
    except yaml.MarkedYAMLError as exc:
        return Parsed(data=None, problems=[_syntax_problem(exc, file)])
    except yaml.reader.ReaderError as exc:
        return Parsed(data=None, problems=[_reader_problem(exc, text, file)])
    except RecursionError:
        message = "the recipe is nested too deeply to read"
        return Parsed(data=None, problems=[Problem(Location(file, 1, 1), "", message)])


def _parse(text: str, file: str) -> Parsed:
    loader = PositionLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Parsed(data=None)
        too_big = _size_problem(node, file)
        if too_big:
            return Parsed(data=None, problems=[too_big])
        parsed = Parsed(data=None, positions={"": _location(file, node.start_mark)})
        parsed.source_lines = text.splitlines()
        _walk(node, "", file, parsed)
        parsed.data = loader.construct_document(node)
        return parsed
    finally:
        loader.dispose()


def _reader_problem(exc: yaml.reader.ReaderError, text: str, file: str) -> Problem:
    """A character YAML refuses (control characters): say which, and where."""
    before = text[: exc.position]
    line = before.count("\n") + 1
    col = exc.position - (before.rfind("\n") + 1) + 1
    message = f"not valid YAML: character {exc.character:#06x} is not allowed ({exc.reason})"
    return Problem(Location(file, line, col), "", message)


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    location = _location(file, mark) if mark else Location(file, 1, 1)
    what = exc.problem or "syntax error"
    if exc.context:
        what = f"{what} ({exc.context}"
        if exc.context_mark and exc.context_mark is not mark:
            what += f" at line {exc.context_mark.line + 1}"
        what += ")"
    return Problem(location, "", f"not valid YAML: {what}")


def _location(file: str, mark: yaml.Mark) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


class _Unbounded(Exception):
    """Raised while measuring a document that contains itself through an alias."""


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """How many values the document has once every alias is expanded (memoised per node)."""
    if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        return 1
    if id(node) in open_nodes:
        raise _Unbounded
    if id(node) not in sizes:
        open_nodes.add(id(node))
        children: list[yaml.Node] = (
            [child for pair in node.value for child in pair]
            if isinstance(node, yaml.MappingNode)
            else list(node.value)
        )
        sizes[id(node)] = 1 + sum(_expanded_size(child, sizes, open_nodes) for child in children)
        open_nodes.discard(id(node))
    return sizes[id(node)]


def _size_problem(node: yaml.Node, file: str) -> Problem | None:
    """Refuse documents that aliases make infinite or huge, before anything expands them."""
    try:
        size = _expanded_size(node, {}, set())
    except _Unbounded:
        message = "an alias refers to a mapping or list that contains it; recipes must be finite"
        return Problem(Location(file, 1, 1), "", message)
    if size > MAX_VALUES:
        message = (
            f"the recipe holds more than {MAX_VALUES:,} values once aliases are expanded; "
            "put large data in a file and read it with a seed step's `path`"
        )
        return Problem(Location(file, 1, 1), "", message)
    return None


def _walk(node: yaml.Node, path: str, file: str, parsed: Parsed) -> None:
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        if id(node) in parsed.walked:
            return  # an alias of a node walked already: its positions are the anchor's
        parsed.walked.add(id(node))
    if isinstance(node, yaml.MappingNode):
        _walk_mapping(node, path, file, parsed)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            item_path = join_path(path, index)
            parsed.positions[item_path] = _location(file, item.start_mark)
            _walk(item, item_path, file, parsed)


def _walk_mapping(node: yaml.MappingNode, path: str, file: str, parsed: Parsed) -> None:
    seen: dict[str, Location] = {}
    for key_node, value_node in node.value:
        key_at = _location(file, key_node.start_mark)
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor` keys are resolved by the constructor
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
            text = key_node.value if isinstance(key_node, yaml.ScalarNode) else "a collection"
            message = f"keys must be text; quote this one: '{text}'"
            parsed.problems.append(Problem(key_at, path, message))
            continue
        key = key_node.value
        child = join_path(path, key)
        if key in seen:
            first = seen[key]
            message = f"duplicate key '{key}' (first written at line {first.line}, col {first.col})"
            parsed.problems.append(Problem(key_at, child, message))
            continue
        seen[key] = key_at
        parsed.key_positions[child] = key_at
        if isinstance(value_node, yaml.ScalarNode):
            parsed.positions[child] = _location(file, value_node.start_mark)
            if value_node.style == "|":
                _record_literal(value_node, child, file, parsed)
        else:
            parsed.positions[child] = key_at
        _walk(value_node, child, file, parsed)


def _record_literal(node: yaml.ScalarNode, path: str, file: str, parsed: Parsed) -> None:
    """Remember where a `|` block's text starts: the line after the indicator."""
    index = node.start_mark.line + 1
    if index < len(parsed.source_lines):
        line = parsed.source_lines[index]
        indent = len(line) - len(line.lstrip(" "))
        parsed.literal_starts[path] = Location(file, index + 1, indent + 1)
