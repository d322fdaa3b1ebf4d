"""The `synthc` command. Thin: parse arguments, call the public API, format output.

stdout carries data only (plans, query rows); progress, messages and errors go to
stderr. A SynthcError prints one message and exits with its code (2 for anything the
user can fix); `--debug` shows the traceback. Heavy modules are imported inside the
commands so `synthc --help` stays instant.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

import click

from synthc import __version__


class SynthcGroup(click.Group):
    """Turns SynthcError into one clear line on stderr and the error's exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from synthc.errors import SynthcError

        try:
            return super().invoke(ctx)
        except SynthcError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted: finished steps and paid calls are kept", err=True)
            ctx.exit(130)
        except OSError as exc:  # the machine, not the recipe: one line, the cause, the file
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            where = f" ({exc.filename})" if exc.filename else ""
            click.echo(
                f"error: {exc.strerror or exc}{where}; rerun with --debug for details", err=True
            )
            ctx.exit(2)


recipe_argument = click.argument("recipe", type=click.Path(dir_okay=False, path_type=str))
# Rows on stdout as a table, csv, json or jsonl (preview and query).
format_option = click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(["table", "csv", "json", "jsonl"]),
    default="table",
    show_default=True,
)
engine_option = click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    help="Where model calls that miss the cache run (default: the recipe's execution.engine).",
)


