"""The drill loop: steady state → load → inject → detect → respond → recover → revert → verify → audit.

Rollback runs in ``finally`` whatever happened (failure, stop condition, kill
switch, Ctrl-C); every step lands on the timeline; the result is a
:class:`~harness.drill.results.DrillResult` even when the drill broke.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from typing import Any

from harness.drill.checks import check_criterion, check_steady, describe
from harness.drill.context import DrillAborted, DrillContext, DrillPhase
from harness.drill.observe import (
    NotificationWatcher,
    RecoverySampler,
    wait_alerts_inactive,
    wait_detection,
    wait_recovery,
)
from harness.drill.response import RunbookResponse
from harness.drill.results import DrillResult, StepRecord
from harness.drill.rollback import RollbackCheck, snapshot_target
from harness.drill.timeline import EventKind
from harness.drill.verdict import build_result
from harness.errors import HarnessError, SafetyError, WaitTimeout
from harness.faults.base import Fault, FaultContext, FaultState
from harness.faults.heal import heal
from harness.faults.registry import build_fault
from harness.load.audit import find_lost_writes
from harness.load.models import LoadSummary
from harness.load.runner import LoadRunner
from harness.observe.grafana import annotator_for
from harness.receiver import WebhookReceiver
from harness.scenarios.models import RecoveryCriterion
from harness.scenarios.safety import check_allowed
from harness.stack.base import Service
from harness.stack.wait import Predicate, wait_for

log = logging.getLogger(__name__)


class DrillRunner:
    """Runs one scenario once on a running stack. ``run()`` never raises a HarnessError."""

    def __init__(self, ctx: DrillContext) -> None:
        self.ctx = ctx
        self.fault: Fault | None = None
        self.fault_ctx = FaultContext(stack=ctx.stack, ledger=ctx.ledger, clock=ctx.clock, http=ctx.http)
        self.load: LoadRunner | None = None
        self.load_summary: LoadSummary | None = None
        self.response: RunbookResponse | None = None
        self.watcher = NotificationWatcher(ctx, set(ctx.scenario.expect.alerts))
        self.before: dict[str, Any] | None = None
        self.rollback = RollbackCheck()
        self.lost_writes: list[str] = []
        self.recovered_mono: float | None = None
        self.error: BaseException | None = None
        self.annotator = annotator_for(ctx.stack, clock=ctx.clock)  # Grafana, when the stack runs it
        self.receiver: WebhookReceiver | None = None
        self.alerts_inactive = False
        self.sampler: RecoverySampler | None = None
        self.fault_expired = False
        self._blast_checked = -1.0
        stop = ctx.scenario.stop_conditions
        if stop.max_error_ratio is not None or stop.max_failed_requests is not None:
            ctx.stop_checks.append(self._blast_radius)

    # ------------------------------------------------------------------ public
    def run(self) -> DrillResult:
        ctx = self.ctx
        ctx.timeline.record(EventKind.DRILL_STARTED, f"drill {ctx.scenario.name} #{ctx.iteration}")
        try:
            self._preflight()
            self._steady_state()
            self._start_load()
            self._inject()
            self._detect()
            self._respond()
            self._recover()
        except Exception as exc:  # a drill that breaks still gets a result (verdict fail/error, with why)
            self.error = exc
            kind = EventKind.STOP_CONDITION if isinstance(exc, SafetyError) else EventKind.ERROR
            detail = str(exc) if isinstance(exc, HarnessError) else f"{type(exc).__name__}: {exc}"
            ctx.timeline.record(kind, f"{ctx.phase.value}: {detail}")
            if isinstance(exc, SafetyError):
                ctx.enter(DrillPhase.ABORTED)
            if not isinstance(exc, HarnessError):
                log.exception("drill %s broke in phase %s", ctx.scenario.name, ctx.phase.value)
        finally:
            self._finish()
        ctx.timeline.record(EventKind.DRILL_FINISHED, f"drill {ctx.scenario.name} finished")
        return build_result(self)

    # ------------------------------------------------------------------ phases
    def _preflight(self) -> None:
        ctx = self.ctx
        ctx.enter(DrillPhase.PREFLIGHT)
        ctx.guard()
        check_allowed(ctx.scenario, ctx.options.allow_remote)
        report = heal(ctx.ledger, stacks={ctx.stack.run_dir: ctx.stack}, clock=ctx.clock)
        report.raise_for_failure()
        for item in report.items:
            ctx.notes.append(f"healed leftover fault {item.kind} {item.id}: {item.outcome.value}")
        self.before = snapshot_target(ctx)
        # a drill's alert must start a new Alertmanager group: wait out any earlier drill's alerts
        names = set(ctx.scenario.expect.alerts)
        if names and not wait_alerts_inactive(ctx, names, ctx.options.resolve_timeout_s):
            raise WaitTimeout(f"alerts {sorted(names)} still active from an earlier drill")

    def _arm_receiver(self) -> None:
        """Just before the fault: from now on the drill's alerts are ours (watcher) and start the runbook."""
        ctx = self.ctx
        receiver = getattr(ctx.stack, "receiver", None)
        if not isinstance(receiver, WebhookReceiver):
            return
        self.receiver = receiver
        self.watcher.armed = True
        receiver.subscribe(self.watcher)
        runbook_id = ctx.scenario.expect.runbook
        if runbook_id is not None:
            self.response = RunbookResponse(ctx, ctx.runbooks[runbook_id], receiver, self._on_step)
            self.response.arm()

    def _on_step(self, record: StepRecord) -> None:
        self.ctx.timeline.record(
            EventKind.RUNBOOK_STEP,
            f"{record.runbook}/{record.step}: {record.outcome}",
            runbook=record.runbook,
            step=record.step,
            outcome=record.outcome,
        )

    def _blast_radius(self) -> None:
        """Abort (and still revert everything) when the drill hurts more than the scenario allows."""
        ctx = self.ctx
        now = ctx.clock.monotonic()
        if self.fault is None or now - self._blast_checked < 1.0:
            return
        self._blast_checked = now
        stop = ctx.scenario.stop_conditions
        if stop.max_error_ratio is not None:
            ratio = check_criterion(
                ctx, RecoveryCriterion(error_ratio={"max": stop.max_error_ratio, "window_seconds": 5})
            )
            if not ratio.ok and ratio.value is not None:
                raise DrillAborted(
                    f"stop condition: error ratio {ratio.value:.2f} above "
                    f"max_error_ratio {stop.max_error_ratio:g}"
                )
        injected = ctx.timeline.first(EventKind.FAULT_INJECTED)
        if stop.max_failed_requests is not None and self.load is not None and injected is not None:
            since = injected.wall.timestamp()
            failed = sum(1 for r in self.load.records() if not r.ok and r.t >= since)
            if failed > stop.max_failed_requests:
                raise DrillAborted(
                    f"stop condition: {failed} failed requests above "
                    f"max_failed_requests {stop.max_failed_requests}"
                )

    def _steady_state(self) -> None:
        ctx = self.ctx
        ctx.enter(DrillPhase.STEADY_STATE)
        checks = ctx.scenario.steady_state
        last: list[str] = [""]

        def steady() -> bool:
            ctx.guard()
            results = [check_steady(ctx, c) for c in checks]
            last[0] = describe(results)
            return all(r.ok for r in results)

        try:
            wait_for(
                Predicate(steady, "steady state"),
                timeout=ctx.options.steady_state_timeout_s,
                poll_interval=0.5,
                clock=ctx.clock,
            )
        except WaitTimeout as exc:
            ctx.timeline.record(EventKind.STEADY_STATE_FAILED, last[0])
            raise WaitTimeout(f"steady state did not hold before the fault: {last[0]}") from exc
        ctx.timeline.record(EventKind.STEADY_STATE_OK, last[0] or "no checks")

    def _start_load(self) -> None:
        ctx = self.ctx
        spec = ctx.scenario.load
        if spec is None or not ctx.options.with_load:
            return
        ctx.enter(DrillPhase.LOAD)
        from harness.drill.loadspec import load_spec

        self.load = LoadRunner(
            load_spec(ctx.scenario, ctx.options.load_workers), ctx.target_url, ctx.drill_dir, clock=ctx.clock
        )
        self.load.start()  # marks the "before" phase itself
        ctx.timeline.record(EventKind.LOAD_STARTED, f"locust: {spec.users} users, profile {spec.profile}")
        ctx.clock.sleep(ctx.options.baseline_load_s)

    def _inject(self) -> None:
        ctx = self.ctx
        ctx.enter(DrillPhase.INJECT)
        spec = ctx.scenario.fault
        params = dict(spec.params)
        params.setdefault("ttl_seconds", spec.max_duration_seconds)
        self.fault = build_fault(spec.kind, params)
        self._arm_receiver()
        # the fault begins when injecting begins (stopping Postgres, say, takes a moment)
        wall, mono = ctx.clock.now(), ctx.clock.monotonic()
        self.fault.bind(self.fault_ctx)
        self.fault.__enter__()
        if self.load is not None:
            self.load.mark_phase("during", at=wall)
        event = ctx.timeline.record_at(
            EventKind.FAULT_INJECTED, wall, mono, f"{spec.kind} {spec.params}", fault_id=self.fault.id
        )
        self.sampler = RecoverySampler(ctx)
        self.sampler.start()
        self.annotator.fault_injected(ctx.scenario.name, event.detail, at=event.wall)

    def _detect(self) -> None:
        ctx = self.ctx
        ctx.enter(DrillPhase.DETECT)
        names = set(ctx.scenario.expect.alerts)
        if not names:
            return
        timeout = min(ctx.options.detection_timeout_s, ctx.scenario.fault.max_duration_seconds)
        wait_detection(ctx, names, timeout)
        firing = ctx.timeline.first(EventKind.ALERT_FIRING)
        if firing is not None:
            self.annotator.detected(ctx.scenario.name, firing.detail, at=firing.wall)

    def _respond(self) -> None:
        """Manual response: the fault runs its course and is reverted. Automated: the runbook was started
        by the alert path in the dispatcher's thread; recovery is watched meanwhile (see _recover)."""
        ctx = self.ctx
        ctx.enter(DrillPhase.RESPOND)
        if not ctx.scenario.manual:
            return
        injected = ctx.timeline.first(EventKind.FAULT_INJECTED)
        assert injected is not None
        deadline = injected.mono + ctx.scenario.fault.max_duration_seconds
        while ctx.clock.monotonic() < deadline:  # nobody responds
            ctx.guard()
            ctx.clock.sleep(min(0.25, deadline - ctx.clock.monotonic()))
        self._revert_fault()

    def _recover(self) -> None:
        ctx = self.ctx
        ctx.enter(DrillPhase.RECOVER)
        assert self.sampler is not None
        since = wait_recovery(ctx, self.sampler, ctx.scenario.recovery.timeout_seconds)
        self.sampler.stop()
        if not self.sampler.broke_before(since):
            ctx.notes.append("the recovery criteria never broke during the fault (as Prometheus saw it)")
        if self.fault is not None and self.fault.state == FaultState.EXPIRED:
            self.fault_expired = True
            ctx.timeline.record(EventKind.NOTE, f"{self.fault.kind} reached its TTL and was reverted")
        self.recovered_mono = since
        wall = ctx.clock.now() - timedelta(seconds=ctx.clock.monotonic() - since)
        ctx.timeline.record_at(
            EventKind.RECOVERED,
            wall,
            since,
            f"recovery criteria met (and then held for {ctx.scenario.recovery.hold_seconds:g}s)",
        )
        if self.load is not None:
            self.load.mark_phase("after", at=wall)  # users' "after recovery" starts when criteria held
        self.annotator.recovered(ctx.scenario.name, "recovery criteria met", at=wall)
        self._wait_runbook()

    def _wait_runbook(self) -> None:
        """Let the responding runbook finish before anything is reverted under its feet."""
        ctx = self.ctx
        response = self.response
        if response is None:
            return
        runbook_id = response.runbook.id

        def finished() -> bool:
            ctx.guard()
            return response.main_run() is not None

        try:
            wait_for(
                Predicate(finished, f"runbook {runbook_id} finished"),
                timeout=ctx.scenario.recovery.timeout_seconds,
                poll_interval=0.2,
                clock=ctx.clock,
            )
        except WaitTimeout as exc:
            raise WaitTimeout(f"runbook {runbook_id} did not run to completion via the alert path") from exc
        run = response.main_run()
        assert run is not None and run.finished is not None
        mono = ctx.clock.monotonic() - (ctx.clock.now() - run.finished).total_seconds()
        ctx.timeline.record_at(
            EventKind.RUNBOOK_FINISHED,
            run.finished,
            mono,
            f"{runbook_id}: {run.outcome.value}",
            runbook=runbook_id,
            outcome=run.outcome.value,
        )

    # ------------------------------------------------------------------ finally
    def _finish(self) -> None:
        """Always: revert, stop the load, wait for the alerts to resolve, restore, verify, audit. Each step
        runs whatever happened to the one before; the receiver is disarmed at the end whatever happened."""
        ctx = self.ctx
        ctx.finishing = True
        steps = (
            self._revert_and_open_gate,
            self._stop_load,
            self._wait_alerts_resolved,
            self._restore_runbook,
            self._verify_rollback,
            self._audit_writes,
        )
        try:
            for step in steps:
                try:
                    step()
                except Exception as exc:
                    ctx.timeline.record(EventKind.ERROR, f"{step.__name__.strip('_')}: {exc}")
                    self.rollback.problems.append(f"{step.__name__.strip('_')} failed: {exc}")
        finally:
            self._disarm()
        if ctx.phase != DrillPhase.ABORTED:
            ctx.enter(DrillPhase.DONE)

    def _revert_and_open_gate(self) -> None:
        self._revert_fault()
        if self.response is not None:
            self.response.fault_gone.set()  # only once the fault is really gone may restore steps run
        if self.ctx.phase != DrillPhase.ABORTED:
            self.ctx.enter(DrillPhase.VERIFY)

    def _disarm(self) -> None:
        self.watcher.armed = False
        if self.sampler is not None:
            self.sampler.stop()
        if self.response is not None:
            self.response.close()
        if self.receiver is not None:
            self.receiver.unsubscribe(self.watcher)

    def _revert_fault(self) -> None:
        """Revert (journaled by the fault's session); a failed revert is retried directly, and only a
        successful one goes on the timeline."""
        fault = self.fault
        if fault is None or fault.state in (FaultState.REVERTED, FaultState.EXPIRED):
            return
        ctx = self.ctx
        if ctx.phase != DrillPhase.ABORTED:
            ctx.enter(DrillPhase.REVERT)
        try:
            try:
                fault.__exit__(None, None, None)  # no-op when the session already ended
            finally:
                if fault.state not in (FaultState.REVERTED, FaultState.EXPIRED):
                    fault.revert(self.fault_ctx)  # idempotent; the retry after a failed first attempt
                    ctx.ledger.record(fault.id, FaultState.REVERTED, note="reverted on retry")
        except Exception as exc:
            ctx.timeline.record(EventKind.ERROR, f"revert of {fault.kind} failed: {exc}")
            self.rollback.problems.append(f"fault {fault.kind} revert failed: {exc}")
            raise
        ctx.timeline.record(EventKind.FAULT_REVERTED, f"{fault.kind} reverted", fault_id=fault.id)
        mode = fault.undo.get("memory_limit_mode")
        if mode:  # how the memory limit was enforced: the kernel (cgroup) or the supervisor's watchdog
            ctx.notes.append(
                f"memory limit enforced by: {mode}; last exit: {fault.undo.get('last_exit_reason')}"
            )

    def _stop_load(self) -> None:
        if self.load is None:
            return
        try:
            self.load_summary = self.load.stop()
            self.ctx.timeline.record(EventKind.LOAD_STOPPED, f"{self.load_summary.requests} requests")
        except Exception as exc:
            self.ctx.timeline.record(EventKind.ERROR, f"stopping load failed: {exc}")

    def _restore_runbook(self) -> None:
        if self.response is not None:
            self.response.restore()

    def _wait_alerts_resolved(self) -> None:
        ctx = self.ctx
        names = set(ctx.scenario.expect.alerts)
        self.alerts_inactive = (
            wait_alerts_inactive(ctx, names, ctx.options.resolve_timeout_s) if names else True
        )
        if self.alerts_inactive and names:
            ctx.timeline.record(EventKind.ALERT_RESOLVED, f"{sorted(names)} no longer active in Prometheus")
            self._wait_resolved_notification()

    def _verify_rollback(self) -> None:
        ctx = self.ctx
        self.rollback.verify(ctx, self.before, alerts_inactive=self.alerts_inactive, fault=self.fault)
        ctx.timeline.record(
            EventKind.ROLLBACK_VERIFIED,
            "rollback complete" if self.rollback.ok else "; ".join(self.rollback.problems),
            ok=self.rollback.ok,
        )

    def _wait_resolved_notification(self) -> None:
        ctx = self.ctx
        with contextlib.suppress(WaitTimeout, HarnessError):
            wait_for(
                Predicate(
                    lambda: self.watcher.seen(EventKind.NOTIFICATION_RESOLVED), "resolved notification"
                ),
                timeout=15.0,
                poll_interval=0.2,
                clock=ctx.clock,
            )

    def _audit_writes(self) -> None:
        ctx = self.ctx
        if self.load_summary is None or not self.load_summary.acknowledged_write_ids:
            return
        if ctx.phase != DrillPhase.ABORTED:
            ctx.enter(DrillPhase.AUDIT)
        try:
            dsn = postgres_dsn(ctx)
            self.lost_writes = find_lost_writes(self.load_summary.acknowledged_write_ids, dsn)
            ctx.timeline.record(
                EventKind.AUDIT_DONE,
                f"{len(self.load_summary.acknowledged_write_ids)} acknowledged writes checked, "
                f"{len(self.lost_writes)} missing",
                lost=len(self.lost_writes),
            )
        except Exception as exc:
            ctx.timeline.record(EventKind.ERROR, f"data-integrity audit failed: {exc}")
            self.rollback.problems.append(f"data-integrity audit could not run: {exc}")


def postgres_dsn(ctx: DrillContext) -> str:
    ep = ctx.stack.direct_endpoint(Service.POSTGRES)
    c = ctx.stack.credentials
    return f"postgresql://{c.postgres_user}:{c.postgres_password}@{ep.host}:{ep.port}/{c.postgres_db}"
