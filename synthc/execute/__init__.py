"""Stage 3, execution: run a plan's stale steps in order, evaluate their gates, and
land each result in the store; or run them in memory against the call cache to
estimate what a build would call.

Entry points: `build(plan, ctx) -> BuildResult`, `estimate_plan(plan, store)`.
"""

from synthc.execute.build import BuildContext, BuildResult, build

__all__ = ["BuildContext", "BuildResult", "build"]
