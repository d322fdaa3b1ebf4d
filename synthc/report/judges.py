"""The report's Judge agreement section: for every `judge` step with several judges,
Krippendorff's alpha (interval) over their score columns and pairwise Spearman, read
from the built rows, whether or not a `judge_agreement` gate is set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synthc.report.model import JudgeAgreement, _name

if TYPE_CHECKING:
    from synthc.recipe.load import Recipe
    from synthc.store.store import Store


def judge_statistics(recipe: Recipe, store: Store, tables: set[str]) -> tuple[JudgeAgreement, ...]:
    """One record per built judge step with two or more judges (numpy and polars are
    imported only for one: a dataset card without such a step needs neither)."""
    from synthc.steps.judge import judge_names, judge_suffixes

    found = []
    for name, step in recipe.steps.items():
        judges = judge_names(step.config) if step.kind == "judge" else []
        if len(judges) < 2 or name not in tables:
            continue
        import numpy as np
        import polars as pl

        from synthc.quality.agreement import krippendorff_interval, pairwise_spearman

        output = str(step.config.get("output", "score"))
        columns = [f"{output}_{suffix}" for suffix in judge_suffixes(judges)]
        frame = store.query_frame(
            f"select {', '.join(_name(c) for c in columns)} from {_name(name)}"
        )
        matrix = frame.select(pl.all().cast(pl.Float64)).to_numpy()
        alpha = krippendorff_interval(matrix)
        rhos = pairwise_spearman(matrix, judges)
        found.append(
            JudgeAgreement(
                step=name,
                judges=tuple(judges),
                rows=int(np.sum((~np.isnan(matrix)).sum(axis=1) >= 2)),
                alpha=alpha if np.isfinite(alpha) else None,
                spearman=tuple(
                    (pair, rho if np.isfinite(rho) else None) for pair, rho in rhos.items()
                ),
            )
        )
    return tuple(found)
