"""Quality gates: evaluate one `checks:` entry of a step on its output frame.

`evaluate_check` is pure: the executor passes the check's kind and settings, the step's
rows, the frames of every `reference` the check names (already read from files or
steps), a SQL runner and an embedder, and records the `CheckResult` (in `_checks` and
the lock). A gate never changes data.

Each gate kind is one `GateKind` record in `GATE_KINDS`, beside its measure: which
side of the threshold passes, whether it is measured on embeddings (so the embeddings
are part of its identity), and what its `reference:` holds. The identity
(synthc.plan.checks), the evaluation in a build (synthc.execute.gates) and the report
all read these records; adding a gate kind is its record plus its schema definition.
Importing this module is cheap (numpy and polars load when a gate is measured).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from synthc.quality.embeddings import Embedder

    SqlRunner = Callable[[str, Mapping[str, pl.DataFrame]], pl.DataFrame]


@dataclass(frozen=True)
class CheckResult:
    """One gate's outcome. status: "pass", or "fail" / "warn" by the check's severity.

    figure is the measured value, threshold the limit it is compared with, details any
    secondary figures (for the report); failing_rows lists offending rows where a check
    can name them (sql, leakage, near_duplicates).
    """

    kind: str
    severity: str
    status: str
    figure: float | None
    threshold: float | None
    message: str
    failing_rows: pl.DataFrame | None = None
    details: Mapping[str, float] = field(default_factory=dict)
    tables: Mapping[str, pl.DataFrame] = field(default_factory=dict)  # e.g. _privacy_matches

    @property
    def passed(self) -> bool:
        return self.status == "pass"


@dataclass(frozen=True)
class Outcome:
    """What a check function measured; evaluate_check turns it into a CheckResult."""

    ok: bool
    figure: float | None
    threshold: float | None
    message: str
    failing_rows: pl.DataFrame | None = None
    details: Mapping[str, float] = field(default_factory=dict)
    tables: Mapping[str, pl.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True)
class Inputs:
    """What a measure sees: the check's kind and settings, the rows, the references."""

    kind: str
    config: Mapping[str, Any]
    frame: pl.DataFrame
    references: Mapping[str, pl.DataFrame]
    sql: SqlRunner
    table: str
    embed: Embedder | None = None

    def texts(self, key: str = "column") -> list[str]:
        return _column(self.frame, str(self.config[key]), "the step's output")

    def reference(self) -> pl.DataFrame:
        name = str(self.config["reference"])
        if name not in self.references:
            raise ValueError(f"{self.kind} check: reference '{name}' was not provided")
        return self.references[name]

    def reference_texts(self, key: str = "column") -> list[str]:
        import polars as pl

        frame, column = self.reference(), str(self.config[key])
        if column not in frame.columns:
            texts = [c for c, t in frame.schema.items() if t == pl.String and not c.startswith("_")]
            if len(texts) != 1:
                raise ValueError(
                    f"{self.kind} check: reference '{self.config['reference']}' has no column "
                    f"'{column}' and {len(texts)} text columns {texts}; rename one to '{column}'"
                )
            column = texts[0]
        return _column(frame, column, f"reference '{self.config['reference']}'")


def _column(frame: pl.DataFrame, column: str, where: str) -> list[str]:
    import polars as pl

    if column not in frame.columns:
        raise ValueError(f"no column '{column}' in {where}; columns: {', '.join(frame.columns)}")
    return frame.get_column(column).cast(pl.String).fill_null("").to_list()