@click.group(cls=SynthcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="synthc")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """synthc compiles YAML recipes into synthetic datasets.

    \b
    Example:
      synthc plan recipes/quickstart.yaml
      synthc build recipes/quickstart.yaml
      synthc query recipes/quickstart.yaml "select * from final limit 5"
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@cli.command()
@click.argument("folder", default=".", type=click.Path(file_okay=False, path_type=str))
def init(folder: str) -> None:
    """Write a commented starter recipe (recipe.yaml, on the embedded local model) and a
    tiny seed file (data/topics.jsonl) into FOLDER (default: here). Never overwrites.

    \b
    Example:
      synthc init my-dataset
      synthc build my-dataset/recipe.yaml
    """
    from synthc.api import shown_path
    from synthc.starter import init_project

    written = init_project(folder)
    for path in written:
        click.echo(shown_path(path))
    click.echo(f"next: synthc plan {shown_path(written[0])}", err=True)


@cli.command()
@recipe_argument
def validate(recipe: str) -> None:
    """Check a recipe (schema, references, templates, columns) without building.

    \b
    Example:
      synthc validate recipes/quickstart.yaml
    """
    from synthc.api import validate_recipe

    plan = validate_recipe(recipe)
    click.echo(f"{recipe}: ok ({len(plan.steps)} steps)", err=True)


@cli.command()
@recipe_argument
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option(
    "--check",
    is_flag=True,
    help="Exit 1 if a build would do anything (run a step or a gate, rewrite an export).",
)
@click.option(
    "--no-estimate", is_flag=True, help="Skip counting the model calls a build would make."
)
@engine_option
def plan(recipe: str, as_json: bool, check: bool, no_estimate: bool, engine: str | None) -> None:
    """Show each step: fresh, stale (and why) or missing, and for steps that call a
    model, how many calls are cached, how many a build would make, and their cost.
    Never calls a model.

    \b
    Example:
      synthc plan recipes/quickstart.yaml --check
    """
    from synthc.api import (
        budget_warning,
        describe_missing_keys,
        estimate_recipe,
        missing_keys,
        plan_recipe,
    )
    from synthc.plan.model import FRESH
    from synthc.plan.render import plan_json, plan_table

    compiled = plan_recipe(recipe, engine=engine)
    estimates = None if no_estimate else estimate_recipe(compiled)
    if compiled.recipe.engine == "local" and (needed := missing_keys(compiled)):
        click.echo("warning: " + describe_missing_keys(needed), err=True)
    if estimates and (over := budget_warning(compiled, estimates)):
        click.echo("warning: " + over, err=True)
    text = plan_json(compiled, estimates) if as_json else plan_table(compiled, estimates)
    click.echo(text, nl=False)
    stale = any(step.status != FRESH or step.checks_stale for step in compiled.steps)
    if check and (stale or compiled.stale_exports):
        sys.exit(1)


@cli.command()
@recipe_argument
@click.option(
    "--select",
    "-s",
    "select",
    multiple=True,
    metavar="STEP",
    help="Only these steps: 'step', 'step+' (and downstream), '+step' (and upstream). Repeatable.",
)
@click.option(
    "-B",
    "--rebuild",
    is_flag=True,
    help="Re-run the selected steps even if fresh (cache still used).",
)
@click.option("--refresh", is_flag=True, help="Skip the LLM cache for the selected steps.")
@click.option("--wait", is_flag=True, help="Wait for another build of this recipe to finish.")
@click.option(
    "--no-wait",
    "no_wait",
    is_flag=True,
    help="Submit calls of `batch:` models to the provider's batch API and exit 75 instead of "
    "waiting; build again later to collect them.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors and the summary.")
@engine_option
@click.option(
    "--address",
    metavar="ADDRESS",
    help="The Ray cluster (auto, HOST:PORT, ray://HOST:10001); implies --engine ray.",
)
def build(
    recipe: str,
    select: tuple[str, ...],
    rebuild: bool,
    refresh: bool,
    wait: bool,
    no_wait: bool,
    quiet: bool,
    engine: str | None,
    address: str | None,
) -> None:
    """Run the stale steps; a second build with nothing changed does nothing.

    Exit codes: 0 built, 1 rows or checks failed, 2 a problem to fix, 75 calls still
    pending in provider batches (`--no-wait`, or a batch not finished): build again to
    collect them.

    \b
    Example:
      synthc build recipes/quickstart.yaml
      synthc build recipes/quickstart.yaml --select answers+ -B
      synthc build recipes/quickstart.yaml --engine ray --address 10.0.0.5:6379
      synthc build recipes/quickstart.yaml --no-wait
    """
    from synthc.api import build_recipe
    from synthc.errors import BatchPending
    from synthc.progress import ConsoleReporter

    reporter = ConsoleReporter(quiet=quiet)
    try:
        result = build_recipe(
            recipe, select=select, force=rebuild, refresh=refresh, wait=wait, reporter=reporter,
            engine=engine, address=address, batch_wait=not no_wait,
        )  # fmt: skip
    except BatchPending as pending:
        click.echo(str(pending), err=True)
        click.echo(
            f"collect them with `synthc build {recipe}` once the provider is done "
            f"(`synthc plan {recipe}` shows what is pending)",
            err=True,
        )
        sys.exit(pending.exit_code)
    built = ", ".join(f"{name} ({result.rows.get(name, 0)} rows)" for name in result.built)
    summary = f"built {len(result.built)} step(s)" + (f": {built}" if built else "")
    summary += f"; {len(result.skipped)} fresh"
    if result.calls:
        summary += f"; {result.calls_made} model calls made, {result.cache_hits} from cache"
    summary += f"; {result.seconds:.2f}s"
    if result.failures:
        summary += f"; {result.failures} row(s) failed (see _failures; the next build retries them)"
    if result.gate_failures:
        summary += f"; {len(result.gate_failures)} error-level check(s) failed (see _checks)"
    if reporter.warnings:
        summary += f"; {reporter.warnings} warning(s) above"
    click.echo(summary, err=True)
    sys.exit(result.exit_code)


@cli.command()
@recipe_argument
@click.option("--step", "-s", required=True, help="The step to preview.")
@click.option(
    "--limit", "-n", default=5, show_default=True, help="Rows taken from each starting step."
)
@format_option
def preview(recipe: str, step: str, limit: int, fmt: str) -> None:
    """Run STEP and the steps it reads on the first rows, in memory, and print its rows.

    Nothing is written (no lock, catalog or exports); model calls go through the cache,
    so after a prompt edit only the changed prompts are paid for. Lineage columns are
    left out.

    \b
    Example:
      synthc preview recipes/quickstart.yaml -s questions --limit 3
      synthc preview recipes/quickstart.yaml -s final -f jsonl
    """
    from synthc.api import preview_recipe
    from synthc.progress import ConsoleReporter
    from synthc.rows import LINEAGE_COLUMNS
    from synthc.store.store import format_frame

    frame = preview_recipe(recipe, step, limit, reporter=ConsoleReporter(quiet=True))
    shown = frame.drop([c for c in LINEAGE_COLUMNS if c in frame.columns])
    click.echo(format_frame(shown, fmt), nl=False)
    click.echo(
        f"{frame.height} row(s) of '{step}' from the first {limit} row(s); nothing written",
        err=True,
    )


@cli.command()
@recipe_argument
@click.argument("sql")
@format_option
def query(recipe: str, sql: str, fmt: str) -> None:
    """Read-only SQL over the step tables (each step is a table by its name).

    \b
    Example:
      synthc query recipes/quickstart.yaml "select count(*) from seeds"
      synthc query recipes/quickstart.yaml "select * from final" -f jsonl > final.jsonl
    """
    from synthc.api import query_recipe

    click.echo(query_recipe(recipe, sql, fmt), nl=False)


@cli.command()
@recipe_argument
def export(recipe: str) -> None:
    """Write the files listed under `exports:` (jsonl, parquet, csv, or the trainer
    formats messages, preference and datasets) from the built steps.

    \b
    Example:
      synthc export recipes/quickstart.yaml
    """
    from synthc.api import export_recipe, shown_path
    from synthc.progress import ConsoleReporter

    for path in export_recipe(recipe, reporter=ConsoleReporter()):
        click.echo(shown_path(path))


@cli.command()
@recipe_argument
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    help="Where to write the HTML (default: .synthc/<recipe>/report.html beside the recipe).",
)
@click.option("--open", "open_page", is_flag=True, help="Open the report in a web browser.")
def report(recipe: str, out_path: str | None, open_page: bool) -> None:
    """The quality report: rows per step, what filters and dedup removed and why, cost
    and cache hits, every metric with its plot, every gate. Writes one self-contained
    HTML file and prints a summary. Reads the last build; never builds.

    \b
    Example:
      synthc report recipes/quickstart.yaml
      synthc report recipes/quickstart.yaml --out report.html --open
    """
    from synthc.report.write import report_recipe

    page, summary = report_recipe(recipe, out_path)
    click.echo(summary, nl=not summary.endswith("\n"))
    click.echo(f"report: {page}", err=True)
    if open_page:
        import webbrowser

        webbrowser.open(page.resolve().as_uri())


@cli.group()
def cache() -> None:
    """The LLM call cache: what it holds, and removing what no build uses.

    \b
    Example:
      synthc cache stats recipes/quickstart.yaml
      synthc cache gc recipes/quickstart.yaml --dry-run
    """


@cache.command("stats")
@recipe_argument
def cache_stats_command(recipe: str) -> None:
    """Entries, size on disk, what the current build uses, hit rate and money saved.

    \b
    Example:
      synthc cache stats recipes/quickstart.yaml
    """
    from synthc.cache_admin import cache_stats

    click.echo(cache_stats(recipe).describe())


@cache.command("gc")
@click.argument("recipes", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Count what would be removed; remove nothing.")
def cache_gc_command(recipes: tuple[str, ...], dry_run: bool) -> None:
    """Remove cache entries that no current output of RECIPES uses.

    Name every recipe that shares the cache (SYNTHC_CACHE_DIR): entries only the
    others use would be removed.

    \b
    Example:
      synthc cache gc recipes/quickstart.yaml --dry-run
    """
    import os

    from synthc.cache_admin import cache_gc

    if os.environ.get("SYNTHC_CACHE_DIR") and not dry_run:
        click.echo(
            "note: the cache is shared (SYNTHC_CACHE_DIR); entries used only by recipes "
            "not named here are removed",
            err=True,
        )
    result = cache_gc(recipes, dry_run=dry_run)
    verb = "would remove" if result.dry_run else "removed"
    click.echo(f"{result.directory}: {verb} {result.removed} entries, kept {result.kept}", err=True)


def main() -> None:
    cli(prog_name="synthc")


def run() -> None:
    """`main` as a process of its own (`python -m synthc`, the `synthc` script). Once
    the command is done, atexit handlers run and output is flushed, the process ends
    without the interpreter's teardown: freeing every loaded module one by one costs
    ~0.1 s once polars, duckdb and aiohttp are in.
    It takes the ordinary way out while another non-daemon thread still runs (their
    join comes first) or when the command ends with a message instead of a code."""
    code: str | int | None = 0
    try:
        main()
    except SystemExit as done:
        code = done.code
    if isinstance(code, str) or _other_threads_running():
        sys.exit(code)
    import atexit
    import contextlib
    import os

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader that went away
            stream.flush()
    os._exit(code or 0)


def _other_threads_running() -> bool:
    import threading

    main_thread = threading.main_thread()
    return any(t is not main_thread and not t.daemon for t in threading.enumerate())
