"""The table of step kinds. A kind whose module has not landed yet is declared with
`run=None`, so the compiler can say "not implemented yet" at plan time."""

from __future__ import annotations

from synthc.recipe import STEP_KINDS
from synthc.steps import StepKind


def kinds() -> dict[str, StepKind]:
    implemented: dict[str, StepKind] = {}
    for module_name in ("seed", "filter", "sql"):
        module = __import__(f"synthc.steps.{module_name}", fromlist=["KIND"])
        kind: StepKind = module.KIND
        implemented[kind.name] = kind
    return {
        name: implemented.get(name, StepKind(name=name, version=0, run=None)) for name in STEP_KINDS
    }
