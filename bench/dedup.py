"""MinHash dedup at scale: synthc's vectorised path next to datasketch's plain one.

Generates N short records (~50 words from a Zipf-distributed vocabulary), a tenth of
them near-copies of another record with 1-3 word edits (substitute, insert, delete),
then measures in one run:

1. signatures/s, datasketch's plain path: per record ``MinHash(128)`` and one
   ``update`` per word 3-gram, on a subsample (it is too slow for all N), extrapolated;
2. signatures/s, synthc ``signatures`` over all N records, sha1 (datasketch-identical)
   and xxh3 shingle hashes, by wall clock and by process CPU time (run with
   POLARS_MAX_THREADS=1 for one core's rate; the CPU figure stays meaningful on a
   machine shared with other work, where wall-clock rates drop);
3. end-to-end ``dedup`` time (exact pass, signatures, LSH, exact-Jaccard verification,
   union-find), peak RSS above the RSS before the call, per record;
4. recall on the planted pairs whose true Jaccard (word 3-grams) is >= the threshold:
   the share of such pairs that dedup does not keep both of.

Medians over --repeat runs. Targets (issue 5): >= 10x the plain path, recall >= 0.95,
<= 1 KB per record beyond the data.

    .venv/bin/python bench/dedup.py                      # 100,000 records, 3 repeats
    .venv/bin/python bench/dedup.py --records 20000 --repeat 1
    POLARS_MAX_THREADS=1 .venv/bin/python bench/dedup.py --records 50000   # one core
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import psutil
from datasketch import MinHash

from synthc.quality.dedup import dedup
from synthc.quality.minhash import Permutations, signatures
from synthc.quality.text import normalise, word_ngrams

THRESHOLD = 0.7


def make_corpus(records: int, seed: int = 0) -> tuple[list[str], list[tuple[int, int]]]:
    """Texts and the planted (original, copy) index pairs."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocabulary = np.array(["".join(rng.choice(letters, rng.integers(3, 9))) for _ in range(30_000)])
    ranks = np.minimum(rng.zipf(1.3, size=records * 60), len(vocabulary)) - 1
    lengths = rng.integers(40, 61, size=records)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    words = vocabulary[ranks]
    texts = [" ".join(words[starts[i] : starts[i + 1]]) for i in range(records)]
    copies = records // 10
    pairs: list[tuple[int, int]] = []
    targets = rng.choice(records, size=copies, replace=False)
    sources = rng.choice(records, size=copies)
    for target, source in zip(targets.tolist(), sources.tolist(), strict=True):
        if source == target:
            continue
        texts[target] = _edit(texts[source], rng, vocabulary)
        pairs.append((source, target))
    return texts, pairs


def _edit(text: str, rng: np.random.Generator, vocabulary: np.ndarray) -> str:
    words = text.split()
    for _ in range(int(rng.integers(1, 4))):
        position, operation = int(rng.integers(len(words))), int(rng.integers(3))
        if operation == 0:
            words[position] = str(rng.choice(vocabulary))
        elif operation == 1:
            words.insert(position, str(rng.choice(vocabulary)))
        elif len(words) > 1:
            del words[position]
    return " ".join(words)


def plain_datasketch(normalised: list[str]) -> float:
    """Seconds for datasketch's per-record, per-shingle update path."""
    start = time.perf_counter()
    for text in normalised:
        sketch = MinHash(num_perm=128, seed=1)
        for shingle in word_ngrams(text, 3):
            sketch.update(shingle.encode("utf-8"))
    return time.perf_counter() - start


def peak_rss_during(work: Callable[[], Any]) -> tuple[Any, float, int]:
    """(result, seconds, peak RSS above the starting RSS in bytes), sampling every 5 ms."""
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    return result, seconds, max(peak, process.memory_info().rss) - baseline


