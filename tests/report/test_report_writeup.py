"""The write-up is built from the DrillResult's own measurements."""

from __future__ import annotations

from report_samples import SCRIPT_LABEL, failing_drill, passing_drill

from harness.drill.timeline import EventKind
from harness.report.figures import Status, fmt_seconds, fmt_utc
from harness.report.markdown import writeup_markdown
from harness.report.writeup import build_writeup, severity_key


def test_failing_drill_writeup_figures_come_from_the_result() -> None:
    drill = failing_drill()
    w = build_writeup(drill)
    assert w.severity == "SEV2" and w.severity_meaning
    assert w.impact.requests_failed == drill.impact.requests_failed == 412
    assert w.impact.requests_total == drill.impact.requests_total
    assert w.impact.failure_pct == round(100 * 412 / 5230, 2)
    assert w.impact.endpoints == drill.impact.affected_endpoints
    assert w.impact.window_start == drill.impact.window_start
    start, end = drill.impact.window_start, drill.impact.window_end
    assert start is not None and end is not None
    assert w.impact.duration_seconds == (end - start).total_seconds()
    assert [(m.step, m.outcome, m.attempts) for m in w.mitigation] == [
        (s.step, s.outcome, s.attempts) for s in drill.steps
    ]
    assert [m.status for m in w.mitigation] == [Status.OK, Status.OK, Status.FAIL, Status.OK]
    assert "redis_down" in w.cause[0]
    assert any(SCRIPT_LABEL in line for line in w.cause)
    checks = {c.name: c for c in w.recovery_validation}
    recovered = next(e for e in drill.timeline if e.kind == EventKind.RECOVERED)
    assert checks["Recovery criteria held"].status is Status.OK
    assert checks["Recovery criteria held"].at == fmt_utc(recovered.wall)
    assert checks["Recovered within the MTTR threshold"].status is Status.FAIL
    assert fmt_seconds(drill.mttr_seconds) in checks["Recovered within the MTTR threshold"].detail
    assert checks["Rollback complete"].status is Status.FAIL
    assert checks["No acknowledged write lost"].status is Status.FAIL
    follow = "\n".join(w.follow_ups)
    assert "MTTD: 8.2 s" in follow and "MTTR: 41.5 s" in follow
    assert "enable-cache-bypass" in follow and "3 attempt(s)" in follow
    assert drill.lost_write_ids[0] in follow
    assert "Time to notification" not in follow  # within its limit
    # the post-mortem timeline is in UTC and in time order
    assert all(t.at.endswith("UTC") for t in w.timeline)
    assert [t.what for t in w.timeline][:4] == [
        "Drill started",
        "Steady-state check passed",
        "Load started",
        "Fault injected",
    ]
    assert len(w.timeline) == len(drill.timeline)


def test_passing_drill_has_no_breach_followups() -> None:
    drill = passing_drill()
    w = build_writeup(drill)
    assert severity_key(drill.severity) == "SEV1"  # P1
    assert len(w.follow_ups) == 1 and "No threshold breached" in w.follow_ups[0]
    assert all(c.status in (Status.OK, Status.MISSING, Status.INFO) for c in w.recovery_validation)
    # no RUNBOOK_STEP events in this timeline: the steps are merged into the post-mortem timeline
    assert any(t.what == "Runbook step" and "rollback-rules" in t.detail for t in w.timeline)


def test_undetected_drill_asks_why() -> None:
    drill = failing_drill().model_copy(
        update={
            "mttd_seconds": None,
            "timeline": [e for e in failing_drill().timeline if e.kind != EventKind.RECOVERED],
        }
    )
    w = build_writeup(drill)
    assert any(f.startswith("Not measured — MTTD") for f in w.follow_ups)
    assert {c.name: c for c in w.recovery_validation}["Recovery criteria held"].status is Status.FAIL


def test_markdown_carries_the_same_figures() -> None:
    drill = failing_drill()
    text = writeup_markdown(build_writeup(drill))
    assert "- Requests failed: 412 of 5,230 (7.88%)" in text
    for heading in ("## Impact", "## Cause", "## Mitigation", "## Recovery Validation", "## Follow-ups"):
        assert heading in text
    assert "## Timeline (UTC)" in text
    assert "- [ ] Recovered within the MTTR threshold" in text
    assert "- [x] Recovery criteria held" in text
