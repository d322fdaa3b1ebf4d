"""Scale benchmark: seed -> sql -> filter over 1,000,000 generated rows.

Builds the recipe with `python -m synthc build` in a child process inside a temp dir and
prints the build's wall time and the child's peak RSS next to the target (<= 1.5 GB).

    .venv/bin/python bench/scale.py [--rows 1000000]

Exit status 1 when the peak RSS is over the target.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

TARGET_RSS_BYTES = 1.5 * 1024**3
WORDS = np.array(
    [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "zeta",
        "eta",
        "theta",
        "iota",
        "kappa",
        "lambda",
        "mu",
    ]
)
RECIPE = """\
synthc: 1
name: scale
steps:
  seeds:
    kind: seed
    path: seeds.jsonl
  shaped:
    kind: sql
    from: seeds
    query: "select _id, n, instruction, score, n % 10 as bucket, length(instruction) as chars from seeds"
  kept:
    kind: filter
    from: shaped
    where: "bucket < 8 and score > 0.05"
"""


def make_seeds(path: Path, rows: int, chunk: int = 100_000) -> None:
    """Write `rows` generated seed rows as JSON Lines, a chunk at a time (small peak memory)."""
    rng = np.random.default_rng(0)
    with path.open("wb") as handle:
        for start in range(0, rows, chunk):
            size = min(chunk, rows - start)
            words = WORDS[rng.integers(0, len(WORDS), (size, 12))]
            frame = pl.DataFrame(
                {
                    "n": np.arange(start, start + size),
                    "instruction": [" ".join(row) for row in words.tolist()],
                    "score": rng.random(size),
                }
            )
            frame.write_ndjson(handle)


def peak_child_rss() -> int:
    """Largest peak RSS of any finished child, in bytes (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        make_seeds(args.generate, args.rows)
        return 0
    with tempfile.TemporaryDirectory(prefix="synthc-scale-") as tmp:
        folder = Path(tmp)
        # Generate in a child: a child forked from a big parent inherits its peak RSS.
        generate = [sys.executable, __file__, "--rows", str(args.rows), "--generate"]
        subprocess.run([*generate, str(folder / "seeds.jsonl")], check=True)
        generator_peak = peak_child_rss()
        (folder / "recipe.yaml").write_text(RECIPE, encoding="utf-8")
        command = [sys.executable, "-m", "synthc", "build", str(folder / "recipe.yaml")]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return done.returncode
        peak = peak_child_rss()
        seed_mb = (folder / "seeds.jsonl").stat().st_size / 1024**2
    bound = "<= " if peak == generator_peak else ""  # the generator was the larger child
    print(f"rows: {args.rows:,} (seed file {seed_mb:.0f} MB); steps: seed -> sql -> filter")
    print(f"build wall time: {seconds:.2f} s")
    print(
        f"peak RSS of the build: {bound}{peak / 1024**3:.2f} GB "
        f"(target <= {TARGET_RSS_BYTES / 1024**3:.1f} GB)"
    )
    ok = peak <= TARGET_RSS_BYTES
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
