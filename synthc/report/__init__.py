"""Stage 5, the report: gather what the lock and the catalog say about a build once
into a plain `Report`, then render it as a terminal summary, an HTML page or a
dataset card.

Entry point: `report_recipe(path) -> (html_path, summary)`.
"""

from synthc.report.write import report_recipe, write_report

__all__ = ["report_recipe", "write_report"]
