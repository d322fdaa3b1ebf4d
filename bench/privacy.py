"""The privacy gate at scale: 100,000 output rows against 10,000 private seeds.

Seeds are customer notes (a person, an email, a phone number, a city, a product and an
issue); a fifth are held out. Outputs are paraphrases on the same topics about invented
people, with 1% echoes of a used seed planted among them. One run measures:

1. `evaluate_privacy` end to end (PII in outputs and seeds, exact / 13-gram / MinHash
   copies, TF-IDF + SVD embeddings, the membership test): seconds, output rows/s and
   peak RSS above the RSS before the call;
2. a brute-force reference on a subsample of outputs: nearest used and held-out seed
   by a plain loop over every seed (O(n*m) dot products), and 13-gram copies by Python
   set intersection against every seed; its agreement with synthc's figures on the
   same rows, and its time extrapolated to all outputs;
3. recall of the planted echoes (copies and replayed PII found).

    .venv/bin/python bench/privacy.py                        # 100,000 x 10,000
    .venv/bin/python bench/privacy.py --outputs 20000 --seeds 2000 --subsample 200
"""

from __future__ import annotations

import argparse
import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import psutil

from synthc.quality.canaries import canary_matches, random_suffixes
from synthc.quality.privacy import evaluate_privacy, membership_test, ngram_copies
from synthc.quality.text import normalise, word_ngrams

CITIES = ["Paris", "Berlin", "Madrid", "Lisbon", "Vienna", "Prague", "Oslo", "Rome"]
PRODUCTS = ["router", "laptop", "printer", "phone", "tablet", "camera"]
ISSUES = ["keeps restarting", "will not charge", "shows a blank screen", "is very slow",
          "makes a loud noise", "lost all settings"]  # fmt: skip
SYLLABLES = ["ka", "lo", "mi", "ren", "sa", "to", "vi", "del", "mar", "an", "ber", "no"]


def _name(rng: np.random.Generator) -> str:
    return "".join(rng.choice(SYLLABLES, int(rng.integers(2, 4)))).capitalize()


def seed_notes(count: int, rng: np.random.Generator) -> list[str]:
    notes = []
    for i in range(count):
        first, last = _name(rng), _name(rng)
        note = (
            f"{first} {last} from {rng.choice(CITIES)} writes that the {rng.choice(PRODUCTS)} "
            f"{rng.choice(ISSUES)}. Reach me at {first}.{last}{i}@mail.example.org "
            f"or +49 30 {int(rng.integers(1000, 9999))} {int(rng.integers(1000, 9999))}, "
            "I am home after six."
        )
        notes.append(note.lower() if i % 2 else note)
    return notes