def evaluate_check(
    kind: str,
    config: Mapping[str, Any],
    frame: pl.DataFrame,
    references: Mapping[str, pl.DataFrame],
    sql: SqlRunner,
    *,
    severity: str = "error",
    table: str = "this",
    embed: Embedder | None = None,
) -> CheckResult:
    """Evaluate the `kind` check with its settings `config` on `frame`. Example::

        result = evaluate_check("rows", {"min": 100}, frame, {}, ctx.sql)
        if result.status == "fail": ...

    `sql` runs a query with frames visible as tables: the step's rows as `table` (the
    step name) and as `this`, each reference by its name. `embed` replaces the offline
    TF-IDF + SVD embeddings (diversity, fidelity, tail_coverage). A failure is a "warn"
    with `severity` "warn". Raises ValueError for a check that cannot be evaluated
    (unknown kind, missing column or reference).
    """
    gate = gate_kind(kind)
    outcome = gate.measure(Inputs(kind, config, frame, references, sql, table, embed))
    status = "pass" if outcome.ok else ("warn" if severity == "warn" else "fail")
    return CheckResult(
        kind=kind,
        severity=severity,
        status=status,
        figure=outcome.figure,
        threshold=outcome.threshold,
        message=outcome.message,
        failing_rows=outcome.failing_rows,
        details=outcome.details,
        tables=outcome.tables,
    )


def _rows(inputs: Inputs) -> Outcome:
    low, high = inputs.config.get("min"), inputs.config.get("max")
    count = inputs.frame.height
    if low is not None and count < low:
        return Outcome(False, count, low, f"{count} rows, fewer than min {low}")
    if high is not None and count > high:
        return Outcome(False, count, high, f"{count} rows, more than max {high}")
    return Outcome(True, count, low if low is not None else high, f"{count} rows")


def _sql(inputs: Inputs) -> Outcome:
    tables = {**inputs.references, "this": inputs.frame, inputs.table: inputs.frame}
    failing = inputs.sql(str(inputs.config["query"]), tables)
    count = failing.height
    message = (
        "the query returns no rows" if not count else f"the query returns {count} failing row(s)"
    )
    return Outcome(count == 0, count, 0, message, failing if count else None)


def _distinct_n(inputs: Inputs) -> Outcome:
    from synthc.quality.diversity import DEFAULT_BUDGET, distinct_n

    n, low = int(inputs.config.get("n", 2)), float(inputs.config["min"])
    value = distinct_n(
        inputs.texts(), ns=(n,), budget=int(inputs.config.get("budget", DEFAULT_BUDGET))
    )[n]
    return Outcome(value >= low, value, low, f"distinct-{n} {value:.3f} (min {low})")


def _near_duplicates(inputs: Inputs) -> Outcome:
    import numpy as np
    import polars as pl

    from synthc.quality.diversity import near_duplicates

    limit = float(inputs.config.get("max_rate", 0.0))
    found = near_duplicates(inputs.texts(), threshold=float(inputs.config.get("threshold", 0.7)))
    # Every row after the first of its cluster is a duplicate someone would remove.
    labels = found.labels
    repeat = (
        pl.Series(labels).is_first_distinct().not_().to_numpy()
        if len(labels)
        else np.zeros(0, bool)
    )
    failing = inputs.frame.filter(pl.Series(repeat)) if repeat.any() else None
    message = f"near-duplicate rate {found.rate:.3f} (max {limit}), largest cluster {found.largest_cluster_share:.1%}"
    details = {"largest_cluster_share": found.largest_cluster_share}
    return Outcome(found.rate <= limit, found.rate, limit, message, failing, details)


def _diversity(inputs: Inputs) -> Outcome:
    from synthc.quality.diversity import compression_ratio, vendi_score
    from synthc.quality.embeddings import tfidf_svd

    embed = inputs.embed or tfidf_svd()
    texts, low = inputs.texts(), float(inputs.config["min_vendi"])
    value = vendi_score(embed(texts)) if texts else 0.0
    details = {"compression_ratio": compression_ratio(texts)}
    return Outcome(
        value >= low, value, low, f"Vendi score {value:.2f} (min {low})", details=details
    )


