"""`synthc cache stats` and `gc`: what the cache holds, and removing only what no build uses."""

from __future__ import annotations

from pathlib import Path

from llm_server import LLMTestServer
from test_generate import ANSWERS, run, write

from synthc.cache_admin import cache_gc, cache_stats


def test_stats_count_entries_hits_and_references(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    path = write(tmp_path, server, {"answers": ANSWERS}, rows=3)
    run(path)
    stats = cache_stats(path)
    assert (stats.entries, stats.referenced, stats.calls, stats.cache_hits) == (6, 6, 6, 0)
    run(path, force=True)
    again = cache_stats(path)
    assert (again.calls, again.cache_hits, again.hit_rate) == (6, 6, 1.0)
    assert "6 from the cache (100%)" in again.describe()


def test_gc_removes_only_entries_no_current_output_uses(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    path = write(tmp_path, server, {"answers": ANSWERS}, rows=3)
    run(path)
    path.write_text(path.read_text().replace("Write about", "Describe"))
    run(path)
    assert cache_stats(path).entries == 12

    dry = cache_gc([path], dry_run=True)
    assert (dry.removed, cache_stats(path).entries) == (6, 12)

    done = cache_gc([path])
    assert (done.removed, done.kept) == (6, 6)
    sent = server.stats.total
    run(path, force=True)
    assert server.stats.total == sent  # everything the build needs is still cached


def test_stats_and_gc_count_the_other_recipes_of_the_folder(
    tmp_path: Path, server: LLMTestServer, cache_dir: Path
) -> None:
    path = write(tmp_path, server, {"answers": ANSWERS}, rows=3)
    other = tmp_path / "other.yaml"
    other.write_text(path.read_text().replace("Write about", "Describe"))
    run(path)
    run(other)
    stats = cache_stats(path)
    assert (stats.entries, stats.referenced, stats.referenced_by_others) == (12, 6, 6)
    assert "6 more by other (same folder); 0 unreferenced" in stats.describe()

    assert cache_gc([path]).removed == 0  # the other recipe's paid calls stay
    sent = server.stats.total
    run(other, force=True)
    assert server.stats.total == sent
