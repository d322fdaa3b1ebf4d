"""`distill`: a teacher model answers each upstream row; optionally a student too.

    answers:
      kind: distill
      from: instructions
      teacher: big            # default: the step's model
      student: small          # optional: its answer goes next to the teacher's
      prompt: "{{ instruction }}"   # default: `instruction` (+ `input`), or `prompt`
      reasoning: true         # keep the teacher's reasoning in a `reasoning` column

Each row keeps its upstream columns and gains `response` (and `student_response`),
`_id` = hash(step, parent `_id`), `_parent_id`, `_model` (the teacher) and `_call_key`
(the teacher's call). Teacher and student answers side by side make preference pairs.

Reasoning: the gateway's `CallResult` carries no provider reasoning field yet, so
`reasoning` captures what reaches the answer text: `<think>...</think>` blocks, as
R1-style models served by vLLM or Ollama write them. The block is moved out of the
response into the reasoning column (null when the answer has none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from synthc.steps._methods import (
    call_and_repair,
    model_name,
    request,
    row_dicts,
    split_reasoning,
    upstream_columns,
)
from synthc.steps.kind import StepContext, StepKind

if TYPE_CHECKING:
    import polars as pl

    from synthc.llm.calls import CallResult


def default_prompt(columns: Sequence[str]) -> str | None:
    """The prompt when none is written: `instruction` (with `input`, Alpaca style), else
    `prompt`, else `question`; None when the upstream has none of them."""
    if "instruction" in columns:
        if "input" in columns:
            return "{{ instruction }}{% if input %}\n\n{{ input }}{% endif %}"
        return "{{ instruction }}"
    for name in ("prompt", "question"):
        if name in columns:
            return "{{ " + name + " }}"
    return None


def _prompt(ctx: StepContext, frame: pl.DataFrame) -> str:
    written = ctx.config.get("prompt")
    found = str(written) if written else default_prompt(frame.columns)
    if found is None:
        raise ValueError(
            "prompt: not set, and the input has no `instruction`, `prompt` or `question` "
            f"column to ask; its columns are {', '.join(frame.columns)}"
        )
    return found


def reasoning_column(config: Mapping[str, Any]) -> str | None:
    """The reasoning column's name: `reasoning: true` -> "reasoning", a string -> it."""
    value = config.get("reasoning")
    if value is True:
        return "reasoning"
    return str(value) if isinstance(value, str) and value else None


def run(ctx: StepContext) -> pl.DataFrame:
    import polars as pl

    from synthc.recipe.templates import render
    from synthc.rows import derived_row_ids

    frame = ctx.input()
    template = _prompt(ctx, frame)
    prompts = [render(template, row) for row in row_dicts(frame)]
    ids = frame.get_column("_id").to_list()
    teacher = model_name(ctx, ctx.config.get("teacher"))
    answers = _answers(ctx, teacher, prompts, ids)
    keep = [r.ok for r in answers]
    columns = _teacher_columns(ctx.config, answers)
    columns["_model"] = [teacher] * len(answers)
    columns["_call_key"] = [r.call_key for r in answers]
    student = ctx.config.get("student")
    if student:
        student_answers = _answers(ctx, model_name(ctx, str(student)), prompts, ids)
        keep = [k and r.ok for k, r in zip(keep, student_answers, strict=True)]
        columns[str(ctx.config["student_output"])] = [r.text for r in student_answers]
    lineage = ["_parent_id", "_model", "_call_key", "_step"]
    out = (
        frame.drop(lineage, strict=False)
        .rename({"_id": "_parent_id"})
        .with_columns(
            derived_row_ids(ctx.name, ids, 0),
            *[pl.Series(name, values, dtype=pl.String) for name, values in columns.items()],
        )
    )
    out = out.filter(pl.Series(keep, dtype=pl.Boolean))
    return out.select("_id", pl.exclude("_id", "_parent_id", "_model", "_call_key"),
                      "_parent_id", "_model", "_call_key")  # fmt: skip


def _answers(ctx: StepContext, model: str, prompts: list[str], ids: list[str]) -> list[CallResult]:
    requests = [request(ctx, model, p, row_id=i) for p, i in zip(prompts, ids, strict=True)]
    parents = [{"parent_id": i} for i in ids]
    return [answer.result for answer in call_and_repair(ctx, requests, columns=parents)]


def _teacher_columns(
    config: Mapping[str, Any], answers: Sequence[CallResult]
) -> dict[str, list[str | None]]:
    output, thoughts = str(config["output"]), reasoning_column(config)
    if thoughts is None:
        return {output: [r.text for r in answers]}
    split = [split_reasoning(r.text) if r.text is not None else (None, None) for r in answers]
    return {output: [text for text, _ in split], thoughts: [why for _, why in split]}


def columns(
    config: Mapping[str, Any], inputs: Mapping[str, Sequence[str] | None]
) -> list[str] | None:
    """Upstream columns plus the answer column(s) and lineage."""
    upstream = upstream_columns(inputs)
    if upstream is None:
        return None
    added = [str(config.get("output", "response"))]
    thoughts = reasoning_column(config)
    if thoughts:
        added.append(thoughts)
    if config.get("student"):
        added.append(str(config.get("student_output", "student_response")))
    kept = [c for c in upstream if c not in ("_id", "_parent_id", "_model", "_call_key")]
    kept += [c for c in added if c not in kept]
    return ["_id", *kept, "_parent_id", "_model", "_call_key"]


def templates(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The prompt: every variable must be an upstream column."""
    return [("prompt", str(config["prompt"]))] if config.get("prompt") else []


KIND = StepKind(
    name="distill",
    version=1,
    run=run,
    defaults={"output": "response", "student_output": "student_response", "reasoning": False},
    columns=columns,
    templates=templates,
    calls_model=True,
    row_local=lambda config: True,
)
