"""`generate`: render a prompt per upstream row, call the model `n` times, write columns.

    answers:
      kind: generate
      from: questions
      system: "You are terse."
      prompt: "Answer: {{ question }}"
      n: 2                    # two samples per row, two call keys, two rows
      output: answer          # the column the text goes into
      parse: json             # optional: parse (and validate against `schema`)
      explode: true           # optional: one row per element of a parsed list

Each output row carries `_id` = hash(step, parent `_id`, sample index) and the lineage
columns `_parent_id`, `_step`, `_model`, `_call_key`. Calls go through the call path
every model-calling kind shares (`synthc.steps._methods.call_and_repair`): a JSON answer
that does not parse or validate is sent back to the model with the error, at most
`MAX_REPAIRS` times; one that still fails is a failed row, and its cached answers are
dropped so the next build asks again. Failed rows are left out of the output and
listed in `_failures`; every call (cached or not) is listed in `_calls`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from synthc.steps._methods import (
    Answer,
    LazyRequests,
    call_and_repair,
    chat_request,
    extract_json,
    model_name,
)
from synthc.steps.kind import StepContext, StepKind

if TYPE_CHECKING:
    import polars as pl

    from synthc.llm.calls import CallRequest

LINEAGE_TAIL = ("_parent_id", "_step", "_model", "_call_key")


@dataclass(frozen=True)
class _Job:
    """One sample of one upstream row."""

    parent: int  # row index in the upstream frame
    parent_id: str
    sample: int
    row_id: str


# --- plan-time contract ----------------------------------------------------------------


def templates(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every template the compiler checks against the upstream columns."""
    found: list[tuple[str, str]] = []
    for name in ("system", "prompt"):
        if isinstance(config.get(name), str):
            found.append((name, config[name]))
    for index, message in enumerate(config.get("messages") or []):
        found.append((f"messages.{index}.content", str(message.get("content", ""))))
    return found


def _object_fields(config: Mapping[str, Any]) -> list[str] | None:
    """With `parse: json` and a schema whose answers (after `explode`) are objects with
    `properties`: those property names, one column each. Otherwise None."""
    target = config.get("schema") if config.get("parse") == "json" else None
    explode = config.get("explode")
    if isinstance(target, Mapping) and explode:
        if explode is True:
            target = target.get("items")
        else:
            target = (target.get("properties") or {}).get(str(explode), {}).get("items")
    if isinstance(target, Mapping) and target.get("type", "object") == "object":
        properties = target.get("properties")
        if isinstance(properties, Mapping) and properties:
            return [str(name) for name in properties]
    return None


def _output_fields(config: Mapping[str, Any]) -> list[str]:
    """The columns answers go into: the schema's object properties, else `output`."""
    return _object_fields(config) or [str(config.get("output") or "output")]


def columns(
    config: Mapping[str, Any], inputs: Mapping[str, Sequence[str] | None]
) -> Sequence[str] | None:
    """The upstream columns, the answer column(s), then the lineage columns."""
    if len(inputs) != 1:
        return None
    upstream = next(iter(inputs.values()))
    if upstream is None:
        return None
    fields = _output_fields(config)
    kept = [c for c in upstream if not c.startswith("_") and c not in fields]
    return ["_id", *kept, *fields, *LINEAGE_TAIL]


# --- running ---------------------------------------------------------------------------


def run(ctx: StepContext) -> pl.DataFrame:
    """Generate answers for every upstream row (see the module docstring)."""
    frame = ctx.input()
    jobs = _jobs(ctx.name, ctx.config, frame)
    n = int(ctx.config.get("n") or 1)
    ctx.reporter.message(f"{ctx.name}: {len(jobs)} calls ({len(frame)} rows x n={n})")
    model = model_name(ctx)
    # Rendered as the gateway takes them: its first calls go while later prompts render.
    requests = LazyRequests(len(jobs), _requests(ctx, model, frame, jobs))
    answers = call_and_repair(
        ctx,
        requests,
        lambda text: parse_answer(text, ctx.config),
        columns=[{"parent_id": job.parent_id} for job in jobs],
    )
    done = [(job, a) for job, a in zip(jobs, answers, strict=True) if a.error is None]
    return _rows(ctx, frame, done)


def _jobs(step: str, config: Mapping[str, Any], frame: pl.DataFrame) -> list[_Job]:
    from synthc.rows import derived_row_ids

    n = int(config.get("n") or 1)
    parent_ids = [str(v) for v in frame.get_column("_id").to_list()]
    row_ids = derived_row_ids(step, [p for p in parent_ids for _ in range(n)],
                              [s for _ in parent_ids for s in range(n)]).to_list()  # fmt: skip
    return [
        _Job(index, parent_id, sample, row_ids[index * n + sample])
        for index, parent_id in enumerate(parent_ids)
        for sample in range(n)
    ]


