"""Load and validate a recipe: YAML (with node positions) -> JSON Schema -> frozen dataclasses.

`load_recipe(path)` is the only entry point. Every problem in the file is collected
and raised once, as a `RecipeError` whose problems each carry `file:line:col`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthc.errors import Location, Problem, RecipeError, sorted_problems
from synthc.recipe.positions import Parsed, parse_yaml
from synthc.recipe.schema import describe_value, schema_problems
from synthc.recipe.semantics import CREDENTIAL_HINT, semantic_problems
from synthc.recipe.sqlmemo import SQLMemo

RECIPE_FORMAT_VERSION = 1

# Fields every step may carry; everything else in a step mapping is kind-specific config.
COMMON_STEP_FIELDS = ("kind", "from", "checks", "description", "model", "params")


@dataclass(frozen=True)
class ModelAlias:
    """`models:` entry: where a model lives and how to reach it. Never holds a key."""

    name: str
    model: str  # litellm model string, e.g. "openai/gpt-4o" or "local/smollm2"
    api_base: str | None = None
    api_key_env: str | None = None  # name of the environment variable holding the key
    cache_namespace: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    # `batch:` as written: true, or settings; None/false: calls are made one by one
    batch: bool | Mapping[str, Any] | None = None
    deadline_s: float | None = None  # how long a call retries (a `limits:` entry overrides)
    timeout_s: float | None = None  # how long one request may take (likewise)


@dataclass(frozen=True)
class Export:
    """One file (or, for `datasets`, folder) under `exports:`, in a named format.

    `prompt`, `response`, `system`, `chosen` and `rejected` name the columns the trainer
    formats read; `splits` maps a split name to its share of the rows (`datasets`);
    `allow_outside` lets the path lead out of the recipe's folder.
    """

    path: str  # relative to the recipe folder, as written
    format: str  # jsonl, json, csv, parquet, messages, preference, datasets ("" if unknown)
    prompt: str = "prompt"
    response: str = "response"
    system: str | None = None
    chosen: str | None = None  # None: `chosen`, or a distill step's teacher column
    rejected: str | None = None  # None: `rejected`, or a distill step's student column
    splits: Mapping[str, float] = field(default_factory=lambda: {"train": 1.0})
    allow_outside: bool = False

    def columns(self, step: Step) -> dict[str, str]:
        """The columns a trainer format reads, by the role or key it writes them under
        ({} for the plain formats): a distill step's teacher answer is `chosen` and its
        student's `rejected` unless other columns are named."""
        if self.format == "messages":
            roles = {"system": self.system, "user": self.prompt, "assistant": self.response}
            return {role: column for role, column in roles.items() if column is not None}
        if self.format == "preference":
            distill = step.kind == "distill"
            chosen = step.config.get("output", "response") if distill else "chosen"
            rejected = (
                step.config.get("student_output", "student_response") if distill else "rejected"
            )
            return {
                "prompt": self.prompt,
                "chosen": self.chosen or chosen,
                "rejected": self.rejected or rejected,
            }
        return {}


# The plain formats, by extension; a mapping export may name a trainer format instead.
EXTENSION_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".parquet": "parquet",
}


def export_of(target: str | Mapping[str, Any]) -> Export:
    """An `exports:` entry as written (a path, or a mapping with `path:`) as an `Export`."""
    if isinstance(target, str):
        target = {"path": target}
    extension = Path(target["path"]).suffix.lower()
    fmt = target.get("format") or EXTENSION_FORMATS.get(extension, "")  # "": unknown
    fields = {k: v for k, v in target.items() if k not in ("path", "format", "splits")}
    splits = {name: float(share) for name, share in (target.get("splits") or {"train": 1}).items()}
    return Export(path=target["path"], format=fmt, splits=splits, **fields)


@dataclass(frozen=True)
class Check:
    """One quality gate declared under a step's `checks:`."""

    kind: str  # rows, sql, distinct_n, near_duplicates, diversity, fidelity, leakage, utility, tail_coverage
    config: Mapping[str, Any]
    severity: str  # "error" | "warn"
    location: Location | None = None


@dataclass(frozen=True)
class Step:
    """One step of a recipe, as written (defaults are applied by the compiler)."""

    name: str
    kind: str
    inputs: tuple[str, ...]  # `from:`, a string or list in YAML, always a tuple here
    config: Mapping[str, Any]  # kind-specific fields exactly as written
    model: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    checks: tuple[Check, ...] = ()
    description: str | None = None
    location: Location | None = None


