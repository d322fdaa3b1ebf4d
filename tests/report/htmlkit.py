"""A tiny HTML reader for the report tests (stdlib html.parser): what a user's browser
would find in the page, without a DOM library."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    parents: list[str] = field(default_factory=list)  # "tag#id" of each open ancestor

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def inside(self, tag_id: str) -> bool:
        return tag_id in self.parents


class _Collector(HTMLParser):
    VOID = frozenset({"meta", "link", "br", "img", "input", "hr", "line", "rect", "path"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.stack: list[tuple[str, Element]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        element = Element(
            tag, values, parents=[f"{t}#{e.attrs.get('id', '')}" for t, e in self.stack]
        )
        self.elements.append(element)
        if tag not in self.VOID:
            self.stack.append((tag, element))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        parents = [f"{t}#{e.attrs.get('id', '')}" for t, e in self.stack]
        self.elements.append(Element(tag, values, parents=parents))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        for _, element in self.stack:
            element.text += data


def parse(html: str) -> list[Element]:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.elements


def gate_rows(html: str) -> list[Element]:
    """The body rows of the table with id `gates`."""
    return [
        e for e in parse(html) if e.tag == "tr" and e.inside("table#gates") and "gate" in e.classes
    ]


def svgs_in_plots(html: str) -> list[Element]:
    return [e for e in parse(html) if e.tag == "svg" and e.inside("section#plots")]


URL_ATTRIBUTE = re.compile(
    r"""\b(?:src|href|action|xlink:href)\s*=\s*["']?\s*(?:https?:)?//""", re.I
)


def external_references(html: str) -> list[str]:
    """Anything that would make a browser reach the network to show the page."""
    found = [m.group(0) for m in URL_ATTRIBUTE.finditer(html)]
    found += re.findall(r"<script\b[^>]*\bsrc\s*=", html, re.I)
    found += re.findall(r"@import|url\(\s*['\"]?(?:https?:)?//", html, re.I)
    found += re.findall(r"<link\b[^>]*rel=[\"']?stylesheet", html, re.I)
    return found