def _requests(
    ctx: StepContext, model: str, frame: pl.DataFrame, jobs: Sequence[_Job]
) -> Iterator[CallRequest]:
    """Each job's request, in order: a row's prompt is rendered once for its samples."""
    rows = frame.iter_rows(named=True)
    messages: list[dict[str, str]] = []
    for job in jobs:
        if job.sample == 0:
            messages = _render_messages(ctx.config, next(rows))
        yield chat_request(ctx, model, messages, sample=job.sample, row_id=job.row_id)


def _render_messages(config: Mapping[str, Any], row: Mapping[str, Any]) -> list[dict[str, str]]:
    from synthc.recipe.templates import render

    messages: list[dict[str, str]] = []
    if config.get("system"):
        messages.append({"role": "system", "content": render(str(config["system"]), row)})
    for message in config.get("messages") or []:
        messages.append(
            {"role": str(message["role"]), "content": render(str(message["content"]), row)}
        )
    if config.get("prompt") is not None:
        messages.append({"role": "user", "content": render(str(config["prompt"]), row)})
    return messages


def parse_answer(text: str, config: Mapping[str, Any]) -> tuple[Any, str | None]:
    """(value, None) or (None, what is wrong), per `parse`, `schema` and `explode`."""
    if config.get("parse") != "json":
        if config.get("explode"):
            return [line.strip() for line in text.splitlines() if line.strip()], None
        return text, None
    try:
        value = extract_json(text)
    except ValueError as exc:
        return None, f"not valid JSON ({exc})"
    schema = config.get("schema")
    if schema:
        import jsonschema

        error = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(schema).iter_errors(value)
        )
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "the top level"
            return None, f"does not match the schema at {where}: {error.message}"
    explode = config.get("explode")
    if explode and explode is not True:
        value = value.get(str(explode)) if isinstance(value, dict) else None
    if explode and not isinstance(value, list):
        return None, "expected a JSON list to explode into rows"
    return value, None


def _rows(ctx: StepContext, frame: pl.DataFrame, done: list[tuple[_Job, Answer]]) -> pl.DataFrame:
    """The output frame: `_id`, parent columns, answer column(s), lineage."""
    import polars as pl

    from synthc.rows import derived_row_ids

    fields = _output_fields(ctx.config)
    as_object = _object_fields(ctx.config) is not None
    explode = bool(ctx.config.get("explode"))
    parents: list[int] = []
    columns_out: dict[str, list[Any]] = {name: [] for name in ("_id", *fields, *LINEAGE_TAIL)}
    for job, answer in done:
        values = answer.value if explode else [answer.value]
        if explode:  # one id per exploded item; else the job's own (no Series per row)
            ids = derived_row_ids(ctx.name, [job.row_id] * len(values), list(range(len(values))))
        for k, value in enumerate(values):
            parents.append(job.parent)
            columns_out["_id"].append(ids[k] if explode else job.row_id)
            for name, cell in _cells(value, fields, as_object).items():
                columns_out[name].append(cell)
            tail = (job.parent_id, ctx.name, answer.result.model, answer.result.call_key)
            for name, cell in zip(LINEAGE_TAIL, tail, strict=True):
                columns_out[name].append(cell)
    kept = [c for c in frame.columns if not c.startswith("_") and c not in fields]
    series = (
        [frame.get_column(c)[parents] for c in kept]
        if parents
        else [frame.get_column(c).clear() for c in kept]
    )
    for name, cells in columns_out.items():
        strings = name.startswith("_") or not cells
        series.append(pl.Series(name, cells, dtype=pl.String if strings else None, strict=False))
    return pl.DataFrame(series).select("_id", *kept, *fields, *LINEAGE_TAIL)


def _cells(value: Any, fields: list[str], as_object: bool) -> dict[str, Any]:
    """An answer as column values: an object's fields, or the value in the one column."""
    if as_object:
        source = value if isinstance(value, dict) else {}
        return {name: _scalar(source.get(name)) for name in fields}
    return {fields[0]: _scalar(value)}


def _scalar(value: Any) -> Any:
    """Nested JSON is kept as JSON text, so a column never mixes lists and strings."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


KIND = StepKind(
    name="generate",
    version=1,
    run=run,
    defaults={"n": 1, "output": "output", "parse": "text"},
    columns=columns,
    templates=templates,
    calls_model=True,
    # Text answers only: a parsed JSON value's column type depends on the rows it holds.
    row_local=lambda config: config.get("parse") != "json",
)
