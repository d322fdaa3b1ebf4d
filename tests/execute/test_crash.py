"""The crash test: a build SIGKILLed at any instant leaves a store the next build recovers.

A four-step recipe over ~200k generated seed rows is first built uninterrupted to get
the reference outputs and the build's duration. Then, trial after trial, a fresh build
runs in a subprocess and is killed at a seeded random moment (the moments are spread
evenly across the measured duration; two copies of the project take turns, so one is
killed while the other recovers). After each kill the on-disk state must be
consistent (the lock names only complete Parquet files, the DuckDB catalog opens
read-only and its views work), and the next build must succeed and reproduce the
reference outputs exactly.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from buildkit import run_build, write_recipe

from synthc.store.store import Store

TRIALS = 20
SEED_ROWS = 200_000
WORDS = [
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
STEPS = {
    "seeds": {"kind": "seed", "path": "seeds.jsonl"},
    "shaped": {
        "kind": "sql",
        "from": "seeds",
        "query": "select _id, n, text, score, n % 7 as bucket, length(text) as chars from seeds",
    },
    "kept": {"kind": "filter", "from": "shaped", "where": "bucket <> 3 and score > 0.1"},
    "final": {
        "kind": "sql",
        "from": "kept",
        "query": "select _id, upper(text) as text, bucket, round(score, 3) as score from kept order by n desc",
    },
}


def build_command(recipe: Path) -> list[str]:
    return [sys.executable, "-m", "synthc", "build", str(recipe)]


def make_project(folder: Path) -> Path:
    rng = np.random.default_rng(1121)
    folder.mkdir(parents=True)
    words = np.array(WORDS)[rng.integers(0, len(WORDS), (SEED_ROWS, 8))]
    seeds = pl.DataFrame(
        {
            "n": np.arange(SEED_ROWS),
            "text": [" ".join(row) for row in words.tolist()],
            "score": rng.random(SEED_ROWS),
        }
    )
    seeds.write_ndjson(folder / "seeds.jsonl")
    return write_recipe(folder, STEPS, name="crash")


def reset(recipe: Path) -> None:
    shutil.rmtree(recipe.parent / ".synthc", ignore_errors=True)
    recipe.with_suffix(".lock").unlink(missing_ok=True)


def check_consistent(recipe: Path, read_outputs: bool = True) -> None:
    """What a killed build leaves: every locked output complete, the catalog readable."""
    store = Store(recipe.parent / ".synthc" / recipe.stem, recipe.with_suffix(".lock"))
    for step, entry in store.read_lock().steps.items():
        path = store.step_path(step, entry.data_version)
        if read_outputs:  # a torn Parquet file has no footer: reading its metadata fails
            assert pq.read_metadata(path).num_rows == entry.rows, step
        else:
            assert path.exists(), step
    if store.catalog_path.exists():
        con = duckdb.connect(str(store.catalog_path), read_only=True)
        try:
            views = con.execute(
                "select view_name from duckdb_views() where not internal"
            ).fetchall()
            for (view,) in views:
                con.execute(f'select count(*) from "{view}"').fetchall()
        finally:
            con.close()


def versions(recipe: Path) -> dict[str, str]:
    state = Store(recipe.parent / ".synthc" / recipe.stem, recipe.with_suffix(".lock")).read_lock()
    return {step: entry.data_version for step, entry in state.steps.items()}


def reference_build(recipe: Path, command: list[str]) -> tuple[dict[str, str], float]:
    """Build from scratch, uninterrupted, in a subprocess: its outputs and its duration.

    The recovery builds run in this process, so matching these outputs also shows the
    build is deterministic across processes.
    """
    reset(recipe)
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    duration = time.perf_counter() - started
    outputs = versions(recipe)
    assert sorted(outputs) == sorted(STEPS)
    return outputs, duration


class KillTrial:
    """A build started now in a subprocess and SIGKILLed `moment` seconds later.

    A timer thread does the killing, so the test can recover the previous trial's
    project meanwhile and the kill still lands on time.
    """

    def __init__(self, command: list[str], moment: float) -> None:
        self.killed = False
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.timer = threading.Timer(moment, self._kill)
        self.timer.start()

    def _kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.killed = True

    def wait(self) -> bool:
        """Wait for the build to end; True if it was killed, False if it finished first."""
        self.timer.join()
        self.process.wait()
        return self.killed


def recover(recipe: Path, reference: dict[str, str], final_rows: int) -> None:
    """Check what the killed build left, then build again and compare with the reference."""
    check_consistent(recipe)
    result, _ = run_build(recipe)  # the next build, in this process
    assert result.exit_code == 0
    assert versions(recipe) == reference  # same data versions: the same rows, in order
    assert not list((recipe.parent / ".synthc" / recipe.stem / "data").glob("*/.*.tmp"))
    check_consistent(recipe, read_outputs=False)
    store = Store(recipe.parent / ".synthc" / recipe.stem, recipe.with_suffix(".lock"))
    assert store.query("select count(*) as n from final", "csv") == f"n\n{final_rows}\n"


@pytest.mark.slow
def test_a_build_killed_at_any_moment_recovers_to_the_same_outputs(tmp_path: Path) -> None:
    first = make_project(tmp_path / "a")
    reference, duration = reference_build(first, build_command(first))
    store = Store(first.parent / ".synthc" / first.stem, first.with_suffix(".lock"))
    final_rows = (
        pl.scan_parquet(store.step_path("final", reference["final"]))
        .select(pl.len())
        .collect()
        .item()
    )
    # Two copies of the project: one build is being killed while the other recovers.
    second = write_recipe(tmp_path / "b", STEPS, name="crash")
    shutil.copy(first.parent / "seeds.jsonl", second.parent / "seeds.jsonl")

    rng = random.Random(20261121)
    moments = [(i + rng.random()) / TRIALS * duration for i in range(TRIALS)]
    rng.shuffle(moments)
    killed, pending = 0, None
    for index, moment in enumerate(moments):
        recipe = (first, second)[index % 2]
        reset(recipe)
        trial = KillTrial(build_command(recipe), moment)
        if pending is not None:
            recover(pending, reference, final_rows)
        was_killed = trial.wait()
        if not was_killed:  # it beat the reference run's time: once more, earlier
            reset(recipe)
            was_killed = KillTrial(build_command(recipe), moment / 2).wait()
        killed += was_killed
        pending = recipe
    assert pending is not None
    recover(pending, reference, final_rows)
    assert killed >= TRIALS * 3 // 4, (
        f"only {killed} of {TRIALS} builds were still running when killed"
    )
    assert final_rows > 100_000


@contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `folder` (root only); skips, saying why, when it cannot."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("full-disk case NOT RUN: mounting a small tmpfs needs root")
    folder.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"full-disk case NOT RUN: cannot mount a tmpfs ({mounted.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_is_one_line_and_the_next_build_recovers(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.jsonl"
    rng = random.Random(7)  # incompressible text: its Parquet output cannot fit in 2 MB
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    seeds.write_text(
        "".join(
            f'{{"n": {i}, "t": "{"".join(rng.choices(letters, k=40))}"}}\n' for i in range(60_000)
        )
    )
    with small_disk(tmp_path / "disk", "2m") as disk:
        steps = {
            "seeds": {"kind": "seed", "path": str(seeds)},
            "copy": {"kind": "sql", "from": "seeds", "query": "select * from seeds"},
        }
        recipe = write_recipe(disk, steps, exports={"copy": ["out/copy.jsonl"]}, name="full")
        command = [sys.executable, "-m", "synthc", "build", str(recipe)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith(f"error: No space left on device while writing {disk}/.synthc/")
        assert last.endswith(
            "; free some space and run again (finished steps and paid calls are kept)"
        )
        check_consistent(recipe)
        assert not [p for p in disk.rglob("*.tmp")], "temp files left behind"
        debug = subprocess.run(
            [sys.executable, "-m", "synthc", "--debug", "build", str(recipe)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert debug.returncode == 2 and "Traceback" in debug.stderr
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        again = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert len((disk / "out" / "copy.jsonl").read_text().splitlines()) == 60_000
        check_consistent(recipe)
