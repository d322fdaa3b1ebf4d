"""Helpers for the report tests: a support-desk project with a seed, a filter, a dedup
(within the step and against an evaluation file) and a final sql step, built for real."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from synthc.execute.build import BuildContext, BuildResult, build
from synthc.plan.compile import compile_plan
from synthc.recipe.load import Recipe, load_recipe
from synthc.store.lock import LockState
from synthc.store.store import Store

TOPICS = ("password", "invoice", "refund", "shipping", "account", "upgrade", "export", "login")
TEMPLATES = (
    "how do i {verb} my {topic} settings when the page keeps showing an error",
    "can you explain why my {topic} was {verb}ed twice this month",
    "{verb} {topic}",
    "i tried to {verb} the {topic} from the mobile app but nothing happens after i tap save "
    "and the spinner just keeps going for minutes",
    "what is the fastest way to {verb} a {topic} for a team of twenty people",
)
VERBS = ("change", "reset", "cancel", "update", "charge", "move")


def seed_rows(count: int = 60) -> list[dict[str, Any]]:
    """Support questions of varied length, some near-copies of each other."""
    rows = []
    for i in range(count):
        text = TEMPLATES[i % len(TEMPLATES)].format(
            verb=VERBS[i % len(VERBS)], topic=TOPICS[(i // 2) % len(TOPICS)]
        )
        rows.append({"instruction": text, "product": TOPICS[i % 3], "score": i % 10})
    rows.append({"instruction": rows[0]["instruction"].upper() + "!", "product": "x", "score": 9})
    return rows


# Row 3 of the seeds survives the filter and dedup; this eval row quotes it inside a longer
# text: too different for dedup's Jaccard threshold, yet it shares 13-grams (a leak).
LEAKED = TEMPLATES[3].format(verb=VERBS[3], topic=TOPICS[1])
EVAL_ROWS = [
    {"instruction": "how do i change my password settings when the page keeps showing an error"},
    {
        "instruction": "a customer wrote: "
        + LEAKED
        + " and then asked whether the billing team could look at the failed payment, the "
        "duplicate receipt, the missing tax number and the wrong company address on it"
    },
    {"instruction": "where can i download last year's invoices as a single pdf"},
    *(
        {"instruction": f"what does the {t} page show after i {v} it"}
        for t in TOPICS
        for v in VERBS[:2]
    ),
]

STEPS: dict[str, dict[str, Any]] = {
    "seeds": {"kind": "seed", "path": "data/seeds.jsonl", "description": "Support questions."},
    "good": {
        "kind": "filter",
        "from": "seeds",
        "where": "score >= 3",
        "description": "Keep the questions that scored 3 or more.",
    },
    "deduped": {
        "kind": "dedup",
        "from": "good",
        "column": "instruction",
        "threshold": 0.7,
        "against": ["data/eval.jsonl"],
    },
    "final": {
        "kind": "sql",
        "from": "deduped",
        "query": "select _id, instruction, product from deduped order by _id",
        "checks": [
            {"rows": {"min": 10}},
            {"distinct_n": {"column": "instruction", "n": 2, "min": 0.3}},
            {
                "leakage": {
                    "column": "instruction",
                    "reference": "data/eval.jsonl",
                    "ngram": 13,
                    "max_rate": 0,
                }
            },
            {
                "fidelity": {
                    "column": "instruction",
                    "reference": "data/eval.jsonl",
                    "max_jsd": 0.3,
                    "severity": "warn",
                }
            },
        ],
    },
}


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(dict(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def write_project(
    folder: Path, steps: Mapping[str, Any] = STEPS, name: str = "support-faq"
) -> Path:
    """The support project's files and recipe in `folder`; returns the recipe path."""
    write_jsonl(folder / "data" / "seeds.jsonl", seed_rows())
    write_jsonl(folder / "data" / "eval.jsonl", EVAL_ROWS)
    recipe = {
        "synthc": 1,
        "name": name,
        "seed": 7,
        "steps": dict(steps),
        "exports": {"final": ["out/final.jsonl", "out/final.parquet"]},
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    return path


def build_project(path: Path) -> tuple[Recipe, Store, BuildResult]:
    recipe = load_recipe(path)
    store = Store.for_recipe(recipe)
    result = build(compile_plan(recipe, store.read_lock()), BuildContext(store=store))
    return recipe, store, result


def record_calls(store: Store, step: str, calls: int, hits: int, tokens: int, cost: float) -> None:
    """Write model-call stats into a step's lock entry, as a model-calling step would."""
    state = store.read_lock()
    stats = {"calls": calls, "cache_hits": hits, "tokens": tokens, "cost_usd": cost}
    entry = replace(state.steps[step], stats=stats, model="openai/gpt-4o-mini")
    store.write_lock(LockState(steps={**state.steps, step: entry}, file_hints=state.file_hints))


def chromium_command(binary: Path, profile: Path) -> list[str]:
    """Headless Chromium that reaches no network service on its own."""
    return [
        str(binary),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]
