"""Scenario models (``Scenario``), loading and the safety allow-list."""

from harness.scenarios.load import load_scenario, load_scenarios, scenario_files
from harness.scenarios.models import Scenario, Schedule
from harness.scenarios.safety import check_allowed

__all__ = ["Scenario", "Schedule", "check_allowed", "load_scenario", "load_scenarios", "scenario_files"]
