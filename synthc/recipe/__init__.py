"""Stage 1, the recipe: read YAML with positions, validate it against the schema, check
its meaning (references, files, templates, models), and return a frozen `Recipe`.

Entry point: `load_recipe(path) -> Recipe`, which raises one `RecipeError` listing
every problem as `file:line:col: path: message`.
"""

from synthc.recipe.load import Check, ModelAlias, Recipe, Step, load_recipe

__all__ = ["Check", "ModelAlias", "Recipe", "Step", "load_recipe"]
