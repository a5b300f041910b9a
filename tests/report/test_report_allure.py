"""attach_drill: a no-op without allure; attachments land in the allure results with --alluredir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from report_samples import failing_drill

from harness.report.allure import allure_active, attach_drill


def test_no_op_without_allure(tmp_path: Path) -> None:
    assert not allure_active()
    attach_drill(failing_drill(), tmp_path / "missing.html")  # must not raise


def test_attachments_with_alluredir(tmp_path: Path) -> None:
    page = tmp_path / "redis-loss-1.html"
    page.write_text("<!DOCTYPE html><title>page</title>", encoding="utf-8")
    test_file = tmp_path / "test_drill_attach.py"
    test_file.write_text(
        textwrap.dedent(
            f"""
            import sys
            from pathlib import Path
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            from report_samples import failing_drill
            from harness.report.allure import allure_active, attach_drill

            def test_drill():
                assert allure_active()
                attach_drill(failing_drill(), Path({str(page)!r}))
            """
        )
    )
    results = tmp_path / "allure-results"
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "allure_pytest.plugin",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            "-c",
            os.devnull,
            "--alluredir",
            str(results),
            str(test_file),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [result_file] = list(results.glob("*-result.json"))
    attachments = json.loads(result_file.read_text())["attachments"]
    names = [a["name"] for a in attachments]
    assert names == ["redis-loss #1 timeline", "redis-loss #1 incident write-up", "redis-loss #1 report"]
    by_name = {a["name"]: results / a["source"] for a in attachments}
    timeline = json.loads(by_name["redis-loss #1 timeline"].read_text())
    assert len(timeline) == len(failing_drill().timeline)
    assert by_name["redis-loss #1 report"].read_text() == page.read_text()
    assert "## Recovery Validation" in by_name["redis-loss #1 incident write-up"].read_text()
