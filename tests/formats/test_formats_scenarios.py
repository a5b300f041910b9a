"""Scenario model: the example loads; each kind of malformed input is reported with its location."""

from __future__ import annotations

import math
import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from harness.drill.results import Thresholds
from harness.errors import ValidationFailed
from harness.loader import parse_yaml_text, validate_document
from harness.paths import repo_root
from harness.scenarios import faultspec, load_scenario, load_scenarios
from harness.scenarios.durations import parse_duration
from harness.scenarios.models import Comparison, Scenario, Schedule
from harness.severity import Severity

REAL_REGISTRY_LOOKUP = faultspec._fault_registry
EXAMPLE = repo_root() / "scenarios" / "examples" / "http-5xx-example.yaml"
PROBLEM = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<path>\S+): (?P<msg>.+)$")

MINIMAL = """\
name: tiny
description: a tiny drill
schedule: daily
severity: SEV3
fault:
  kind: http_errors
  params: {status: 503}
  max_duration_seconds: 60
expect:
  alerts: [DemoHighErrorRatio]
  runbook: error_rate_spike
recovery:
  criteria:
    - ready: {}
  hold_seconds: 5
  timeout_seconds: 60
"""


class _HttpErrorParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Annotated[int, Field(ge=400, le=599)] = 503
    fraction: Annotated[float, Field(gt=0, le=1)] = 0.5
    path_regex: str | None = None


class _HttpErrors:
    Params = _HttpErrorParams


def _fake_registry() -> types.ModuleType:
    module = types.ModuleType("fake_registry")

    def fault_type(kind: str) -> type:
        if kind != "http_errors":
            raise KeyError(kind)
        return _HttpErrors

    module.fault_type = fault_type  # type: ignore[attr-defined]
    module.fault_kinds = lambda: ["http_errors"]  # type: ignore[attr-defined]
    return module


