"""The report's Privacy and Balance sections: what the `privacy` gate flagged (from
`_privacy_matches`: per kind, a count and the first pairs with their shared spans) and
each `balance` gate's attribute as output shares beside the expected ones (`_balance`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synthc.report.model import EXAMPLES_PER_REASON, Plot, Removal, RemovalGroup, Series, _lit

if TYPE_CHECKING:
    from synthc.recipe.load import Recipe
    from synthc.store.store import Store

KIND_NAMES = {"exact": "exact copy of a private seed", "ngram": "shares a 13-gram with a private seed",
              "minhash": "near-copy of a private seed (MinHash)",
              "canary": "holds a word of a planted canary"}  # fmt: skip


def privacy_flags(
    recipe: Recipe, store: Store, tables: set[str]
) -> tuple[tuple[str, tuple[RemovalGroup, ...]], ...]:
    """(step, groups by kind) for every step whose privacy gate flagged a row."""
    if "_privacy_matches" not in tables:
        return ()
    found = []
    for step in recipe.steps:
        frame = store.query_frame(
            "select output_id, seed_id, kind, score, span from _privacy_matches "
            f"where _step = {_lit(step)} order by kind, output_id, seed_id"
        )
        groups = []
        for kind in sorted(set(frame.get_column("kind").to_list())):
            part = frame.filter(frame.get_column("kind") == kind)
            examples = tuple(
                Removal(str(out), str(span), f"seed {seed}, score {float(score):.2f}")
                for out, seed, _kind, score, span in part.head(EXAMPLES_PER_REASON).iter_rows()
            )
            label = KIND_NAMES.get(kind, kind.replace("pii:", "replayed PII: "))
            groups.append(RemovalGroup(label, part.height, examples))
        if groups:
            found.append((step, tuple(groups)))
    return tuple(found)


def balance_plots(recipe: Recipe, store: Store, tables: set[str]) -> list[Plot]:
    """Per step and attribute its balance gate measured: output vs expected shares."""
    if "_balance" not in tables:
        return []
    plots = []
    for step in recipe.steps:
        frame = store.query_frame(
            "select attribute, category, output_rows, output_share, expected_share, "
            "coalesce(reference_rows, 0) as reference_rows "
            f"from _balance where _step = {_lit(step)} order by attribute, category"
        )
        for attribute in sorted(set(frame.get_column("attribute").to_list())):
            part = frame.filter(frame.get_column("attribute") == attribute)
            rows = int(part.get_column("output_rows").sum())
            reference = int(part.get_column("reference_rows").sum())
            shares = tuple(float(v) for v in part.get_column("output_share"))
            expected = tuple(float(v) for v in part.get_column("expected_share"))
            missing = sum(1 for s, e in zip(shares, expected, strict=True) if e > 0 and s == 0)
            plots.append(
                Plot(
                    key=f"balance-{step}-{attribute}",
                    title=f"Balance of {step}.{attribute}",
                    caption=f"output shares against the expected ones; {missing} expected "
                    f"categor{'y' if missing == 1 else 'ies'} missing",
                    x_label=attribute,
                    bins=tuple(str(c) for c in part.get_column("category")),
                    series=(Series("expected", expected, reference), Series(step, shares, rows)),
                )
            )
    return plots
