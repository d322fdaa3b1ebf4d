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
columns `_parent_id`, `_step`, `_model`, `_call_key`. A JSON answer that does not parse
or validate is sent back to the model with the error, at most `MAX_REPAIRS` times; one
that still fails is a failed row, and its cached answers are dropped so the next build
asks again. Failed rows are left out of the output and listed in `_failures`; every
call (cached or not) is listed in `_calls`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from synthc.errors import SynthcError
from synthc.steps.kind import StepContext, StepKind, StepLLM

if TYPE_CHECKING:
    import polars as pl

    from synthc.llm.calls import CallResult

MAX_REPAIRS = 2
REPAIR_PROMPT = (
    "Your previous answer could not be used: {error}\n"
    "Reply again with only the corrected JSON, nothing else."
)
LINEAGE_TAIL = ("_parent_id", "_step", "_model", "_call_key")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


@dataclass
class _Job:
    """One sample of one upstream row, and the calls made for it (repairs included)."""

    parent: int  # row index in the upstream frame
    parent_id: str
    sample: int
    row_id: str
    messages: list[dict[str, str]]
    results: list[CallResult] = field(default_factory=list)
    value: Any = None
    repair_errors: list[str] = field(default_factory=list)
    error: str | None = None
    error_class: str | None = None


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
    if ctx.llm is None:
        raise SynthcError(f"step '{ctx.name}' calls a model but the build has no LLM client")
    frame = ctx.input()
    jobs = _jobs(ctx.name, ctx.config, frame)
    n = int(ctx.config.get("n") or 1)
    ctx.reporter.message(f"{ctx.name}: {len(jobs)} calls ({len(frame)} rows x n={n})")
    _call_with_repairs(ctx, ctx.llm, jobs)
    _account(ctx, jobs)
    return _rows(ctx, frame, [job for job in jobs if job.error is None])


def _jobs(step: str, config: Mapping[str, Any], frame: pl.DataFrame) -> list[_Job]:
    from synthc.rows import derived_row_ids

    n = int(config.get("n") or 1)
    parent_ids = [str(v) for v in frame.get_column("_id").to_list()]
    row_ids = derived_row_ids(step, [p for p in parent_ids for _ in range(n)],
                              [s for _ in parent_ids for s in range(n)]).to_list()  # fmt: skip
    jobs: list[_Job] = []
    for index, row in enumerate(frame.iter_rows(named=True)):
        messages = _render_messages(config, row)
        for sample in range(n):
            jobs.append(
                _Job(index, parent_ids[index], sample, row_ids[index * n + sample], messages)
            )
    return jobs


def model_name(ctx: StepContext) -> str:
    """The model the step calls, as written: the step's, the recipe's, or the default."""
    from synthc.llm.models import DEFAULT_MODEL

    step = ctx.recipe.steps.get(ctx.name)
    return (step.model if step is not None else None) or ctx.recipe.model or DEFAULT_MODEL


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


def _call_with_repairs(ctx: StepContext, llm: StepLLM, jobs: list[_Job]) -> None:
    """Call for every job; send unparsable JSON back with its error, MAX_REPAIRS times."""
    from synthc.llm.calls import CallRequest

    model = model_name(ctx)
    params = dict(ctx.config.get("params") or {})
    allow_truncated = bool(params.pop("allow_truncated", False))
    todo = jobs
    for attempt in range(MAX_REPAIRS + 1):
        requests = [
            CallRequest(model, _conversation(job), params, job.sample, job.row_id, allow_truncated)
            for job in todo
        ]
        results = llm.complete(requests, step=ctx.name, reporter=ctx.reporter, refresh=ctx.refresh)
        retry: list[_Job] = []
        for job, result in zip(todo, results, strict=True):
            job.results.append(result)
            if _settle(job, result, ctx.config) and attempt < MAX_REPAIRS:
                retry.append(job)
        todo = retry
        if not todo:
            break
    unusable = [
        r.call_key for job in jobs if job.error_class == "UnparsableResponse" for r in job.results
    ]
    llm.forget(unusable)
    stop = llm.budget_stop
    if stop:
        made = sum(1 for job in jobs if job.error_class != "BudgetExceeded")
        ctx.reporter.warning(f"{ctx.name}: budget {stop}; {made} of {len(jobs)} calls answered, "
                             "the rest were not sent (raise `budget:` and build again)")  # fmt: skip


