"""Seeded, deterministic text edits for `augment` (no model): number jitter and noise.

Both take a numpy Generator, which the step seeds per (op, row) through `ctx.rng`, so
the same recipe seed always gives the same edits, whatever else the build does.

`perturb_numbers` changes each number's magnitude and keeps how it is written:

    "Paid $1,250.50 for 3 items (+12% vs 2023)"
 -> "Paid $1,319.01 for 3 items (+10% vs 1632)"     (relative=0.2, one seed)

integers stay integers (zero-padded ones keep their width), decimals keep their number
of decimal places, thousands separators stay where they were used, an explicit sign
stays (jitter changes the magnitude, never the sign), and whatever follows the number
(`%`, `kg`, ` USD`) is untouched. Digits glued to a letter or a dot before them
(`H2O`, `gpt-4`, `v1.2`) are not numbers and are left alone.

Numbers that name rather than measure are kept as written (`keep`, all by default):
years (1900-2100 standing alone), dates (`2024-05-01`, `5/1/24`, `May 5`), clock
times (`9:30`, `7 pm`), versions (`3.11.2`, `version 2.1`), phone numbers
(`+1 555 123 4567`, `(555) 123-4567`) and ids (`#1234`, `order 5512`, 7+ digit runs).
`protected_numbers` lists what was kept and why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NUMBER = re.compile(
    r"(?<![\w.,])"  # not the tail of a word, a version or another number
    r"(?<![^\W\d][-+])"  # nor a suffix such as gpt-4 (but 10-20 is two numbers)
    r"(?P<sign>[-+])?"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)"
    r"(?:\.(?P<frac>\d+))?"
    r"(?!\d|[,.]\d)"  # a number must end here: no partial 1,2345 or 1.2.3
)


_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# Kinds of number left alone, each a pattern over the raw text; a number overlapping a
# match is kept. Years are decided on the number itself (see `_is_year`).
PROTECTED: dict[str, re.Pattern[str] | None] = {
    "years": None,
    "dates": re.compile(
        r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b"
        rf"|\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b"
        rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?![a-z])",
        re.I,
    ),
    "times": re.compile(
        r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s?[ap]\.?m\b\.?)?|\b\d{1,2}\s?[ap]\.?m\b\.?", re.I
    ),
    "versions": re.compile(
        r"\b(?:version|release|v)\s?\d+(?:\.\d+)+\b|\b\d+\.\d+\.\d+(?:\.\d+)*\b", re.I
    ),
    "phones": re.compile(
        r"(?<![\d,.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)\s?|\b\d{2,4}[\s.-])\d{3,4}[\s.-]\d{3,4}"
        r"(?![\d,]|\.\d)"
    ),
    "ids": re.compile(
        r"#\s?\d+|\b(?:id|no\.|nr|order|invoice|account|acct|ticket|ref|reference|sku|zip"
        r"|postcode|pin|serial)[\s#:.]*\d+|(?<![\d,.])\d{7,}(?![\d,.]*\d)",
        re.I,
    ),
}
PROTECTED_KINDS = tuple(PROTECTED)


def _is_year(match: re.Match[str]) -> bool:
    """A plain four-digit integer from 1900 to 2100, not a percentage."""
    text = match.group(0)
    if match.group("sign") or match.group("frac") or len(text) != 4 or "," in text:
        return False
    follows = match.string[match.end() : match.end() + 2].lstrip()
    return 1900 <= int(text) <= 2100 and not follows.startswith("%")


def protected_numbers(text: str, keep: Sequence[str] = PROTECTED_KINDS) -> list[tuple[str, str]]:
    """(number, kind) for each number of `text` that `perturb_numbers` leaves alone.

    Example: ``protected_numbers("Call 555-123-4567 before 5 pm in 2024")`` gives
    ``[("555", "phones"), ("123", "phones"), ("4567", "phones"), ("5", "times"),
    ("2024", "years")]``.
    """
    kinds = _protected_starts(text, keep)
    return [(m.group(0), kinds[m.start()]) for m in NUMBER.finditer(text) if m.start() in kinds]


def _protected_starts(text: str, keep: Sequence[str]) -> dict[int, str]:
    """Where each protected number of `text` starts -> its kind."""
    spans = [
        (found.start(), found.end(), kind)
        for kind in keep
        if (pattern := PROTECTED.get(kind)) is not None
        for found in pattern.finditer(text)
    ]
    kinds: dict[int, str] = {}
    for match in NUMBER.finditer(text):
        kind = next((k for s, e, k in spans if s < match.end() and match.start() < e), None)
        if kind is None and "years" in keep and _is_year(match):
            kind = "years"
        if kind is not None:
            kinds[match.start()] = kind
    return kinds


@dataclass(frozen=True)
class NumberFormat:
    """How a number was written: what `format_number` must reproduce."""

    sign: str  # "", "-" or "+"
    decimals: int  # digits after the point (0: an integer)
    grouped: bool  # thousands separators
    width: int  # integer digits when zero-padded ("007" -> 3), else 0


def parse_number(match: re.Match[str]) -> tuple[float, NumberFormat]:
    """The magnitude of a matched number and its format."""
    integer, fraction = match.group("int"), match.group("frac") or ""
    digits = integer.replace(",", "")
    padded = len(digits) > 1 and digits.startswith("0") and "," not in integer
    fmt = NumberFormat(
        sign=match.group("sign") or "",
        decimals=len(fraction),
        grouped="," in integer,
        width=len(digits) if padded else 0,
    )
    magnitude = float(f"{digits}.{fraction}" if fraction else digits)
    return magnitude, fmt


def format_number(magnitude: float, fmt: NumberFormat) -> str:
    """Write a non-negative `magnitude` the way `fmt` says."""
    spec = f"{',' if fmt.grouped else ''}.{fmt.decimals}f"
    text = format(abs(magnitude), spec)
    if fmt.width:
        text = text.zfill(fmt.width + (fmt.decimals + 1 if fmt.decimals else 0))
    return fmt.sign + text


def jitter(
    magnitude: float,
    rng: np.random.Generator,
    relative: float | None = None,
    absolute: float | None = None,
) -> float:
    """The magnitude moved by up to `relative` of itself or `absolute`, never below 0."""
    step = rng.uniform(-1.0, 1.0)
    if relative is not None:
        return max(0.0, magnitude * (1.0 + relative * step))
    if absolute is not None:
        return max(0.0, magnitude + absolute * step)
    raise ValueError("perturb_numbers needs `relative` or `absolute`")


def perturb_numbers(
    text: str,
    rng: np.random.Generator,
    relative: float | None = None,
    absolute: float | None = None,
    keep: Sequence[str] = PROTECTED_KINDS,
) -> tuple[str, list[tuple[str, str]]]:
    """Jitter every number in `text` but the kinds in `keep`; returns the new text and
    the (old, new) pairs. One draw per jittered number, in order, so protected numbers
    never shift another number's draw.

    Example::

        perturb_numbers("3 apples, 1,200 g", np.random.default_rng(0), relative=0.2)
        # ("3 apples, 1,089 g", [("3", "3"), ("1,200", "1,089")])
    """
    changes: list[tuple[str, str]] = []
    protected = _protected_starts(text, keep) if keep else {}

    def replace(match: re.Match[str]) -> str:
        if match.start() in protected:
            return match.group(0)
        magnitude, fmt = parse_number(match)
        new = format_number(jitter(magnitude, rng, relative, absolute), fmt)
        changes.append((match.group(0), new))
        return new

    return NUMBER.sub(replace, text), changes


# Keys near each other on a QWERTY keyboard, for plausible substitution typos.
_NEIGHBOURS = {
    row[i]: row[max(0, i - 1)] + row[i + 1 : i + 2]
    for row in ("qwertyuiop", "asdfghjkl", "zxcvbnm")
    for i in range(len(row))
}
NOISE_EDITS = ("swap", "delete", "duplicate", "neighbour", "case", "space")


def noise(text: str, rng: np.random.Generator, rate: float) -> str:
    """Character-level noise: each character is edited with probability `rate`.

    An edit is a swap with the next character, a deletion, a duplication, a
    neighbouring-key substitution, a case flip, or (on a space) a doubled or dropped
    space. Example: `noise("hello world", np.random.default_rng(1), 0.2)`.
    """
    if not text or rate <= 0:
        return text
    chosen = rng.random(len(text)) < rate
    kinds = rng.integers(0, len(NOISE_EDITS), len(text))
    picks = rng.random(len(text))
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if not chosen[index]:
            out.append(char)
            index += 1
            continue
        edit = NOISE_EDITS[int(kinds[index])]
        index += _apply_edit(out, text, index, edit, float(picks[index]))
    return "".join(out)


def _apply_edit(out: list[str], text: str, index: int, edit: str, pick: float) -> int:
    """Append the edited character(s) at `index` to `out`; returns characters consumed."""
    char = text[index]
    if char.isspace():
        out.append(char * 2 if pick < 0.5 else "")
        return 1
    if edit == "swap" and index + 1 < len(text) and not text[index + 1].isspace():
        out.append(text[index + 1] + char)
        return 2
    if edit == "delete":
        return 1
    if edit == "duplicate":
        out.append(char * 2)
        return 1
    neighbours = _NEIGHBOURS.get(char.lower(), "")
    if edit == "neighbour" and neighbours:
        new = neighbours[min(int(pick * len(neighbours)), len(neighbours) - 1)]
        out.append(new.upper() if char.isupper() else new)
        return 1
    out.append(char.swapcase())  # "case", and the fallback for edits that do not apply
    return 1
