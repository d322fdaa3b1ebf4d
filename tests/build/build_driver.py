"""`python build_driver.py RECIPE`: load, compile and build, as `synthc build` does.

The crash test runs builds in a subprocess through this script when the CLI has no
`build` command; it stays as the library path the benchmarks can compare against.
"""

from __future__ import annotations

import sys

from synthc.errors import SynthcError
from synthc.execute import BuildContext, build
from synthc.plan import compile_plan
from synthc.recipe import load_recipe
from synthc.store import Store


def main(path: str) -> int:
    recipe = load_recipe(path)
    store = Store.for_recipe(recipe)
    plan = compile_plan(recipe, store.read_lock())
    try:
        result = build(plan, BuildContext(store=store))
    except SynthcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"built {result.built} skipped {result.skipped}", file=sys.stderr)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
