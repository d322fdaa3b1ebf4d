"""Recipe-path level entry points: what the CLI calls, and the easiest way to use synthc
from Python. Each one is load -> compile -> (build | query | export)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthc.errors import PlanError, RecipeError, StoreError, sorted_problems
from synthc.llm.models import DEFAULT_MODEL
from synthc.plan.compile import compile_plan, static_problems
from synthc.plan.model import FRESH, Plan
from synthc.progress import NullReporter, Reporter
from synthc.recipe.load import Recipe, load_recipe, read_recipe, recipe_workdir
from synthc.recipe.sqlmemo import MEMO_FILE, SQLMemo
from synthc.steps import registry
from synthc.store.exports import write_exports
from synthc.store.lock import read_lock
from synthc.store.store import Store

if TYPE_CHECKING:
    import polars as pl

    from synthc.execute.build import BuildResult
    from synthc.plan.model import CallEstimate


def validate_recipe(path: str | Path) -> Plan:
    """Load and compile `path` without looking at previous builds. Raises RecipeError."""
    recipe = checked_recipe(path)
    plan = compile_plan(recipe)
    Store.for_recipe(recipe).remember_sql_checks(recipe.sql_memo)
    return plan


def checked_recipe(path: str | Path) -> Recipe:
    """`load_recipe`, except that when the recipe has problems, the steps that did load
    are compiled too, so one RecipeError lists the problems of every stage at once.

    SQL checks that passed in an earlier run over the same inputs are not run again
    (`recipe.sql_memo`; `Store.remember_sql_checks` keeps what this run learns)."""
    loaded = read_recipe(path, SQLMemo.read(recipe_workdir(path) / MEMO_FILE))
    if not loaded.problems:
        assert loaded.recipe is not None
        return loaded.recipe
    later = static_problems(loaded.recipe, loaded.broken) if loaded.recipe else []
    raise RecipeError(sorted_problems([*loaded.problems, *later]))


def plan_recipe(path: str | Path, *, engine: str | None = None) -> Plan:
    """Compile `path` against its lock and stored outputs: what `synthc build` would run
    (on `engine`, when given, instead of the recipe's `execution.engine`)."""
    recipe = on_engine(checked_recipe(path), engine)
    store = Store.for_recipe(recipe)
    plan = compile_plan(recipe, read_lock(recipe.lock_path), output_exists=_output_exists(store))
    store.remember_sql_checks(recipe.sql_memo)
    return plan


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
        "tokens": sum(e.tokens or 0 for e in estimates.values()),
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
    engine: str | None = None,
    address: str | None = None,
    batch_wait: bool = True,
) -> BuildResult:
    """Build the stale steps of the recipe at `path`; return what ran.

    After a full build (no `select`) in which every step succeeded, the recipe's
    `exports:` files are written too. `engine` ("local" or "ray") and `address` (of
    the Ray cluster) override the recipe's `execution:`. Without `batch_wait`, a step
    whose calls went to a provider's batch API raises `BatchPending` (exit code 75)
    instead of waiting; the next build collects them. Example::

    result = build_recipe("recipes/quickstart.yaml", select=["answers+"])
    print(result.built, result.rows)
    """
    from synthc.execute.build import BuildContext, build

    recipe = on_engine(checked_recipe(path), engine, address)
    store = Store.for_recipe(recipe)
    plan = compile_plan(recipe, store.read_lock(), output_exists=_output_exists(store))
    # On Ray, keys come from the workers' environment; the workers are asked instead.
    needed = missing_keys(plan, select) if recipe.engine == "local" else {}
    # What `synthc plan` would print; the run log keeps it beside what the build does.
    # Only a missing key needs it up front (an all-cached step needs no key); otherwise
    # each step's is made as the build reaches it, from the keys the build computes.
    estimates = estimate_recipe(plan) if needed else {}
    if needed and (unpaid := _steps_with_calls_to_make(needed, estimates)):
        raise PlanError(describe_missing_keys(unpaid))
    session = _ray_session(recipe)
    llm = _llm_client(plan, store, session, batch_wait)
    try:
        context = BuildContext(
            store=store,
            reporter=reporter or NullReporter(),
            llm=llm,
            budget=llm.budget if llm is not None else None,
            estimates=estimates,
            estimate_steps=not needed,
            select=select,
            force=force,
            refresh=refresh,
            wait_for_lock=wait,
            map_blocks=session.map_blocks if session is not None else None,
            group_pairs=session.candidate_pairs if session is not None else None,
        )
        result = build(plan, context)
        store.remember_sql_checks(recipe.sql_memo)  # the build made the workdir
    finally:
        if llm is not None:
            llm.close()
        if session is not None:
            session.close()
    if result.exit_code == 0 and not select:
        with store.build_lock(wait=True):
            for written in _write_exports(recipe, store, context.reporter, only_stale=True):
                context.reporter.message(f"exported {shown_path(written)}")
    elif result.exit_code != 0 and not select and recipe.exports:
        context.reporter.error(_blocked_exports(recipe, result))
    return result


