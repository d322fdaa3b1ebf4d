"""recipe.lock: what each step was built from and what it produced.

Written atomically (temp file, fsync, rename) after each step's Parquet output is on
disk, so the lock never names data that does not exist. Commit it with the recipe.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from synthc.errors import StoreError
from synthc.store.atomic import atomic_write_text

LOCK_FORMAT_VERSION = 1


@dataclass(frozen=True)
class LockEntry:
    """One step's record in the lock."""

    kind: str
    fingerprint: str  # hash(config_fingerprint, upstream data versions)
    config_fingerprint: str  # hash(kind, impl version, resolved config, model identity, files)
    config: Mapping[str, Any]  # resolved config, kept so `plan` can say which key changed
    model: str | None  # model identity string, None for steps that call no model
    files: Mapping[str, str]  # referenced file (as written) -> sha256
    upstream: Mapping[str, str]  # upstream step -> data version it was built from
    data_version: str
    rows: int
    columns: tuple[str, ...]
    seconds: float = 0.0
    built_at: str = ""
    failures: int = 0  # rows whose model calls failed; a step with failures stays stale
    stats: Mapping[str, Any] = field(default_factory=dict)  # calls, cache_hits, tokens, cost_usd
    checks: tuple[Mapping[str, Any], ...] = ()  # gate results
    models: Mapping[str, str] = field(default_factory=dict)  # teacher, judge, ... -> identity
    # params for calls to each model named besides `model:` (by name as written)
    model_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["columns"] = list(self.columns)
        data["checks"] = [dict(c) for c in self.checks]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LockEntry:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        values["columns"] = tuple(values.get("columns", ()))
        values["checks"] = tuple(values.get("checks", ()))
        return cls(**values)


@dataclass(frozen=True)
class LockState:
    """Everything the compiler needs to know about previous builds."""

    steps: Mapping[str, LockEntry] = field(default_factory=dict)
    # file path -> {"size", "mtime_ns", "sha256"}: lets a build skip re-hashing unchanged files
    file_hints: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # export target (as written) -> {"step", "data_version", "format", "settings", "sha256"}:
    # what the file held when synthc wrote it, so a stale or edited export is rewritten
    exports: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def read_lock(path: Path) -> LockState:
    """Read a lock file; a missing file is an empty state."""
    if not path.exists():
        return LockState()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise StoreError(
            f"{path}: cannot read the lock file ({exc}). Delete it to rebuild every step "
            "(cached model calls are kept)."
        ) from exc
    if data.get("synthc_lock") != LOCK_FORMAT_VERSION:
        raise StoreError(
            f"{path}: lock format {data.get('synthc_lock')!r} is not {LOCK_FORMAT_VERSION}; "
            "delete it to rebuild (cached model calls are kept)."
        )
    steps = {name: LockEntry.from_json(entry) for name, entry in data.get("steps", {}).items()}
    return LockState(
        steps=steps, file_hints=data.get("file_hints", {}), exports=data.get("exports", {})
    )


def write_lock(path: Path, state: LockState, recipe_name: str) -> None:
    """Write the lock atomically: a reader sees the old file or the new one, never half."""
    payload = {
        "synthc_lock": LOCK_FORMAT_VERSION,
        "recipe": recipe_name,
        "steps": {name: state.steps[name].to_json() for name in sorted(state.steps)},
        "file_hints": {k: dict(v) for k, v in sorted(state.file_hints.items())},
    }
    if state.exports:
        payload["exports"] = {k: dict(v) for k, v in sorted(state.exports.items())}
    text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write_text(path, text)
