"""synthc: a compiler for synthetic datasets.

    recipe.yaml --load--> Recipe --compile--> Plan --build--> Store --> query / report / export

The CLI calls exactly these functions.
"""

from __future__ import annotations

from synthc.errors import PlanError, RecipeError, StepFailed, StoreError, SynthcError
from synthc.recipe import load_recipe

__all__ = [
    "PlanError",
    "RecipeError",
    "StepFailed",
    "StoreError",
    "SynthcError",
    "load_recipe",
]
__version__ = "0.1.0"
