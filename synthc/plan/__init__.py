"""Stage 2, the plan: compile a `Recipe` against the lock into a `Plan` of ordered,
fingerprinted steps, each fresh, stale (with the reason) or missing.

Entry point: `compile_plan(recipe, state) -> Plan`. Pure: it never calls a model.
"""

from synthc.plan.compile import compile_plan
from synthc.plan.model import FRESH, MISSING, STALE, CallEstimate, Plan, PlannedStep

__all__ = ["FRESH", "MISSING", "STALE", "CallEstimate", "Plan", "PlannedStep", "compile_plan"]
