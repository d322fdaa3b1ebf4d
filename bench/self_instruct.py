"""Novelty filtering speed: synthc's NoveltyPool against plain all-pairs ROUGE-L loops.

Builds pools of instruction-like tasks (word lists, seeded) and a stream of candidates
(half fresh tasks, half near-copies of pool items), then, in one run:

1. synthc's `NoveltyPool.check` (inverted-index F1 bound, bit-parallel LCS);
2. all-pairs with rouge_score: Alpaca's loop, pool pre-tokenised once, one
   `rouge_scorer._score_lcs` per pool item (pure-Python dynamic programme), then the
   maximum (Alpaca keeps it, and the most similar item, for every candidate);
3. all-pairs with synthc's own bit-parallel LCS (no pruning): the speed of the LCS
   alone, so the pruning's share of the speedup is visible.

The all-pairs loops check a subsample of the candidates (they are slow); rates are per
candidate. Every candidate checked by an all-pairs loop must get the same verdict from
the pool, or the benchmark fails. Prints medians of --repeat runs.

    .venv/bin/python bench/self_instruct.py                     # pools 1k and 10k
    .venv/bin/python bench/self_instruct.py --pools 10000 --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
from rouge_score import rouge_scorer

from synthc.steps._novelty import NoveltyPool, rouge_l_f1, rouge_tokens

VERBS = [
    "write",
    "explain",
    "list",
    "describe",
    "compare",
    "summarise",
    "classify",
    "translate",
    "generate",
    "suggest",
    "rewrite",
    "outline",
    "draft",
    "create",
    "give",
    "name",
    "identify",
    "find",
    "calculate",
    "convert",
]
ADJECTIVES = [
    "short",
    "detailed",
    "formal",
    "casual",
    "funny",
    "persuasive",
    "simple",
    "technical",
    "friendly",
    "brief",
    "creative",
    "clear",
    "concise",
    "polite",
]
NOUNS = [
    "email",
    "story",
    "poem",
    "essay",
    "recipe",
    "function",
    "letter",
    "tweet",
    "summary",
    "headline",
    "review",
    "plan",
    "guide",
    "list",
    "question",
    "answer",
    "slogan",
    "riddle",
    "joke",
    "dialogue",
]
FIELDS = [
    "climate",
    "ocean",
    "weather",
    "learning",
    "breakfast",
    "transport",
    "history",
    "market",
    "interview",
    "space",
    "work",
    "party",
    "energy",
    "brain",
    "coffee",
    "business",
    "time",
    "media",
    "hiking",
    "cars",
    "chess",
    "volcanoes",
    "revolution",
    "security",
    "sleep",
    "gardening",
    "music",
    "complaints",
    "water",
    "plants",
    "taxes",
    "fashion",
    "football",
    "cooking",
    "painting",
    "dogs",
    "trains",
    "bridges",
    "robots",
    "vaccines",
    "deserts",
    "islands",
]
ASPECTS = [
    "costs",
    "risks",
    "benefits",
    "origins",
    "future",
    "myths",
    "basics",
    "ethics",
    "rules",
    "tools",
    "habits",
    "trends",
    "data",
    "safety",
    "design",
    "limits",
]
ACTIONS = [
    "improve",
    "fix",
    "reduce",
    "plan",
    "measure",
    "learn",
    "organise",
    "explain",
    "choose",
    "compare",
    "avoid",
    "prepare",
]
EXTRAS = [
    "for a ten year old",
    "in three sentences",
    "using simple words",
    "with an example",
    "in the style of a pirate",
    "for a busy manager",
    "in under fifty words",
    "as a numbered list",
    "for a newsletter",
    "that rhymes",
    "for beginners",
    "in a formal tone",
    "and explain why",
    "step by step",
]


def _topic(rng: np.random.Generator) -> str:
    return f"the {rng.choice(ASPECTS)} of {rng.choice(FIELDS)}"


def make_task(rng: np.random.Generator) -> str:
    """One instruction-like task, e.g. "Write a short poem about the risks of coffee."."""
    shape = int(rng.integers(0, 4))
    if shape == 0:
        text = f"{rng.choice(VERBS)} a {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} about {_topic(rng)}"
    elif shape == 1:
        text = f"how can I {rng.choice(ACTIONS)} {_topic(rng)} when working on {rng.choice(FIELDS)}"
    elif shape == 2:
        text = f"what is the difference between {_topic(rng)} and {_topic(rng)}"
    else:
        text = f"given a {rng.choice(NOUNS)} on {rng.choice(FIELDS)}, {rng.choice(VERBS)} {_topic(rng)}"
    for _ in range(int(rng.integers(0, 3))):
        text += f" {rng.choice(EXTRAS)}"
    return text[0].upper() + text[1:] + ("?" if shape in (1, 2) else ".")


def make_tasks(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [make_task(rng) for _ in range(count)]


def near_copy(text: str, rng: np.random.Generator) -> str:
    """A light edit of `text`: one word dropped or one word added."""
    words = text.rstrip(".").split()
    if rng.random() < 0.5 and len(words) > 3:
        del words[int(rng.integers(1, len(words)))]
    else:
        words.insert(int(rng.integers(1, len(words) + 1)), "please")
    return " ".join(words) + "."


def candidates(pool: list[str], count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    fresh = make_tasks(count - count // 2, seed + 1000)
    copies = [near_copy(pool[int(rng.integers(len(pool)))], rng) for _ in range(count // 2)]
    mixed = fresh + copies
    order = rng.permutation(len(mixed))
    return [mixed[i] for i in order]


def rouge_score_all_pairs(pool: list[str], threshold: float) -> Callable[[str], bool]:
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    tokenised = [scorer._tokenizer.tokenize(text) for text in pool]

    def novel(text: str) -> bool:
        tokens = scorer._tokenizer.tokenize(text)
        scores = [rouge_scorer._score_lcs(tokens, item).fmeasure for item in tokenised]
        return max(scores) <= threshold

    return novel


def bitparallel_all_pairs(pool: list[str], threshold: float) -> Callable[[str], bool]:
    tokenised = [rouge_tokens(text) for text in pool]

    def novel(text: str) -> bool:
        tokens = rouge_tokens(text)
        return max(rouge_l_f1(tokens, item) for item in tokenised) <= threshold

    return novel


def pool_checker(pool: NoveltyPool) -> Callable[[str], bool]:
    """synthc's verdict on a candidate (the pool itself is left unchanged)."""
    return lambda text: pool.check(text).novel


