"""The one call path of every model-calling kind (generate, self_instruct, distill,
augment, adversarial, judge): which model, its parameters as the compiler resolved
them, calls through `ctx.llm.complete` with bounded repair of unusable answers, and
the record of it all (`_calls`, `_failures`, the step's statistics).

Every call goes through the gateway, so a rebuild is answered from the call cache and
sends nothing; a failed call is recorded in `_failures`, which keeps the step stale so
the next build retries exactly the failed calls (the others hit the cache). Which
parameters are sent, keyed or kept by the gateway is decided there, once
(`synthc.llm.params`): a step passes its resolved `params` through whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from synthc.errors import SynthcError
from synthc.steps.kind import StepContext, StepLLM

if TYPE_CHECKING:
    import polars as pl

    from synthc.llm.calls import CallRequest, CallResult

MAX_REPAIRS = 2
REPAIR_PROMPT = (
    "Your previous answer could not be used: {error}\n"
    "Reply again with only the corrected JSON, nothing else."
)
UNPARSABLE = "UnparsableResponse"  # the error class of an answer no repair made usable
_THINK = re.compile(r"<think>(.*?)</think>", re.S | re.I)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)

# Reads an answer's text: (value, None), or (None, what is wrong with it).
Reader = Callable[[str], tuple[Any, str | None]]


def model_name(ctx: StepContext, name: str | None = None) -> str:
    """`name` if given, else the model the step calls, as written: the step's, the
    recipe's, or the default (aliases stay aliases)."""
    if name:
        return name
    from synthc.llm.models import DEFAULT_MODEL

    step = ctx.recipe.steps.get(ctx.name)
    return (step.model if step is not None else None) or ctx.recipe.model or DEFAULT_MODEL


def params_for(ctx: StepContext, model: str) -> dict[str, Any]:
    """The parameters for calls to `model`, as the compiler resolved them: the step's
    `params` for its own model, `model_params` for another it names (a teacher, a
    judge). Layering happens once, in the compiler, so the fingerprint covers it."""
    if model == model_name(ctx):
        return dict(ctx.config.get("params") or {})
    if model not in ctx.model_params:
        raise ValueError(f"step '{ctx.name}' calls model '{model}', which its plan does not name")
    return dict(ctx.model_params[model])


def chat_request(
    ctx: StepContext,
    model: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    sample: int = 0,
    row_id: str = "",
) -> CallRequest:
    """A request for `messages` to `model`, with the params the compiler resolved for it."""
    from synthc.llm.calls import CallRequest

    return CallRequest(model, [dict(m) for m in messages], params_for(ctx, model), sample, row_id)


