"""No-op benchmark: `synthc build` and `synthc plan` on a built recipe of 100,000 seed rows.

Prints the median wall time (of >= 5 runs each) of `python -c pass`, a no-op
`python -m synthc build` and `python -m synthc plan`, all in this run, and how far each
is above Python's start-up against the target (<= 0.5 s). Also says whether litellm was
imported (it must not be: importing it takes seconds).

    .venv/bin/python bench/noop.py [--runs 7]

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

TARGET_ABOVE_PYTHON_S = 0.5
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
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix="synthc-noop-") as tmp:
        recipe = Path(tmp) / "recipe.yaml"
        recipe.write_text(RECIPE, encoding="utf-8")
        rows = [f"instruction number {i} about {i % 97}" for i in range(100_000)]
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
            verdict = "ok" if above <= TARGET_ABOVE_PYTHON_S and not litellm else "MISSED"
            ok = ok and verdict == "ok"
            print(
                f"synthc {verb} (no-op): {seconds:.3f} s wall ({above:+.3f} s above python, "
                f"target <= {TARGET_ABOVE_PYTHON_S} s), {cpu:.3f} s CPU; "
                f"litellm imported: {litellm}; {verdict}"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
