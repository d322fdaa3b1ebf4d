"""Recipe-path level entry points: what the CLI calls, and the easiest way to use synthc
from Python. Each one is load -> compile -> (build | query | export)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthc.errors import PlanError, StoreError
from synthc.llm.models import DEFAULT_MODEL
from synthc.plan.compile import compile_plan
from synthc.plan.model import FRESH, Plan
from synthc.progress import NullReporter, Reporter
from synthc.recipe.load import Recipe, load_recipe
from synthc.recipe.semantics import MODEL_FIELDS
from synthc.steps import registry
from synthc.store.exports import write_exports
from synthc.store.lock import read_lock
from synthc.store.store import Store

if TYPE_CHECKING:
    from synthc.execute.build import BuildResult
    from synthc.plan.model import CallEstimate


def validate_recipe(path: str | Path) -> Plan:
    """Load and compile `path` without looking at previous builds. Raises RecipeError."""
    return compile_plan(load_recipe(path))


def plan_recipe(path: str | Path) -> Plan:
    """Compile `path` against its lock and stored outputs: what `synthc build` would run."""
    recipe = load_recipe(path)
    store = Store.for_recipe(recipe)
    return compile_plan(recipe, read_lock(recipe.lock_path), output_exists=_output_exists(store))


def estimate_recipe(plan: Plan) -> dict[str, CallEstimate]:
    """Model calls the stale steps of `plan` would make: cached, to make, tokens, dollars.
    Runs steps in memory against the call cache; never calls a model."""
    if not any(registry()[p.kind].calls_model and p.status != FRESH for p in plan.steps):
        return {}
    from synthc.execute.estimate import estimate_plan

    return estimate_plan(plan, Store.for_recipe(plan.recipe))


def budget_warning(plan: Plan, estimates: Mapping[str, CallEstimate]) -> str | None:
    """Why the estimated calls would not fit in what is left of `budget:` (what earlier
    builds spent counts unless `scope: build`), or None when they fit."""
    budget = plan.recipe.budget
    if not budget or not estimates:
        return None
    scoped = budget.get("scope", "recipe") == "recipe"
    spent = Store.for_recipe(plan.recipe).spent() if scoped else {}
    needed = {
        "calls": sum(e.to_make for e in estimates.values()),
        "tokens": sum(e.tokens for e in estimates.values()),
        "usd": sum(e.usd or 0.0 for e in estimates.values()),
    }
    for cap, what in (("max_calls", "calls"), ("max_tokens", "tokens"), ("max_usd", "usd")):
        limit = budget.get(cap)
        left = None if limit is None else limit - spent.get(what, 0)
        if left is not None and needed[what] > left:
            form = "${:.4f}" if what == "usd" else "{:.0f}"
            earlier = " after earlier builds" if spent.get(what) else ""
            return (f"the build needs about {form.format(needed[what])} {what} but "
                    f"budget.{cap} leaves {form.format(max(left, 0))}{earlier}; it will "
                    "stop when the budget is spent")  # fmt: skip
    return None


def build_recipe(
    path: str | Path,
    *,
    select: Sequence[str] = (),
    force: bool = False,
    refresh: bool = False,
    wait: bool = False,
    reporter: Reporter | None = None,
) -> BuildResult:
    """Build the stale steps of the recipe at `path`; return what ran.

    After a full build (no `select`) in which every step succeeded, the recipe's
    `exports:` files are written too. Example::

    result = build_recipe("recipes/quickstart.yaml", select=["answers+"])
    print(result.built, result.rows)
    """
    from synthc.execute.build import BuildContext, build

    recipe = load_recipe(path)
    store = Store.for_recipe(recipe)
    plan = compile_plan(recipe, store.read_lock(), output_exists=_output_exists(store))
    needed = missing_keys(plan)
    if needed and (unpaid := _steps_with_calls_to_make(plan, needed)):
        raise PlanError(describe_missing_keys(unpaid))
    llm = _llm_client(plan, store)
    try:
        context = BuildContext(
            store=store,
            reporter=reporter or NullReporter(),
            llm=llm,
            select=select,
            force=force,
            refresh=refresh,
            wait_for_lock=wait,
        )
        result = build(plan, context)
    finally:
        if llm is not None:
            llm.close()
    if result.exit_code == 0 and not select and _exports_outdated(recipe, result):
        for written in _write_exports(recipe, store):
            context.reporter.message(f"exported {shown_path(written)}")
    return result


def missing_keys(plan: Plan) -> dict[str, list[str]]:
    """API-key environment variables that stale model-calling steps need and that are
    unset: variable -> the steps needing it. Fresh steps need no key."""
    from synthc.llm.models import missing_keys as unset_variables

    kinds = registry()
    needed: dict[str, list[str]] = {}
    for planned in plan.steps:
        if not kinds[planned.kind].calls_model or planned.status == FRESH:
            continue
        models = {planned.step.model or plan.recipe.model or DEFAULT_MODEL}
        for field in MODEL_FIELDS.get(planned.kind, ()):
            value = planned.config.get(field)
            models.update([value] if isinstance(value, str) else value or [])
        for variable in unset_variables(
            plan.recipe, sorted(m for m in models if isinstance(m, str))
        ):
            needed.setdefault(variable, []).append(planned.name)
    return needed


def _steps_with_calls_to_make(plan: Plan, needed: dict[str, list[str]]) -> dict[str, list[str]]:
    """Keep the steps that would really send calls: all-cached steps need no key."""
    estimates = estimate_recipe(plan)
    return {
        variable: kept
        for variable, steps in needed.items()
        if (
            kept := [
                s for s in steps if s not in estimates or estimates[s].to_make or estimates[s].note
            ]
        )
    }


def describe_missing_keys(needed: dict[str, list[str]]) -> str:
    lines = [
        f"{variable} is not set; step(s) {', '.join(steps)} need it to call their model"
        for variable, steps in sorted(needed.items())
    ]
    return (
        "\n".join(lines) + "\nset it in the environment (keys never go in a recipe) and build again"
    )


def shown_path(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _write_exports(recipe: Recipe, store: Store) -> list[Path]:
    """The `exports:` files, then the dataset card (README.md) beside them."""
    from synthc.report.card import write_card

    lock = store.read_lock()
    written = write_exports(recipe, lock, store)
    return [*written, write_card(recipe, lock, store)]


def _exports_outdated(recipe: Recipe, result: BuildResult) -> bool:
    """Exports are rewritten when an exported step was built or an export file is gone."""
    return any(
        step in result.built or not (recipe.root / path).exists()
        for step, paths in recipe.exports.items()
        for path in paths
    )


def query_recipe(path: str | Path, sql: str, format: str = "table") -> str:
    """Run read-only SQL over a built recipe's step tables; return rows as text."""
    recipe = load_recipe(path)
    return Store.for_recipe(recipe).query(sql, format)