def _blocked_exports(recipe: Recipe, result: BuildResult) -> str:
    """Which export files a failed build did not write, and why."""
    reasons = [f"'{step}' failed an error-level check" for step in result.gate_failures]
    if result.failures:
        reasons.append(f"{result.failures} row(s) failed (see _failures)")
    files = [export.path for exports in recipe.exports.values() for export in exports]
    return (
        f"exports not written: {', '.join(files)} ({'; '.join(reasons) or 'the build failed'}); "
        "files from an earlier build are left as they were"
    )


def preview_recipe(
    path: str | Path, step: str, limit: int = 5, reporter: Reporter | None = None
) -> pl.DataFrame:
    """The rows `step` makes from the first `limit` rows of the steps it starts from,
    computed in memory: the lock, catalog, step outputs and exports are not touched,
    while model calls go through the call cache. Example::

        rows = preview_recipe("recipes/quickstart.yaml", "questions", limit=3)
    """
    from synthc.execute.preview import ancestors, preview

    if limit < 1:
        raise PlanError(f"--limit must be at least 1, got {limit}")
    recipe = load_recipe(path)
    plan = compile_plan(recipe, read_lock(recipe.lock_path))
    ancestors(plan, step)  # an unknown step is reported before a client is opened
    llm = _llm_client(plan, Store.for_recipe(recipe))
    try:
        return preview(plan, step, limit, llm, reporter)
    finally:
        if llm is not None:
            llm.close()


def on_engine(recipe: Recipe, engine: str | None, address: str | None = None) -> Recipe:
    """The recipe with `execution:` overridden from the command line; an address alone
    means Ray."""
    if engine is None and address is None:
        return recipe
    execution = {**recipe.execution, "engine": engine or "ray"}
    if address is not None:
        execution["ray"] = {**(recipe.execution.get("ray") or {}), "address": address}
    return dataclasses.replace(recipe, execution=execution)


def missing_keys(plan: Plan, select: Sequence[str] = ()) -> dict[str, list[str]]:
    """API-key environment variables that stale model-calling steps need and that are
    unset: variable -> the steps needing it. Fresh steps need no key, and with `select`
    (`build -s`) neither do the steps left out."""
    from synthc.execute.build import select_steps
    from synthc.llm.models import missing_keys as unset_variables

    kinds = registry()
    selected = select_steps(plan, select)
    needed: dict[str, list[str]] = {}
    for planned in plan.steps:
        if not kinds[planned.kind].calls_model or planned.status == FRESH:
            continue
        if planned.name not in selected:
            continue
        models = {planned.step.model or plan.recipe.model or DEFAULT_MODEL}
        for field in kinds[planned.kind].model_fields:
            value = planned.config.get(field)
            models.update([value] if isinstance(value, str) else value or [])
        for variable in unset_variables(
            plan.recipe, sorted(m for m in models if isinstance(m, str))
        ):
            needed.setdefault(variable, []).append(planned.name)
    return needed


def _steps_with_calls_to_make(
    needed: dict[str, list[str]], estimates: Mapping[str, CallEstimate]
) -> dict[str, list[str]]:
    """Keep the steps that would really send calls: all-cached steps need no key."""
    return {
        variable: kept
        for variable, steps in needed.items()
        if (kept := [s for s in steps if s not in estimates or not _nothing_to_make(estimates[s])])
    }


def _nothing_to_make(estimate: CallEstimate) -> bool:
    nothing = estimate.to_make == 0 and estimate.to_make_max == 0 and not estimate.pending
    return estimate.note is None and nothing  # collecting a batch needs the key too


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


