"""The comparison operators conditions use (scenario checks, runbook wait_for steps)."""

from __future__ import annotations

import math
from enum import StrEnum


class Comparison(StrEnum):
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    EQ = "=="
    NE = "!="

    def holds(self, left: float, right: float) -> bool:
        """``left op right``; NaN (no data) never holds."""
        if math.isnan(left):
            return False
        return {
            Comparison.LT: left < right,
            Comparison.LE: left <= right,
            Comparison.GT: left > right,
            Comparison.GE: left >= right,
            Comparison.EQ: left == right,
            Comparison.NE: left != right,
        }[self]
