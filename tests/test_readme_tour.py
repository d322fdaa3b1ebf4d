"""The README's tour, copy-pasted: every `$ ...` line of its ```console blocks, in order,
run by a shell against a copy of recipes/ in which the quickstart's model is the
loopback server (so no local model is needed). Each command exits as the README shows:
0, or the code its `# exits N` comment names; the plans show the statuses printed and
the validate error is the one printed, to the character.

The tour edits the recipe twice in prose ("Raise `n` to 3", a copy with a typo); the
edits below are those sentences, and each is checked to still be in the README.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from llm_server import LLMTestServer

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


@dataclass
class Command:
    line: str  # as written after "$ "
    expected: list[str]  # the output lines the README prints under it
    exit_code: int


def tour_commands(text: str) -> list[Command]:
    """The `$ ` lines of every ```console block with the output printed under each."""
    commands: list[Command] = []
    for block in re.findall(r"^```console\n(.*?)^```", text, flags=re.S | re.M):
        for line in block.splitlines():
            if line.startswith("$ "):
                code = re.search(r"#\s*exits (\d+)\s*$", line)
                commands.append(Command(line[2:], [], int(code.group(1)) if code else 0))
            elif commands:
                commands[-1].expected.append(line)
    return commands


def raise_n(root: Path) -> None:
    path = root / "recipes/quickstart.yaml"
    path.write_text(path.read_text().replace("\n    n: 2\n", "\n    n: 3\n"))


def broken_copy(root: Path) -> None:
    text = (root / "recipes/quickstart.yaml").read_text()
    text = text.replace("{{ product }}", "{{ prodcut }}", 1)
    final = text.index("  final:")
    typo = text[:final] + text[final:].replace("trim(question)", "trim(qestion)", 1)
    (root / "recipes/broken.yaml").write_text(typo)


# The sentence of the README that asks for an edit -> the edit, made before the first
# command that follows the sentence.
EDITS = {
    "Raise `n` to 3": raise_n,
    "`{{ prodcut }}` in its prompt and `trim(qestion)` in its query": broken_copy,
}


def loopback_quickstart(root: Path, server: LLMTestServer) -> None:
    """The quickstart's model is an alias at the loopback server. The alias takes the
    place of the first comment line, so every line keeps its number (the README prints
    error positions)."""
    path = root / "recipes/quickstart.yaml"
    lines = path.read_text().splitlines(keepends=True)
    assert lines[0].startswith("#")
    lines[0] = f"models: {{srv: {{model: openai/echo, api_base: '{server.base_url}'}}}}\n"
    text = "".join(lines).replace("model: local/smollm2", "model: srv")
    path.write_text(text)


WORDS = [
    "why",
    "how",
    "when",
    "can",
    "could",
    "does",
    "is",
    "my",
    "the",
    "a",
    "refund",
    "invoice",
    "login",
    "password",
    "order",
    "shipping",
    "account",
    "export",
    "plan",
    "billing",
    "card",
    "delivery",
    "late",
    "charged",
    "twice",
    "reset",
    "email",
    "settings",
    "app",
    "crash",
    "slow",
    "update",
    "cancel",
    "renew",
    "trial",
    "upgrade",
    "discount",
    "receipt",
    "address",
    "phone",
    "support",
]


@pytest.fixture
def varied_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server answers each request with its own words (a question made from the
    request's hash), as a model would, rather than echoing the prompt: the quickstart's
    distinct-2 gate needs answers that differ."""
    import hashlib
    import json

    import llm_server

    def answer(body: dict, index: int, markers: dict) -> str:
        seed = json.dumps([body.get("messages"), body.get("temperature"), index], sort_keys=True)
        digest = hashlib.sha256(seed.encode()).digest()
        return " ".join(WORDS[b % len(WORDS)] for b in digest[:9]).capitalize() + "?"

    monkeypatch.setattr(llm_server, "_answer_text", answer)


def shell_with_synthc(tmp_path: Path) -> dict[str, str]:
    """An environment whose `synthc` is this checkout's, run by this interpreter."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "synthc"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m synthc "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    env = {key: value for key, value in os.environ.items() if key != "SYNTHC_CACHE_DIR"}
    return {
        **env,
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
        "OPENAI_API_KEY": "sk-readme-tour",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }


def plan_statuses(lines: list[str]) -> list[tuple[str, ...]]:
    """(step, status, why, model calls cached and to make) of each row of a plan table,
    then its summary line's count of calls (tokens and dollars depend on the model)."""
    rows: list[tuple[str, ...]] = []
    for line in lines:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) >= 5 and cells[3] in ("fresh", "stale", "missing"):
            calls = cells[6].split(" (")[0] if len(cells) > 6 else "-"
            rows.append((cells[0], cells[3], cells[4], calls))
        elif "model call(s) to make" in line:
            rows.append((line.split(", ~")[0],))
    return rows


def test_the_readme_tour_runs_as_printed(
    tmp_path: Path, server: LLMTestServer, varied_answers: None
) -> None:
    text = README.read_text(encoding="utf-8")
    commands = tour_commands(text)
    assert [c.line.split()[:2] for c in commands][:3] == [
        ["synthc", "plan"],
        ["synthc", "build"],
        ["synthc", "query"],
    ]
    root = tmp_path / "clone"
    shutil.copytree(
        ROOT / "recipes",
        root / "recipes",
        ignore=shutil.ignore_patterns(".synthc", "out", "*.lock"),
    )
    loopback_quickstart(root, server)
    env = shell_with_synthc(tmp_path)
    edits = sorted((text.index(sentence), edit) for sentence, edit in EDITS.items())
    position = 0
    for command in commands:
        position = text.index("$ " + command.line, position + 1)
        while edits and edits[0][0] < position:
            edits.pop(0)[1](root)
        done = subprocess.run(
            ["bash", "-c", command.line],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        shown = done.stdout + done.stderr
        assert done.returncode == command.exit_code, f"$ {command.line}\n{shown}"
        if command.line.startswith("synthc plan"):
            assert plan_statuses(done.stdout.splitlines()) == plan_statuses(command.expected)
        if command.line.startswith("synthc validate"):
            assert done.stderr.splitlines() == command.expected
    assert not edits, "an edit the README asks for comes after its last command"


@pytest.mark.parametrize(
    "line, code", [("synthc plan x.yaml", 0), ("synthc validate x.yaml  # exits 2", 2)]
)
def test_exit_codes_are_read_from_the_comment(line: str, code: int) -> None:
    assert tour_commands(f"```console\n$ {line}\nout\n```\n")[0].exit_code == code
