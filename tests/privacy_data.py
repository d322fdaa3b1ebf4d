"""Synthetic private customer notes and two generators over them, for the privacy and
balance tests: an echo that copies the note it is shown, and a paraphraser that keeps
the topic (product, issue) but invents the person, the city and the wording."""

from __future__ import annotations

import hashlib
import re

FIRST = ["Alice", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas",
         "Kira", "Lukas"]  # fmt: skip
LAST = ["Moreau", "Schmidt", "Rossi", "Novak", "Garcia", "Jansen", "Kowalski", "Dubois", "Weber",
        "Silva"]  # fmt: skip
CITIES = ["Paris", "Berlin", "Madrid", "Lisbon", "Vienna", "Prague"]
PRODUCTS = ["router", "laptop", "printer", "phone"]
ISSUES = ["keeps restarting", "will not charge", "shows a blank screen", "is very slow"]
# The paraphraser's own people: never a private seed's.
NEW_FIRST = ["Oskar", "Petra", "Quentin", "Rosa", "Stefan", "Tilda", "Umberto", "Vera"]
NEW_LAST = ["Lindqvist", "Horvath", "Costa", "Berg", "Nieminen", "Varga"]
NOTE = re.compile(r"the (\w+) ([a-z ]+)\. Reach")


def _pick(options: list[str], key: str) -> str:
    digest = hashlib.sha256(key.encode()).digest()
    return options[int.from_bytes(digest[:4], "big") % len(options)]


def customer_rows(count: int = 120) -> list[dict[str, str]]:
    """`count` private notes (at most 120), each naming a person, an email and a phone."""
    rows = []
    for i in range(count):
        first, last = FIRST[i % len(FIRST)], LAST[i // len(FIRST)]
        city, product = _pick(CITIES, f"c{i}"), _pick(PRODUCTS, f"p{i}")
        issue = _pick(ISSUES, f"i{i}")
        email = f"{first}.{last}@mail-{i % 7}.example.org".lower()
        phone = f"+49 30 {1000 + i * 37:04d} {(i * 7919) % 10000:04d}"
        note = (
            f"{first} {last} from {city} writes that the {product} {issue}. "
            f"Reach me at {email} or {phone}, I am home after six."
        )
        rows.append({"name": f"{first} {last}", "city": city, "product": product, "note": note})
    return rows


def paraphrase(prompt: str) -> str:
    """A new note on the same topic as the note in `prompt`, about somebody else."""
    found = NOTE.search(prompt)
    product, issue = found.groups() if found else ("device", "has a problem")
    first, last = _pick(NEW_FIRST, prompt + "f"), _pick(NEW_LAST, prompt + "l")
    city = _pick(CITIES, prompt + "c")
    return (
        f"A customer in {city} says the {product} {issue}. "
        f"Contact {first} {last} at {first}.{last}@new.example.com".lower()
    )
