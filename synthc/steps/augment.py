"""`augment`: new rows that vary a column of each upstream row, linked to their parent.

    variants:
      kind: augment
      from: answers
      keep_original: true                     # the input rows come first, `_op` "original"
      ops:
        - paraphrase: {column: instruction, n: 2}        # LLM, n variants per row
        - translate: {column: instruction, to: [es, de]} # LLM, one per language
        - reformat: {column: response, to: markdown}     # LLM
        - perturb_numbers: {column: response, relative: 0.1}  # seeded, no LLM
        - noise: {column: instruction, rate: 0.03}            # seeded, no LLM

Each variant is its parent row with `column` replaced, plus `_parent_id` (the parent's
`_id`), `_op` ("paraphrase", "translate:es", "reformat:markdown", "perturb_numbers",
"noise") and `_id` = hash(step and op, parent `_id`, sample). LLM variants also carry
`_model` and `_call_key`; number perturbations record their (old, new) pairs as JSON in
`_number_changes`, and the numbers they left alone (years, dates, times, versions,
phones, ids: the op's `keep`) as (number, kind) pairs in `_numbers_kept`. A call's key depends only on its op's rendered prompt, so editing
one op re-pays only that op's calls; seeded ops draw from `ctx.rng(op, parent id)`.
Rows whose column is empty, and seeded edits that change nothing, give no variant.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from synthc.steps._methods import complete, model_name, request, upstream_columns
from synthc.steps._perturb import PROTECTED_KINDS, noise, perturb_numbers, protected_numbers
from synthc.steps.kind import StepContext, StepKind

if TYPE_CHECKING:
    import polars as pl

LLM_OPS = ("paraphrase", "translate", "reformat")
LANGUAGES = {"ar": "Arabic", "de": "German", "en": "English", "es": "Spanish", "fr": "French",
             "hi": "Hindi", "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch",
             "pl": "Polish", "pt": "Portuguese", "ru": "Russian", "sv": "Swedish",
             "tr": "Turkish", "uk": "Ukrainian", "zh": "Chinese"}  # fmt: skip
LINEAGE = ("_parent_id", "_op", "_number_changes", "_numbers_kept", "_model", "_call_key")


def paraphrase_prompt(text: str) -> str:
    return ("Paraphrase the text below. Keep its meaning, facts, numbers and language; "
            "change the wording. Reply with the paraphrase only.\n\nText:\n" + text)  # fmt: skip


def translate_prompt(text: str, language: str) -> str:
    name = LANGUAGES.get(language.lower())
    target = f"{name} ({language})" if name else language
    return (f"Translate the text below into {target}. Keep its meaning and formatting. "
            "Reply with the translation only.\n\nText:\n" + text)  # fmt: skip


def reformat_prompt(text: str, target: str) -> str:
    return (f"Rewrite the text below as {target}. Keep all of its content. "
            "Reply with the rewritten text only.\n\nText:\n" + text)  # fmt: skip


Variant = tuple[int, str, int, str]  # (row index, op label, sample, prompt or new text)


def _llm_jobs(name: str, settings: Mapping[str, Any], texts: list[str | None]) -> list[Variant]:
    """(row, _op, sample, prompt) for every call an LLM op makes."""
    jobs: list[Variant] = []
    for row, text in enumerate(texts):
        if not text:
            continue
        if name == "paraphrase":
            jobs += [
                (row, "paraphrase", k, paraphrase_prompt(text))
                for k in range(int(settings.get("n", 1)))
            ]
        elif name == "translate":
            targets = settings["to"] if isinstance(settings["to"], list) else [settings["to"]]
            jobs += [
                (row, f"translate:{lang}", 0, translate_prompt(text, str(lang))) for lang in targets
            ]
        else:
            jobs.append(
                (row, f"reformat:{settings['to']}", 0, reformat_prompt(text, str(settings["to"])))
            )
    return jobs


def _seeded_jobs(
    ctx: StepContext,
    name: str,
    settings: Mapping[str, Any],
    texts: list[str | None],
    ids: list[str],
) -> tuple[list[Variant], list[str], list[str]]:
    """(row, _op, 0, new text) for every row a seeded op changes, each one's changes, and
    the numbers it left alone (JSON)."""
    jobs: list[Variant] = []
    changes: list[str] = []
    kept: list[str] = []
    keep = list(settings.get("keep", PROTECTED_KINDS))
    for row, text in enumerate(texts):
        if not text:
            continue
        rng = ctx.rng(name, str(settings["column"]), ids[row])
        if name == "noise":
            new, changed = noise(text, rng, float(settings["rate"])), ""
        else:
            new, pairs = perturb_numbers(
                text, rng, settings.get("relative"), settings.get("absolute"), keep
            )
            changed = json.dumps(pairs)
        if new != text:
            jobs.append((row, name, 0, new))
            changes.append(changed)
            kept.append(json.dumps(protected_numbers(text, keep) if keep else []))
    unchanged = sum(1 for text in texts if text) - len(jobs)
    if unchanged:
        why = "no number it may change" if name == "perturb_numbers" else "the edit changed nothing"
        ctx.reporter.warning(
            f"{ctx.name}: {name} on '{settings['column']}': {unchanged} of {len(texts)} row(s) "
            f"gave no variant ({why})"
        )
    return jobs, changes, kept


def _variants(
    ctx: StepContext, frame: pl.DataFrame, index: int, op: Mapping[str, Any], salt: str
) -> pl.DataFrame:
    ((name, settings),) = op.items()
    column = str(settings["column"])
    if column not in frame.columns:
        known = ", ".join(c for c in frame.columns if not c.startswith("_"))
        raise ValueError(
            f"ops[{index}].{name}.column: '{column}' is not a column of the input; it has {known}"
        )
    texts = [None if v is None else str(v) for v in frame.get_column(column).to_list()]
    ids = frame.get_column("_id").to_list()
    extra: dict[str, list[Any]] = {}
    if name in LLM_OPS:
        model = model_name(ctx)
        jobs = _llm_jobs(name, settings, texts)
        results = complete(
            ctx, [request(ctx, model, p, sample=k, row_id=ids[r]) for r, _, k, p in jobs]
        )
        ok = [i for i, result in enumerate(results) if result.ok]
        jobs = [(jobs[i][0], jobs[i][1], jobs[i][2], results[i].text or "") for i in ok]
        extra = {"_model": [model] * len(jobs), "_call_key": [results[i].call_key for i in ok]}
    else:
        jobs, changes, kept = _seeded_jobs(ctx, name, settings, texts, ids)
        if name == "perturb_numbers":
            extra = {"_number_changes": changes, "_numbers_kept": kept}
    return _frame(ctx, frame, column, jobs, extra, salt)


def _frame(
    ctx: StepContext,
    frame: pl.DataFrame,
    column: str,
    jobs: Sequence[Variant],
    extra: Mapping[str, list[Any]],
    salt: str,
) -> pl.DataFrame:
    import polars as pl

    from synthc.rows import derived_row_ids

    parents = frame.drop([c for c in LINEAGE if c in frame.columns])
    picked = parents[[row for row, *_ in jobs]] if jobs else parents.clear()
    parent_ids = picked.get_column("_id").to_list()
    labels = [f"{salt}:{label}" for _, label, _, _ in jobs]
    samples = [k for *_, k, _ in jobs]
    ids = [derived_row_ids(ctx.name + ":" + label, [pid], k)[0]
           for label, pid, k in zip(labels, parent_ids, samples, strict=True)]  # fmt: skip
    return picked.with_columns(
        pl.Series("_id", ids, dtype=pl.String),
        pl.Series(column, [text for *_, text in jobs], dtype=pl.String),
        pl.Series("_parent_id", parent_ids, dtype=pl.String),
        pl.Series("_op", [label for _, label, _, _ in jobs], dtype=pl.String),
        *[pl.Series(name, values, dtype=pl.String) for name, values in extra.items()],
    )


def _salts(ops: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per op, what keeps its row ids apart from other ops': kind and column, plus a
    count when the same kind works on the same column twice (not the op's position, so
    adding an op leaves the others' ids alone)."""
    seen: Counter[str] = Counter()
    salts = []
    for op in ops:
        ((name, settings),) = op.items()
        base = f"{name}:{settings['column']}"
        seen[base] += 1
        salts.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return salts


