"""pytest plugin (entry point ``pytest11``): drills as tests.

Registers the schedule markers, validated options, the session-wide stack and
drill-session fixtures, and the gate. Heavy imports happen inside fixtures so
that loading the plugin costs nothing for test runs that do not drill.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from harness.drill.results import DrillResult
    from harness.drill.session import DrillSession
    from harness.stack.base import Stack

SCHEDULES = ("daily", "weekly", "monthly", "quarterly")
STACKS = ("auto", "local", "docker")
_SESSION_KEY = pytest.StashKey["DrillSession"]()
_RESULTS_KEY = pytest.StashKey["list[DrillResult]"]()
_REPORT_KEY = pytest.StashKey[Path]()
_GATE_KEY = pytest.StashKey["list[str]"]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from harness import plugin_hooks

    pluginmanager.add_hookspecs(plugin_hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("drills", "chaos-drill-harness")
    group.addoption(
        "--stack",
        dest="drill_stack",
        default="local",
        help="stack backend for drills: auto, local or docker (default: local)",
    )
    group.addoption(
        "--report-dir",
        dest="drill_report_dir",
        default="reports",
        help="where drill runs are written (default: reports)",
    )
    group.addoption(
        "--baseline",
        dest="drill_baseline",
        default=None,
        help="baseline file for --gate (default: the history's recent median per scenario)",
    )
    group.addoption(
        "--gate",
        dest="drill_gate",
        action="store_true",
        default=False,
        help="fail the session when the run breaches thresholds or regresses against the baseline",
    )
    group.addoption(
        "--tolerance",
        dest="drill_tolerance",
        default="20",
        help="allowed MTTD/MTTR regression for --gate, in percent (default: 20)",
    )
    group.addoption(
        "--repeat",
        dest="drill_repeat",
        default="1",
        help="run each drill N times and report the distribution (default: 1)",
    )
    group.addoption(
        "--strict-confirm",
        dest="drill_strict_confirm",
        action="store_true",
        default=False,
        help="refuse runbook confirm steps instead of auto-approving them",
    )
    group.addoption(
        "--load-workers",
        dest="drill_load_workers",
        default=None,
        help="Locust distributed mode for every drill: a master and N workers",
    )
    group.addoption(
        "--allow-remote",
        dest="drill_allow_remote",
        action="store_true",
        default=False,
        help="allow scenarios that opted in to aim at hosts beyond loopback",
    )


def pytest_configure(config: pytest.Config) -> None:
    for schedule in SCHEDULES:
        config.addinivalue_line("markers", f"{schedule}: a drill on the {schedule} schedule")
    config.addinivalue_line("markers", "drill: a chaos drill (brings up the stack)")
    stack = config.getoption("drill_stack")
    if stack not in STACKS:
        raise pytest.UsageError(f"--stack must be one of {', '.join(STACKS)}; got {stack!r}")
    for name, option in (("--repeat", "drill_repeat"), ("--tolerance", "drill_tolerance")):
        raw = config.getoption(option)
        try:
            value = float(raw)
        except ValueError:
            raise pytest.UsageError(f"{name} takes a number, e.g. {name} 3; got {raw!r}") from None
        if value < (1 if name == "--repeat" else 0) or value != value or value == float("inf"):
            raise pytest.UsageError(f"{name} must be a finite number >= {1 if name == '--repeat' else 0}")
    if not float(config.getoption("drill_repeat")).is_integer():
        raise pytest.UsageError("--repeat takes a whole number, e.g. --repeat 3")
    workers = config.getoption("drill_load_workers")
    if workers is not None and (not str(workers).isdigit() or int(workers) > 64):
        raise pytest.UsageError(
            f"--load-workers takes a whole number 0..64, e.g. --load-workers 2; got {workers!r}"
        )
    baseline = config.getoption("drill_baseline")
    if baseline is not None and not Path(baseline).is_file():
        raise pytest.UsageError(f"--baseline {baseline}: no such file")
    config.stash[_RESULTS_KEY] = []


DRILL_TIMEOUT_S = 1800  # per drill run; a drill bounds itself (stop_conditions), this is the backstop


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drills outlast the suite-wide pytest-timeout: give each its own, scaled by --repeat."""
    for item in items:
        if item.get_closest_marker("drill") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(DRILL_TIMEOUT_S * drill_repeat(config)))


def drill_repeat(config: pytest.Config) -> int:
    return int(float(config.getoption("drill_repeat")))


