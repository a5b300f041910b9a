"""Fixtures for the report tests (sample data lives in report_samples.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_samples import RUN_ID, write_run

from harness.drill.results import RunResults


@pytest.fixture
def reports_dir(tmp_path: Path) -> Path:
    path = tmp_path / "reports"
    path.mkdir()
    return path


@pytest.fixture
def run_dir(reports_dir: Path) -> Path:
    path = reports_dir / RUN_ID
    write_run(path)
    return path


@pytest.fixture
def run(run_dir: Path) -> RunResults:
    return RunResults.model_validate_json((run_dir / "results.json").read_bytes())