def run(ctx: StepContext) -> pl.DataFrame:
    import polars as pl

    frame = ctx.input()
    ops = list(ctx.config["ops"])
    parts = []
    if ctx.config.get("keep_original", True):
        originals = frame.drop([c for c in LINEAGE if c in frame.columns])
        parts.append(
            originals.with_columns(
                pl.lit(None, dtype=pl.String).alias("_parent_id"), pl.lit("original").alias("_op")
            )
        )
    for index, (op, salt) in enumerate(zip(ops, _salts(ops), strict=True)):
        parts.append(_variants(ctx, frame, index, op, salt))
    out = pl.concat(parts, how="diagonal_relaxed") if parts else frame.clear()
    return out.select(_order(out.columns))


def _order(names: Sequence[str]) -> list[str]:
    data = [c for c in names if c != "_id" and c not in LINEAGE]
    return ["_id", *data, *[c for c in LINEAGE if c in names]]


def columns(
    config: Mapping[str, Any], inputs: Mapping[str, Sequence[str] | None]
) -> list[str] | None:
    """Upstream columns plus `_parent_id`, `_op` and the lineage the ops add."""
    upstream = upstream_columns(inputs)
    if upstream is None:
        return None
    names = set()
    for op in config.get("ops") or []:
        names |= set(op)
    lineage = ["_parent_id", "_op"]
    if "perturb_numbers" in names:
        lineage += ["_number_changes", "_numbers_kept"]
    if names & set(LLM_OPS):
        lineage += ["_model", "_call_key"]
    return _order([*[c for c in upstream if c not in LINEAGE], *lineage])


KIND = StepKind(
    name="augment",
    version=2,
    run=run,
    defaults={"keep_original": True},
    columns=columns,
    calls_model=True,
)
