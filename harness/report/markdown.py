"""The incident write-up as Markdown, to paste into an incident tracker."""

from __future__ import annotations

from harness.report.figures import DASH, Status, fmt_seconds, fmt_utc
from harness.report.writeup import WriteUp

CHECKBOX = {Status.OK: "x", Status.FAIL: " ", Status.MISSING: " ", Status.INFO: "i"}


def writeup_markdown(w: WriteUp) -> str:
    """The write-up as Markdown, to paste into an incident tracker."""
    imp = w.impact
    pct = f" ({imp.failure_pct}%)" if imp.failure_pct is not None else ""
    lines = [
        f"# {w.title}",
        "",
        f"**Severity**: {w.severity}" + (f" — {w.severity_meaning}" if w.severity_meaning else ""),
        f"**Verdict**: {w.verdict.upper()}",
        "",
        w.summary,
        "",
        "## Impact",
        f"- Requests failed: {imp.requests_failed:,} of {imp.requests_total:,}{pct}",
        f"- Endpoints: {', '.join(imp.endpoints) or DASH}",
        f"- Window: {fmt_utc(imp.window_start)} → {fmt_utc(imp.window_end)}"
        f" ({fmt_seconds(imp.duration_seconds)})",
        f"- Acknowledged writes lost: {imp.writes_lost:,} of {imp.writes_acknowledged:,}",
        "",
        "## Cause",
        *(f"- {c}" for c in w.cause),
        "",
        "## Mitigation",
        *(
            f"- {m.at} ({m.offset}) {m.runbook} / {m.step} [{m.kind}]: {m.outcome}, {m.attempts} attempt(s)"
            for m in w.mitigation
        ),
        *(["- No runbook step ran."] if not w.mitigation else []),
        "",
        "## Recovery Validation",
        *(
            f"- [{'x' if c.status is Status.OK else ' '}] {c.name} — {c.at}: {c.detail}"
            for c in w.recovery_validation
        ),
        "",
        "## Follow-ups",
        *(f"- [ ] {f}" for f in w.follow_ups),
        "",
        "## Timeline (UTC)",
        *(f"- {t.at} ({t.offset}) {t.what}" + (f": {t.detail}" if t.detail else "") for t in w.timeline),
    ]
    return "\n".join(lines) + "\n"
