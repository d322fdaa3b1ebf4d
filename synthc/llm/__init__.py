"""The LLM gateway: the only place synthc calls models.

`LLMClient` (in `client.py`) answers `CallRequest`s from the content-addressed cache or
by calling the model under per-model limits, and returns `CallResult`s a step turns
into rows and `_calls` / `_failures` records. litellm is imported lazily, only when a
call must really be made; importing this package does not import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.llm.calls import Budget, BudgetExceeded, CallRequest, CallResult
from synthc.llm.models import ModelSpec, missing_keys, resolve_model

if TYPE_CHECKING:
    from synthc.llm.client import LLMClient

__all__ = [
    "Budget",
    "BudgetExceeded",
    "CallRequest",
    "CallResult",
    "LLMClient",
    "ModelSpec",
    "missing_keys",
    "resolve_model",
]


def __getattr__(name: str) -> Any:
    if name == "LLMClient":
        from synthc.llm.client import LLMClient

        return LLMClient
    raise AttributeError(name)
