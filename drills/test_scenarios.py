"""One drill per shipped scenario, marked with the scenario's schedule (daily/weekly/monthly/quarterly)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.drill.results import DrillResult
from harness.scenarios.load import load_scenarios

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"


def _params() -> list[object]:
    return [
        pytest.param(s.source, id=s.name, marks=[pytest.mark.drill, getattr(pytest.mark, s.schedule.value)])
        for s in load_scenarios(SCENARIO_DIR)
    ]


@pytest.mark.parametrize("scenario_file", _params())
def test_drill(scenario_file: Path, run_drill: Callable[[str | Path], list[DrillResult]]) -> None:
    results = run_drill(scenario_file)
    assert results and all(r.mttr_seconds is not None for r in results)
