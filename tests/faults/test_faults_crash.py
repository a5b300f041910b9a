"""Crash tests: the harness is SIGKILLed while a fault is active; cleanup restores steady state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from faults_stack import assert_steady

from harness.cli.cleanup import cleanup
from harness.faults import FaultLedger, FaultState, HealOutcome, heal
from harness.paths import repo_root
from harness.stack.base import Stack
from harness.stack.procs import pid_alive
from harness.stack.wait import Predicate, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

CHILD = Path(__file__).with_name("faults_crash_child.py")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    local = pytest.importorskip("harness.stack.local")
    run_dir = tmp_path_factory.mktemp("crash-stack") / "run"
    live = local.LocalStack(local.LocalSettings(run_dir=run_dir, target_memory_limit_mb=200))
    try:
        live.up()
        yield live
    finally:
        live.down()


def _inject_then_sigkill(how: str, run_dir: Path, ledger: FaultLedger, kind: str, params: dict[str, object],
                         timeout: float = 120.0) -> int:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(repo_root()), str(CHILD.parent)]))
    child = subprocess.Popen(
        [sys.executable, str(CHILD), how, str(run_dir), str(ledger.path), kind, json.dumps(params)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=repo_root(),
    )
    lines: list[str] = []

    def read() -> None:
        assert child.stdout is not None
        for raw in child.stdout:
            lines.append(raw.decode(errors="replace"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(Predicate(lambda: any(x.startswith("INJECTED") for x in lines) or child.poll() is not None,
                           "child injected its fault"), timeout=timeout)
        assert child.poll() is None, "".join(lines)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        reader.join(5)
    assert child.returncode == -signal.SIGKILL
    return child.pid


def _one_live_entry(ledger: FaultLedger, kind: str, owner: int) -> None:
    active = ledger.active()
    assert [(e.kind, e.state, e.owner_pid) for e in active] == [(kind, FaultState.ACTIVE, owner)]


CLI_HEALABLE = [
    ("latency", {"route": "target", "latency_ms": 500}),
    ("latency", {"route": "postgres", "latency_ms": 200}),
    ("http_errors", {"fraction": 1.0}),
    ("redis_loss", {"mode": "freeze"}),
    ("postgres_pool_exhaustion", {}),
    ("oom_kill", {"mb_per_second": 100}),
    ("bad_rules_deploy", {}),
    ("process_pause", {}),
    ("cpu_starvation", {"duty": 0.9, "period_ms": 500}),
]


@pytest.mark.parametrize(("kind", "params"), CLI_HEALABLE, ids=[f"{k}-{i}" for i, (k, _) in
                                                                 enumerate(CLI_HEALABLE)])
def test_drillctl_cleanup_heals_after_sigkill(
    stack: Stack, tmp_path: Path, kind: str, params: dict[str, object]
) -> None:
    ledger = FaultLedger(tmp_path / "faults.jsonl")
    owner = _inject_then_sigkill("attach", stack.run_dir, ledger, kind, {"ttl_seconds": 300, **params})
    _one_live_entry(ledger, kind, owner)
    result = CliRunner().invoke(cleanup, ["--ledger", str(ledger.path), "--json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)
    assert [(i["kind"], i["outcome"]) for i in items] == [(kind, "reverted")]
    assert ledger.active() == []
    assert_steady(stack)
    again = CliRunner().invoke(cleanup, ["--ledger", str(ledger.path)])
    assert again.exit_code == 0 and "nothing to clean up" in again.output


@pytest.mark.parametrize(("kind", "params"), [
    ("redis_loss", {"mode": "kill"}),
    ("postgres_loss", {"mode": "stop"}),
    ("postgres_loss", {"mode": "kill"}),
])
def test_next_run_heals_with_its_stack_after_sigkill(
    stack: Stack, tmp_path: Path, kind: str, params: dict[str, object]
) -> None:
    """Faults that need a process started again are healed by the run that owns the stack."""
    ledger = FaultLedger(tmp_path / "faults.jsonl")
    owner = _inject_then_sigkill("attach", stack.run_dir, ledger, kind, {"ttl_seconds": 300, **params})
    _one_live_entry(ledger, kind, owner)
    report = heal(ledger, stacks={stack.run_dir: stack}, strict=True)
    assert [(i.kind, i.outcome) for i in report.items] == [(kind, HealOutcome.REVERTED)]
    assert ledger.active() == []
    assert_steady(stack)


def test_cleanup_after_the_stack_owner_is_killed(tmp_path: Path) -> None:
    """A harness owning its stack dies: the stack dies with it, cleanup finds the fault moot."""
    ledger = FaultLedger(tmp_path / "faults.jsonl")
    run_dir = tmp_path / "owned-run"
    owner = _inject_then_sigkill("own", run_dir, ledger, "latency",
                                 {"latency_ms": 300, "ttl_seconds": 300}, timeout=180)
    _one_live_entry(ledger, "latency", owner)
    recorded = json.loads((run_dir / "stack.json").read_text())
    pids = list(recorded["pids"].values())
    wait_for(Predicate(lambda: not any(pid_alive(p) for p in pids), "stack processes gone"), timeout=30)
    result = CliRunner().invoke(cleanup, ["--ledger", str(ledger.path), "--json"])
    assert result.exit_code == 0, result.output
    assert [(i["outcome"], i["note"]) for i in json.loads(result.output)] == [("stack_gone", "stack gone")]
    assert ledger.active() == []
