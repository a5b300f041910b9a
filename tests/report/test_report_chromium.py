"""Open generated pages in headless Chromium: screenshot, rendered DOM, no script ran."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from report_html import Node, parse
from report_samples import SCRIPT_LABEL, TITLE_SCRIPT

from harness.report.render import render_run, render_trend

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Debian chromium is not installed (apt-get install -y chromium)"
    ),
]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--window-size=1280,2000",
]


def chromium(tmp_path: Path, *args: str, timeout: float = 90.0) -> str:
    """Run chromium in its own process group; kill the whole group if it overstays."""
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    assert CHROMIUM is not None
    proc = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.returncode == 0, err[-2000:]
    return out


def _points(doc: Node) -> int:
    polylines = doc.find_all("polyline", pred=lambda n: len(n.attrs.get("points", "").split()) >= 2)
    return len(polylines) + len(doc.find_all("circle"))


def test_drill_page_renders_in_chromium(run_dir: Path, tmp_path: Path) -> None:
    render_run(run_dir)
    page = run_dir / "redis-loss-1.html"
    # an unescaped <script>alert(1)</script> would block headless chromium on its dialog: fail fast instead
    assert "<script" not in page.read_text(encoding="utf-8").lower()
    shot = tmp_path / "redis-loss-1.png"
    chromium(tmp_path, f"--screenshot={shot}", page.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a blank page compresses far smaller

    dom = parse(chromium(tmp_path, "--dump-dom", page.as_uri()))
    assert dom.find("title").text() == "redis-loss #1 — FAIL"  # the injected script would have changed it
    assert "PWNED" not in dom.find("title").text()
    assert not dom.find_all("script")
    assert SCRIPT_LABEL in dom.text() and TITLE_SCRIPT in dom.text()  # shown as text
    timeline = dom.find("svg", cls="timeline-chart")
    assert len(timeline.find_all("circle")) > 10
    charts = dom.find_all("svg", cls="line-chart")
    assert len(charts) == 3 and all(_points(c) > 0 for c in charts)
    assert _points(dom) > 100


def test_index_and_trend_render_in_chromium(run_dir: Path, reports_dir: Path, tmp_path: Path) -> None:
    results = (run_dir / "results.json").read_text(encoding="utf-8")
    from harness.drill.results import RunResults

    run = RunResults.model_validate_json(results)
    (reports_dir / "history.jsonl").write_text("".join(d.model_dump_json() + "\n" for d in run.drills * 3))
    trend = render_trend(reports_dir)
    index = render_run(run_dir)

    dom = parse(chromium(tmp_path, "--dump-dom", index.as_uri()))
    rows = dom.find("table", id="drills").find_all("tr", pred=lambda n: "drill" in n.classes)
    assert len(rows) == 2
    assert len([td for td in rows[0].find_all("td") if "fail" in td.classes]) == 4

    shot = tmp_path / "trend.png"
    chromium(tmp_path, f"--screenshot={shot}", trend.as_uri())
    assert shot.stat().st_size > 10_000
    dom = parse(chromium(tmp_path, "--dump-dom", trend.as_uri()))
    assert sum(_points(svg) for svg in dom.find_all("svg")) > 0
