"""What each step removed and why, read from the catalog for the report.

- `filter`: upstream rows minus output rows; examples are upstream rows whose `_id` is
  not in the output (an anti-join).
- `dedup`: `_dedup_matches` grouped by reason (exact, near, against), each example with
  the row it duplicates and their similarity.
- `self_instruct`: `_rejections` grouped by reason.
- any step: `_failures` (rows whose model calls failed) grouped by error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from synthc.report.model import EXAMPLES_PER_REASON, Removal, RemovalGroup, _lit, _name, preview

if TYPE_CHECKING:
    import polars as pl

DEDUP_REASONS = {
    "exact": "exact duplicate (same text after normalisation)",
    "near": "near-duplicate of a kept row",
    "against": "near-copy of a reference",
}

REJECTION_REASONS = {
    "novelty": "not novel: ROUGE-L against the pool above novelty.max_rouge_l",
    "too_short": "too short: fewer than filters.min_words",
    "too_long": "too long: more than filters.max_words",
}
# The column that holds the row's text in `_rejections` / `_failures`, in order of preference.
TEXT_COLUMNS = ("candidate", "instruction", "text", "message")


class Catalog(Protocol):
    """What the removal readers need from the report's store reader."""

    tables: set[str]
    root: Path  # the recipe's folder, against which `against:` files resolve

    def frame(self, sql: str) -> pl.DataFrame: ...

    def rows(self, name: str) -> int | None: ...


def removals(
    catalog: Catalog, name: str, kind: str, inputs: Sequence[str], config: Mapping[str, Any]
) -> tuple[int | None, tuple[RemovalGroup, ...]]:
    """(rows read from `from:`, removal groups) for a built step; rows_in None if not a remover."""
    rows_in: int | None = None
    groups: list[RemovalGroup] = []
    if kind == "filter" and len(inputs) == 1:
        rows_in = catalog.rows(inputs[0])
        groups += _filter_removals(catalog, name, inputs[0], str(config.get("where", "")))
    elif kind == "dedup":
        against = [str(a) for a in config.get("against") or ()]
        sources = [i for i in inputs if i not in against]
        if len(sources) == 1:
            rows_in = catalog.rows(sources[0])
            groups += _dedup_removals(catalog, name, sources[0], against, _columns(config))
    elif kind == "self_instruct":
        groups += _grouped(catalog, "_rejections", name, "reason", labels=REJECTION_REASONS)
    groups += _grouped(catalog, "_failures", name, "error_kind", prefix="model call failed: ")
    return rows_in, tuple(groups)


def _columns(config: Mapping[str, Any]) -> list[str]:
    columns = config.get("columns") or [config.get("column")]
    return [str(c) for c in columns if c]


def _filter_removals(catalog: Catalog, name: str, upstream: str, where: str) -> list[RemovalGroup]:
    if upstream not in catalog.tables:
        return []
    up, out = _name(upstream), _name(name)
    count = catalog.frame(
        f"select count(*) as n from {up} where _id not in (select _id from {out})"
    ).item()
    if not count:
        return []
    sample = catalog.frame(
        f"select * from {up} where _id not in (select _id from {out}) "
        f"order by _id limit {EXAMPLES_PER_REASON}"
    )
    # Columns the condition names come first, so the example shows why it was dropped.
    columns = sorted(sample.columns, key=lambda c: (c not in where, sample.columns.index(c)))
    examples = tuple(
        Removal(str(r["_id"]), preview(r, columns)) for r in sample.iter_rows(named=True)
    )
    return [RemovalGroup(f"where {where} is false or null", int(count), examples)]


