"""`synthc preview`: a step and its ancestors on the first rows, in memory; the lock,
the catalog and the exports stay byte-identical, and calls go through the cache."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from test_recipes import localise

from synthc.recipe.load import load_recipe
from synthc.store.store import Store


def synthc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "synthc", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def state_bytes(recipe: Path) -> dict[str, bytes | None]:
    """Every file a build writes: the lock, the catalog, the step outputs, the exports."""
    store = Store.for_recipe(load_recipe(recipe))
    files = [recipe.with_suffix(".lock"), store.catalog_path]
    files += sorted(store.workdir.rglob("*.parquet")) + sorted((recipe.parent / "out").glob("*"))
    return {str(f): f.read_bytes() if f.exists() else None for f in files}


def test_preview_of_questions_writes_nothing_and_pays_only_changed_prompts(tmp_path, server):
    recipe = localise("quickstart", tmp_path, server.base_url)
    before = state_bytes(recipe)
    done = synthc("preview", str(recipe), "-s", "questions", "--limit", "3", "-f", "jsonl")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == 3 * 2  # three topics, n: 2
    assert {r["topic"] for r in rows} == {
        json.loads(line)["topic"] for line in (tmp_path / "data/support_topics.jsonl").read_text().splitlines()[:3]
    }  # fmt: skip
    assert "question" in rows[0] and "_call_key" not in rows[0]
    assert server.stats.total == 6
    assert state_bytes(recipe) == before  # nothing built: still no lock, catalog or export
    assert not Store.for_recipe(load_recipe(recipe)).workdir.exists()

    synthc("build", str(recipe))  # the echo server's answers fail the distinct_n gate: no export
    built = state_bytes(recipe)
    assert built[str(recipe.with_suffix(".lock"))] is not None
    sent = server.stats.total
    again = synthc("preview", str(recipe), "-s", "questions", "--limit", "3")
    assert again.returncode == 0 and server.stats.total == sent  # all from the cache
    assert state_bytes(recipe) == built

    data = yaml.safe_load(recipe.read_text())
    data["steps"]["questions"]["prompt"] += " Be polite."
    recipe.write_text(yaml.safe_dump(data, sort_keys=False))
    edited = synthc("preview", str(recipe), "-s", "questions", "--limit", "3")
    assert edited.returncode == 0
    assert server.stats.total == sent + 6  # only the changed prompts of the 3 rows
    assert state_bytes(recipe) == built


def test_preview_of_an_unknown_step_suggests_one(tmp_path, server):
    recipe = localise("quickstart", tmp_path, server.base_url)
    done = synthc("preview", str(recipe), "-s", "questons")
    assert done.returncode != 0
    assert "unknown step 'questons' (did you mean 'questions'?)" in done.stderr
