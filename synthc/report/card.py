"""A Hugging Face–style dataset card (README.md) for a built recipe, written by
`synthc export` next to the exported files.

The card has YAML front matter the Hub reads (`pretty_name`, `size_categories`,
`task_categories` where the columns or step kinds make it clear, `tags`, `configs`
pointing at the exported files), then what the data is, how it was made (the recipe,
the lineage, the models by identity), row counts, the quality gates with their figures,
and the files. It never contains a key: models appear by identity, and any `api_key`
written in the recipe is redacted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthc.report.model import redact_key_values, redact_recipe
from synthc.store.exports import PLAIN_FORMATS

if TYPE_CHECKING:
    from synthc.recipe.load import Recipe
    from synthc.store.lock import LockEntry, LockState
    from synthc.store.store import Store

# The Hub's size buckets: upper bound (exclusive) -> label.
SIZE_CATEGORIES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
)
# One file per exported step goes in `configs` (two formats would double the rows):
# Parquet first, as it keeps the column types.
CONFIG_FORMATS = (".parquet", ".jsonl", ".ndjson", ".csv", ".json")

# What a trainer-format export holds, after its line in the card's file list.
_FORMAT_NOTES = {
    "messages": " (chat `messages`, for SFT)",
    "preference": " (`prompt`/`chosen`/`rejected` pairs, for DPO)",
    "datasets": " (a Hugging Face `datasets` folder, one Parquet file per split)",
}
CARD_MARKER = "<!-- written by synthc export: edit the recipe, not this file -->"
GENERATING_KINDS = frozenset({"generate", "self_instruct", "distill", "augment", "adversarial"})


def dataset_card(
    recipe: Recipe, lock: LockState, store: Store | None = None, card_dir: Path | None = None
) -> str:
    """The dataset card (README.md text) for the recipe's exports as last built.

    `lock` supplies row counts, models and gate results; `store`, when given, one example
    row per exported step. Export paths in `configs` are written relative to `card_dir`
    (the folder the card is written to; default: the recipe's folder). Example::

        text = dataset_card(recipe, store.read_lock(), store, card_dir=recipe.root / "out")
    """
    card_dir = card_dir or recipe.root
    exported = [step for step in recipe.exports if step in lock.steps]
    sections = [
        _front_matter(recipe, lock, exported, card_dir),
        f"# {recipe.name}\n",
        _description(recipe, lock, exported),
        _structure(lock, exported, store),
        _how_made(recipe, lock),
        _row_counts(recipe, lock),
        _quality(recipe, lock),
        _red_team(lock, store),
        _judge_agreement(recipe, lock, store),
        _text_metrics(recipe, lock, exported, store),
        _files(recipe, lock, card_dir),
        CARD_MARKER + "\n",
    ]
    return redact_key_values("\n".join(section for section in sections if section))


def write_card(recipe: Recipe, lock: LockState, store: Store | None = None) -> Path:
    """Write the card as README.md in the folder holding the exports; return its path.

    A README.md synthc did not write (or one in the recipe's own folder) is never
    overwritten: the card goes to DATASET_CARD.md beside it instead. Example::

        path = write_card(recipe, store.read_lock(), store)  # out/README.md
    """
    from synthc.store.atomic import atomic_write_text

    folder = card_folder(recipe)
    target = folder / "README.md"
    foreign = target.exists() and CARD_MARKER not in target.read_text(encoding="utf-8")
    if folder.resolve() == recipe.root.resolve() or foreign:
        target = folder / "DATASET_CARD.md"
    atomic_write_text(target, dataset_card(recipe, lock, store, card_dir=folder))
    return target


def card_folder(recipe: Recipe) -> Path:
    """The deepest folder holding every export file (the recipe's folder without exports)."""
    import os

    files = [
        str((recipe.root / export.path).resolve())
        for exports in recipe.exports.values()
        for export in exports
    ]
    if not files:
        return recipe.root
    return Path(os.path.commonpath([os.path.dirname(f) for f in files]))


def size_category(rows: int) -> str:
    """The Hub's size bucket for a row count: 950 -> "n<1K"."""
    for bound, label in SIZE_CATEGORIES:
        if rows < bound:
            return label
    return "n>1B"


def task_categories(recipe: Recipe, lock: LockState, steps: Sequence[str]) -> list[str]:
    """Hub task categories the exported columns or step kinds make clear; [] when unsure."""
    columns = {c.lower() for step in steps for c in lock.steps[step].columns}
    found = []
    if {"question", "answer"} <= columns or {"question", "context"} <= columns:
        found.append("question-answering")
    if "label" in columns and columns & {"text", "sentence", "instruction"}:
        found.append("text-classification")
    prompts = columns & {"instruction", "prompt", "messages"}
    replies = columns & {"response", "output", "completion", "answer", "chosen"}
    kinds = {s.kind for s in recipe.steps.values()}
    if (prompts and replies) or kinds & GENERATING_KINDS:
        found.append("text-generation")
    return found


def _front_matter(recipe: Recipe, lock: LockState, steps: list[str], card_dir: Path) -> str:
    import yaml

    rows = max((lock.steps[step].rows for step in steps), default=0)
    data: dict[str, Any] = {"pretty_name": recipe.name}
    if recipe.license:
        data["license"] = recipe.license
    data["size_categories"] = [size_category(rows)]
    tasks = task_categories(recipe, lock, steps)
    if tasks:
        data["task_categories"] = tasks
    tags = ["synthetic", "synthc"]
    if any(s.kind == "adversarial" for s in recipe.steps.values()):
        tags.append("red-teaming")
    data["tags"] = tags
    configs = _configs(recipe, steps, card_dir)
    if configs:
        data["configs"] = configs
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return f"---\n{text}---\n"


def _configs(recipe: Recipe, steps: list[str], card_dir: Path) -> list[dict[str, Any]]:
    """One config per exported step (the first is the default), one file each."""
    configs = []
    for index, step in enumerate(steps):
        plain = [e.path for e in recipe.exports[step] if e.format in PLAIN_FORMATS]
        paths = sorted(plain, key=_format_rank)
        if not paths or _format_rank(paths[0]) == len(CONFIG_FORMATS):
            continue
        name = "default" if len(steps) == 1 else step
        config: dict[str, Any] = {"config_name": name}
        if index == 0 and len(steps) > 1:
            config["default"] = True
        relative = _relative(recipe.root / paths[0], card_dir)
        config["data_files"] = [{"split": "train", "path": relative}]
        configs.append(config)
    return configs


def _format_rank(path: str) -> int:
    suffix = Path(path).suffix.lower()
    return CONFIG_FORMATS.index(suffix) if suffix in CONFIG_FORMATS else len(CONFIG_FORMATS)


def _relative(path: Path, folder: Path) -> str:
    import os

    return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()


def _description(recipe: Recipe, lock: LockState, steps: list[str]) -> str:
    lines = ["## Dataset description", ""]
    rows = ", ".join(f"`{step}` ({lock.steps[step].rows:,} rows)" for step in steps)
    lines.append(
        f"A synthetic dataset compiled by synthc from the recipe `{recipe.path.name}`"
        + (f"; it exports {rows}." if rows else "; nothing is exported yet.")
    )
    if recipe.license:
        lines += ["", f"License: `{recipe.license}` (the recipe's `license:`)."]
    described = [(name, s.description) for name, s in recipe.steps.items() if s.description]
    if described:
        lines.append("")
        lines += [f"- **{name}**: {text.strip()}" for name, text in described]
    return "\n".join(lines) + "\n"


def _structure(lock: LockState, steps: list[str], store: Store | None) -> str:
    from synthc.rows import LINEAGE_COLUMNS

    if not steps:
        return ""
    lines = ["## Dataset structure", ""]
    for step in steps:
        entry = lock.steps[step]
        columns = [c for c in entry.columns if c not in LINEAGE_COLUMNS]
        lines.append(f"`{step}` columns: " + ", ".join(f"`{c}`" for c in columns))
        example = _example_row(store, step, entry, columns)
        if example:
            lines += ["", "```json", example, "```"]
        lines.append("")
    return "\n".join(lines)


def _example_row(store: Store | None, step: str, entry: LockEntry, columns: list[str]) -> str:
    """The step's first row the privacy gate did not flag, as JSON; "" without a store or
    when its output is gone."""
    from synthc.errors import StoreError
    from synthc.store.exports import without_flagged_rows

    if store is None:
        return ""
    try:
        frame = store.read_step(step, entry)
        frame = without_flagged_rows(store, step, entry.data_version, frame)
        frame = frame.select(columns).head(1)
    except StoreError:
        return ""
    if not frame.height:
        return ""
    return json.dumps(frame.row(0, named=True), ensure_ascii=False, indent=2, default=str)


def _how_made(recipe: Recipe, lock: LockState) -> str:
    from synthc.report.model import shown_recipe

    lines = ["## How it was made", "", "### Recipe", "", "```yaml"]
    lines += [_redacted(shown_recipe(recipe)).rstrip(), "```", ""]
    lines += ["### Lineage", ""]
    for name, step in recipe.steps.items():
        sources = ", ".join(f"`{s}`" for s in step.inputs)
        lines.append(f"- `{name}` ({step.kind})" + (f" ← {sources}" if sources else ""))
    lines += ["", "### Models", ""]
    models: dict[str, list[str]] = {}
    for name, entry in lock.steps.items():
        for role, identity in models_used(entry):
            models.setdefault(identity, []).append(f"`{name}` ({role})")
    if not models:
        lines.append("No step called a model.")
    for model, uses in sorted(models.items()):
        lines.append(f"- `{model}`: " + ", ".join(sorted(uses)))
    return "\n".join(lines) + "\n"


def models_used(entry: LockEntry) -> list[tuple[str, str]]:
    """(role, model identity) for every model a built step called: its own `model` unless
    a teacher or judges replaced it, then the teacher, student, target, judge(s)."""
    stats: Mapping[str, Any] = entry.stats
    if not (stats.get("calls") or stats.get("cache_hits")):
        return []  # e.g. an augment step with only seeded ops: no call at all
    roles = [
        ("judge" if role.startswith("judges") else role, identity)
        for role, identity in entry.models.items()
    ]
    replaced = (entry.kind == "distill" and "teacher" in entry.models) or (
        entry.kind == "judge" and any(role == "judge" for role, _ in roles)
    )
    if entry.model and not replaced:
        roles.insert(0, ("model", entry.model))
    return list(dict.fromkeys(roles))


def _redacted(text: str) -> str:
    """The recipe as published (see `redact_recipe`)."""
    return redact_recipe(text)


def _row_counts(recipe: Recipe, lock: LockState) -> str:
    lines = ["## Row counts", ""]
    lines.append(
        "| step | kind | rows | model calls | cache hits | cut at max_tokens | cost (USD) |"
    )
    lines.append("|---|---|---:|---:|---:|---:|---:|")
    for name, step in recipe.steps.items():
        entry = lock.steps.get(name)
        if entry is None:
            lines.append(f"| `{name}` | {step.kind} | not built | | | | |")
            continue
        stats: Mapping[str, Any] = entry.stats
        calls = int(stats.get("calls") or 0)
        lines.append(
            f"| `{name}` | {step.kind} | {entry.rows:,} | {calls:,} | "
            f"{int(stats.get('cache_hits') or 0):,} | {int(stats.get('truncated') or 0):,} | "
            f"{float(stats.get('cost_usd') or 0):.4f} |"
        )
    return "\n".join(lines) + "\n"


def _quality(recipe: Recipe, lock: LockState) -> str:
    from synthc.report.gates import gate_results

    gates = [
        gate
        for name, step in recipe.steps.items()
        for gate in gate_results(name, lock.steps.get(name), step.checks)
    ]
    lines = ["## Quality", ""]
    if not gates:
        return "\n".join([*lines, "No quality gates were declared for this dataset.", ""])
    lines += [
        "| step | check | column | figure | threshold | status |",
        "|---|---|---|---:|---|---|",
    ]
    for gate in gates:
        figure = "" if gate.figure is None else f"{gate.figure:.4g}"
        lines.append(
            f"| `{gate.step}` | {gate.kind} | {gate.column or ''} | {figure} | "
            f"{gate.threshold} | {gate.status} |"
        )
    metrics = [
        f"- `{gate.step}` {gate.kind}: " + ", ".join(f"{k} {v:.4g}" for k, v in gate.details)
        for gate in gates
        if gate.details
    ]
    if metrics:
        lines += ["", "Metric figures:", "", *metrics]
    return "\n".join(lines) + "\n"


def _red_team(lock: LockState, store: Store | None) -> str:
    """Attack-success rates of each judged adversarial step, unknown verdicts beside them."""
    import polars as pl

    if store is None:
        return ""
    lines: list[str] = []
    for name, entry in lock.steps.items():
        path = store.aux_tables(name, entry.data_version).get("_attack_success")
        if entry.kind != "adversarial" or path is None:
            continue
        lines += [f"`{name}`:", "", "| category | attacks | judged | succeeded | unknown | rate |",
                  "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for row in pl.read_parquet(path).iter_rows(named=True):
            rate = "n/a" if row["rate"] is None else f"{row['rate']:.1%}"
            lines.append(
                f"| {row['category']} | {row['attacks']} | {row['judged']} | {row['succeeded']} "
                f"| {row['unknown']} | {rate} |"
            )
        lines.append("")
    if not lines:
        return ""
    intro = ("Attack success: the share of judged attacks the target did not refuse; "
             "attacks whose verdict never parsed are counted as unknown, not dropped.")  # fmt: skip
    return "\n".join(["## Red-team results", "", intro, "", *lines])


def _judge_agreement(recipe: Recipe, lock: LockState, store: Store | None) -> str:
    """How the judges of each judge step with several judges agreed, as the report shows."""
    from synthc.report.judges import judge_statistics

    if store is None:
        return ""
    built = {name for name, entry in lock.steps.items() if store.has_step(name, entry)}
    found = judge_statistics(recipe, store, built)
    if not found:
        return ""
    lines = ["## Judge agreement", "",
             "Krippendorff's alpha (interval) over the judges' scores, and Spearman's rho per "
             "pair of judges; below 0.667, or a negative rho, the scores are not to be trusted "
             "as one measure.", "",
             "| step | judges | rows | alpha | Spearman |", "|---|---|---:|---:|---|"]  # fmt: skip
    for item in found:
        flag = " (low)" if item.low else ""
        lines.append(f"| `{item.step}` | {', '.join(item.judges)} | {item.rows} | "
                     f"{item.alpha_text}{flag} | {item.spearman_text()} |")  # fmt: skip
    return "\n".join([*lines, ""])


def _text_metrics(recipe: Recipe, lock: LockState, steps: list[str], store: Store | None) -> str:
    """The report's text metrics for the exported steps (needs the store for the rows)."""
    from synthc.errors import StoreError
    from synthc.report.metrics import METRIC_NAMES
    from synthc.report.plots import step_metrics

    if store is None:
        return ""
    try:
        found = [m for step in steps for m in step_metrics(recipe, store, lock, step)]
    except StoreError:
        return ""
    if not found:
        return ""
    lines = ["### Text metrics", "", "| column | rows | " + " | ".join(METRIC_NAMES) + " |"]
    lines.append("|---|---:|" + "---:|" * len(METRIC_NAMES))
    for metrics in found:
        values = dict(metrics.figures)
        cells = " | ".join(f"{values[n]:.3g}" if n in values else "" for n in METRIC_NAMES)
        lines.append(f"| `{metrics.step}.{metrics.column}` | {metrics.rows:,} | {cells} |")
    against = sorted({m.reference for m in found if m.reference})
    if against:
        lines += ["", "Divergences (JSD) are measured against " + ", ".join(against) + "."]
    return "\n".join(lines) + "\n"


def _files(recipe: Recipe, lock: LockState, card_dir: Path) -> str:
    if not recipe.exports:
        return ""
    lines = ["## Files", ""]
    for step, exports in recipe.exports.items():
        entry = lock.steps.get(step)
        rows = f"{entry.rows:,} rows" if entry else "not built"
        for export in exports:
            path = _relative(recipe.root / export.path, card_dir)
            lines.append(f"- `{path}`: `{step}`, {rows}{_FORMAT_NOTES.get(export.format, '')}")
    lines += [
        "",
        "Text formats (jsonl, json, csv) carry the dataset's columns; Parquet also keeps "
        "synthc's lineage columns (`_id`, `_parent_id`, `_step`, `_model`, `_call_key`).",
    ]
    return "\n".join(lines) + "\n"
