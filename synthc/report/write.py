"""Writing the report: gather once, render the HTML page next to the state, return the
terminal summary. `report_recipe(path)` is what `synthc report` calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from synthc.report.gather import build_report
from synthc.report.html import render_html
from synthc.report.model import Report, redact_key_values
from synthc.report.summary import render_summary
from synthc.store.atomic import atomic_write_text

if TYPE_CHECKING:
    from synthc.recipe.load import Recipe
    from synthc.store.store import Store


def write_report(recipe: Recipe, store: Store | None = None, out_path: Path | None = None) -> Path:
    """Build the report and write its HTML atomically; return the path written.

    The default path is `.synthc/<recipe>/report.html` beside the recipe (`<recipe>`: its
    file name without `.yaml`). Example::

        path = write_report(load_recipe("recipe.yaml"))
    """
    from synthc.store.store import Store

    store = store or Store.for_recipe(recipe)
    return _write_html(build_report(recipe, store), store, out_path)


def _write_html(report: Report, store: Store, out_path: str | Path | None) -> Path:
    target = Path(out_path) if out_path is not None else store.workdir / "report.html"
    atomic_write_text(target, redact_key_values(render_html(report)))
    return target


def report_recipe(path: str | Path, out_path: str | Path | None = None) -> tuple[Path, str]:
    """`synthc report R`: write the recipe's HTML report; return its path and the summary.

    Reads only the lock and the store (never builds). Example::

        page, summary = report_recipe("recipes/quickstart.yaml")
        print(summary)
    """
    from synthc.recipe.load import load_recipe
    from synthc.store.store import Store

    recipe = load_recipe(path)
    store = Store.for_recipe(recipe)
    report = build_report(recipe, store)
    return _write_html(report, store, out_path), redact_key_values(render_summary(report))