@pytest.fixture(scope="session")
def drill_stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The stack, brought up once per session and always torn down."""
    from harness.cli.stack_cmds import build_stack, new_run_dir
    from harness.paths import state_dir

    stack = build_stack(request.config.getoption("drill_stack"), new_run_dir(state_dir()))
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="session")
def drill_session(request: pytest.FixtureRequest, drill_stack: Stack) -> Iterator[DrillSession]:
    from harness.drill.context import DrillOptions
    from harness.drill.session import DrillSession
    from harness.runbooks.catalog import load_runbooks

    config = request.config
    options = DrillOptions(
        report_dir=Path(config.getoption("drill_report_dir")),
        strict_confirm=config.getoption("drill_strict_confirm"),
        allow_remote=config.getoption("drill_allow_remote"),
        load_workers=int(w) if (w := config.getoption("drill_load_workers")) is not None else None,
    )
    session = DrillSession(drill_stack, load_runbooks(), options)
    config.stash[_SESSION_KEY] = session
    yield session
    config.stash[_REPORT_KEY] = session.finish()


@pytest.fixture
def run_drill(
    request: pytest.FixtureRequest, drill_session: DrillSession
) -> Callable[[str | Path], list[DrillResult]]:
    """Run a scenario (name under scenarios/ or a path) --repeat times; fail the test on a failed verdict."""
    from harness.drill.results import Verdict
    from harness.scenarios.load import load_scenario

    config = request.config

    def run(scenario: str | Path) -> list[DrillResult]:
        path = Path(scenario)
        if not path.suffix:
            path = Path("scenarios") / f"{scenario}.yaml"
        loaded = load_scenario(path)
        results = []
        for iteration in range(1, drill_repeat(config) + 1):
            result = drill_session.run(loaded, iteration)
            results.append(result)
            config.stash[_RESULTS_KEY].append(result)
            config.hook.pytest_drill_finished(result=result, config=config)
            for figure in (
                "verdict",
                "mttd_seconds",
                "mttn_seconds",
                "mttm_seconds",
                "mttr_seconds",
                "detection_floor_seconds",
                "rollback_ok",
                "writes_lost",
            ):
                request.node.user_properties.append((f"{result.iteration}.{figure}", getattr(result, figure)))
            _attach(result, drill_session.run_dir)
        failed = [r for r in results if r.verdict != Verdict.PASS]
        if failed:
            lines = [
                f"{r.scenario} #{r.iteration}: {r.verdict.value}: " + "; ".join(r.reasons) for r in failed
            ]
            pytest.fail("\n".join(lines), pytrace=False)
        return results

    return run


def _attach(result: DrillResult, run_dir: Path) -> None:
    try:
        from harness.report.allure import attach_drill
        from harness.report.render import page_name
    except ImportError:
        return
    try:
        attach_drill(result, run_dir / page_name(result))
    except Exception:  # a broken reporter never fails a drill
        return


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    results = config.stash.get(_RESULTS_KEY, [])
    if not results:
        return
    from harness.drill.summary import summary_lines

    terminalreporter.section("drill results")
    for line in summary_lines(results):
        terminalreporter.write_line(line)
    session = config.stash.get(_SESSION_KEY, None)
    if session is not None:
        terminalreporter.write_line(f"results: {session.run_dir / 'results.json'}")
    report = config.stash.get(_REPORT_KEY, None)
    if report is not None:
        terminalreporter.write_line(f"drill report: {report}")
    gate = config.stash.get(_GATE_KEY, None)
    if gate:
        terminalreporter.section("drill gate")
        for line in gate:
            terminalreporter.write_line(line)


@pytest.hookimpl(trylast=True)  # after the session fixtures' teardown wrote results.json and history
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if not config.getoption("drill_gate") or not config.stash.get(_RESULTS_KEY, []):
        return
    from harness.gate import run_gate

    session_obj = config.stash.get(_SESSION_KEY, None)
    report = run_gate(
        Path(config.getoption("drill_report_dir")),
        run_dir=session_obj.run_dir if session_obj is not None else None,
        baseline=Path(config.getoption("drill_baseline")) if config.getoption("drill_baseline") else None,
        tolerance_pct=float(config.getoption("drill_tolerance")),
    )
    config.stash[_GATE_KEY] = report.lines()  # printed by pytest_terminal_summary, after the results
    if not report.ok:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