def request(
    ctx: StepContext,
    model: str,
    prompt: str,
    *,
    system: str | None = None,
    sample: int = 0,
    row_id: str = "",
) -> CallRequest:
    """A one-turn chat request (optionally after a system message)."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": prompt})
    return chat_request(ctx, model, messages, sample=sample, row_id=row_id)


class LazyRequests(Sequence["CallRequest"]):
    """`count` requests made from `made` on first access, in order, and kept: the
    gateway keys a list in batches and sends each batch's misses before reading the
    next, so the first calls go while later prompts are still being rendered."""

    def __init__(self, count: int, made: Iterator[CallRequest]) -> None:
        self._count = count
        self._made = made
        self._items: list[CallRequest] = []

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> CallRequest: ...
    @overload
    def __getitem__(self, index: slice) -> list[CallRequest]: ...
    def __getitem__(self, index: int | slice) -> CallRequest | list[CallRequest]:
        wanted = range(self._count)[index]  # IndexError for an int out of range
        if isinstance(wanted, int):
            self._make_until(wanted + 1)
        elif wanted:
            self._make_until(max(wanted[0], wanted[-1]) + 1)
        return self._items[index]

    def __iter__(self) -> Iterator[CallRequest]:
        self._make_until(self._count)
        return iter(self._items)

    def _make_until(self, stop: int) -> None:
        while len(self._items) < stop:
            self._items.append(next(self._made))


@dataclass(frozen=True)
class Answer:
    """What the calls for one request came to: `value` as read from the last answer,
    or `error` (a failed call, or an answer still unusable after the repairs)."""

    value: Any
    results: tuple[CallResult, ...]  # every call made for it, repairs included
    error: str | None = None

    @property
    def result(self) -> CallResult:
        """The last call made for it."""
        return self.results[-1]

    @property
    def error_class(self) -> str | None:
        if self.error is None:
            return None
        return self.result.error_class if not self.result.ok else UNPARSABLE


def call_and_repair(
    ctx: StepContext,
    requests: Sequence[CallRequest],
    read: Reader | None = None,
    max_repairs: int = MAX_REPAIRS,
    columns: Sequence[Mapping[str, Any]] = (),
) -> list[Answer]:
    """Answer every request through the gateway; `read(text)` says what an answer holds
    (without it, the text itself). An answer `read` finds a problem with is sent back
    with the problem, at most `max_repairs` times; each repair is an ordinary cached
    call, so repairs are paid for once.

    Every call is recorded in `_calls`; every answer without a value in `_failures`,
    once, and the step's statistics count them. `columns[i]` adds columns to request
    i's rows in both (a row-local kind names the input row: `parent_id`). Answers still
    unusable after the repairs leave the cache, so the next build asks again instead of
    replaying them.
    """
    if not requests:
        return []
    llm = ctx.llm
    if llm is None:
        raise SynthcError(f"step '{ctx.name}' calls a model but the build has no LLM client")
    answers = _ask(ctx, llm, requests, read, max_repairs)
    _record(ctx, requests, answers, columns)
    unusable = [r.call_key for a in answers if a.error_class == UNPARSABLE for r in a.results]
    if unusable:
        llm.forget(unusable)
    if llm.budget_stop and any(r.error_kind == "budget" for a in answers for r in a.results):
        sent = sum(1 for a in answers if a.result.error_kind != "budget")
        ctx.reporter.warning(
            f"{ctx.name}: budget {llm.budget_stop}; {sent} of {len(answers)} calls answered, "
            "the rest were not sent (raise `budget:` and build again)"
        )
    return answers


def _ask(
    ctx: StepContext,
    llm: StepLLM,
    requests: Sequence[CallRequest],
    read: Reader | None,
    max_repairs: int,
) -> list[Answer]:
    """The calls and repairs of `call_and_repair`, each round one batch to the gateway."""
    made: list[list[CallResult]] = [[] for _ in range(len(requests))]
    found: list[tuple[Any, str | None]] = [(None, None)] * len(requests)
    # The first round as given (a `LazyRequests` is made while its first calls go).
    indices: Sequence[int] = range(len(requests))
    asked: Sequence[CallRequest] = requests
    for attempt in range(max_repairs + 1):
        results = llm.complete(asked, step=ctx.name, reporter=ctx.reporter, refresh=ctx.refresh)
        retry: list[tuple[int, CallRequest]] = []
        for index, req, result in zip(indices, asked, results, strict=True):
            made[index].append(result)
            if not result.ok:
                found[index] = (None, result.error)
                continue
            text = result.text or ""
            found[index] = read(text) if read is not None else (text, None)
            problem = found[index][1]
            if problem is not None and attempt < max_repairs:
                retry.append((index, _repair_request(req, text, problem)))
        if not retry:
            break
        indices, asked = [i for i, _ in retry], [req for _, req in retry]
    return [
        Answer(value, tuple(calls), error)
        for (value, error), calls in zip(found, made, strict=True)
    ]


def complete(ctx: StepContext, requests: Sequence[CallRequest]) -> list[CallResult]:
    """Text answers to `requests` (see `call_and_repair`); failures come back as
    results with `ok` False."""
    return [answer.result for answer in call_and_repair(ctx, requests)]


def complete_json(
    ctx: StepContext,
    requests: Sequence[CallRequest],
    validate: Callable[[Any], str | None],
    max_repairs: int = MAX_REPAIRS,
    fallback: Callable[[str], Any] | None = None,
) -> list[Answer]:
    """Answers parsed as JSON and checked by `validate` (None: valid, else the problem),
    repaired as `call_and_repair` does. `fallback(text)` may read a value from an answer
    without valid JSON (small models often write "Score: 7" instead); it is used only
    when it passes `validate`."""
    return call_and_repair(
        ctx, requests, lambda text: parse_json(text, validate, fallback), max_repairs
    )


def _record(
    ctx: StepContext,
    requests: Sequence[CallRequest],
    answers: Sequence[Answer],
    columns: Sequence[Mapping[str, Any]],
) -> None:
    """Emit `_calls` and `_failures` (`columns[i]` added to request i's rows), and add to
    the step's statistics (the lock's)."""
    import polars as pl

    results = [r for answer in answers for r in answer.results]
    ctx.emit("_calls", _calls_frame(ctx.name, answers, columns))
    failed = [
        {**_failure_row(ctx.name, req, answer), **(columns[i] if i < len(columns) else {})}
        for i, (req, answer) in enumerate(zip(requests, answers, strict=True))
        if answer.error is not None
    ]
    if failed:
        ctx.emit("_failures", pl.DataFrame(failed, infer_schema_length=None))
    fresh = [r for r in results if not r.cached]
    _count(
        ctx,
        calls=sum(1 for r in fresh if r.attempts),
        cache_hits=len(results) - len(fresh),
        prompt_tokens=sum(r.prompt_tokens for r in results),
        completion_tokens=sum(r.completion_tokens for r in results),
        cost_usd=sum(r.cost_usd or 0.0 for r in fresh),
        failures=len(failed),
        truncated=sum(1 for r in results if r.finish_reason == "length"),
    )


def record_kept_calls(ctx: StepContext, calls: pl.DataFrame) -> None:
    """Record the `_calls` of rows a build kept from the last one (`synthc.execute.reuse`)
    as `_record` records the cache hits of a full re-run: in `_calls` and in the step's
    statistics."""
    ctx.emit("_calls", calls)
    _count(
        ctx,
        calls=0,
        cache_hits=calls.height,
        prompt_tokens=int(calls.get_column("prompt_tokens").sum() or 0),
        completion_tokens=int(calls.get_column("completion_tokens").sum() or 0),
        cost_usd=0,  # cache hits cost nothing (an int, as `_record` sums none)
        failures=0,
        truncated=int((calls.get_column("finish_reason") == "length").sum() or 0),
    )


def _count(
    ctx: StepContext,
    *,
    calls: int,
    cache_hits: int,
    prompt_tokens: int,
    completion_tokens: int,
    cost_usd: float,
    failures: int,
    truncated: int,
) -> None:
    """Add to the step's statistics (the lock's), every figure named, in one order."""
    figures = {
        "calls": calls,
        "cache_hits": cache_hits,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "cost_usd": cost_usd,
        "failures": failures,
        "truncated": truncated,
    }
    for key, value in figures.items():
        ctx.stats[key] = round(ctx.stats.get(key, 0) + value, 8)


def _calls_frame(
    step: str, answers: Sequence[Answer], extra: Sequence[Mapping[str, Any]]
) -> pl.DataFrame:
    """The `_calls` rows (`extra[i]` added to answer i's), built a column at a time: a
    list of 10,000 row dicts held ~12 MB more at a build's peak. Types are inferred from
    every value, as for row dicts; a column an answer lacks is null there."""
    import polars as pl

    names = dict.fromkeys(name for row in extra for name in row)
    columns: dict[str, list[Any]] = {}
    for i, answer in enumerate(answers):
        added = extra[i] if i < len(extra) else {}
        for result in answer.results:
            for name, value in result.call_record(step).items():
                columns.setdefault(name, []).append(value)
            for name in names:
                columns.setdefault(name, []).append(added.get(name))
    return pl.DataFrame(columns, strict=False)


def _failure_row(step: str, req: CallRequest, answer: Answer) -> dict[str, Any]:
    """One failed answer: its last call, why it failed, every attempt its calls made."""
    return {
        **answer.result.failure_record(step),
        "error_class": answer.error_class,
        "error_kind": "rejected" if answer.result.ok else answer.result.error_kind,
        "message": answer.error,
        "attempts": sum(r.attempts for r in answer.results),
        "sample": req.sample_index,
    }


def _repair_request(req: CallRequest, answer: str, problem: str) -> CallRequest:
    from dataclasses import replace

    messages = [
        *req.messages,
        {"role": "assistant", "content": answer},
        {"role": "user", "content": REPAIR_PROMPT.format(error=problem)},
    ]
    return replace(req, messages=messages)


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


def parse_json(
    text: str, validate: Callable[[Any], str | None], fallback: Callable[[str], Any] | None = None
) -> tuple[Any, str | None]:
    """The JSON in `text` (whole, fenced or the outermost span) and the problem with
    it, if any; else what `fallback` reads, if that is valid."""
    try:
        value = extract_json(text)
        problem = validate(value)
    except ValueError as exc:
        value, problem = None, f"not valid JSON ({exc})"
    if problem is not None and fallback is not None:
        rescued = fallback(text)
        if rescued is not None and validate(rescued) is None:
            return rescued, None
    return value, problem


def split_reasoning(text: str) -> tuple[str, str | None]:
    """(answer, reasoning) from an answer that inlines `<think>...</think>` blocks, as
    DeepSeek-R1-style models served by vLLM or Ollama do; (text, None) without one."""
    found = _THINK.findall(text)
    if not found:
        return text, None
    return _THINK.sub("", text).strip(), "\n\n".join(part.strip() for part in found)


def row_dicts(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The rows of `frame` as dicts (template variables for `render`)."""
    return list(frame.iter_rows(named=True))


def data_columns(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row without synthc's own `_` columns."""
    return {key: value for key, value in row.items() if not key.startswith("_")}


def upstream_columns(inputs: Mapping[str, Sequence[str] | None]) -> list[str] | None:
    """The single upstream's columns (None where unknown or several)."""
    if len(inputs) != 1:
        return None
    columns = next(iter(inputs.values()))
    return list(columns) if columns is not None else None


def with_declared(text: str, names: Sequence[str]) -> str:
    """`text` with `names` declared, so the compiler checks only the other variables
    (those the kind provides itself are not upstream columns)."""
    return "".join(f"{{% set {name} = none %}}" for name in names) + text
