"""The report's Privacy and Balance sections, rendered by headless Chromium: a SQL step
that echoes private notes (an LLM-free copying generator) is flagged with its shared
spans, and its collapsed region column is drawn beside the seeds' shares."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml
from htmlkit import parse
from privacy_data import customer_rows
from reportkit import build_project, chromium_command

from synthc.report.write import write_report

STEPS = {
    "customers": {"kind": "seed", "path": "data/customers.jsonl", "private": True, "holdout": 0.2},
    "echoed": {
        "kind": "sql",
        "from": "customers",
        "query": "select _id, 'Here it is: ' || note as output, 'Paris' as city from customers",
        "checks": [
            {"privacy": {"column": "output", "severity": "warn"}},
            {"balance": {"attribute": "city", "reference": "customers", "severity": "warn"}},
        ],
    },
}


def test_chromium_shows_the_privacy_and_balance_sections(tmp_path: Path, chromium: Path):
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "customers.jsonl").write_text(
        "".join(json.dumps(row) + "\n" for row in customer_rows())
    )
    recipe_path = folder / "recipe.yaml"
    recipe_path.write_text(yaml.safe_dump({"synthc": 1, "name": "private", "steps": STEPS}))
    recipe, store, result = build_project(recipe_path)
    assert result.exit_code == 0  # both gates only warn
    page = write_report(recipe, store)
    command = [*chromium_command(chromium, tmp_path / "profile"), "--dump-dom", page.as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    elements = parse(dom.stdout)
    privacy = [e.text for e in elements if e.inside("section#privacy")]
    assert any("replayed PII: email" in text for text in privacy)
    assert any("shares a 13-gram with a private seed" in text for text in privacy)
    balance_svgs = [e for e in elements if e.tag == "svg" and e.inside("section#balance")]
    assert len(balance_svgs) == 1
    assert 'id="plot-balance-echoed-city"' in dom.stdout


def test_chromium_shows_the_judge_agreement_section(tmp_path: Path, chromium: Path):
    from synthc.report.html import render_html
    from synthc.report.model import JudgeAgreement, Report, StepReport

    judges = JudgeAgreement("scored", ("gpt", "claude"), 40, -0.214, (("gpt~claude", -0.38),))
    report = Report("r", "r.yaml", "", (StepReport("scored", "judge", ("seeds",)),),
                    judges=(judges,))  # fmt: skip
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    command = [*chromium_command(chromium, tmp_path / "profile"), "--dump-dom", page.as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    cells = [e.text for e in parse(dom.stdout) if e.tag == "td" and e.inside("section#judges")]
    assert cells == ["scored", "gpt, claude", "40", "-0.214", "gpt~claude -0.380"]
    assert '<tr class="judges status-warn">' in dom.stdout
