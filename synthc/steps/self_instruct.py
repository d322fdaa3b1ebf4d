"""`self_instruct`: grow a pool of tasks from seed tasks (Wang et al. 2022, Alpaca).

The pool starts as the upstream rows' `column`. Each round sends ceil(per_round / 10)
requests, each showing `examples` tasks sampled from the pool with `ctx.rng(round,
request)` and asking for up to 10 new ones. Candidates are parsed (numbered lists,
bullets or JSON) and checked in order:

1. word count within `filters.min_words`..`max_words` (3..150);
2. no `filters.blocklist` word or phrase (whole words, case-insensitive);
3. the first character is not punctuation and is ASCII;
4. novelty: ROUGE-L F1 against every pool task at most `novelty.max_rouge_l` (0.7),
   exactly as an all-pairs loop decides it (see `_novelty`), in under a millisecond
   per candidate at a pool of 10,000 (bench/self_instruct.py).

Accepted tasks join the pool at once, so a later candidate of the same round must be
novel against them too. Rounds stop at `rounds`, or when the pool holds `target` tasks.
Every rejected candidate lands in `_rejections` (candidate, reason, max_rouge_l,
most_similar, round). `with_input` / `with_output` add an `input` / `output` column
with one more call per accepted task each. The output holds the new tasks only.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from synthc.steps._methods import complete, model_name, request, with_declared
from synthc.steps._novelty import NoveltyPool
from synthc.steps._tasklist import parse_tasks
from synthc.steps.kind import StepContext, StepKind

if TYPE_CHECKING:
    import polars as pl

    from synthc.llm.calls import CallResult

TASKS_PER_REQUEST = 10
BLOCKLIST = ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files",
             "map", "maps", "draw", "plot", "go to", "video", "audio", "music",
             "flowchart", "diagram")  # fmt: skip
NO_INPUT = "<noinput>"

PROMPT = """\
You are asked to come up with {{ count }} new, diverse task instructions. They will be \
given to a language model, and we will judge how well it completes them.

Requirements: do not repeat the same verb twice, and mix questions with imperative \
instructions. Cover many kinds of task: open-ended generation, classification, \
editing, brainstorming, rewriting, reasoning, extraction, coding. A text-only language \
model must be able to complete each one, so never ask for images, audio, files or \
actions in the world. Each instruction is in English, one or two sentences long, and \
self-contained.

Here are some examples:
{% for example in examples %}
{{ loop.index }}. {{ example }}{% endfor %}

Write {{ count }} new instructions, unlike the examples and unlike each other, as a \
numbered list with one instruction per line and nothing else."""
INPUT_PROMPT = """\
Write a realistic input for the task below: the text, data or question it should be \
applied to. Reply with the input only. If the task needs no input, reply with exactly \
{{ no_input }}.

Task: {{ task }}"""
OUTPUT_PROMPT = """\
Complete the task below as well as you can. Reply with the answer only.

Task: {{ task }}{% if input %}