@dataclass(frozen=True)
class Recipe:
    """A validated recipe. `positions` maps dotted recipe paths to where they are written."""

    path: Path  # absolute path of the recipe file
    name: str
    format_version: int
    steps: Mapping[str, Step]  # in file order
    model: str | None = None
    models: Mapping[str, ModelAlias] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    budget: Mapping[str, Any] = field(default_factory=dict)
    limits: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    embeddings: Mapping[str, Any] = field(default_factory=dict)  # `{model, dimensions}`; {} = tfidf
    allow_remote: bool = False  # private seed rows may reach remote models
    execution: Mapping[str, Any] = field(
        default_factory=dict
    )  # `{engine, ray: {address, workers}}`
    exports: Mapping[str, tuple[Export, ...]] = field(default_factory=dict)
    license: str | None = None  # the data's license, for the dataset card (e.g. cc-by-4.0)
    positions: Mapping[str, Location] = field(default_factory=dict)
    # where the first content line of each `|` block scalar is (see `Parsed`)
    literal_starts: Mapping[str, Location] = field(default_factory=dict)
    # the SQL checks that passed in earlier runs, and those passed in this one
    sql_memo: SQLMemo | None = field(default=None, compare=False, repr=False)

    @property
    def root(self) -> Path:
        """The folder the recipe lives in; relative paths in the recipe resolve against it."""
        return self.path.parent

    @property
    def engine(self) -> str:
        """Where model calls that miss the cache are made: "local" (default) or "ray"."""
        return str(self.execution.get("engine") or "local")

    @property
    def lock_path(self) -> Path:
        return self.path.with_suffix(".lock")

    @property
    def state_dir(self) -> Path:
        """`.synthc/` beside the recipe: shared by the recipes of one folder (the call
        cache lives here, content-addressed, so they share paid calls)."""
        return self.root / ".synthc"

    @property
    def workdir(self) -> Path:
        """This recipe's own state: `.synthc/<recipe>/`, named by the recipe file without
        its extension (outputs, catalog, runs, build lock, report), so several recipes in
        one folder never share a catalog."""
        return recipe_workdir(self.path)

    def where_in_text(self, dotted_path: str, line: int, col: int) -> Location | None:
        """Where line `line`, column `col` of the value at `dotted_path` is in the file,
        when the value is a `|` block (which keeps its lines as written); else None."""
        start = self.literal_starts.get(dotted_path)
        if start is None or line < 1 or col < 1:
            return None
        return Location(start.file, start.line + line - 1, start.col + col - 1)

    def where(self, dotted_path: str) -> Location | None:
        """Best known location for a recipe path, falling back to its nearest parent."""
        probe = dotted_path
        while probe:
            if probe in self.positions:
                return self.positions[probe]
            probe = probe.rpartition(".")[0]
        return self.positions.get("")


def recipe_workdir(path: str | Path) -> Path:
    """`Recipe.workdir` of the recipe at `path`: `.synthc/<file name without extension>/`."""
    resolved = Path(path).resolve()
    return resolved.parent / ".synthc" / resolved.stem


def load_recipe(path: str | Path) -> Recipe:
    """Read, validate and return the recipe at `path`.

    Raises `RecipeError` listing every problem found (schema and semantic), each with
    `file:line:col` where `file` is `path` exactly as given. Example::

        recipe = load_recipe("recipes/quickstart.yaml")
        print(list(recipe.steps))
    """
    loaded = read_recipe(path)
    if loaded.problems:
        raise RecipeError(loaded.problems)
    assert loaded.recipe is not None  # no problems: the whole recipe loaded
    return loaded.recipe


@dataclass(frozen=True)
class Loaded:
    """What `read_recipe` found: the problems and as much of the recipe as is sound.

    With problems, `recipe` holds only the steps that have none (or is None when the
    file's top level is itself wrong), so later stages can still check those steps;
    `broken` names the steps left out.
    """

    recipe: Recipe | None
    problems: list[Problem]
    broken: frozenset[str] = frozenset()


# Top-level fields the compiler reads: a problem in one of them means no partial recipe,
# except for those it can check the steps without (set to these values instead).
_COMPILED_FIELDS = ("", "synthc", "model", "models", "steps")
_SET_ASIDE: Mapping[str, Any] = {
    "params": {},
    "seed": 0,
    "budget": {},
    "limits": {},
    "embeddings": {},
}


def read_recipe(path: str | Path, sql_memo: SQLMemo | None = None) -> Loaded:
    """Read and validate the recipe at `path`, never raising for a recipe problem.
    `sql_memo`: SQL checks that passed before (see `sqlmemo`), kept on the recipe for
    the compiler's bindings."""
    file = str(path)
    parsed = _read(file)
    problems = list(parsed.problems)
    if parsed.data is not None:
        from_schema = schema_problems(parsed)
        reported = {problem.path for problem in from_schema}
        # A field the schema already refuses (an alias's `api_key`) is reported once.
        problems += from_schema + [
            problem
            for problem in semantic_problems(parsed, file, sql_memo)
            if problem.path not in reported or CREDENTIAL_HINT not in problem.message
        ]
    if not problems:
        return Loaded(_build_recipe(Path(file), parsed, sql_memo), [])
    return _partial(Path(file), parsed, sorted_problems(problems), sql_memo)


