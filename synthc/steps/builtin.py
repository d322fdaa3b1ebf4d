"""The table of step kinds.

The kinds are those the schema lists; each lives in `synthc/steps/<kind>.py` and
exposes `KIND: StepKind`. A kind whose
module does not exist yet is declared with `run=None`, so the compiler says "not
implemented yet" at plan time instead of failing mid-build.
"""

from __future__ import annotations

import importlib
from functools import cache

from synthc.recipe.kinds import step_kinds
from synthc.steps.kind import StepKind


@cache
def kinds() -> dict[str, StepKind]:
    found: dict[str, StepKind] = {}
    for name in step_kinds():
        module_name = f"synthc.steps.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise  # the module exists but one of its imports is missing: say so
            found[name] = StepKind(name=name, version=0, run=None)
            continue
        found[name] = module.KIND
    return found