def timed(check: Callable[[str], bool], texts: list[str]) -> tuple[float, list[bool]]:
    """(candidates per second, verdicts)."""
    started = time.perf_counter()
    verdicts = [check(text) for text in texts]
    return len(texts) / (time.perf_counter() - started), verdicts


def run_pool(size: int, args: argparse.Namespace) -> dict[str, float]:
    pool_texts = make_tasks(size, seed=size)
    texts = candidates(pool_texts, args.candidates, seed=size + 1)
    sample = texts[:: max(1, len(texts) // args.sample)][: args.sample]
    rates: dict[str, list[float]] = {"pool": [], "rouge_score": [], "bitparallel": []}
    for _ in range(args.repeat):
        pool = NoveltyPool(pool_texts, max_rouge_l=args.threshold)
        rate, pool_verdicts = timed(pool_checker(pool), texts)
        rates["pool"].append(rate)
        rate, reference = timed(rouge_score_all_pairs(pool_texts, args.threshold), sample)
        rates["rouge_score"].append(rate)
        rate, own = timed(bitparallel_all_pairs(pool_texts, args.threshold), sample)
        rates["bitparallel"].append(rate)
        fast = [pool_verdicts[texts.index(text)] for text in sample]
        if fast != reference or own != reference:
            sys.exit(f"pool {size}: verdicts differ from all-pairs ROUGE-L: benchmark invalid")
    medians = {name: statistics.median(values) for name, values in rates.items()}
    medians["agree"] = len(sample)
    medians["rejected"] = sum(not v for v in pool_verdicts) / len(texts)
    medians["lcs_per_candidate"] = pool.verified / len(texts)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--candidates", type=int, default=2000, help="checked by the pool")
    parser.add_argument("--sample", type=int, default=20, help="checked by all-pairs loops")
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"max_rouge_l {args.threshold}, {args.candidates} candidates (half near-copies), "
          f"all-pairs on {args.sample} of them, median of {args.repeat}")  # fmt: skip
    header = f"{'pool':>7} {'synthc/s':>10} {'rouge_score/s':>14} {'bitpar/s':>10} "
    print(header + f"{'speedup':>8} {'vs bitpar':>9} {'LCS/cand':>9} {'rejected':>9} agree")
    for size in args.pools:
        m = run_pool(size, args)
        print(
            f"{size:>7} {m['pool']:>10.0f} {m['rouge_score']:>14.2f} {m['bitparallel']:>10.1f} "
            f"{m['pool'] / m['rouge_score']:>7.0f}x {m['pool'] / m['bitparallel']:>8.0f}x "
            f"{m['lcs_per_candidate']:>9.1f} {m['rejected']:>8.0%} {int(m['agree'])}/{int(m['agree'])}"
        )


if __name__ == "__main__":
    main()