def recall(
    texts: list[str], pairs: list[tuple[int, int]], kept_rows: set[int]
) -> tuple[float, int]:
    normalised = normalise(
        [t for pair in pairs for t in (texts[pair[0]], texts[pair[1]])]
    ).to_list()
    eligible = 0
    caught = 0
    for k, (a, b) in enumerate(pairs):
        sa, sb = word_ngrams(normalised[2 * k], 3), word_ngrams(normalised[2 * k + 1], 3)
        if len(sa & sb) / len(sa | sb) < THRESHOLD:
            continue
        eligible += 1
        caught += not (a in kept_rows and b in kept_rows)
    return caught / max(eligible, 1), eligible


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--plain-sample", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    texts, pairs = make_corpus(args.records)
    frame = pl.DataFrame({"_id": np.arange(args.records), "text": texts})
    normalised = normalise(frame.get_column("text"))
    data_bytes = frame.estimated_size()
    print(
        f"{args.records:,} records, {len(pairs):,} planted near-copies, {data_bytes / 2**20:.1f} MiB of data"
    )
    perms = Permutations.create(128, seed=1)
    sample = normalised.head(args.plain_sample).to_list()

    # Warm up imports (scipy, sklearn-free LSH tuning) so RSS measures the work, not modules.
    dedup(frame.head(100), "text", threshold=THRESHOLD)
    runs: dict[str, list[float]] = {}
    memory: list[int] = []
    outcome: tuple[pl.DataFrame, pl.DataFrame] | None = None
    for _ in range(args.repeat):
        runs.setdefault("plain", []).append(len(sample) / plain_datasketch(sample))
        for mode in ("sha1", "xxh3"):
            start, cpu = time.perf_counter(), time.process_time()
            signatures(normalised, 3, perms, mode)
            runs.setdefault(mode, []).append(args.records / (time.perf_counter() - start))
            runs.setdefault(f"{mode}_cpu", []).append(args.records / (time.process_time() - cpu))
        outcome, seconds, peak = peak_rss_during(lambda: dedup(frame, "text", threshold=THRESHOLD))
        runs.setdefault("dedup", []).append(seconds)
        memory.append(peak)
        _, seconds, _ = peak_rss_during(
            lambda: dedup(frame, "text", threshold=THRESHOLD, shingle_hash="xxh3")
        )
        runs.setdefault("dedup_xxh3", []).append(seconds)

    assert outcome is not None
    kept, matches = outcome
    found, eligible = recall(texts, pairs, set(kept.get_column("_id").to_list()))
    report(args, runs, memory, found, eligible, matches)


def report(
    args: argparse.Namespace,
    runs: dict[str, list[float]],
    memory: list[int],
    found: float,
    eligible: int,
    matches: pl.DataFrame,
) -> None:
    plain = statistics.median(runs["plain"])
    print(f"medians over {args.repeat} run(s)")
    print(
        f"datasketch plain MinHash.update: {plain:12,.0f} signatures/s "
        f"(measured on {args.plain_sample:,} records; {args.records / plain:.1f} s extrapolated to {args.records:,})"
    )
    for mode in ("sha1", "xxh3"):
        rate, cpu_rate = statistics.median(runs[mode]), statistics.median(runs[f"{mode}_cpu"])
        print(
            f"synthc signatures ({mode}):       {rate:12,.0f} signatures/s  {rate / plain:5.1f}x plain"
            f"  ({cpu_rate:,.0f}/s of process CPU time: one core's rate on a shared machine)"
        )
    for key, label in (("dedup", "sha1"), ("dedup_xxh3", "xxh3")):
        seconds = statistics.median(runs[key])
        print(
            f"dedup end to end ({label}):        {seconds:8.2f} s  ({args.records / seconds:,.0f} records/s, {args.records / plain / seconds:.1f}x plain signatures alone)"
        )
    peak = statistics.median(memory)
    print(
        f"peak RSS above the data during dedup: {peak / 2**20:.1f} MiB = {peak / args.records:.0f} bytes/record"
    )
    reasons = matches.group_by("reason").len().sort("reason").rows()
    print(f"removed: {dict(reasons)}")
    print(f"recall on planted pairs with Jaccard >= {THRESHOLD}: {found:.4f} ({eligible:,} pairs)")


if __name__ == "__main__":
    main()
