"""Model calls for the generation-method kinds (self_instruct, distill, augment,
adversarial, judge): which model, which parameters, making the calls through
`ctx.llm.complete`, recording `_calls` / `_failures`, and JSON answers with bounded repair.

Every call goes through the gateway, so a rebuild is answered from the call cache and
sends nothing; a failed call is recorded in `_failures`, which keeps the step stale so
the next build retries exactly the failed calls (the others hit the cache).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from synthc.steps.generate import MAX_REPAIRS, REPAIR_PROMPT, extract_json
from synthc.steps.generate import model_name as step_model
from synthc.steps.kind import StepContext

if TYPE_CHECKING:
    import polars as pl

    from synthc.llm.calls import CallRequest, CallResult

_THINK = re.compile(r"<think>(.*?)</think>", re.S | re.I)


def model_name(ctx: StepContext, name: str | None = None) -> str:
    """`name` if given, else the step's model as `generate` resolves it (aliases stay aliases)."""
    return name or step_model(ctx)


def params_for(ctx: StepContext, model: str) -> dict[str, Any]:
    """The parameters for calls to `model`, as the compiler resolved them: the step's
    `params` for its own model, `model_params` for another it names (a teacher, a
    judge). Layering happens once, in the compiler, so the fingerprint covers it."""
    if model == model_name(ctx):
        return dict(ctx.config.get("params") or {})
    if model not in ctx.model_params:
        raise ValueError(f"step '{ctx.name}' calls model '{model}', which its plan does not name")
    return dict(ctx.model_params[model])


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
    from synthc.llm.calls import CallRequest

    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": prompt})
    params = params_for(ctx, model)
    # A request field, not a model parameter: the gateway decides with it whether a
    # cut-off answer (finish_reason "length") is kept or rejected.
    allow_truncated = bool(params.pop("allow_truncated", False))
    return CallRequest(model, messages, params, sample, row_id, allow_truncated)


def complete(ctx: StepContext, requests: Sequence[CallRequest]) -> list[CallResult]:
    """Answer `requests` through the gateway, recording every call in `_calls` and
    every failure in `_failures`. Failures come back as results with `ok` False."""
    import polars as pl

    if not requests:
        return []
    if ctx.llm is None:
        raise ValueError("this step calls a model, but the build was given no LLM client")
    results = ctx.llm.complete(requests, step=ctx.name, reporter=ctx.reporter, refresh=ctx.refresh)
    ctx.emit("_calls", pl.DataFrame([r.call_record(ctx.name) for r in results]))
    failed = [r.failure_record(ctx.name) for r in results if not r.ok]
    if failed:
        ctx.emit("_failures", pl.DataFrame(failed))
    _count(ctx, results)
    stop = ctx.llm.budget_stop
    if stop and any(r.error_kind == "budget" for r in results):
        made = sum(1 for r in results if r.error_kind != "budget")
        ctx.reporter.warning(
            f"{ctx.name}: budget {stop}; {made} of {len(results)} calls answered, the rest "
            "were not sent (raise `budget:` and build again)"
        )
    return results


def _count(ctx: StepContext, results: Sequence[CallResult]) -> None:
    """Add to the step's statistics (the lock records them), as `generate` counts them."""
    stats = ctx.stats
    made = [r for r in results if not r.cached]
    figures = {
        "calls": sum(1 for r in made if r.attempts),
        "cache_hits": len(results) - len(made),
        "prompt_tokens": sum(r.prompt_tokens for r in results),
        "completion_tokens": sum(r.completion_tokens for r in results),
        "cost_usd": sum(r.cost_usd or 0.0 for r in made),
        "failures": sum(1 for r in results if not r.ok),
    }
    for key, value in figures.items():
        stats[key] = round(stats.get(key, 0) + value, 8)


@dataclass(frozen=True)
class JsonAnswer:
    """A validated JSON answer (`value`), or why none was had (`error`)."""

    value: Any
    result: CallResult  # the last call made for it
    error: str | None = None


def complete_json(
    ctx: StepContext,
    requests: Sequence[CallRequest],
    validate: Callable[[Any], str | None],
    max_repairs: int = MAX_REPAIRS,
    fallback: Callable[[str], Any] | None = None,
) -> list[JsonAnswer]:
    """Answers parsed as JSON and checked by `validate` (None: valid, else the problem).

    `fallback(text)` may read a value from an answer without valid JSON (small models
    often write "Score: 7" instead); it is used only when it passes `validate`.
    An invalid answer gets up to `max_repairs` follow-up turns quoting the problem;
    each is an ordinary cached call, so repairs are paid for once. What is still
    invalid after that is recorded in `_failures` and returned with `error` set.
    """
    answers: list[JsonAnswer | None] = [None] * len(requests)
    keys: list[list[str]] = [[] for _ in requests]  # every call made for each answer
    pending = list(enumerate(requests))
    for attempt in range(max_repairs + 1):
        results = complete(ctx, [req for _, req in pending])
        retry: list[tuple[int, CallRequest]] = []
        for (index, req), result in zip(pending, results, strict=True):
            keys[index].append(result.call_key)
            if not result.ok:
                answers[index] = JsonAnswer(None, result, result.error)
                continue
            value, problem = parse_json(result.text or "", validate, fallback)
            answers[index] = JsonAnswer(value, result, problem)
            if problem is not None and attempt < max_repairs:
                retry.append((index, _repair_request(req, result.text or "", problem)))
        pending = retry
        if not pending:
            break
    final = [answer for answer in answers if answer is not None]
    invalid = [i for i, a in enumerate(final) if a.error is not None and a.result.ok]
    _record_invalid(ctx, [final[i] for i in invalid])
    if invalid and ctx.llm is not None:
        # Unusable answers leave the cache, so the next build asks again instead of
        # replaying them (the gateway cached them: they were well-formed responses).
        ctx.llm.forget([key for i in invalid for key in keys[i]])
    return final


def _record_invalid(ctx: StepContext, invalid: Sequence[JsonAnswer]) -> None:
    import polars as pl

    if invalid:
        rows = [
            {**a.result.failure_record(ctx.name), "error_class": "UnparsableResponse",
             "error_kind": "rejected", "message": a.error}
            for a in invalid
        ]  # fmt: skip
        ctx.emit("_failures", pl.DataFrame(rows))


def _repair_request(req: CallRequest, answer: str, problem: str) -> CallRequest:
    messages = [
        *req.messages,
        {"role": "assistant", "content": answer},
        {"role": "user", "content": REPAIR_PROMPT.format(error=problem)},
    ]
    return replace(req, messages=messages)


def parse_json(
    text: str, validate: Callable[[Any], str | None], fallback: Callable[[str], Any] | None = None
) -> tuple[Any, str | None]:
    """The JSON in `text` (as `generate` finds it: whole, fenced or the outermost span)
    and the problem with it, if any; else what `fallback` reads, if that is valid."""
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
