"""The house stays honest: no import cycles inside synthc/, no import from a lower
layer to a higher one, and every module listed in docs/architecture.md.

The layer order is written once, in docs/architecture.md ("Layers"); this test reads
it from there. Every import counts, including those inside functions and under
`TYPE_CHECKING`: a type-only import from below is still a dependency a reader has to
hold in their head.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "synthc"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def import_graph() -> dict[str, set[str]]:
    """module -> the synthc modules it imports (a `from pkg import sub` names `pkg.sub`)."""
    modules = all_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name.startswith("synthc"))
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if not node.module.startswith("synthc"):
                    continue
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    edges.add(sub if sub in modules else node.module)
        edges.discard(name)
        graph[name] = {e for e in edges if e in modules}
    return graph


def layers() -> dict[str, int]:
    """Module prefix -> layer number, from the numbered list under '## Layers'."""
    text = ARCHITECTURE.read_text()
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    order: dict[str, int] = {}
    for number, line in enumerate(re.findall(r"^\d+\. \*\*\w[\w ]*\*\*: (.+)$", section, re.M)):
        for prefix in re.findall(r"`(synthc[\w.]*)`", line):
            order[prefix] = number
    assert order, "docs/architecture.md has no '## Layers' list"
    return order


def layer_of(module: str, order: dict[str, int]) -> int:
    best = max((p for p in order if module == p or module.startswith(p + ".")), key=len)
    return order[best]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None (iterative DFS)."""
    colour = dict.fromkeys(graph, 0)  # 0 new, 1 on the stack, 2 done
    for start in sorted(graph):
        if colour[start]:
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        colour[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
                path.pop()
            elif colour[child] == 1:
                return [*path[path.index(child) :], child]
            elif colour[child] == 0:
                colour[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph[child]))))
    return None


def test_no_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_cycle_finder_finds_a_planted_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_every_module_has_a_layer_and_imports_only_downward() -> None:
    order = layers()
    upward = []
    for module, imported in import_graph().items():
        for target in imported:
            if layer_of(target, order) > layer_of(module, order):
                upward.append(f"{module} -> {target}")
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(sorted(upward))


def test_every_module_is_in_the_architecture_table() -> None:
    text = ARCHITECTURE.read_text()
    listed = set(re.findall(r"`(synthc/[\w/]+\.py)`", text))
    missing = sorted(
        str(p.relative_to(ROOT))
        for p in PACKAGE.rglob("*.py")
        if str(p.relative_to(ROOT)) not in listed
    )
    assert not missing, "modules missing from docs/architecture.md: " + ", ".join(missing)


def test_quality_is_pure() -> None:
    """`synthc.quality` works on frames, arrays and plain settings: no recipe objects,
    no client, nothing of synthc's but its own modules and the error types."""
    impure = sorted(
        f"{module} -> {target}"
        for module, imported in import_graph().items()
        if module.startswith("synthc.quality")
        for target in imported
        if not target.startswith("synthc.quality") and target != "synthc.errors"
    )
    assert not impure, "synthc.quality imports from outside itself:\n" + "\n".join(impure)
