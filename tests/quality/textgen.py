"""Seeded synthetic text sets for planted-defect tests: templated sentences from word lists."""

from __future__ import annotations

import numpy as np
import polars as pl


def words(text: str) -> list[str]:
    return text.split()


TOPICS: dict[str, list[str]] = {
    "cooking": words(
        "pasta sauce garlic oven skillet basil onion butter flour pepper simmer roast bake whisk dough broth"
    ),
    "travel": words(
        "flight hotel passport luggage train beach museum ticket island harbor route map hostel visa cruise tour"
    ),
    "finance": words(
        "budget loan interest savings invoice stock bond payment credit ledger mortgage tax dividend audit fund"
    ),
    "sport": words(
        "match goal team coach league score stadium referee season player trophy sprint relay tennis rugby pitch"
    ),
    "health": words(
        "doctor vitamin sleep clinic fever therapy muscle diet nurse vaccine symptom dose pulse cardio rest"
    ),
    "garden": words(
        "tomato compost shovel seedling hedge tulip soil mulch orchard pruning hose weed fern bulb lawn trellis"
    ),
    "music": words(
        "guitar chord melody drum rhythm violin concert lyric tempo album piano choir bass verse chorus encore"
    ),
    "tech": words(
        "server laptop router kernel database cache compiler network sensor battery cloud browser script patch pixel"
    ),
}
SUBJECTS = words("i we my friend our team the teacher my sister a neighbour the manager")
VERBS = words("needs wants asks about explains describes compares checks plans reviews mentions")
LINKS = words("and then while also because so but yet after before")


def sentence(rng: np.random.Generator, topic: str, clauses: int) -> str:
    words = TOPICS[topic]
    parts = []
    for index in range(clauses):
        picked = rng.choice(words, size=int(rng.integers(2, 5)), replace=False)
        clause = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} the {' '.join(picked)}"
        parts.append(clause if index == 0 else f"{rng.choice(LINKS)} {clause}")
    return " ".join(parts).capitalize() + "."


def text_set(
    seed: int, count: int = 300, topics: list[str] | None = None, clauses: tuple[int, int] = (1, 4)
) -> list[str]:
    """`count` sentences over `topics` (default all), each of 1-3 clauses (5-25 words)."""
    rng = np.random.default_rng(seed)
    names = topics or list(TOPICS)
    return [
        sentence(rng, str(rng.choice(names)), int(rng.integers(*clauses))) for _ in range(count)
    ]


def collapsed_set(seed: int, count: int = 300) -> list[str]:
    """A mode-collapsed set: three sentences repeated with a word swapped now and then."""
    rng = np.random.default_rng(seed)
    modes = text_set(seed + 1000, count=3)
    out = []
    for _ in range(count):
        words = str(rng.choice(modes)).split()
        if rng.random() < 0.3:
            words[int(rng.integers(len(words)))] = str(rng.choice(TOPICS["tech"]))
        out.append(" ".join(words))
    return out


def planted(rows: int, seed: int = 5) -> pl.DataFrame:
    """Sentences with every 4th row a one-word variant of an earlier row and every 9th an
    exact copy (case and punctuation changed)."""
    rng = np.random.default_rng(seed)
    texts = text_set(seed, count=rows, clauses=(3, 5))
    for row in range(4, rows, 4):
        words = texts[int(rng.integers(row))].split()
        words[int(rng.integers(len(words)))] = str(rng.choice(TOPICS["tech"]))
        texts[row] = " ".join(words)
    for row in range(9, rows, 9):
        texts[row] = texts[int(rng.integers(row))].upper() + "!"
    return pl.DataFrame({"_id": [f"r{i}" for i in range(rows)], "text": texts})


def planted_at_scale(rows: int, seed: int = 7, words: int = 30) -> pl.DataFrame:
    """`planted`'s pattern, vectorised for hundreds of thousands of rows: records of
    `words` words from a 20,000-word vocabulary, every 4th a one-word variant of an
    earlier row (Jaccard of 3-grams ~0.8) and every 9th an exact copy (case changed)."""
    rng = np.random.default_rng(seed)
    vocabulary = np.array([f"w{i}" for i in range(20_000)])
    ids = rng.integers(0, len(vocabulary), (rows, words))
    variants = np.arange(4, rows, 4)
    ids[variants] = ids[(rng.random(len(variants)) * variants).astype(np.int64)]
    ids[variants, rng.integers(0, words, len(variants))] = rng.integers(0, 20_000, len(variants))
    texts = [" ".join(record) for record in vocabulary[ids].tolist()]
    for row in range(9, rows, 9):
        texts[row] = texts[int(rng.integers(row))].upper() + "!"
    return pl.DataFrame({"_id": [f"r{i}" for i in range(rows)], "text": texts})
