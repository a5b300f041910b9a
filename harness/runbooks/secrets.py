"""Secrets come only from environment variables a runbook declares by name.

:class:`Redactor` replaces every known secret value in any text (or nested
JSON-like value) before it is written to a log, the drill timeline, the audit
ledger, an incident record or a report.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from harness.errors import RunbookError

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would mangle ordinary text; they are refused instead


class Redactor:
    """Thread-safe set of secret values, replaced by ``***`` wherever they appear."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: list[str] = []
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        if not value:
            return
        with self._lock:
            if value not in self._values:
                self._values.append(value)
                self._values.sort(key=len, reverse=True)  # longest first: no partial leaks

    def redact(self, text: str) -> str:
        with self._lock:
            values = list(self._values)
        for value in values:
            text = text.replace(value, MASK)
        return text

    def redact_obj(self, value: Any) -> Any:
        """Redact every string inside dicts/lists (keys too)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {self.redact(str(k)): self.redact_obj(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_obj(v) for v in value]
        return value


def load_secrets(
    names: Iterable[str], redactor: Redactor, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Read the declared secrets from the environment and register them with ``redactor``.

    Raises :class:`RunbookError` naming every missing or too-short variable (never its value).
    """
    source = os.environ if env is None else env
    found: dict[str, str] = {}
    problems: list[str] = []
    for name in names:
        value = source.get(name)
        if value is None or value == "":
            problems.append(f"secret {name} is not set in the environment")
        elif len(value) < MIN_SECRET_LENGTH:
            problems.append(f"secret {name} is shorter than {MIN_SECRET_LENGTH} characters")
        else:
            found[name] = value
            redactor.add(value)
    if problems:
        raise RunbookError("; ".join(problems))
    return found