def _partial(
    path: Path, parsed: Parsed, problems: list[Problem], sql_memo: SQLMemo | None = None
) -> Loaded:
    """The recipe without its broken steps, when nothing outside them is wrong."""
    data = parsed.data
    steps = data.get("steps") if isinstance(data, dict) else None
    if not isinstance(steps, dict) or not isinstance(data.get("synthc"), int):
        return Loaded(None, problems)
    broken: set[str] = set()
    replaced: dict[str, Any] = {"exports": {}}
    for problem in problems:
        head, _, rest = problem.path.partition(".")
        if head == "steps" and rest:
            broken.add(rest.partition(".")[0])
        elif head in _SET_ASIDE:
            replaced[head] = _SET_ASIDE[head]  # checked without them; already reported
        elif head in _COMPILED_FIELDS:
            return Loaded(None, problems)
    kept = {
        name: step
        for name, step in steps.items()
        if isinstance(name, str) and isinstance(step, dict) and name not in broken
    }
    if not kept:
        return Loaded(None, problems, frozenset(broken))
    partial = Parsed({**data, **replaced, "steps": kept}, positions=parsed.positions,
                     literal_starts=parsed.literal_starts)  # fmt: skip
    return Loaded(_build_recipe(path, partial, sql_memo), problems, frozenset(broken))


def _read(file: str) -> Parsed:
    """Parse the file, turning unreadable, empty and non-mapping files into one problem."""
    start = Location(file, 1, 1)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        return Parsed(None, problems=[Problem(None, "", f"{file}: recipe file not found")])
    except IsADirectoryError:
        message = f"{file}: is a folder; give the path of a recipe .yaml file"
        return Parsed(None, problems=[Problem(None, "", message)])
    except UnicodeDecodeError as exc:
        return Parsed(None, problems=[Problem(start, "", f"not UTF-8 text: {exc.reason}")])
    except OSError as exc:  # permissions, a broken link, ...
        message = f"{file}: cannot read the recipe: {exc.strerror or exc}"
        return Parsed(None, problems=[Problem(None, "", message)])
    parsed = parse_yaml(text, file)
    if parsed.problems and parsed.data is None:
        return parsed
    if parsed.data is None:
        message = "the recipe is empty; a recipe starts with `synthc: 1` and has `steps:`"
        return Parsed(None, problems=[Problem(start, "", message)])
    if not isinstance(parsed.data, dict):
        message = (
            f"a recipe is a mapping of fields (synthc, name, steps, ...), "
            f"got {describe_value(parsed.data)}"
        )
        return Parsed(None, problems=[Problem(parsed.positions.get("", start), "", message)])
    return parsed


def _build_recipe(path: Path, parsed: Parsed, sql_memo: SQLMemo | None = None) -> Recipe:
    data: dict[str, Any] = parsed.data
    aliases = {
        name: ModelAlias(name=name, **alias) for name, alias in (data.get("models") or {}).items()
    }
    exports = {
        step: tuple(export_of(t) for t in (targets if isinstance(targets, list) else [targets]))
        for step, targets in (data.get("exports") or {}).items()
    }
    steps = {name: _build_step(name, raw, parsed.positions) for name, raw in data["steps"].items()}
    return Recipe(
        path=path.resolve(),
        name=data.get("name") or path.stem,
        format_version=data["synthc"],
        steps=steps,
        model=data.get("model"),
        models=aliases,
        params=data.get("params") or {},
        seed=data.get("seed", 0),
        budget=data.get("budget") or {},
        limits=data.get("limits") or {},
        embeddings=data.get("embeddings") or {},
        allow_remote=bool(data.get("allow_remote", False)),
        execution=data.get("execution") or {},
        exports=exports,
        license=data.get("license"),
        positions=dict(parsed.positions),
        literal_starts=dict(parsed.literal_starts),
        sql_memo=sql_memo,
    )


def _build_step(name: str, raw: Mapping[str, Any], positions: Mapping[str, Location]) -> Step:
    base = f"steps.{name}"
    inputs = raw.get("from", ())
    checks = tuple(
        _build_check(check, positions.get(f"{base}.checks.{index}"))
        for index, check in enumerate(raw.get("checks") or ())
    )
    return Step(
        name=name,
        kind=raw["kind"],
        inputs=(inputs,) if isinstance(inputs, str) else tuple(inputs),
        config={key: value for key, value in raw.items() if key not in COMMON_STEP_FIELDS},
        model=raw.get("model"),
        params=raw.get("params") or {},
        checks=checks,
        description=raw.get("description"),
        location=positions.get(base),
    )


def _build_check(raw: Mapping[str, Any], location: Location | None) -> Check:
    ((kind, config),) = raw.items()  # the schema guarantees exactly one key
    config = dict(config or {})
    severity = config.pop("severity", "error")
    return Check(kind=kind, config=config, severity=severity, location=location)
