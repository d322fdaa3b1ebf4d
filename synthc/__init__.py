"""synthc: a compiler for synthetic datasets.

    recipe.yaml --load--> Recipe --compile--> Plan --build--> Store --> query / export

The public API, imported lazily so `synthc --help` and `import synthc` stay instant:

- `load_recipe(path) -> Recipe`          read and validate a recipe (synthc.recipe)
- `compile_plan(recipe, state) -> Plan`  what is fresh, stale (and why) or missing (synthc.plan)
- `build(plan, ctx) -> BuildResult`      run the stale steps into the store (synthc.execute)
- `build_recipe`, `plan_recipe`, `query_recipe`, `export_recipe`, `validate_recipe`:
  the same by recipe path, as the CLI uses them (synthc.api)
- `report_recipe(path) -> (html_path, summary)`  the quality report (synthc.report)

Errors a user can act on are `SynthcError`s (synthc.errors).
"""

from __future__ import annotations

import importlib
from typing import Any

from synthc.errors import PlanError, RecipeError, StepFailed, StoreError, SynthcError

__version__ = "0.1.0"

_LAZY = {
    "load_recipe": "synthc.recipe",
    "compile_plan": "synthc.plan",
    "build": "synthc.execute",
    "build_recipe": "synthc.api",
    "plan_recipe": "synthc.api",
    "query_recipe": "synthc.api",
    "export_recipe": "synthc.api",
    "validate_recipe": "synthc.api",
    "report_recipe": "synthc.report",
}

__all__ = [
    "PlanError",
    "RecipeError",
    "StepFailed",
    "StoreError",
    "SynthcError",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'synthc' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
