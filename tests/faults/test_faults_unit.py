"""Unit tests of the fault abstraction, registry, ledger, healing and signals (fakes only)."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path
from types import FrameType

import pytest

from harness.clock import FakeClock
from harness.errors import ConfigError, FaultError, FaultLedgerError
from harness.faults import (
    FakeFault,
    FaultContext,
    FaultLedger,
    FaultState,
    HealOutcome,
    build_fault,
    fault_type,
    heal,
    validate_params,
)
from harness.faults.kinds_process import CpuStarvationFault, ProcessPauseFault, RedisLossFault
from harness.faults.signals import revert_on_signals
from harness.stack.base import Endpoint, FakeStack, Service, ServiceAction, ServiceStatus


def _stack(tmp_path: Path) -> FakeStack:
    stack = FakeStack(
        endpoints={s: Endpoint("127.0.0.1", 1000 + i) for i, s in enumerate(
            [Service.TARGET, Service.REDIS, Service.POSTGRES])},
        run_dir=tmp_path / "run",
    )
    stack.up()
    return stack


def _ctx(tmp_path: Path, clock: FakeClock | None = None) -> tuple[FaultContext, FaultLedger, FakeStack]:
    clock = clock or FakeClock()
    ledger = FaultLedger(tmp_path / "faults.jsonl", clock=clock)
    stack = _stack(tmp_path)
    return FaultContext(stack=stack, ledger=ledger, clock=clock, install_signal_handlers=False), ledger, stack


def _fake(**params: object) -> FakeFault:
    fault = build_fault("fake", params)
    assert isinstance(fault, FakeFault)
    return fault


# -- registry and params ---------------------------------------------------------------
def test_registry_unknown_kind_lists_known_kinds() -> None:
    with pytest.raises(ConfigError) as info:
        fault_type("lightning")
    message = str(info.value)
    assert "lightning" in message and "latency" in message and "redis_loss" in message


def test_params_errors_carry_locations() -> None:
    with pytest.raises(ConfigError) as info:
        bad = {"latency_ms": -5, "route": "mysql", "bogus": 1, "ttl_seconds": float("inf")}
        validate_params("latency", bad, where="faults[0].params")
    problems = "\n".join(info.value.problems)
    for location in ("faults[0].params.latency_ms", "faults[0].params.route", "faults[0].params.bogus",
                     "faults[0].params.ttl_seconds"):
        assert location in problems
    assert len(info.value.problems) == 4


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("http_errors", {"fraction": 0}),
        ("http_errors", {"path_regex": "("}),
        ("redis_loss", {"mode": "explode"}),
        ("cpu_starvation", {"duty": 1.0}),
        ("postgres_pool_exhaustion", {"connections": 0}),
        ("oom_kill", {"mb_per_second": -1}),
        ("process_pause", {"ttl_seconds": 0}),
    ],
)
def test_invalid_params_are_refused(kind: str, params: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        build_fault(kind, params)


def test_every_kind_builds_with_defaults_or_minimal_params() -> None:
    assert build_fault("latency", {"latency_ms": 100}).params.ttl_seconds == 300.0
    for kind in ("http_errors", "redis_loss", "postgres_loss", "postgres_pool_exhaustion", "oom_kill",
                 "bad_rules_deploy", "process_pause", "cpu_starvation"):
        assert build_fault(kind, {"ttl_seconds": 30}).kind == kind


# -- lifecycle ----------------------------------------------------------------------------
def test_revert_is_idempotent_and_harmless_before_inject(tmp_path: Path) -> None:
    ctx, _ledger, _fake_stack = _ctx(tmp_path)
    fault = _fake()
    fault.revert(ctx)  # never injected: harmless
    assert fault.status(ctx) == FaultState.REVERTED
    fault2 = _fake()
    fault2.inject(ctx)
    assert fault2.status(ctx) == FaultState.ACTIVE and fault2.in_effect
    fault2.revert(ctx)
    fault2.revert(ctx)
    assert fault2.calls == ["inject", "revert"]
    assert fault2.status(ctx) == FaultState.REVERTED


def test_context_manager_journals_before_injecting_and_reverts(tmp_path: Path) -> None:
    ctx, ledger, _ = _ctx(tmp_path)
    fault = _fake(label="x", ttl_seconds=60)
    with fault.bind(ctx):
        entries = ledger.entries()
        assert entries[fault.id].state == FaultState.ACTIVE
        assert entries[fault.id].undo == {"label": "x"}
        assert [e.id for e in ledger.active()] == [fault.id]
    assert fault.calls == ["prepare", "inject", "revert"]
    assert ledger.entries()[fault.id].state == FaultState.REVERTED
    assert ledger.active() == []
    records = list(ledger.records())
    assert [r.state for r in records] == [FaultState.PENDING, FaultState.ACTIVE, FaultState.REVERTED]
    assert records[0].run_dir == str(tmp_path / "run") and records[0].owner_pid == os.getpid()
    assert "admin-token" not in ledger.path.read_text()  # no secrets in the ledger


def test_context_manager_reverts_when_the_body_raises(tmp_path: Path) -> None:
    ctx, ledger, _ = _ctx(tmp_path)
    fault = _fake()
    with pytest.raises(RuntimeError), fault.bind(ctx):
        raise RuntimeError("test failed")
    assert not fault.in_effect
    assert ledger.active() == []


def test_failed_inject_is_reverted_and_reraised(tmp_path: Path) -> None:
    ctx, ledger, _ = _ctx(tmp_path)
    fault = _fake(fail_inject=True)
    with pytest.raises(FaultError, match="fake inject failure"), fault.bind(ctx):
        pytest.fail("body must not run")
    assert fault.calls == ["prepare", "inject", "revert"]
    assert ledger.active() == []


def test_failed_revert_stays_live_in_the_ledger(tmp_path: Path) -> None:
    ctx, ledger, _ = _ctx(tmp_path)
    fault = _fake(fail_revert=True)
    with pytest.raises(FaultError, match="fake revert failure"), fault.bind(ctx):
        pass
    assert fault.state == FaultState.FAILED
    assert [e.state for e in ledger.active()] == [FaultState.FAILED]


def test_session_reverts_at_the_ttl(tmp_path: Path) -> None:
    ctx, ledger, _ = _ctx(tmp_path)
    fault = _fake(ttl_seconds=0.2)
    with fault.bind(ctx):
        deadline = time.monotonic() + 10
        while fault.in_effect and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not fault.in_effect
        assert fault.status(ctx) == FaultState.EXPIRED
    assert ledger.entries()[fault.id].state == FaultState.EXPIRED
    assert ledger.active() == []


# -- ledger -------------------------------------------------------------------------------
def test_ledger_fold_orders_expired_first(tmp_path: Path) -> None:
    clock = FakeClock()
    ledger = FaultLedger(tmp_path / "faults.jsonl", clock=clock)
    long_lived, short_lived, done = _fake(ttl_seconds=600), _fake(ttl_seconds=10), _fake(ttl_seconds=5)
    for fault in (long_lived, short_lived, done):
        ledger.record_pending(fault, run_dir=tmp_path, backend="fake")
        ledger.record(fault.id, FaultState.ACTIVE, undo={"n": 1})
    ledger.record(done.id, FaultState.REVERTED, note="done")
    ledger.record(short_lived.id, FaultState.ACTIVE, undo={"m": 2})
    clock.advance(60)
    active = ledger.active()
    assert [e.id for e in active] == [short_lived.id, long_lived.id]
    assert [e.id for e in ledger.expired()] == [short_lived.id]
    assert ledger.entries()[done.id].notes == ["done"]
    assert active[0].undo == {"n": 1, "m": 2}  # undo data merges across records


def test_torn_last_line_is_ignored_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ledger = FaultLedger(tmp_path / "faults.jsonl", clock=FakeClock())
    fault = _fake()
    ledger.record_pending(fault, run_dir=tmp_path, backend="fake")
    with ledger.path.open("ab") as fh:
        fh.write(b'{"id": "' + fault.id.encode() + b'", "state": "rever')  # crash mid-write
    with caplog.at_level(logging.WARNING):
        assert [e.state for e in ledger.active()] == [FaultState.PENDING]
    assert "torn" in caplog.text
    ledger.record(fault.id, FaultState.REVERTED)  # the next append starts on a fresh line
    assert ledger.active() == []
    assert ledger.path.read_bytes().endswith(b"\n")


def test_missing_ledger_is_empty_and_unwritable_ledger_raises(tmp_path: Path) -> None:
    assert FaultLedger(tmp_path / "none.jsonl").active() == []
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(FaultLedgerError):
        FaultLedger(blocker / "faults.jsonl").record_pending(_fake(), run_dir=tmp_path, backend="fake")


# -- heal -----------------------------------------------------------------------------
def _leave_active(ledger: FaultLedger, fault: FakeFault, run_dir: Path, owner_pid: int | None = None) -> None:
    entry = ledger.record_pending(fault, run_dir=run_dir, backend="fake")
    ledger.record(entry.id, FaultState.ACTIVE)
    if owner_pid is not None:  # rewrite the owner as another process
        text = ledger.path.read_text().replace(f'"owner_pid":{os.getpid()}', f'"owner_pid":{owner_pid}')
        ledger.path.write_text(text)


def test_heal_reverts_through_the_given_stack_and_marks_gone_stacks(tmp_path: Path) -> None:
    clock = FakeClock()
    ledger = FaultLedger(tmp_path / "faults.jsonl", clock=clock)
    stack = _stack(tmp_path)
    alive, gone = _fake(), _fake()
    _leave_active(ledger, alive, stack.run_dir)
    _leave_active(ledger, gone, tmp_path / "old-run")
    report = heal(ledger, stacks={stack.run_dir: stack}, attach=lambda _p: None, clock=clock)
    outcomes = {i.id: i.outcome for i in report.items}
    assert outcomes == {alive.id: HealOutcome.REVERTED, gone.id: HealOutcome.STACK_GONE}
    assert report.ok and ledger.active() == []
    assert ledger.entries()[gone.id].notes == ["stack gone"]
    assert heal(ledger, attach=lambda _p: None, clock=clock).items == []  # nothing left


def test_heal_failure_is_reported_and_strict_raises(tmp_path: Path) -> None:
    ledger = FaultLedger(tmp_path / "faults.jsonl", clock=FakeClock())
    stack = _stack(tmp_path)
    _leave_active(ledger, _fake(fail_revert=True), stack.run_dir)
    with pytest.raises(FaultLedgerError, match="fake revert failure"):
        heal(ledger, stacks={stack.run_dir: stack}, strict=True)
    assert len(ledger.active()) == 1  # still live: the next run must try again


def test_heal_leaves_faults_of_a_live_harness_alone_unless_forced(tmp_path: Path) -> None:
    ledger = FaultLedger(tmp_path / "faults.jsonl", clock=FakeClock())
    stack = _stack(tmp_path)
    _leave_active(ledger, _fake(), stack.run_dir, owner_pid=os.getppid())
    report = heal(ledger, stacks={stack.run_dir: stack})
    assert [i.outcome for i in report.items] == [HealOutcome.SKIPPED] and report.ok
    report = heal(ledger, stacks={stack.run_dir: stack}, force=True)
    assert [i.outcome for i in report.items] == [HealOutcome.REVERTED]


def test_heal_expired_entries_first(tmp_path: Path) -> None:
    clock = FakeClock()
    ledger = FaultLedger(tmp_path / "faults.jsonl", clock=clock)
    stack = _stack(tmp_path)
    later, sooner = _fake(ttl_seconds=1000), _fake(ttl_seconds=10)
    _leave_active(ledger, later, stack.run_dir)
    _leave_active(ledger, sooner, stack.run_dir)
    clock.advance(20)
    report = heal(ledger, stacks={stack.run_dir: stack}, clock=clock)
    assert [(i.id, i.expired) for i in report.items] == [(sooner.id, True), (later.id, False)]


# -- process faults on the fake stack -----------------------------------------------------------
def test_process_pause_and_idempotent_revert(tmp_path: Path) -> None:
    ctx, _, stack = _ctx(tmp_path)
    fault = build_fault("process_pause", {})
    assert isinstance(fault, ProcessPauseFault)
    fault.inject(ctx)
    assert stack.status(Service.TARGET) == ServiceStatus.PAUSED
    fault.revert(ctx)
    fault.revert(ctx)
    assert stack.status(Service.TARGET) == ServiceStatus.RUNNING
    assert [c for c in stack.calls if c[0] == "control"] == [
        ("control", Service.TARGET, ServiceAction.PAUSE), ("control", Service.TARGET, ServiceAction.RESUME)]


def test_redis_loss_inject_uses_kill_or_pause(tmp_path: Path) -> None:
    ctx, _, stack = _ctx(tmp_path)
    kill, freeze = build_fault("redis_loss", {"mode": "kill"}), build_fault("redis_loss", {"mode": "freeze"})
    assert isinstance(kill, RedisLossFault)
    kill.inject(ctx)
    freeze.inject(ctx)
    assert stack.calls[-2:] == [("control", Service.REDIS, ServiceAction.KILL),
                                ("control", Service.REDIS, ServiceAction.PAUSE)]


def test_cpu_starvation_cycles_and_always_ends_resumed(tmp_path: Path) -> None:
    ctx, _, stack = _ctx(tmp_path)
    fault = build_fault("cpu_starvation", {"duty": 0.5, "period_ms": 40})
    assert isinstance(fault, CpuStarvationFault)
    fault.inject(ctx)
    time.sleep(0.3)
    fault.revert(ctx)
    actions = [c[2] for c in stack.calls if c[0] == "control"]
    assert fault.cycles >= 2
    assert actions.count(ServiceAction.PAUSE) >= 2
    assert stack.status(Service.TARGET) == ServiceStatus.RUNNING
    # after a crash only the ledger remembers it: a rebuilt fault still resumes the target
    stack.control(Service.TARGET, ServiceAction.PAUSE)
    rebuilt = build_fault("cpu_starvation", {}, fault_id=fault.id)
    rebuilt.revert(ctx)
    assert stack.status(Service.TARGET) == ServiceStatus.RUNNING


# -- signals ------------------------------------------------------------------------------
def test_signal_guard_runs_callback_then_previous_handler_and_restores() -> None:
    seen: list[str] = []

    def previous(signum: int, frame: FrameType | None) -> None:
        seen.append("previous")

    old = signal.signal(signal.SIGTERM, previous)
    try:
        with revert_on_signals(lambda: seen.append("revert")) as guard:
            assert guard.installed
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
        assert seen == ["revert", "previous"]
        assert signal.getsignal(signal.SIGTERM) is previous
    finally:
        signal.signal(signal.SIGTERM, old)


def test_fault_reverts_on_sigint(tmp_path: Path) -> None:
    clock = FakeClock()
    ledger = FaultLedger(tmp_path / "faults.jsonl", clock=clock)
    ctx = FaultContext(stack=_stack(tmp_path), ledger=ledger, clock=clock)  # handlers installed
    fault = _fake()
    with pytest.raises(KeyboardInterrupt), fault.bind(ctx):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)
    assert not fault.in_effect
    assert fault.calls.count("revert") == 1
    assert ledger.entries()[fault.id].notes == ["reverted on signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