Input:
{{ input }}{% endif %}"""


@dataclass
class Round:
    """What one round produced: accepted tasks (with their call keys) and rejections."""

    accepted: list[tuple[str, str, int]] = field(default_factory=list)  # text, call key, k
    rejections: list[dict[str, Any]] = field(default_factory=list)


def run(ctx: StepContext) -> pl.DataFrame:
    config = ctx.config
    column = str(config["column"])
    seeds = ctx.input()
    if column not in seeds.columns:
        raise ValueError(
            f"column: '{column}' is not a column of the input; it has {', '.join(seeds.columns)}"
        )
    texts = [str(t) for t in seeds.get_column(column).drop_nulls().to_list()]
    novelty = {**KIND.defaults["novelty"], **(config.get("novelty") or {})}
    pool = NoveltyPool(texts, max_rouge_l=float(novelty["max_rouge_l"]))
    target = config.get("target")
    accepted: list[tuple[str, str, int, int]] = []  # text, call key, k, round
    rejections: list[dict[str, Any]] = []
    for number in range(1, int(config["rounds"]) + 1):
        if target is not None and len(pool) >= int(target):
            break
        found = _round(ctx, pool, number, target)
        accepted += [(text, key, k, number) for text, key, k in found.accepted]
        rejections += found.rejections
        ctx.reporter.message(
            f"{ctx.name}: round {number}: {len(found.accepted)} accepted, "
            f"{len(found.rejections)} rejected; pool {len(pool)}"
        )
    _emit_rejections(ctx, rejections)
    if target is not None and len(pool) < int(target):
        _warn_short(ctx, len(pool), int(target), len(accepted), rejections)
    return _frame(ctx, column, accepted)


def _warn_short(
    ctx: StepContext, pool: int, target: int, accepted: int, rejections: list[dict[str, Any]]
) -> None:
    """Say that the rounds ran out before the pool reached `target`, and why."""
    reasons = Counter(str(r["reason"]) for r in rejections)
    why = ", ".join(f"{n} {reason}" for reason, n in reasons.most_common()) or "none"
    ctx.reporter.warning(
        f"{ctx.name}: target not reached: the pool holds {pool} of {target} tasks after "
        f"{ctx.config['rounds']} round(s) ({accepted} new; rejected: {why}; see _rejections); "
        "raise `rounds` or `per_round`"
    )


def _round(ctx: StepContext, pool: NoveltyPool, number: int, target: Any) -> Round:
    config = ctx.config
    per_round = int(config["per_round"])
    model = model_name(ctx)
    template = str(config.get("prompt") or PROMPT)
    requests = []
    for index in range(math.ceil(per_round / TASKS_PER_REQUEST)):
        count = min(TASKS_PER_REQUEST, per_round - index * TASKS_PER_REQUEST)
        examples = _sample(ctx, pool.texts, int(config["examples"]), number, index)
        variables = {"examples": examples, "count": count, "round": number, "request": index}
        prompt = _render(template, variables)
        requests.append(request(ctx, model, prompt, row_id=f"round {number} request {index}"))
    found = Round()
    for result in complete(ctx, requests):
        if result.ok:
            _filter(ctx, pool, result, number, target, found)
    return found


def _sample(
    ctx: StepContext, texts: Sequence[str], count: int, number: int, index: int
) -> list[str]:
    if not texts:
        return []
    rng = ctx.rng("examples", number, index)
    chosen = rng.choice(len(texts), size=min(count, len(texts)), replace=False)
    return [texts[int(i)] for i in chosen]


def _render(template: str, variables: Mapping[str, Any]) -> str:
    from synthc.recipe.templates import render

    return render(template, variables)


def _filter(
    ctx: StepContext,
    pool: NoveltyPool,
    result: CallResult,
    number: int,
    target: Any,
    found: Round,
) -> None:
    filters = {**KIND.defaults["filters"], **(ctx.config.get("filters") or {})}
    for k, candidate in enumerate(parse_tasks(result.text or "")):
        reason = rule_rejection(candidate, filters)
        verdict = None
        if reason is None and target is not None and len(pool) >= int(target):
            reason = "target_reached"
        if reason is None:
            verdict = pool.offer(candidate)
            reason = None if verdict.novel else "novelty"
        if reason is None:
            found.accepted.append((candidate, result.call_key, k))
            continue
        similar = verdict.most_similar if verdict is not None else None
        found.rejections.append({
            "candidate": candidate,
            "reason": reason,
            "max_rouge_l": verdict.max_rouge_l if verdict is not None else None,
            "most_similar": pool.texts[similar] if similar is not None else None,
            "round": number,
            "call_key": result.call_key,
        })  # fmt: skip


def rule_rejection(text: str, filters: Mapping[str, Any]) -> str | None:
    """Why `text` fails the rule filters ("too_short", "blocklist: image", ...), or None."""
    words = len(text.split())
    if words < int(filters.get("min_words", 3)):
        return "too_short"
    if words > int(filters.get("max_words", 150)):
        return "too_long"
    lowered = text.lower()
    for phrase in filters.get("blocklist", BLOCKLIST):
        if re.search(rf"\b{re.escape(str(phrase).lower())}\b", lowered):
            return f"blocklist: {phrase}"
    if text[0] in string.punctuation:
        return "starts_with_punctuation"
    if not text[0].isascii():
        return "starts_with_non_ascii"
    return None


def _emit_rejections(ctx: StepContext, rejections: list[dict[str, Any]]) -> None:
    import polars as pl

    schema = {"candidate": pl.String, "reason": pl.String, "max_rouge_l": pl.Float64,
              "most_similar": pl.String, "round": pl.Int64, "call_key": pl.String}  # fmt: skip
    ctx.emit("_rejections", pl.DataFrame(rejections, schema=schema))


def _frame(
    ctx: StepContext, column: str, accepted: list[tuple[str, str, int, int]]
) -> pl.DataFrame:
    import polars as pl

    from synthc.rows import derived_row_ids

    frame = pl.DataFrame(
        {
            column: [text for text, *_ in accepted],
            "round": [number for *_, number in accepted],
            "_model": [model_name(ctx)] * len(accepted),
            "_call_key": [key for _, key, _, _ in accepted],
        },
        schema={column: pl.String, "round": pl.Int64, "_model": pl.String, "_call_key": pl.String},
    )
    ids = derived_row_ids(ctx.name, frame.get_column("_call_key"), [k for _, _, k, _ in accepted])
    frame = frame.with_columns(ids)
    if ctx.config.get("with_input") or ctx.config.get("with_output"):
        frame = _add_input_output(ctx, column, frame)
    return frame.select(columns(ctx.config, {}))


def _add_input_output(ctx: StepContext, column: str, frame: pl.DataFrame) -> pl.DataFrame:
    """One call per task for its input, then one for its output; failed rows are dropped
    (and recorded in `_failures`, so the next build retries them)."""
    import polars as pl

    model, tasks, ids = model_name(ctx), frame.get_column(column).to_list(), frame["_id"].to_list()
    keep = [True] * len(tasks)
    inputs: list[str] = [""] * len(tasks)
    if ctx.config.get("with_input"):
        prompts = [_render(INPUT_PROMPT, {"task": t, "no_input": NO_INPUT}) for t in tasks]
        results = complete(
            ctx, [request(ctx, model, p, row_id=i) for p, i in zip(prompts, ids, strict=True)]
        )
        inputs = [_input_text(r) for r in results]
        keep = [r.ok for r in results]
        frame = frame.with_columns(pl.Series("input", inputs, dtype=pl.String))
    if ctx.config.get("with_output"):
        prompts = [
            _render(OUTPUT_PROMPT, {"task": t, "input": x})
            for t, x in zip(tasks, inputs, strict=True)
        ]
        results = complete(
            ctx, [request(ctx, model, p, row_id=i) for p, i in zip(prompts, ids, strict=True)]
        )
        frame = frame.with_columns(pl.Series("output", [r.text for r in results], dtype=pl.String))
        keep = [k and r.ok for k, r in zip(keep, results, strict=True)]
    return frame.filter(pl.Series(keep, dtype=pl.Boolean))


def _input_text(result: CallResult) -> str:
    text = (result.text or "").strip()
    return "" if not result.ok or NO_INPUT in text else text


def columns(config: Mapping[str, Any], inputs: Mapping[str, Sequence[str] | None]) -> list[str]:
    """The task column and its round, plus `input` / `output` when asked for."""
    extra = [name for name in ("input", "output") if config.get(f"with_{name}")]
    return ["_id", str(config.get("column", "instruction")), "round", *extra, "_model", "_call_key"]


def templates(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The prompt override; its variables are the step's own, not upstream columns."""
    if not config.get("prompt"):
        return []
    return [
        ("prompt", with_declared(str(config["prompt"]), ("examples", "count", "round", "request")))
    ]


KIND = StepKind(
    name="self_instruct",
    version=1,
    run=run,
    defaults={
        "column": "instruction",
        "rounds": 1,
        "per_round": 20,
        "examples": 8,
        "novelty": {"max_rouge_l": 0.7},
        "filters": {"min_words": 3, "max_words": 150, "blocklist": list(BLOCKLIST)},
        "with_input": False,
        "with_output": False,
    },
    columns=columns,
    templates=templates,
    calls_model=True,
)
