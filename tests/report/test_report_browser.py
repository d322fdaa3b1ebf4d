"""The report in a real browser: headless Chromium renders the gates table and the SVG
plots, and the run saves a screenshot to test-artifacts/report.png (and the page itself to
test-artifacts/report.html) for a person or a CI artifact to look at."""

from __future__ import annotations

import subprocess
from pathlib import Path

from htmlkit import gate_rows, svgs_in_plots
from reportkit import chromium_command

from synthc.report.write import write_report


def _chromium(binary: Path, profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [*chromium_command(binary, profile), *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_chromium_renders_gates_and_plots_and_saves_a_screenshot(
    built, chromium: Path, artifacts: Path, tmp_path: Path
):
    recipe, store = built
    page = write_report(recipe, store)
    dom = _chromium(chromium, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert len(gate_rows(dom.stdout)) == len(recipe.steps["final"].checks) == 4
    assert len(svgs_in_plots(dom.stdout)) >= 3
    assert '<svg class="pipeline"' in dom.stdout
    (artifacts / "report.html").write_text(page.read_text(encoding="utf-8"), encoding="utf-8")
    screenshot = artifacts / "report.png"
    screenshot.unlink(missing_ok=True)
    shot = _chromium(
        chromium,
        tmp_path / "profile",
        f"--screenshot={screenshot}",
        "--window-size=1280,2000",
        "--hide-scrollbars",
        page.as_uri(),
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000  # a blank page is a few kilobytes
