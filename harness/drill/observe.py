"""Watching a drill: alerts in Prometheus, notifications at the receiver, recovery holding."""

from __future__ import annotations

import threading

from harness.drill.checks import all_hold, check_criterion, describe
from harness.drill.context import DrillContext
from harness.drill.timeline import EventKind
from harness.errors import HarnessError, WaitTimeout
from harness.receiver.models import Notification
from harness.stack.wait import Predicate, wait_for


class NotificationWatcher:
    """Receiver subscriber: the drill's first firing / resolved notifications go on the timeline."""

    def __init__(self, ctx: DrillContext, alert_names: set[str]) -> None:
        self.ctx = ctx
        self.alert_names = alert_names
        self.armed = False
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, notification: Notification) -> None:
        if not self.armed:
            return
        names = {a.labels.get("alertname", "") for a in notification.alerts}
        names &= self.alert_names
        if not names:
            return
        for alert in notification.alerts:
            name = alert.labels.get("alertname", "")
            if name not in self.alert_names:
                continue
            kind = (
                EventKind.NOTIFICATION_FIRING if alert.status == "firing" else EventKind.NOTIFICATION_RESOLVED
            )
            key = f"{kind}:{name}"
            with self._lock:
                if key in self._seen:
                    continue
                self._seen.add(key)
            self.ctx.timeline.record_at(
                kind,
                notification.received_wall,
                notification.received_mono,
                f"{name} {alert.status} notification received",
                alertname=name,
            )

    def seen(self, kind: EventKind) -> bool:
        with self._lock:
            return any(k.startswith(f"{kind}:") for k in self._seen)


def firing_alerts(ctx: DrillContext, names: set[str]) -> dict[str, str]:
    """alertname -> state (pending/firing) for the drill's alerts currently active in Prometheus."""
    try:
        alerts = ctx.prometheus.alerts()
    except HarnessError:
        return {}
    states: dict[str, str] = {}
    for alert in alerts:
        if alert.name in names:
            state = alert.state.value
            if states.get(alert.name) != "firing":
                states[alert.name] = state
    return states


def wait_detection(ctx: DrillContext, names: set[str], timeout: float) -> None:
    """Poll Prometheus until every expected alert fires; pending/firing go on the timeline."""
    seen: dict[str, set[str]] = {name: set() for name in names}

    def detected() -> bool:
        ctx.guard()
        for name, state in firing_alerts(ctx, names).items():
            if state not in seen[name]:
                seen[name].add(state)
                kind = EventKind.ALERT_FIRING if state == "firing" else EventKind.ALERT_PENDING
                ctx.timeline.record(kind, f"{name} {state} in Prometheus", alertname=name)
        return all("firing" in states for states in seen.values())

    wait_for(
        Predicate(detected, f"alerts {sorted(names)} firing"),
        timeout=timeout,
        poll_interval=ctx.options.poll_interval_s,
        clock=ctx.clock,
    )


class RecoverySampler:
    """Evaluates the recovery criteria in the background from the moment of injection.

    Recovery is the start of the last unbroken stretch in which every criterion held, once that
    stretch has lasted ``hold_seconds``; so a service that heals before its alert even fires (a
    restarted process, say) gets the MTTR it really had, not one clamped to MTTD.
    """

    def __init__(self, ctx: DrillContext, interval_s: float = 0.25) -> None:
        self.ctx = ctx
        self.interval_s = interval_s
        self.samples: list[tuple[float, bool]] = []
        self.last = ""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="recovery-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10.0)

    def _run(self) -> None:
        criteria = self.ctx.scenario.recovery.criteria
        while not self._stop.is_set():
            try:
                results = [check_criterion(self.ctx, c) for c in criteria]
            except Exception as exc:  # a sample that could not be taken counts as not holding
                self.last = f"criteria not evaluable: {exc}"
                ok = False
            else:
                self.last, ok = describe(results), all_hold(results)
            with self._lock:
                self.samples.append((self.ctx.clock.monotonic(), ok))
            self._stop.wait(self.interval_s)

    def broke_before(self, mono: float) -> bool:
        """Whether the criteria failed at least once before ``mono``."""
        with self._lock:
            return any(not ok for t, ok in self.samples if t < mono)

    def holding_since(self) -> float | None:
        """Start of the current unbroken stretch of holding samples, if it has lasted hold_seconds."""
        with self._lock:
            samples = list(self.samples)
        if not samples or not samples[-1][1]:
            return None
        start = samples[-1][0]
        for mono, ok in reversed(samples):
            if not ok:
                break
            start = mono
        if samples[-1][0] - start >= self.ctx.scenario.recovery.hold_seconds:
            return start
        return None


def wait_recovery(ctx: DrillContext, sampler: RecoverySampler, timeout: float) -> float:
    """Wait until the sampler reports the criteria held for hold_seconds; return when they began holding."""
    since: list[float] = []

    def recovered() -> bool:
        ctx.guard()
        start = sampler.holding_since()
        if start is not None:
            since.append(start)
        return start is not None

    try:
        wait_for(
            Predicate(recovered, "recovery criteria holding"),
            timeout=timeout,
            poll_interval=max(ctx.options.poll_interval_s, 0.25),
            clock=ctx.clock,
        )
    except WaitTimeout as exc:
        raise WaitTimeout(f"recovery criteria did not hold within {timeout:g}s: {sampler.last}") from exc
    return since[-1]


def wait_alerts_inactive(ctx: DrillContext, names: set[str], timeout: float) -> bool:
    """True once none of ``names`` is pending or firing in Prometheus."""

    def inactive() -> bool:
        ctx.guard()
        return not firing_alerts(ctx, names)

    try:
        wait_for(
            Predicate(inactive, "drill alerts inactive"),
            timeout=timeout,
            poll_interval=max(ctx.options.poll_interval_s, 0.25),
            clock=ctx.clock,
        )
    except WaitTimeout:
        return False
    return True