def _dedup_removals(
    catalog: Catalog, name: str, upstream: str, against: list[str], columns: list[str]
) -> list[RemovalGroup]:
    if "_dedup_matches" not in catalog.tables:
        return []
    where = f"from _dedup_matches where _step = {_lit(name)}"
    counts = catalog.frame(
        f"select reason, count(*) as n {where} group by reason order by n desc, reason"
    )
    groups = []
    for reason, count in counts.iter_rows():
        sample = catalog.frame(
            f"select removed_id, kept_id, similarity {where} and reason = {_lit(reason)} "
            f"order by similarity desc, removed_id limit {EXAMPLES_PER_REASON}"
        )
        removed = _texts(catalog, [upstream], sample.get_column("removed_id"), columns)
        kept = _texts(catalog, [name, *against], sample.get_column("kept_id"), columns)
        kept.update(_file_texts(catalog.root, against, sample.get_column("kept_id"), columns))
        examples = tuple(
            Removal(
                row_id=str(removed_id),
                text=removed.get(str(removed_id), ""),
                detail=_duplicate_of(similarity, str(kept_id), kept.get(str(kept_id), "")),
            )
            for removed_id, kept_id, similarity in sample.iter_rows()
        )
        groups.append(RemovalGroup(DEDUP_REASONS.get(reason, str(reason)), int(count), examples))
    return groups


def _duplicate_of(similarity: float, kept_id: str, text: str) -> str:
    return f"similarity {similarity:.2f} to {kept_id}" + (f": {text}" if text else "")


def _texts(
    catalog: Catalog, steps: Sequence[str], ids: pl.Series, columns: list[str]
) -> dict[str, str]:
    """Previews of the rows with these `_id`s, looked up in the first of `steps` that has them."""
    wanted = [str(i) for i in ids.to_list() if i is not None]
    found: dict[str, str] = {}
    for step in steps:
        missing = [i for i in wanted if i not in found]
        if not missing or step not in catalog.tables:
            continue
        listed = ", ".join(_lit(i) for i in missing)
        frame = catalog.frame(f"select * from {_name(step)} where _id in ({listed})")
        for row in frame.iter_rows(named=True):
            found[str(row["_id"])] = preview(row, columns or None)
    return found


def _file_texts(
    root: Path, against: list[str], ids: pl.Series, columns: list[str]
) -> dict[str, str]:
    """Previews of reference-file rows named `path#line` (1-based row of the file)."""
    from synthc.datafiles import read_files

    found: dict[str, str] = {}
    for entry in against:
        lines = [str(i) for i in ids.to_list() if str(i).startswith(f"{entry}#")]
        if not lines:
            continue
        try:
            frame = read_files(root, entry)
        except (OSError, ValueError):
            continue  # the file is gone or unreadable: the ids still say where they were
        for row_id in lines:
            line = int(row_id.rpartition("#")[2])
            if 1 <= line <= frame.height:
                found[row_id] = preview(frame.row(line - 1, named=True), columns or None)
    return found


def _grouped(
    catalog: Catalog,
    table: str,
    name: str,
    reason: str,
    prefix: str = "",
    labels: Mapping[str, str] | None = None,
) -> list[RemovalGroup]:
    """Rows of an emitted table for this step, grouped by a reason column."""
    if table not in catalog.tables:
        return []
    frame = catalog.frame(f"select * from {_name(table)} where _step = {_lit(name)}")
    if not frame.height:
        return []
    if reason not in frame.columns:
        return [RemovalGroup(prefix.rstrip(": ") or table, frame.height, _examples(frame))]
    groups = []
    for (value,), part in frame.group_by(reason, maintain_order=True):
        label = (labels or {}).get(str(value), str(value))
        groups.append(RemovalGroup(f"{prefix}{label}", part.height, _examples(part)))
    return sorted(groups, key=lambda g: (-g.count, g.reason))


def _examples(frame: pl.DataFrame) -> tuple[Removal, ...]:
    """The first rows of a rejections or failures table: their text, then the rest."""
    skip = {"reason", "step", "call_key", "row_id", "parent_id", "error_kind"}
    columns = [c for c in frame.columns if c not in skip and not c.startswith("_")]
    text = next((c for c in TEXT_COLUMNS if c in columns), None)
    rest = [c for c in columns if c != text]
    return tuple(
        Removal(
            row_id=str(row.get("row_id") or row.get("_id") or ""),
            text=preview(row, [text]) if text else preview(row, rest),
            detail=preview(row, rest) if text else "",
        )
        for row in frame.head(EXAMPLES_PER_REASON).iter_rows(named=True)
    )
