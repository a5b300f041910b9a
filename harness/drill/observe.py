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


def wait_recovery(ctx: DrillContext, timeout: float) -> float:
    """Wait until the recovery criteria hold continuously for hold_seconds; return when they began holding."""
    recovery = ctx.scenario.recovery
    holding_since: list[float] = []
    last: list[str] = [""]

    def recovered() -> bool:
        ctx.guard()
        results = [check_criterion(ctx, c) for c in recovery.criteria]
        last[0] = describe(results)
        now = ctx.clock.monotonic()
        if not all_hold(results):
            holding_since.clear()
            return False
        if not holding_since:
            holding_since.append(now)
        return now - holding_since[0] >= recovery.hold_seconds

    try:
        wait_for(
            Predicate(recovered, "recovery criteria holding"),
            timeout=timeout,
            poll_interval=max(ctx.options.poll_interval_s, 0.25),
            clock=ctx.clock,
        )
    except WaitTimeout as exc:
        raise WaitTimeout(f"recovery criteria did not hold within {timeout:g}s: {last[0]}") from exc
    return holding_since[0]


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
