"""`judge`: LLM-as-judge. Each row is scored against a rubric into a score column and a
rationale column.

    scored:
      kind: judge
      from: answers
      rubric: "Is the response correct and helpful?"   # a template over the row's columns
      scale: [1, 10]
      judges: [gpt, claude]    # optional: several models; `score` is their mean

The judge answers JSON `{"score": <number in scale>, "rationale": "..."}` (an answer
without JSON that states "Score: 7", or just "7", is read as that score); an answer
that does not parse or is out of range is sent back with the problem, at most
`MAX_REPAIRS` times, then recorded in `_failures` (the row is left out and retried by
the next build). With one judge the row gains `score` and `rationale`; with several,
also `score_<judge>` and `rationale_<judge>` per judge and `score_agreement`:
1 - (highest - lowest) / (scale max - scale min), so 1.0 when all judges agree.

When the rubric reads no column, the row's own columns are shown to the judge under
it; `prompt:` replaces the whole built-in prompt (its variables: `rubric`, `scale_min`,
`scale_max` and the row's columns). Rows keep their `_id`: a judge annotates rows, so
`filter` and `dedup` (`keep: highest(score)`) downstream see the same ids.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from synthc.steps._methods import (
    complete_json,
    data_columns,
    model_name,
    request,
    row_dicts,
    upstream_columns,
    with_declared,
)
from synthc.steps.kind import StepContext, StepKind

if TYPE_CHECKING:
    import polars as pl

PROMPT = """\
You are a careful, impartial judge.

