"""memory_limit steps: more headroom through the Stack interface, restored afterwards."""

from __future__ import annotations

import pytest

from harness.errors import ValidationFailed
from harness.runbooks.context import RunbookContext
from harness.runbooks.engine import RunbookEngine
from harness.runbooks.models import Runbook, Section
from harness.stack.base import FakeStack, Service


def runbook(steps: list[dict[str, object]], restore: list[dict[str, object]] | None = None) -> Runbook:
    return Runbook.model_validate(
        {
            "id": "oom",
            "title": "OOM",
            "severity": "SEV2",
            "automation": "automatic",
            "expected_recovery_seconds": 60,
            "triggers": [{"alert": "DemoTargetRestarting"}],
            "steps": steps,
            "restore": restore or [],
        }
    )


def test_scale_then_restore() -> None:
    stack = FakeStack(memory_limits={Service.TARGET: 256})
    engine = RunbookEngine(RunbookContext(stack=stack))
    rb = runbook(
        [{"id": "more", "kind": "memory_limit", "service": "target", "scale": 1.5}],
        [{"id": "back", "kind": "memory_limit", "service": "target", "restore": True}],
    )
    run = engine.run(rb)
    assert run.outcome.value == "succeeded", run.error
    assert stack.memory_limits[Service.TARGET] == 384
    assert "256 MB → 384 MB" in run.steps[-1].output
    restored = engine.run(rb, section=Section.RESTORE)
    assert restored.outcome.value == "succeeded"
    assert stack.memory_limits[Service.TARGET] == 256


def test_restore_without_change_is_skipped() -> None:
    stack = FakeStack(memory_limits={Service.TARGET: 256})
    rb = runbook([{"id": "back", "kind": "memory_limit", "service": "target", "restore": True}])
    run = RunbookEngine(RunbookContext(stack=stack)).run(rb)
    assert run.steps[-1].outcome == "skipped"
    assert stack.memory_limits[Service.TARGET] == 256


def test_dry_run_changes_nothing() -> None:
    stack = FakeStack(memory_limits={Service.TARGET: 256})
    rb = runbook([{"id": "more", "kind": "memory_limit", "service": "target", "memory_limit_mb": 512}])
    RunbookEngine(RunbookContext(stack=stack)).run(rb, dry_run=True)
    assert (
        stack.memory_limits[Service.TARGET] == 256
        and ("memory_limit", Service.TARGET, None) not in stack.calls
    )


@pytest.mark.parametrize(
    "step",
    [
        {"id": "x", "kind": "memory_limit", "service": "target"},
        {"id": "x", "kind": "memory_limit", "service": "target", "scale": 2, "memory_limit_mb": 300},
        {"id": "x", "kind": "memory_limit", "service": "target", "scale": 0},
    ],
)
def test_exactly_one_of_limit_scale_restore(step: dict[str, object], tmp_path: object) -> None:
    import pathlib

    import yaml

    from harness.loader import load_model

    path = pathlib.Path(str(tmp_path)) / "rb.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "id": "oom",
                "title": "OOM",
                "severity": "SEV2",
                "automation": "automatic",
                "expected_recovery_seconds": 60,
                "triggers": [{"alert": "A"}],
                "steps": [step],
            }
        )
    )
    with pytest.raises(ValidationFailed) as info:
        load_model(path, Runbook)
    assert "rb.yaml:" in str(info.value) and "steps" in str(info.value)
