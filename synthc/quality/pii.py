"""Offline PII detection: a small table of regular expressions, each with a checksum or
parser that rejects look-alikes, and a normal form so a value written two ways
("+1 (415) 555-0100", "415.555.0100") is recognised as one.

Detectors run in table order and a later detector never claims characters an earlier
one matched, so a card number is not also reported as a phone number. The table is
deliberately small and precise (checksums for cards and IBANs, `ipaddress` for IPs);
names and street addresses need a language model and are out of its reach.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

PII_SCHEMA = {
    "row": pl.Int64,
    "kind": pl.String,
    "value": pl.String,
    "normalised": pl.String,
    "start": pl.Int64,
    "end": pl.Int64,
}


@dataclass(frozen=True)
class Detector:
    """One kind of PII: where it may be, whether a match is real, its normal form."""

    kind: str
    pattern: re.Pattern[str]
    valid: Callable[[str], bool]
    normal: Callable[[str], str]


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def luhn_valid(number: str) -> bool:
    """The Luhn checksum every payment card number satisfies (13 to 19 digits)."""
    digits = [int(d) for d in _digits(number)]
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to 10..35, mod 97 == 1."""
    compact = re.sub(r"\s", "", text).upper()
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _ip_valid(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _phone_valid(text: str) -> bool:
    return 9 <= len(_digits(text)) <= 15


def _phone_normal(text: str) -> str:
    """The last ten digits: "+1 415 555 0100" and "(415) 555-0100" are one number, and so
    are "+44 20 7946 0958" and "020 7946 0958"."""
    return _digits(text)[-10:]


DETECTORS: tuple[Detector, ...] = (
    Detector(
        "email",
        re.compile(
            r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
        ),
        lambda _text: True,
        str.lower,
    ),
    Detector(
        "iban",
        re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
        iban_valid,
        lambda text: re.sub(r"\s", "", text).upper(),
    ),
    Detector(
        "card_number", re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"), luhn_valid, _digits
    ),
    Detector(
        "us_ssn",
        re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])"),
        lambda _text: True,
        _digits,
    ),
    Detector(
        "ipv4",
        re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"),
        _ip_valid,
        lambda text: str(ipaddress.ip_address(text)),
    ),
    Detector(
        "ipv6",
        re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:|:){2,7}(?:[0-9A-Fa-f]{1,4}|:)(?![\w:])"),
        _ip_valid,
        lambda text: str(ipaddress.ip_address(text)),
    ),
    Detector(
        "phone",
        re.compile(
            r"(?<![\w+.-])(?:"
            r"\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,6}"  # international: +49 30 1234 5678
            r"|\(\d{3}\) ?\d{3}[ .-]\d{4}|\d{3}([ .-])\d{3}\1\d{4}"  # North American
            r"|0[1-9]\d{0,3}(?:[ .-]\d{2,4}){2,4}"  # national, with its trunk 0: 020 7946 0958
            r")(?![\w.-])"
        ),
        _phone_valid,
        _phone_normal,
    ),
)


def find_pii(texts: Sequence[str | None]) -> pl.DataFrame:
    """Every PII entity in `texts`: row, kind, value as written, normalised value and
    character span. Example::

        find_pii(["mail bob@example.org"])  # one row: kind "email", normalised "bob@example.org"
    """
    rows: list[tuple[int, str, str, str, int, int]] = []
    for index, text in enumerate(texts):
        if text:
            rows.extend((index, *entity) for entity in entities(text))
    return pl.DataFrame(rows, schema=PII_SCHEMA, orient="row")


def entities(text: str) -> list[tuple[str, str, str, int, int]]:
    """(kind, value, normalised, start, end) of each entity in one text, by position."""
    taken: list[tuple[int, int]] = []
    found: list[tuple[str, str, str, int, int]] = []
    for detector in DETECTORS:
        for match in detector.pattern.finditer(text):
            start, end = match.span()
            if any(start < stop and begin < end for begin, stop in taken):
                continue
            value = match.group()
            if detector.valid(value):
                taken.append((start, end))
                found.append((detector.kind, value, detector.normal(value), start, end))
    return sorted(found, key=lambda entity: entity[3])