def _fidelity(inputs: Inputs) -> Outcome:
    from synthc.quality.fidelity import length_jsd, text_mmd, topic_jsd, unigram_jsd

    synthetic, real = inputs.texts(), inputs.reference_texts()
    details = {
        "length_jsd": length_jsd(synthetic, real),
        "unigram_jsd": unigram_jsd(synthetic, real),
        "topic_jsd": topic_jsd(synthetic, real, embed=inputs.embed),
    }
    worst = max(details, key=lambda name: details[name])
    limit = inputs.config.get("max_jsd")
    ok = limit is None or details[worst] <= float(limit)
    message = f"worst JSD {worst} {details[worst]:.3f}" + (
        f" (max {limit})" if limit is not None else ""
    )
    if inputs.config.get("max_mmd") is not None:
        mmd = text_mmd(synthetic, real, embed=inputs.embed)
        details |= {"mmd2": mmd.mmd2, "mmd_p_value": mmd.p_value}
        ok = ok and mmd.mmd2 <= float(inputs.config["max_mmd"])
        message += f"; MMD² {mmd.mmd2:.4f} (max {inputs.config['max_mmd']}, p={mmd.p_value:.3f})"
    return Outcome(
        ok, details[worst], None if limit is None else float(limit), message, details=details
    )


def _leakage(inputs: Inputs) -> Outcome:
    import polars as pl

    from synthc.quality.leakage import ngram_overlap

    n, limit = int(inputs.config.get("ngram", 13)), float(inputs.config.get("max_rate", 0.0))
    leaks = ngram_overlap(inputs.texts(), inputs.reference_texts(), n=n)
    rate = float(leaks.mean()) if leaks.size else 0.0
    failing = inputs.frame.filter(pl.Series(leaks)) if leaks.any() else None
    message = f"{int(leaks.sum())} row(s) share a {n}-gram with '{inputs.config['reference']}' (rate {rate:.3f}, max {limit})"
    return Outcome(rate <= limit, rate, limit, message, failing)


def _utility(inputs: Inputs) -> Outcome:
    import numpy as np

    from synthc.quality.utility import utility_drop

    text, label = str(inputs.config.get("text", "text")), str(inputs.config.get("label", "label"))
    reference = inputs.reference()
    result = utility_drop(
        _column(inputs.frame, text, "the step's output"),
        inputs.frame.get_column(label).to_list(),
        _column(reference, text, "the reference"),
        reference.get_column(label).to_list(),
        seeds=tuple(inputs.config.get("seeds", (0, 1, 2))),
    )
    limit = float(inputs.config["max_drop"])
    message = f"relative drop {result.relative_drop:.3f} ± {result.drop_spread:.3f} over {len(result.real_scores)} seeds (max {limit})"
    details = {"drop_spread": result.drop_spread, "real_f1": float(np.mean(result.real_scores))}
    return Outcome(
        result.relative_drop <= limit, result.relative_drop, limit, message, details=details
    )


def _tail_coverage(inputs: Inputs) -> Outcome:
    from synthc.quality.coverage import tail_coverage

    found = tail_coverage(inputs.texts(), inputs.reference_texts(), embed=inputs.embed)
    low = float(inputs.config["min"])
    details = {
        "length_coverage": found.length_coverage,
        "rare_token_coverage": found.rare_token_coverage,
        "low_mass_cluster_coverage": found.low_mass_cluster_coverage,
        "synthetic_p1": found.synthetic_p1,
        "synthetic_p99": found.synthetic_p99,
        "real_p1": found.real_p1,
        "real_p99": found.real_p99,
    }
    message = (
        f"tail coverage {found.figure:.3f} (min {low}): lengths {found.length_coverage:.2f}, "
        f"rare tokens {found.rare_token_coverage:.2f}, small clusters {found.low_mass_cluster_coverage:.2f}"
    )
    return Outcome(found.figure >= low, found.figure, low, message, details=details)


HOLDOUT_SUFFIX = "/_holdout"  # references[f"{seed}{HOLDOUT_SUFFIX}"]: a private seed's holdout
CANARY_SUFFIX = "/_canaries"  # references[f"{seed}{CANARY_SUFFIX}"]: the canaries it planted