def _conversation(job: _Job) -> list[dict[str, str]]:
    """The job's messages, plus each rejected answer and the repair request after it."""
    messages = list(job.messages)
    for result, error in zip(job.results, job.repair_errors, strict=True):
        messages.append({"role": "assistant", "content": result.text or ""})
        messages.append({"role": "user", "content": REPAIR_PROMPT.format(error=error)})
    return messages


def _settle(job: _Job, result: CallResult, config: Mapping[str, Any]) -> bool:
    """Record a call's outcome on its job; True when a repair could fix it."""
    if not result.ok:
        job.error, job.error_class = result.error, result.error_class
        return False
    value, error = parse_answer(result.text or "", config)
    job.value, job.error = value, error
    job.error_class = None if error is None else "UnparsableResponse"
    if error is not None:
        job.repair_errors.append(error)
    return error is not None


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


def extract_json(text: str) -> Any:
    """Parse JSON from a model's answer: the whole text, a ```json fence, or the first
    {...} / [...] span. Raises ValueError."""
    candidates = [text.strip(), *(m.strip() for m in _FENCE.findall(text))]
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if starts:
        start = min(starts)
        end = max(text.rfind("}"), text.rfind("]"))
        if end > start:
            candidates.append(text[start : end + 1])
    error: ValueError = ValueError("empty answer")
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError as exc:
            error = exc
    raise error


def _account(ctx: StepContext, jobs: list[_Job]) -> None:
    """Emit `_calls` and `_failures`, and the step's call statistics for the lock."""
    import polars as pl

    results = [r for job in jobs for r in job.results]
    calls = [r.call_record(ctx.name) for r in results]
    if calls:
        ctx.emit("_calls", pl.DataFrame(calls, infer_schema_length=None))
    failures = [_failure(ctx.name, job) for job in jobs if job.error is not None]
    if failures:
        ctx.emit("_failures", pl.DataFrame(failures, infer_schema_length=None))
    ctx.stats.update(
        calls=sum(1 for r in results if not r.cached and r.attempts),
        cache_hits=sum(1 for r in results if r.cached),
        prompt_tokens=sum(r.prompt_tokens for r in results),
        completion_tokens=sum(r.completion_tokens for r in results),
        cost_usd=round(sum(r.cost_usd or 0.0 for r in results if not r.cached), 6),
        failures=len(failures),
    )


def _failure(step: str, job: _Job) -> dict[str, Any]:
    last = job.results[-1]
    record = last.failure_record(step)
    record.update(row_id=job.row_id, parent_id=job.parent_id, sample=job.sample,
                  error_class=job.error_class, message=job.error,
                  attempts=sum(r.attempts for r in job.results))  # fmt: skip
    return record


def _rows(ctx: StepContext, frame: pl.DataFrame, jobs: list[_Job]) -> pl.DataFrame:
    """The output frame: `_id`, parent columns, answer column(s), lineage."""
    import polars as pl

    from synthc.rows import derived_row_ids

    fields = _output_fields(ctx.config)
    as_object = _object_fields(ctx.config) is not None
    explode = bool(ctx.config.get("explode"))
    parents: list[int] = []
    columns_out: dict[str, list[Any]] = {name: [] for name in ("_id", *fields, *LINEAGE_TAIL)}
    for job in jobs:
        values = job.value if explode else [job.value]
        ids = derived_row_ids(ctx.name, [job.row_id] * len(values), list(range(len(values))))
        for k, value in enumerate(values):
            parents.append(job.parent)
            columns_out["_id"].append(ids[k] if explode else job.row_id)
            for name, cell in _cells(value, fields, as_object).items():
                columns_out[name].append(cell)
            last = job.results[-1]
            tail = (job.parent_id, ctx.name, last.model, last.call_key)
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
)