def outputs_for(
    used: list[str], count: int, rng: np.random.Generator
) -> tuple[list[str], np.ndarray]:
    """Paraphrases with 1% echoes of used seeds; returns texts and the echo positions."""
    texts = []
    for _ in range(count):
        first = _name(rng)
        texts.append(
            f"A customer in {rng.choice(CITIES)} says the {rng.choice(PRODUCTS)} "
            f"{rng.choice(ISSUES)}. Contact {first} at {first.lower()}@new.example.com"
        )
    echoes = rng.choice(count, size=count // 100, replace=False)
    for position in echoes:
        texts[position] = f"Sure, here it is: {used[int(rng.integers(len(used)))]}"
    return texts, np.sort(echoes)


def peak_rss_during(work: Callable[[], Any]) -> tuple[Any, float, int]:
    """(result, seconds, peak RSS above the starting RSS in bytes), sampled every 10 ms."""
    process = psutil.Process()
    baseline = peak = process.memory_info().rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            done.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    clock = time.perf_counter()
    try:
        result = work()
    finally:
        seconds = time.perf_counter() - clock
        done.set()
        sampler.join()
    return result, seconds, max(peak, process.memory_info().rss) - baseline


def brute_force_nearest(queries: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Smallest 1 - q.p per query by a plain loop over every point."""
    out = np.empty(len(queries))
    for i, query in enumerate(queries):
        best = np.inf
        for point in points:
            best = min(best, 1.0 - float(np.dot(query, point)))
        out[i] = best
    return out


def brute_force_ngram_rows(outputs: list[str], seeds: list[str], n: int = 13) -> set[int]:
    theirs = [word_ngrams(t, n) for t in normalise(seeds).to_list()]
    flagged = set()
    for i, text in enumerate(normalise(outputs).to_list()):
        mine = word_ngrams(text, n)
        if any(mine & other for other in theirs):
            flagged.add(i)
    return flagged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--outputs", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=10_000)
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--subsample", type=int, default=500)
    parser.add_argument("--canaries", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    notes = seed_notes(args.seeds, rng)
    held = np.array([hashlib.sha256(n.encode()).digest()[0] < 256 * args.holdout for n in notes])
    used = [n for n, h in zip(notes, held, strict=True) if not h]
    holdout = [n for n, h in zip(notes, held, strict=True) if h]
    outputs, echoes = outputs_for(used, args.outputs, rng)
    print(f"{len(outputs):,} outputs; {len(used):,} used + {len(holdout):,} held-out private seeds")

    found, seconds, peak = peak_rss_during(lambda: evaluate_privacy(outputs, used, holdout))
    print(f"evaluate_privacy: {seconds:.1f} s, {len(outputs) / seconds:,.0f} output rows/s, "
          f"peak RSS +{peak / 2**20:.0f} MiB")  # fmt: skip
    details = found.details
    print("figures: " + ", ".join(f"{k} {v:.4g}" for k, v in details.items()))
    copied = set(found.matches.filter(~found.matches["kind"].str.starts_with("pii:"))["output_row"])
    replayed = set(
        found.matches.filter(found.matches["kind"].str.starts_with("pii:"))["output_row"]
    )
    echo_set = set(echoes.tolist())
    print(f"planted echoes: {len(echo_set)}; found as copies {len(echo_set & copied)}, "
          f"with replayed PII {len(echo_set & replayed)}; other rows flagged {len(copied - echo_set)}")  # fmt: skip

    # brute force on a subsample, same embeddings as the gate used
    from synthc.quality.embeddings import tfidf_svd

    sample = np.sort(rng.choice(len(outputs), size=args.subsample, replace=False))
    vectors = tfidf_svd()([*outputs, *used, *holdout])
    out_v, used_v = vectors[: len(outputs)], vectors[len(outputs) : len(outputs) + len(used)]
    hold_v = vectors[len(outputs) + len(used) :]
    clock = time.perf_counter()
    to_used = brute_force_nearest(out_v[sample], used_v)
    to_hold = brute_force_nearest(out_v[sample], hold_v)
    brute_nn = time.perf_counter() - clock
    fast = membership_test(out_v[sample], used_v, hold_v)
    worst = max(
        np.abs(fast.used_distance - to_used).max(), np.abs(fast.holdout_distance - to_hold).max()
    )
    print(f"brute-force nearest neighbours, {args.subsample} outputs x {len(notes):,} seeds: "
          f"{brute_nn:.1f} s ({args.subsample / brute_nn:,.0f} rows/s, ~{brute_nn * len(outputs) / args.subsample / 60:.0f} min "
          f"for all); max |difference| {worst:.2e}")  # fmt: skip
    subset = [outputs[i] for i in sample]
    clock = time.perf_counter()
    brute_rows = brute_force_ngram_rows(subset, notes)
    brute_ng = time.perf_counter() - clock
    fast_rows = set(ngram_copies(subset, notes)["output_row"].to_list())
    print(f"brute-force 13-gram copies on the subsample: {brute_ng:.1f} s "
          f"({args.subsample / brute_ng:,.0f} rows/s); same rows flagged: {brute_rows == fast_rows} "
          f"({len(brute_rows)})")  # fmt: skip

    canaries(outputs, args.canaries, rng)


def canaries(outputs: list[str], count: int, rng: np.random.Generator) -> None:
    """Plant `count` canary suffixes into as many outputs (a generator that copied the
    canary rows it was shown) and find them, beside a word-set brute force."""
    suffixes = random_suffixes(rng, count)
    planted = rng.choice(len(outputs), size=count, replace=False)
    texts = list(outputs)
    for canary, row in enumerate(planted.tolist()):
        texts[row] = f"{texts[row]} {suffixes[canary]}"
    clock = time.perf_counter()
    found = canary_matches(texts, suffixes)
    seconds = time.perf_counter() - clock
    caught = {(int(r), int(c)) for r, c in found.select("output_row", "canary").iter_rows()}
    expected = {(int(row), canary) for canary, row in enumerate(planted.tolist())}
    clock = time.perf_counter()
    words = [set(suffix.split()) for suffix in suffixes]
    brute = {
        (row, canary)
        for row, text in enumerate(texts)
        for canary, suffix_words in enumerate(words)
        if suffix_words & set(text.lower().split())
    }
    brute_s = time.perf_counter() - clock
    print(f"canaries: {count} planted in {len(texts):,} outputs; caught {len(caught & expected)} "
          f"of {count}, other matches {len(caught - expected)}; {seconds:.2f} s "
          f"({len(texts) / seconds:,.0f} rows/s); brute force {brute_s:.2f} s, "
          f"same pairs: {brute == caught}")  # fmt: skip


if __name__ == "__main__":
    main()
