"""Hooks the pytest plugin adds (registered with ``pytest_addhooks``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from harness.drill.results import DrillResult


@pytest.hookspec
def pytest_drill_finished(result: DrillResult, config: pytest.Config) -> None:
    """Called after each drill with its result (e.g. to post it to a dashboard)."""
