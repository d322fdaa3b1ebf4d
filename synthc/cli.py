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


recipe_argument = click.argument("recipe", type=click.Path(dir_okay=False, path_type=str))


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
      synthc query recipes/quickstart.yaml "select * from seeds limit 5"
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


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
@click.option("--check", is_flag=True, help="Exit 1 if any step is stale or missing.")
def plan(recipe: str, as_json: bool, check: bool) -> None:
    """Show each step: fresh, stale (and why) or missing. Never calls a model.

    \b
    Example:
      synthc plan recipes/quickstart.yaml --check
    """
    from synthc.api import plan_recipe
    from synthc.plan import FRESH
    from synthc.render import plan_json, plan_table

    compiled = plan_recipe(recipe)
    click.echo(plan_json(compiled) if as_json else plan_table(compiled), nl=False)
    if check and any(step.status != FRESH for step in compiled.steps):
        sys.exit(1)


def main() -> None:
    cli(prog_name="synthc")
