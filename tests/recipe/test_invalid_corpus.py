"""The golden corpus: every recipe under tests/cases/invalid fails with exactly the
text in its .err file, which is what `synthc validate` shows the user: the loader's
problems and, for the steps that loaded, the compiler's, in one sorted list.

Paths in the .err files are relative to the repository root, as a user running from
there would type them. To regenerate after an intended wording change:
`SYNTHC_UPDATE_GOLDEN=1 .venv/bin/pytest tests/recipe/test_invalid_corpus.py`, then
read the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from synthc.api import validate_recipe
from synthc.errors import RecipeError

from .conftest import INVALID, REPO_ROOT

CASES = sorted(INVALID.glob("*.yaml"))


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_invalid_recipe_reports_exactly_the_golden_errors(case: Path, in_repo_root: Path) -> None:
    relative = case.relative_to(REPO_ROOT).as_posix()
    with pytest.raises(RecipeError) as caught:
        validate_recipe(relative)
    shown = str(caught.value) + "\n"
    golden = case.with_suffix(".err")
    if os.environ.get("SYNTHC_UPDATE_GOLDEN"):
        golden.write_text(shown, encoding="utf-8")
    assert shown == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_every_problem_names_the_file_line_and_column(case: Path) -> None:
    lines = case.with_suffix(".err").read_text(encoding="utf-8").splitlines()
    assert lines, f"{case.name}: empty .err"
    where = re.compile(rf"^tests/cases/invalid/{re.escape(case.name)}:\d+:\d+: ")
    assert all(where.match(line) for line in lines), lines


def test_every_golden_file_has_its_recipe() -> None:
    orphans = [err.name for err in INVALID.glob("*.err") if not err.with_suffix(".yaml").exists()]
    assert orphans == []