@pytest.fixture(autouse=True)
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Unit tests run against a known registry, whatever harness.faults holds today."""
    monkeypatch.setattr(faultspec, "_fault_registry", _fake_registry)
    yield


def scenario_from(text: str, source: str = "s.yaml") -> Scenario:
    return validate_document(parse_yaml_text(text, source), Scenario)


def problems(text: str) -> list[tuple[int, int, str, str]]:
    with pytest.raises(ValidationFailed) as info:
        scenario_from(text)
    found = []
    for line in info.value.problems:
        match = PROBLEM.match(line)
        assert match and "\n" not in line, line
        found.append((int(match["line"]), int(match["col"]), match["path"], match["msg"]))
    return found


def test_example_loads_with_every_section() -> None:
    scenario = load_scenario(EXAMPLE)
    assert scenario.name == "http-5xx-example"
    assert scenario.schedule is Schedule.MONTHLY
    assert scenario.severity is Severity.SEV2
    assert scenario.fault.max_duration_seconds == 300.0
    assert scenario.stop_conditions.max_duration_seconds == 600.0
    assert scenario.rto_seconds == 120.0 and scenario.rpo_seconds == 0.0
    assert scenario.expect.runbook == "error_rate_spike" and not scenario.manual
    assert isinstance(scenario.thresholds, Thresholds)
    assert scenario.thresholds.plain() == Thresholds(
        max_mttd_seconds=20, max_mttn_seconds=25, max_mttr_seconds=90, rollback_required=True,
        max_lost_writes=0,
    )
    criteria = scenario.recovery.criteria
    assert criteria[0].error_ratio is not None and criteria[0].error_ratio.max == 0.01
    assert criteria[1].p95_latency is not None and criteria[1].p95_latency.max_seconds == 1.5
    assert criteria[2].ready is not None
    assert scenario.steady_state[0].http is not None and scenario.steady_state[0].http.expect_status == [200]
    assert scenario.source == EXAMPLE
    assert scenario.target.admin is not None and scenario.fault_hosts() == []


def test_minimal_scenario_gets_defaults() -> None:
    scenario = scenario_from(MINIMAL)
    assert scenario.target.kind == "demo" and scenario.target.admin is not None
    assert scenario.thresholds.max_lost_writes == 0 and scenario.thresholds.rollback_required
    assert scenario.load is None and scenario.steady_state == []


def test_manual_response_scenario() -> None:
    text = MINIMAL.replace("alerts: [DemoHighErrorRatio]\n  runbook: error_rate_spike", "runbook: null")
    scenario = scenario_from(text)
    assert scenario.manual and scenario.expect.alerts == []


def test_runbook_key_must_be_written() -> None:
    text = MINIMAL.replace("  runbook: error_rate_spike\n", "")
    [(line, _, path, msg)] = problems(text)
    assert (line, path) == (10, "expect.runbook") and "required" in msg


def test_yaml_syntax_error() -> None:
    [(line, _, path, _)] = problems(MINIMAL.replace("schedule: daily", "schedule: [daily"))
    assert path == "(yaml)" and line >= 3


def test_wrong_types_are_each_located() -> None:
    text = MINIMAL.replace("hold_seconds: 5", "hold_seconds: [5]").replace("severity: SEV3", "severity: 3")
    found = problems(text)
    assert [(line, path) for line, _, path, _ in found] == [(4, "severity"), (15, "recovery.hold_seconds")]


def test_unknown_keys_suggest_the_right_one() -> None:
    text = MINIMAL.replace("schedule: daily", "schedul: daily").replace("hold_seconds", "hold_second")
    found = problems(text)
    by_path = {path: (line, col, msg) for line, col, path, msg in found}
    assert by_path["schedul"][:2] == (3, 1) and "did you mean 'schedule'" in by_path["schedul"][2]
    assert "did you mean 'hold_seconds'" in by_path["recovery.hold_second"][2]
    assert "schedule" in by_path and "recovery.hold_seconds" in by_path  # now missing


def test_unknown_fault_kind_names_the_known_ones() -> None:
    [(line, col, path, msg)] = problems(MINIMAL.replace("kind: http_errors", "kind: http_eror"))
    assert (line, col, path) == (6, 9, "fault.kind")
    assert "unknown fault kind 'http_eror'" in msg and "http_errors" in msg


def test_fault_params_are_checked_against_the_kind() -> None:
    text = MINIMAL.replace("params: {status: 503}", "params: {status: 200, fracton: 0.2}")
    found = problems(text)
    located = [(line, path) for line, _, path, _ in found]
    assert located == [(7, "fault.params.status"), (7, "fault.params.fracton")]


def test_negative_zero_and_infinite_durations() -> None:
    for bad, word in (("-5", "positive"), ("0", "positive"), (".inf", "finite"), (".nan", "finite"),
                      ("1e400", "finite"), ("true", "number"), ("soon", "cannot read")):
        found = problems(MINIMAL.replace("max_duration_seconds: 60", f"max_duration_seconds: {bad}"))
        assert [(line, path) for line, _, path, _ in found] == [(8, "fault.max_duration_seconds")], bad
        assert word in found[0][3], (bad, found)


def test_fault_duration_is_capped_at_an_hour() -> None:
    [(_, _, path, msg)] = problems(MINIMAL.replace("max_duration_seconds: 60", "max_duration_seconds: 2h"))
    assert path == "fault.max_duration_seconds" and "3600" in msg


def test_hold_must_be_shorter_than_timeout() -> None:
    [(line, _, path, msg)] = problems(MINIMAL.replace("hold_seconds: 5", "hold_seconds: 60"))
    assert (line, path) == (13, "recovery") and "hold_seconds" in msg


def test_runbook_needs_an_alert() -> None:
    [(_, _, path, msg)] = problems(MINIMAL.replace("alerts: [DemoHighErrorRatio]", "alerts: []"))
    assert path == "expect" and "at least one alert" in msg


def test_manual_drill_must_outlast_its_fault() -> None:
    text = MINIMAL.replace("alerts: [DemoHighErrorRatio]\n  runbook: error_rate_spike", "runbook: null")
    text += "stop_conditions: {max_duration_seconds: 30}\n"
    [(_, _, path, msg)] = problems(text)
    assert path == "(root)" and "stop_conditions.max_duration_seconds" in msg


def test_checks_and_criteria_take_exactly_one_kind() -> None:
    text = MINIMAL.replace("    - ready: {}", "    - ready: {}\n      error_ratio: {max: 0.1}\n    - {}")
    found = problems(text)
    assert [path for _, _, path, _ in found] == ["recovery.criteria.0", "recovery.criteria.1"]
    text = MINIMAL + (
        "steady_state:\n  - promql: {query: up, op: '=~', value: 1}\n  - http: {expect_status: 200}\n"
    )
    found = problems(text)
    assert [path for _, _, path, _ in found] == ["steady_state.0.promql.op", "steady_state.1.http"]


def test_thresholds_reject_infinite_and_negative() -> None:
    text = MINIMAL + "thresholds: {max_mttr_seconds: .inf, max_lost_writes: -1, max_mttd_seconds: 30s}\n"
    found = problems(text)
    assert [path for _, _, path, _ in found] == ["thresholds.max_mttr_seconds", "thresholds.max_lost_writes"]


def test_object_tags_anchor_bombs_and_duplicates_in_a_scenario() -> None:
    found = problems(MINIMAL + "tags: !!python/object/apply:os.system [id]\n")
    assert found[0][2] == "tags" and "not allowed" in found[0][3]
    found = problems(MINIMAL + "description: twice\n")
    assert found[0][:3] == (17, 1, "description") and "duplicate" in found[0][3]
    bomb = "x: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
        f"x{i}: &a{i} [{', '.join(['*a' if i == 0 else f'*a{i - 1}'] * 10)}]\n" for i in range(6)
    )
    found = problems(MINIMAL.replace("name: tiny\n", "name: tiny\n" + bomb))
    assert "beyond" in found[0][3]


def test_external_target_must_opt_in_to_remote_hosts() -> None:
    text = MINIMAL + "target: {kind: external, base_url: 'https://shop.example.com'}\n"
    [(_, _, path, msg)] = problems(text)
    assert path == "target" and "allow_remote: true" in msg
    text = MINIMAL + "target: {kind: external, base_url: 'http://127.0.0.1:9000', admin: null}\n"
    assert scenario_from(text).target.host == "127.0.0.1"
    [(_, _, path, _)] = problems(MINIMAL + "target: {kind: external}\n")
    assert path == "target"
    [(_, _, path, _)] = problems(MINIMAL + "target: {base_url: 'ftp://x'}\n")
    assert path == "target.base_url"


def test_durations_accept_units() -> None:
    assert parse_duration("1h30m") == 5400.0
    assert parse_duration("500ms") == 0.5
    assert parse_duration(" 2 m ") == 120.0
    assert parse_duration(7) == 7.0
    assert parse_duration(0, allow_zero=True) == 0.0
    for bad in ("-1s", "1 fortnight", "", "nan", "inf", math.inf, True, None):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_comparison_holds() -> None:
    assert Comparison("<").holds(0.5, 1) and not Comparison(">=").holds(0.5, 1)
    assert not Comparison("!=").holds(math.nan, 1)


def test_load_scenarios_reports_all_files_and_duplicate_names(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(MINIMAL)
    (tmp_path / "b.yaml").write_text(MINIMAL)
    (tmp_path / "c.yml").write_text(MINIMAL.replace("name: tiny", "name: Tiny"))
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "r.yaml").write_text("id: r\nsteps: []\n")
    with pytest.raises(ValidationFailed) as info:
        load_scenarios(tmp_path)
    lines = info.value.problems
    assert len(lines) == 2
    assert any(line.startswith(f"{tmp_path / 'c.yml'}:1:7: name:") for line in lines)
    b_lines = [line for line in lines if line.startswith(f"{tmp_path / 'b.yaml'}:1:7: name:")]
    assert len(b_lines) == 1 and "already used" in b_lines[0]
    (tmp_path / "b.yaml").unlink()
    (tmp_path / "c.yml").unlink()
    assert [s.name for s in load_scenarios(tmp_path)] == ["tiny"]
    assert [s.name for s in load_scenarios([tmp_path / "a.yaml"])] == ["tiny"]


def test_real_registry_validates_the_example_params() -> None:
    """Once harness.faults.registry exists, the example's params are checked against the real kind."""
    real = pytest.importorskip("harness.faults.registry")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(faultspec, "_fault_registry", lambda: real)
        scenario = load_scenario(EXAMPLE)
        typed: Any = scenario.fault.typed_params()
        assert typed is not None and typed.status == 503
        with pytest.raises(ValidationFailed, match=r"fault\.params\.statuss"):
            scenario_from(MINIMAL.replace("params: {status: 503}", "params: {statuss: 503}"))
        with pytest.raises(ValidationFailed, match="unknown fault kind"):
            scenario_from(MINIMAL.replace("kind: http_errors", "kind: no_such_fault_kind"))



def test_a_broken_registry_is_a_located_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(name: str) -> types.ModuleType:
        raise SyntaxError("invalid syntax (registry.py, line 3)")

    monkeypatch.setattr(faultspec, "_fault_registry", REAL_REGISTRY_LOOKUP)
    monkeypatch.setattr(faultspec, "importlib", types.SimpleNamespace(import_module=broken))
    [(line, _, path, msg)] = problems(MINIMAL)
    assert (line, path) == (6, "fault.kind") and "failed to import" in msg and "SyntaxError" in msg