def _privacy(inputs: Inputs) -> Outcome:
    import polars as pl

    from synthc.quality.privacy import PRIVACY_MATCHES, evaluate_privacy, row_texts

    config = inputs.config
    used, holdout = _private_seeds(inputs)
    columns = config.get("seed_columns")
    membership = dict(config.get("membership") or {})
    found = evaluate_privacy(
        inputs.texts(),
        row_texts(used, columns),
        row_texts(holdout, columns),
        ngram=int(config.get("ngram", 13)),
        minhash_threshold=float(config.get("minhash_threshold", 0.7)),
        embed=inputs.embed,
        canaries=_canaries(inputs, used),
        canary_ngram=int(config.get("canary_ngram", 1)),
    )
    limits = {
        "pii_replayed": float(config.get("max_pii_replayed", 0)),
        "copied_rows": float(config.get("max_copies", 0)),
        "membership_advantage": float(membership.get("max_advantage", 0.1)),
        "canaries_leaked": float(config.get("max_canaries", 0)),
    }
    if config.get("max_pii") is not None:
        limits["pii_entities"] = float(config["max_pii"])
    ok, message = found.verdict(limits, alpha=float(membership.get("alpha", 0.01)))
    seeds = pl.concat([used, holdout], how="diagonal_relaxed") if holdout.height else used
    matches = found.matches_table(_ids(inputs.frame), _ids(seeds))
    flagged = matches.select(pl.col("output_id").alias("_id")).unique(maintain_order=True)
    return Outcome(
        ok,
        float(flagged.height),
        limits["copied_rows"],
        message,
        flagged if flagged.height else None,  # ids only: the lock never holds private text
        found.details,
        {PRIVACY_MATCHES: matches},
    )


def _ids(frame: pl.DataFrame) -> pl.Series:
    """Row ids: `_id`, or the row position for a file without one."""
    import polars as pl

    if "_id" in frame.columns:
        return frame.get_column("_id").cast(pl.String)
    return pl.Series("_id", [str(i) for i in range(frame.height)], dtype=pl.String)


def _canaries(inputs: Inputs, used: pl.DataFrame) -> list[tuple[int, str]]:
    """(row of `used`, suffix) of every canary the private seeds planted."""
    tables = [f for k, f in inputs.references.items() if k.endswith(CANARY_SUFFIX)]
    if not tables or "_id" not in used.columns:
        return []
    rows = {row_id: i for i, row_id in enumerate(used.get_column("_id").cast(str).to_list())}
    return [
        (rows[row_id], suffix)
        for table in tables
        for row_id, suffix in table.select("_id", "suffix").iter_rows()
        if row_id in rows
    ]