Rubric:
{{ rubric }}
{% if item %}
Item to judge:
{{ item }}
{% endif %}
Score the item from {{ scale_min }} (worst) to {{ scale_max }} (best). Reply with only a \
JSON object: {"score": <number from {{ scale_min }} to {{ scale_max }}>, \
"rationale": "<one or two sentences>"}"""


def judge_names(config: Mapping[str, Any]) -> list[str]:
    """The judge models as written (empty: the step's own model)."""
    return [str(name) for name in config.get("judges") or []]


def judge_suffixes(names: Sequence[str]) -> list[str]:
    """Column suffixes per judge: its name made a column name, numbered when repeated."""
    suffixes: list[str] = []
    for name in names:
        base = re.sub(r"\W+", "_", name).strip("_").lower() or "judge"
        suffix, count = base, 2
        while suffix in suffixes:
            suffix, count = f"{base}_{count}", count + 1
        suffixes.append(suffix)
    return suffixes


def validator(low: float, high: float) -> Any:
    """A check for `{"score": number in [low, high], "rationale": text}`."""

    def validate(value: Any) -> str | None:
        if not isinstance(value, dict) or "score" not in value:
            return 'expected a JSON object with a "score" field'
        score = value["score"]
        try:
            number = float(score) if not isinstance(score, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or number != number:
            return f'"score" must be a number, got {score!r}'
        if not low <= number <= high:
            return f'"score" must be between {low:g} and {high:g}, got {number:g}'
        if not isinstance(value.get("rationale", ""), str):
            return '"rationale" must be a string'
        return None

    return validate


_SCORE = re.compile(r"\bscore\b\W{0,3}(?:(?:of|is)\W{1,3})?(-?\d+(?:\.\d+)?)", re.I)
_NUMBER = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*(?:/\s*\d+)?\s*\.?\s*")


def bare_score(text: str) -> dict[str, Any] | None:
    """A score from an answer without JSON: "Score: 7 - clear" or a lone "7" (or "7/10")."""
    whole = _NUMBER.fullmatch(text)
    found = whole or _SCORE.search(text)
    if found is None:
        return None
    return {"score": float(found.group(1)), "rationale": "" if whole else text.strip()}


def _prompts(ctx: StepContext, frame: pl.DataFrame) -> list[str]:
    from synthc.recipe.templates import render, template_variables

    config = ctx.config
    low, high = config["scale"]
    rubric = str(config.get("rubric") or "")
    show_item = not (template_variables(rubric) & set(frame.columns))
    prompts = []
    for row in row_dicts(frame):
        variables = {**row, "rubric": render(rubric, row), "scale_min": low, "scale_max": high}
        if config.get("prompt"):
            prompts.append(render(str(config["prompt"]), variables))
            continue
        item = _item(row) if show_item else ""
        prompts.append(render(PROMPT, {**variables, "item": item}))
    return prompts


def _item(row: Mapping[str, Any]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in data_columns(row).items())


def run(ctx: StepContext) -> pl.DataFrame:
    import polars as pl

    frame = ctx.input()
    low, high = (float(v) for v in ctx.config["scale"])
    prompts = _prompts(ctx, frame)
    ids = frame.get_column("_id").to_list()
    names = judge_names(ctx.config) or [model_name(ctx)]
    keep = [True] * frame.height
    scores: list[list[float | None]] = []
    rationales: list[list[str | None]] = []
    for name in names:
        model = model_name(ctx, name)
        requests = [request(ctx, model, p, row_id=i) for p, i in zip(prompts, ids, strict=True)]
        answers = complete_json(ctx, requests, validator(low, high), fallback=bare_score)
        keep = [k and a.error is None for k, a in zip(keep, answers, strict=True)]
        scores.append([float(a.value["score"]) if a.error is None else None for a in answers])
        rationales.append([str(a.value.get("rationale", "")) if a.error is None else None
                           for a in answers])  # fmt: skip
    added = _score_columns(ctx.config, scores, rationales, (low, high))
    out = frame.with_columns(*[pl.Series(n, v) for n, v in added.items()])
    return out.filter(pl.Series(keep, dtype=pl.Boolean))


def _score_columns(
    config: Mapping[str, Any],
    scores: list[list[float | None]],
    rationales: list[list[str | None]],
    scale: tuple[float, float],
) -> dict[str, list[Any]]:
    output, rationale = str(config["output"]), str(config["rationale"])
    rows = list(zip(*scores, strict=True))
    columns: dict[str, list[Any]] = {
        output: [_mean(r) for r in rows],
        rationale: rationales[0],
    }
    if len(scores) > 1:
        for suffix, judged, why in zip(judge_suffixes(judge_names(config)), scores, rationales,
                                       strict=True):  # fmt: skip
            columns[f"{output}_{suffix}"] = judged
            columns[f"{rationale}_{suffix}"] = why
        columns[f"{output}_agreement"] = [agreement(r, scale) for r in rows]
    return columns


def _mean(scores: Sequence[float | None]) -> float | None:
    known = [s for s in scores if s is not None]
    return sum(known) / len(known) if len(known) == len(scores) else None


def agreement(scores: Sequence[float | None], scale: tuple[float, float]) -> float | None:
    """1 - (highest - lowest) / (scale max - scale min): 1.0 when every judge agrees."""
    if any(s is None for s in scores):
        return None
    known = [float(s) for s in scores if s is not None]
    width = scale[1] - scale[0]
    return 1.0 if width <= 0 else 1.0 - (max(known) - min(known)) / width


def columns(
    config: Mapping[str, Any], inputs: Mapping[str, Sequence[str] | None]
) -> list[str] | None:
    """Upstream columns plus the score and rationale (per judge, and agreement, with several)."""
    upstream = upstream_columns(inputs)
    if upstream is None:
        return None
    output, rationale = (
        str(config.get("output", "score")),
        str(config.get("rationale", "rationale")),
    )
    added = [output, rationale]
    names = judge_names(config)
    if len(names) > 1:
        for suffix in judge_suffixes(names):
            added += [f"{output}_{suffix}", f"{rationale}_{suffix}"]
        added.append(f"{output}_agreement")
    return [*upstream, *[c for c in added if c not in upstream]]


def templates(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The rubric and the prompt override: their variables must be upstream columns
    (the prompt's own `rubric`, `scale_min` and `scale_max` excepted)."""
    found = [("rubric", str(config["rubric"]))] if config.get("rubric") else []
    if config.get("prompt"):
        own = ("rubric", "scale_min", "scale_max")
        found.append(("prompt", with_declared(str(config["prompt"]), own)))
    return found


KIND = StepKind(
    name="judge",
    version=1,
    run=run,
    defaults={"scale": [1, 10], "output": "score", "rationale": "rationale"},
    columns=columns,
    templates=templates,
    calls_model=True,
)
