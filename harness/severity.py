"""Incident severity: SEV1 (worst) to SEV3, with the spellings teams actually use.

Runbooks in the wild write ``Sev2``, ``SEV-1``, ``sev 3`` or the pager scale
``P0``..``P3``. :meth:`Severity.parse` accepts all of them; ``P0`` and ``P1``
both mean SEV1 (a complete or major outage), ``P2`` is SEV2, ``P3`` is SEV3.
Use :data:`SeverityField` in pydantic models so files may use any spelling.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator

_SEV = re.compile(r"^sev[\s_-]?([1-3])$", re.IGNORECASE)
_PAGER = re.compile(r"^p([0-3])$", re.IGNORECASE)
_PAGER_TO_SEV = {"0": "1", "1": "1", "2": "2", "3": "3"}


class Severity(StrEnum):
    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"

    @classmethod
    def parse(cls, value: str) -> Severity:
        """Parse ``SEV1``, ``Sev1``, ``sev-1``, ``SEV 1``, ``P0``..``P3``; raise ValueError otherwise."""
        text = value.strip()
        match = _SEV.match(text)
        if match:
            return cls("SEV" + match.group(1))
        match = _PAGER.match(text)
        if match:
            return cls("SEV" + _PAGER_TO_SEV[match.group(1)])
        raise ValueError(f"unknown severity {value!r}; use SEV1, SEV2 or SEV3 (or P0/P1, P2, P3)")

    @property
    def rank(self) -> int:
        """1 for SEV1 (most severe) .. 3 for SEV3."""
        return int(self.value[-1])


def _coerce(value: Any) -> Any:
    if isinstance(value, Severity):
        return value
    if isinstance(value, str):
        return Severity.parse(value)
    raise ValueError(f"severity must be a string such as SEV2 or P1, not {type(value).__name__}")


SeverityField = Annotated[Severity, BeforeValidator(_coerce)]
"""A :class:`Severity` in a pydantic model, accepting every spelling :meth:`Severity.parse` knows."""
