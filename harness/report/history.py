"""Read ``reports/history.jsonl`` (one DrillResult JSON per line) for the trend page.

Unreadable lines are skipped and reported, so one bad line does not hide months of history.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from harness.drill.results import DrillResult
from harness.errors import ConfigError
from harness.report.figures import as_utc

HISTORY_FILE = "history.jsonl"


@dataclass
class History:
    results: list[DrillResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def by_scenario(self) -> dict[str, list[DrillResult]]:
        groups: dict[str, list[DrillResult]] = defaultdict(list)
        for result in sorted(self.results, key=lambda r: (as_utc(r.started), r.iteration)):
            groups[result.scenario].append(result)
        return dict(sorted(groups.items()))


def read_history(path: Path) -> History:
    """Parse every line; a missing file is an empty history."""
    history = History()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return history
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read history: {exc}") from exc
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            history.results.append(DrillResult.model_validate_json(line))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"])) or "line"
            history.problems.append(f"{path.name}:{number}: {where}: {first['msg']}")
    return history
