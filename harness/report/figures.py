"""A drill's headline figures judged against its thresholds (shared by the index, pages and write-up)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from harness.drill.results import DrillResult, StepRecord

DASH = "—"

# Step outcomes that mean "this step did what it should" / "this step did not run on purpose".
# Any other outcome is treated as a failure so that unknown outcomes show up as follow-ups.
STEP_OK_OUTCOMES = frozenset({"ok", "success", "succeeded", "passed", "done", "completed", "approved"})
STEP_SKIPPED_OUTCOMES = frozenset({"skipped", "dry_run", "dry-run", "planned", "not_run"})


class Status(StrEnum):
    OK = "ok"
    FAIL = "fail"
    MISSING = "missing"  # a threshold exists but the figure was not measured
    INFO = "info"  # no threshold to judge against


MARKERS: dict[Status, str] = {
    Status.OK: "✓",
    Status.FAIL: "✗",
    Status.MISSING: "?",
    Status.INFO: "",
}


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: float | int | bool | None
    display: str
    limit_display: str
    status: Status
    note: str = ""

    @property
    def marker(self) -> str:
        return MARKERS[self.status]

    @property
    def failing(self) -> bool:
        return self.status is Status.FAIL


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return DASH
    if abs(value) >= 120:
        minutes, seconds = divmod(abs(value), 60)
        sign = "-" if value < 0 else ""
        return f"{sign}{int(minutes)} min {seconds:.0f} s"
    return f"{value:.1f} s"


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def fmt_utc(value: datetime | None, with_date: bool = True) -> str:
    """``2026-01-01 12:00:03.123 UTC`` (milliseconds)."""
    if value is None:
        return DASH
    v = as_utc(value)
    text = f"{v:%Y-%m-%d %H:%M:%S}" if with_date else f"{v:%H:%M:%S}"
    return f"{text}.{v.microsecond // 1000:03d} UTC"


def fmt_number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return DASH
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def fmt_bool(value: bool | None) -> str:
    if value is None:
        return DASH
    return "yes" if value else "no"


def timing_figure(key: str, label: str, value: float | None, limit: float | None) -> Figure:
    limit_display = f"≤ {fmt_seconds(limit)}" if limit is not None else DASH
    if limit is None:
        status, note = Status.INFO, ""
    elif value is None:
        status, note = Status.MISSING, "not measured"
    elif value > limit:
        status, note = Status.FAIL, f"over the {fmt_seconds(limit)} limit by {fmt_seconds(value - limit)}"
    else:
        status, note = Status.OK, "within limit"
    return Figure(key, label, value, fmt_seconds(value), limit_display, status, note)


def rollback_figure(result: DrillResult) -> Figure:
    required = result.thresholds.rollback_required
    value = result.rollback_ok
    limit_display = "required" if required else "not required"
    if value is None:
        status = Status.MISSING if required else Status.INFO
        note = "not verified"
    elif value:
        status, note = Status.OK, "state restored"
    else:
        status = Status.FAIL if required else Status.INFO
        note = "; ".join(result.rollback_details) or "state not restored"
    return Figure("rollback_ok", "Rollback complete", value, fmt_bool(value), limit_display, status, note)


def lost_writes_figure(result: DrillResult) -> Figure:
    limit = result.thresholds.max_lost_writes
    lost = result.writes_lost
    status = Status.FAIL if lost > limit else Status.OK
    note = f"of {result.writes_acknowledged:,} acknowledged"
    return Figure("writes_lost", "Writes lost", lost, f"{lost:,}", f"≤ {limit:,}", status, note)


def drill_figures(result: DrillResult) -> list[Figure]:
    """The judged figures of one drill, in index-column order."""
    t = result.thresholds
    return [
        timing_figure("mttd_seconds", "MTTD", result.mttd_seconds, t.max_mttd_seconds),
        timing_figure("mttn_seconds", "Time to notification", result.mttn_seconds, t.max_mttn_seconds),
        timing_figure("mttr_seconds", "MTTR", result.mttr_seconds, t.max_mttr_seconds),
        rollback_figure(result),
        lost_writes_figure(result),
    ]


def extra_figures(result: DrillResult) -> list[Figure]:
    """Measured figures without their own threshold."""
    return [
        timing_figure("detection_floor_seconds", "Detection floor", result.detection_floor_seconds, None),
        timing_figure("mttm_seconds", "Time to mitigation (runbook finished)", result.mttm_seconds, None),
        timing_figure("mttr_user_seconds", "MTTR as users saw it", result.mttr_user_seconds, None),
    ]


def step_status(step: StepRecord) -> Status:
    outcome = step.outcome.strip().lower()
    if outcome in STEP_OK_OUTCOMES:
        return Status.OK
    if outcome in STEP_SKIPPED_OUTCOMES:
        return Status.INFO
    return Status.FAIL


def failed_steps(result: DrillResult) -> list[StepRecord]:
    return [s for s in result.steps if step_status(s) is Status.FAIL]