def _write_exports(
    recipe: Recipe, store: Store, reporter: Reporter, only_stale: bool = False
) -> list[Path]:
    """The `exports:` files (with `only_stale`, those not current), then the dataset card
    (README.md) beside them when any was written; a warning for each file of a step with
    no rows (written all the same, so no stale file survives)."""
    from synthc.report.card import write_card

    lock = store.read_lock()
    written = write_exports(recipe, lock, store, only_stale=only_stale)
    if not written:
        return []
    for step, exports in recipe.exports.items():
        entry = lock.steps.get(step)
        if entry is not None and entry.rows == 0:
            reporter.warning(
                f"exports: {', '.join(export.path for export in exports)} empty: step '{step}' has 0 rows "
                f"(see `synthc report {shown_path(recipe.path)}` for what removed them)"
            )
    return [*written, write_card(recipe, store.read_lock(), store)]


def query_recipe(path: str | Path, sql: str, format: str = "table") -> str:
    """Run read-only SQL over a built recipe's step tables; return rows as text."""
    recipe = load_recipe(path)
    return Store.for_recipe(recipe).query(sql, format)


def export_recipe(path: str | Path, reporter: Reporter | None = None) -> list[Path]:
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
    if gated := _failed_gates_upstream(plan, list(recipe.exports)):
        raise StoreError(
            f"exports: step(s) {', '.join(gated)} failed an error-level check, so the exports "
            "stay withheld (as `synthc build` withholds them); see `synthc report`, fix the "
            "data or relax the check, and build again"
        )
    with store.build_lock(wait=True):
        return _write_exports(recipe, store, reporter or NullReporter())


def _failed_gates_upstream(plan: Plan, steps: Sequence[str]) -> list[str]:
    """The steps among `steps` and their ancestors whose last verdict was an error-level
    gate failure."""
    inputs = {planned.name: planned.inputs for planned in plan.steps}
    seen: set[str] = set()
    todo = list(steps)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(inputs.get(name, ()))
    return sorted(
        name
        for name in seen
        if (entry := plan.state.steps.get(name)) is not None
        and any(check.get("status") == "fail" for check in entry.checks)
    )


def _output_exists(store: Store) -> Callable[[str, str], bool]:
    def exists(step: str, data_version: str) -> bool:
        return store.step_path(step, data_version).exists()

    return exists


def _ray_session(recipe: Recipe) -> Any:
    """With `engine: ray`, the build's (lazily opened) connection to the cluster."""
    if recipe.engine != "ray":
        return None
    from synthc.execute.ray import RaySession

    return RaySession.for_recipe(recipe)


def _llm_client(plan: Plan, store: Store, session: Any = None, batch_wait: bool = True) -> Any:
    """An LLM client only for recipes with a model-calling step or a check embedding with
    a gateway model; it imports no litellm until a call actually misses the cache. Its
    budget counts what earlier builds spent (unless `budget: {scope: build}`). With a
    Ray `session`, model calls that miss the cache go to the cluster. Provider batches
    are recorded in the store's ledger (`batches.json`)."""
    kinds = registry()
    calls_model = any(kinds[p.kind].calls_model for p in plan.steps)
    if not calls_model and not _embeds_via_gateway(plan):
        return None
    spent = store.spent() if plan.recipe.budget else None
    if calls_model and session is not None:
        from synthc.execute.ray import RayLLMClient

        return RayLLMClient(plan.recipe, session, spent=spent, batches=store.batch_ledger(),
                            batch_wait=batch_wait)  # fmt: skip
    from synthc.llm.client import LLMClient

    return LLMClient(plan.recipe, spent=spent, batches=store.batch_ledger(), batch_wait=batch_wait)


def _embeds_via_gateway(plan: Plan) -> bool:
    from synthc.quality.gates import gate_kind

    embedding = [
        check
        for planned in plan.steps
        for check in planned.step.checks
        if gate_kind(check.kind).uses_embeddings
    ]
    if not embedding:
        return False  # without importing the embedders (and numpy)
    from synthc.llm.embedders import embedding_settings, uses_gateway

    return any(uses_gateway(embedding_settings(check, plan.recipe)) for check in embedding)
