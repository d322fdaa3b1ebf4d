"""`synthc cache stats` and `synthc cache gc`: what the LLM call cache holds, and removing
what no current build uses.

The cache never evicts on its own (every entry is a paid call). A completion is
*referenced* when a step output named by a recipe's lock lists its call key in `_calls`.
The recipes of one folder share `.synthc/` and so the cache: `stats` and `gc` count every
recipe built there (a `.synthc/<name>/` beside a `<name>.lock`), not only the ones named.
`gc` keeps the completions any of them references and removes the others, holding each
one's build lock so no build adds entries while it runs. Embedding vectors (used by
quality gates, recorded in no `_calls`) are always kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthc.llm.cache import CallCache, cache_dir
from synthc.recipe.load import Recipe, load_recipe
from synthc.store.store import Store

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class CacheStats:
    directory: Path
    shared: bool  # SYNTHC_CACHE_DIR points several projects at one cache
    entries: int
    bytes_on_disk: int
    referenced: int  # entries the recipe's current outputs use
    referenced_by_others: int  # entries only other recipes of its folder use
    others: tuple[str, ...]  # those recipes
    calls: int  # calls recorded by the current outputs (cached or sent)
    cache_hits: int
    tokens: int
    usd_paid: float  # cost of the calls that were sent
    usd_saved: float  # cost the cache hits would have had

    @property
    def hit_rate(self) -> float:
        return self.cache_hits / self.calls if self.calls else 0.0

    def describe(self) -> str:
        where = f"{self.directory}" + (" (shared through SYNTHC_CACHE_DIR)" if self.shared else "")
        return "\n".join(
            [
                f"cache:       {where}",
                f"entries:     {self.entries} ({_size(self.bytes_on_disk)} on disk)",
                f"referenced:  {self.referenced} by the current build"
                + (
                    f", {self.referenced_by_others} more by {', '.join(self.others)} (same folder)"
                    if self.others
                    else ""
                )
                + f"; {self.entries - self.referenced - self.referenced_by_others} "
                "unreferenced (`synthc cache gc` removes them)",
                f"last build:  {self.calls} calls, {self.cache_hits} from the cache "
                f"({self.hit_rate:.0%}), {self.tokens} tokens",
                f"cost:        ${self.usd_paid:.4f} paid, ${self.usd_saved:.4f} saved by the cache",
            ]
        )


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _call_frames(store: Store) -> Iterator[pl.DataFrame]:
    """The `_calls` tables of the steps the store's lock names."""
    import polars as pl

    for name, entry in store.read_lock().steps.items():
        path = store.aux_tables(name, entry.data_version).get("_calls")
        if path is not None:
            yield pl.read_parquet(path)


def folder_stores(recipe: Recipe) -> list[Store]:
    """The recipe's store, then those of the other recipes built in its folder: each
    `.synthc/<name>/` with a `<name>.lock` beside the recipe."""
    stores = [Store.for_recipe(recipe)]
    if recipe.state_dir.is_dir():
        for workdir in sorted(recipe.state_dir.iterdir()):
            lock = recipe.root / f"{workdir.name}.lock"
            if (
                workdir.is_dir()
                and workdir.resolve() != recipe.workdir.resolve()
                and lock.is_file()
            ):
                stores.append(Store(workdir, lock, workdir.name))
    return stores


def referenced_keys(stores: Sequence[Store]) -> set[str]:
    """Call keys used by the current outputs of the stores' recipes."""
    keys: set[str] = set()
    for store in stores:
        for frame in _call_frames(store):
            keys.update(frame["call_key"].to_list())
    return keys


def cache_stats(path: str | Path) -> CacheStats:
    """Figures for the cache the recipe at `path` uses. Example::

    print(cache_stats("recipes/quickstart.yaml").describe())
    """
    import polars as pl

    recipe = load_recipe(path)
    directory = cache_dir(recipe.state_dir)
    cache = CallCache(directory)
    try:
        keys = set(cache.keys()) if directory.exists() else set()
    finally:
        cache.close()
    own, *others = folder_stores(recipe)
    frames = list(_call_frames(own))
    referenced = keys & referenced_keys([own])
    by_others = (keys & referenced_keys(others)) - referenced
    calls = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    hits = calls.filter(pl.col("cached")) if calls.height else calls
    sent = calls.filter(~pl.col("cached")) if calls.height else calls
    return CacheStats(
        directory=directory,
        shared=bool(os.environ.get("SYNTHC_CACHE_DIR")),
        entries=len(keys),
        bytes_on_disk=sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
        if directory.exists()
        else 0,
        referenced=len(referenced),
        referenced_by_others=len(by_others),
        others=tuple(store.recipe_name for store in others),
        calls=calls.height,
        cache_hits=hits.height,
        tokens=_sum(calls, "prompt_tokens") + _sum(calls, "completion_tokens"),
        usd_paid=float(_sum(sent, "cost_usd")),
        usd_saved=float(_sum(hits, "cost_usd")),
    )


def _sum(frame: pl.DataFrame, column: str) -> Any:
    if column not in frame.columns or not frame.height:
        return 0
    return frame[column].fill_null(0).sum()


@dataclass(frozen=True)
class GcResult:
    directory: Path
    kept: int
    removed: int
    dry_run: bool


def cache_gc(paths: Sequence[str | Path], dry_run: bool = False) -> GcResult:
    """Remove cache entries that no current output of the given recipes, or of any other
    recipe built in their folders, references.

    All recipes must share one cache. Each recipe's build lock is held meanwhile, so a
    concurrent build waits rather than losing entries it just paid for.
    """
    recipes = [load_recipe(p) for p in paths]
    directories = {cache_dir(r.state_dir).resolve() for r in recipes}
    if len(directories) != 1:
        from synthc.errors import StoreError

        raise StoreError(
            "these recipes use different caches; run `synthc cache gc` once per cache: "
            + ", ".join(str(d) for d in sorted(directories))
        )
    directory = directories.pop()
    stores = {store.workdir: store for r in recipes for store in folder_stores(r)}
    with ExitStack() as locks:
        for store in stores.values():
            locks.enter_context(store.build_lock(wait=False))
        keep = referenced_keys(list(stores.values()))
        cache = CallCache(directory)
        try:
            unreferenced = [k for k in cache.keys() if k not in keep] if directory.exists() else []  # noqa: SIM118
            # Embedding vectors are reused by gates and listed in no `_calls` table: keep
            # them. Only completions (which `get` decodes) are collected.
            stale = [key for key in unreferenced if cache.get(key) is not None]
            if not dry_run:
                for key in stale:
                    cache.delete(key)
            kept = len(cache.keys()) if directory.exists() and not dry_run else None
        finally:
            cache.close()
    return GcResult(directory, kept if kept is not None else len(keep), len(stale), dry_run)
