"""No-op benchmark: `synthc build` and `synthc plan` on a built recipe of N seed rows.

Prints the median wall time (of >= 5 runs each) of `python -c pass`, a no-op
`python -m synthc build` and `python -m synthc plan`, all in this run, and how far each
is above Python's start-up against the target (<= 0.5 s up to 100,000 seed rows, <= 1 s
at 1,000,000). Also says whether litellm was imported (it must not be: importing it
takes seconds).

    .venv/bin/python bench/noop.py [--runs 7] [--rows 100000]

Exit status 1 when a target is missed or litellm is imported.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl


def target_above_python_s(rows: int) -> float:
    """The issue's targets: 0.5 s above Python's start-up at 10,000 rows, 1 s at 1M."""
    return 0.5 if rows <= 100_000 else 1.0


RECIPE = """\
synthc: 1
name: noop
steps:
  seeds:
    kind: seed
    path: seeds.jsonl
  long:
    kind: filter
    from: seeds
    where: "length(instruction) > 12"
"""


def timed(command: list[str], runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user + sys) of `runs` runs of `command`.

    CPU time is printed too because on a shared machine wall time carries other
    processes' load; CPU time is what this command itself costs.
    """
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def imports_litellm(command: list[str]) -> bool:
    """Run once with -X importtime and look for litellm among the imported modules."""
    done = subprocess.run(
        [command[0], "-X", "importtime", *command[1:]], check=True, capture_output=True, text=True
    )
    return any(
        line.rstrip().endswith(("| litellm", " litellm")) for line in done.stderr.splitlines()
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    target = target_above_python_s(args.rows)
    ok = True
    with tempfile.TemporaryDirectory(prefix="synthc-noop-") as tmp:
        recipe = Path(tmp) / "recipe.yaml"
        recipe.write_text(RECIPE, encoding="utf-8")
        rows = [f"instruction number {i} about {i % 97}" for i in range(args.rows)]
        pl.DataFrame({"instruction": rows}).write_ndjson(Path(tmp) / "seeds.jsonl")
        synthc = [sys.executable, "-m", "synthc"]
        subprocess.run([*synthc, "build", str(recipe)], check=True, capture_output=True)
        python, python_cpu = timed([sys.executable, "-c", "pass"], args.runs)
        print(
            f"python -c pass:        {python:.3f} s wall, {python_cpu:.3f} s CPU (medians of {args.runs})"
        )
        for verb in ("build", "plan"):
            command = [*synthc, verb, str(recipe)]
            seconds, cpu = timed(command, args.runs)
            above = seconds - python
            litellm = imports_litellm(command)
            verdict = "ok" if above <= target and not litellm else "MISSED"
            ok = ok and verdict == "ok"
            print(
                f"synthc {verb} (no-op, {args.rows:,} seed rows): {seconds:.3f} s wall "
                f"({above:+.3f} s above python, target <= {target} s), {cpu:.3f} s CPU; "
                f"litellm imported: {litellm}; {verdict}"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
