"""From a scenario's load settings to the load runner's spec."""

from __future__ import annotations

from harness.load.models import LoadSpec, ShapeKind
from harness.scenarios.models import Scenario


def load_spec(scenario: Scenario, workers: int | None = None) -> LoadSpec:
    settings = scenario.load
    assert settings is not None
    profile = str(scenario.resolve(settings.locustfile)) if settings.locustfile else settings.profile
    fields: dict[str, object] = {
        "profile": profile,
        "shape": ShapeKind(settings.shape.value),
        "users": settings.users,
        "spawn_rate": settings.spawn_rate,
        "workers": settings.workers if workers is None else workers,
        "max_seconds": scenario.stop_conditions.max_duration_seconds + 60.0,
    }
    if settings.rate is not None:
        fields["rate_per_user"] = settings.rate / settings.users
    return LoadSpec.model_validate(fields)