def export_recipe(path: str | Path) -> list[Path]:
    """Write the recipe's `exports:` files from its built steps, and a Hugging Face-style
    dataset card (README.md) beside them; return the paths written."""
    recipe = load_recipe(path)
    store = Store.for_recipe(recipe)
    plan = compile_plan(recipe, store.read_lock(), output_exists=_output_exists(store))
    stale = [p.name for p in plan.steps if p.status != FRESH and p.name in recipe.exports]
    if stale:
        raise StoreError(
            f"exports: step(s) {', '.join(stale)} are not fresh; run `synthc build {path}` first"
        )
    return _write_exports(recipe, store)


def _output_exists(store: Store) -> Callable[[str, str], bool]:
    def exists(step: str, data_version: str) -> bool:
        return store.step_path(step, data_version).exists()

    return exists


def _llm_client(plan: Plan, store: Store) -> Any:
    """An LLM client only for recipes with a model-calling step or a check embedding with
    a gateway model; it imports no litellm until a call actually misses the cache. Its
    budget counts what earlier builds spent (unless `budget: {scope: build}`)."""
    kinds = registry()
    if not any(kinds[p.kind].calls_model for p in plan.steps) and not _embeds_via_gateway(plan):
        return None
    from synthc.llm.client import LLMClient

    spent = store.spent() if plan.recipe.budget else None
    return LLMClient(plan.recipe, spent=spent)


def _embeds_via_gateway(plan: Plan) -> bool:
    from synthc.llm.embedders import EMBEDDING_CHECKS, embedding_settings, uses_gateway

    return any(
        check.kind in EMBEDDING_CHECKS and uses_gateway(embedding_settings(check, plan.recipe))
        for planned in plan.steps
        for check in planned.step.checks
    )
