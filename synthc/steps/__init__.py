"""Step kinds. Each kind is a module here exposing one `KIND: StepKind`.

A step function receives a `StepContext` (its upstream frames, config, seeded
randomness, SQL, the LLM client, progress) and returns a polars DataFrame. Steps never
import litellm, open DuckDB files or touch the terminal: everything comes through ctx.
"""

from synthc.steps.builtin import kinds as registry
from synthc.steps.kind import StepContext, StepKind, StepLLM

__all__ = ["StepContext", "StepKind", "StepLLM", "registry"]
