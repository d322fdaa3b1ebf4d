"""Stage 4, the store: immutable content-named Parquet per step, the lock, the derived
DuckDB catalog, and exports, all written atomically.

Entry points: `Store.for_recipe(recipe)`, `read_lock`/`write_lock`, `write_exports`.
"""

from synthc.store.exports import write_exports
from synthc.store.lock import LockEntry, LockState, read_lock, write_lock
from synthc.store.store import Store

__all__ = ["LockEntry", "LockState", "Store", "read_lock", "write_exports", "write_lock"]