def _private_seeds(inputs: Inputs) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(used, held-out) private seed rows: the check's `reference`, else every private
    seed upstream (the executor passes those with their holdouts)."""
    import polars as pl

    named = inputs.config.get("reference")
    refs = inputs.references
    if named is not None:
        names = [str(named)]
    else:
        names = sorted(k.removesuffix(HOLDOUT_SUFFIX) for k in refs if k.endswith(HOLDOUT_SUFFIX))
    if not names:
        raise ValueError(
            "privacy check: no private seed upstream of this step; mark a seed step "
            "`private: true` or name a `reference:`"
        )
    used = [refs[name] for name in names if name in refs]
    held = [refs[f"{name}{HOLDOUT_SUFFIX}"] for name in names if f"{name}{HOLDOUT_SUFFIX}" in refs]
    if len(used) != len(names):
        raise ValueError(f"privacy check: reference '{names[0]}' was not provided")
    empty = pl.DataFrame(schema={"_id": pl.String})
    return (
        pl.concat(used, how="diagonal_relaxed"),
        pl.concat(held, how="diagonal_relaxed") if held else empty,
    )


def _balance(inputs: Inputs) -> Outcome:
    import polars as pl

    from synthc.quality import balance

    config, spec = inputs.config, inputs.config["attribute"]
    attribute = balance.attribute_name(spec)
    values = balance.attribute_values(inputs.frame, spec, "the step's output")
    shares, reference_values = config.get("shares"), None
    if shares is None:
        reference_values = balance.attribute_values(
            inputs.reference(), spec, f"reference '{config['reference']}'", strict=False
        )
        bootstrap = dict(config.get("bootstrap") or {})
        found = balance.against_rows(
            values,
            reference_values,
            resamples=int(bootstrap.get("resamples", 1000)),
            seed=int(bootstrap.get("seed", 0)),
        )
    else:
        if shares == "uniform":
            shares = balance.uniform_shares(
                config.get("categories") or list(balance.category_counts(values))
            )
        found = balance.against_shares(values, shares)
    details = {"tvd": found.tvd, "jsd": found.jsd, "coverage": found.coverage,
               "chi2": found.chi2, "chi2_p_value": found.p_value,
               "max_amplification": float(found.amplification.max(initial=0.0))}  # fmt: skip
    chi2_text, p_value = f"χ² p={found.p_value:.3g}", found.p_value
    if found.resamples:
        details["chi2_p_calibrated"] = p_value = found.calibrated_p_value
        chi2_text += f" (bootstrap p={p_value:.3g}, {found.resamples} resamples)"
    failed, parts = [], [f"{attribute}: TVD {found.tvd:.3f}, JSD {found.jsd:.3f}, "
                         f"coverage {found.coverage:.2f}, {chi2_text}"]  # fmt: skip
    limits = {"tvd": ("max_tvd", 0.1), "jsd": ("max_jsd", None),
              "max_amplification": ("max_amplification", None)}  # fmt: skip
    for figure, (key, default) in limits.items():
        limit = config.get(key, default)
        if limit is not None and details[figure] > float(limit):
            failed.append(f"{figure} {details[figure]:.3f} > {key} {limit}")
    low = float(config.get("min_coverage", 1.0))
    if found.coverage < low:
        missing = [c for c, n, e in zip(found.categories, found.observed, found.expected, strict=True) if e > 0 and n == 0]  # fmt: skip
        failed.append(f"coverage {found.coverage:.2f} < {low}: no {', '.join(missing[:5])}")
    if config.get("alpha") is not None and p_value < float(config["alpha"]):
        failed.append(f"χ² p {p_value:.3g} < alpha {config['alpha']}")
    if config.get("pairs"):
        pair_failure = _label_shift(inputs, attribute, values, reference_values or [], details)
        if pair_failure:
            failed.append(pair_failure)
    tables = {"_balance": found.table().with_columns(pl.lit(attribute).alias("attribute"))}
    if not isinstance(spec, str):  # a derived attribute: a column users can slice by
        tables[ATTRIBUTES_TABLE] = _attribute_table(inputs.frame, attribute, values)
    message = "; ".join(parts + failed)
    return Outcome(not failed, found.tvd, float(config.get("max_tvd", 0.1)), message,
                   details=details, tables=tables)  # fmt: skip


ATTRIBUTES_TABLE = "_attributes"  # _id and each derived balance attribute of a step's rows


def _attribute_table(frame: pl.DataFrame, attribute: str, values: list[Any]) -> pl.DataFrame:
    import polars as pl

    if attribute in frame.columns:
        raise ValueError(
            f"balance check: attribute name '{attribute}' is already a column of the step; "
            "give the derived attribute another `name:`"
        )
    return pl.DataFrame({"_id": _ids(frame), attribute: pl.Series(values, dtype=pl.String)})


def _label_shift(
    inputs: Inputs,
    attribute: str,
    values: list[Any],
    reference_values: list[Any],
    details: dict[str, float],
) -> str | None:
    """`pairs: {label, max_shift}`: P(attribute | label), outputs against the reference."""
    from synthc.quality.balance import label_shift

    pairs = inputs.config["pairs"]
    label, limit = str(pairs["label"]), float(pairs.get("max_shift", 0.2))
    reference = inputs.reference()
    shifts = label_shift(
        inputs.frame.get_column(_present(inputs.frame, label, "the step's output")).to_list(),
        values,
        reference.get_column(_present(reference, label, "the reference")).to_list(),
        reference_values,
    )
    worst = max(shifts, key=lambda key: shifts[key]) if shifts else None
    details["label_shift"] = shifts[worst] if worst is not None else 0.0
    if worst is not None and shifts[worst] > limit:
        return f"{attribute} given {label}={worst} shifted by TVD {shifts[worst]:.3f} > max_shift {limit}"
    return None


def _present(frame: pl.DataFrame, column: str, where: str) -> str:
    if column not in frame.columns:
        raise ValueError(f"no column '{column}' in {where}; columns: {', '.join(frame.columns)}")
    return column


def _attack_success(inputs: Inputs) -> Outcome:
    import polars as pl

    from synthc.quality.redteam import OVERALL, attack_rates, describe_rates

    config, frame = inputs.config, inputs.frame
    category = _present(frame, str(config.get("category", "category")), "the step's output")
    outcome = _present(frame, str(config.get("outcome", "outcome")), "the step's output")
    table = attack_rates(frame.get_column(category).to_list(), frame.get_column(outcome).to_list())
    rows = (
        table.to_dicts()
        if config.get("per_category")
        else table.filter(pl.col("category") == OVERALL).to_dicts()
    )
    low, high = config.get("min_rate"), config.get("max_rate")
    failed = []
    for row in rows:
        rate, name = row["rate"], row["category"]
        if rate is None:
            failed.append(f"{name}: no attack was judged")
        elif high is not None and rate > float(high):
            failed.append(f"{name} {rate:.1%} > max_rate {float(high):.1%}")
        elif low is not None and rate < float(low):
            failed.append(f"{name} {rate:.1%} < min_rate {float(low):.1%}")
    overall = table.filter(pl.col("category") == OVERALL).row(0, named=True)
    if config.get("max_unknown") is not None and overall["unknown"] > int(config["max_unknown"]):
        failed.append(
            f"{overall['unknown']} unknown verdicts > max_unknown {config['max_unknown']}"
        )
    details = {"unknown": float(overall["unknown"]), "judged": float(overall["judged"]),
               "low": float(overall["low"] or 0.0), "high": float(overall["high"] or 0.0)}  # fmt: skip
    details |= {f"rate:{r['category']}": r["rate"] for r in table.to_dicts() if r["rate"] is not None and r["category"] != OVERALL}  # fmt: skip
    threshold = float(high) if high is not None else (float(low) if low is not None else None)
    message = "; ".join([describe_rates(table), *failed])
    return Outcome(not failed, overall["rate"], threshold, message, details=details)


def _judge_agreement(inputs: Inputs) -> Outcome:
    import numpy as np
    import polars as pl

    from synthc.quality.agreement import krippendorff_interval, pairwise_spearman

    config, frame = inputs.config, inputs.frame
    output = str(config.get("output", "score"))
    names = list(config.get("scores") or [
        c for c, t in frame.schema.items()
        if c.startswith(f"{output}_") and c != f"{output}_agreement" and t.is_numeric()
    ])  # fmt: skip
    if len(names) < 2:
        raise ValueError(
            f"judge_agreement check: needs two or more judge score columns ({output}_<judge>), "
            f"found {names or 'none'}; list them under `scores:`"
        )
    matrix = frame.select(
        [pl.col(_present(frame, n, "the step's output")).cast(pl.Float64) for n in names]
    ).to_numpy()
    alpha = krippendorff_interval(matrix)
    rhos = pairwise_spearman(matrix, names)
    finite = [v for v in rhos.values() if np.isfinite(v)]
    details = {f"spearman:{pair}": rho for pair, rho in rhos.items()}
    details["min_spearman"] = min(finite) if finite else float("nan")
    low = float(config["min_alpha"])
    failed = [] if np.isfinite(alpha) and alpha >= low else [f"alpha below min_alpha {low}"]
    if config.get("min_spearman") is not None and not (
        details["min_spearman"] >= float(config["min_spearman"])
    ):
        failed.append(f"Spearman below min_spearman {config['min_spearman']}")
    pairs = ", ".join(f"{pair} {rho:.2f}" for pair, rho in rhos.items())
    message = (
        f"Krippendorff's alpha {alpha:.3f} over {len(names)} judges (min {low}); Spearman {pairs}"
    )
    return Outcome(not failed, alpha, low, "; ".join([message, *failed]), details=details)


def _rows_at_least(config: Mapping[str, Any], threshold: float) -> bool:
    """`rows` is compared with its `min` unless the threshold is its `max`."""
    return config.get("max") != threshold


def _attack_success_at_least(config: Mapping[str, Any], threshold: float) -> bool:
    """`attack_success` must reach `min_rate` (an attack set that must bite) unless it has
    a `max_rate` (a target that must resist)."""
    return config.get("max_rate") is None


# What a gate's `reference:` holds.
TEXTS = "texts"  # texts compared with a column of the step's rows (plotted side by side)
LABELLED = "labelled"  # labelled texts a model is trained on (utility)
ROWS = "rows"  # rows whose attribute column is compared (balance)
PRIVATE = "private"  # private seed rows (privacy; default: every private seed upstream)


@dataclass(frozen=True)
class GateKind:
    """A `checks:` kind: its measure and what the rest of synthc needs to know of it."""

    name: str
    measure: Callable[[Inputs], Outcome]
    # Which side of the threshold passes: True when the figure must reach it, else it
    # must stay at or below it; a function of (config, threshold) where the check says.
    at_least: bool | Callable[[Mapping[str, Any], float], bool] = False
    uses_embeddings: bool = (
        False  # measured in a vector space: the embedder is part of its identity
    )
    reference: str | None = None  # TEXTS or LABELLED when the check compares with a `reference:`

    def must_reach(self, threshold: float, config: Mapping[str, Any]) -> bool:
        """Whether a figure passes by reaching `threshold` (else by staying at or below it)."""
        return self.at_least(config, threshold) if callable(self.at_least) else self.at_least


GATE_KINDS: Mapping[str, GateKind] = {
    gate.name: gate
    for gate in (
        GateKind("rows", _rows, at_least=_rows_at_least),
        GateKind("sql", _sql),
        GateKind("distinct_n", _distinct_n, at_least=True),
        GateKind("near_duplicates", _near_duplicates),
        GateKind("diversity", _diversity, at_least=True, uses_embeddings=True),
        GateKind("fidelity", _fidelity, uses_embeddings=True, reference=TEXTS),
        GateKind("leakage", _leakage, reference=TEXTS),
        GateKind("utility", _utility, reference=LABELLED),
        GateKind("tail_coverage", _tail_coverage, at_least=True, uses_embeddings=True,
                 reference=TEXTS),
        GateKind("privacy", _privacy, uses_embeddings=True, reference=PRIVATE),
        GateKind("balance", _balance, reference=ROWS),
        GateKind("attack_success", _attack_success, at_least=_attack_success_at_least),
        GateKind("judge_agreement", _judge_agreement, at_least=True),
    )
}  # fmt: skip


def gate_kind(name: str) -> GateKind:
    """The record of gate kind `name`. Raises ValueError for an unknown one."""
    if name not in GATE_KINDS:
        raise ValueError(f"unknown check '{name}'; known: {', '.join(sorted(GATE_KINDS))}")
    return GATE_KINDS[name]
