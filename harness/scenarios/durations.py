"""Durations in scenario files: seconds as a number, or a string such as ``90s``, ``5m``, ``4h``, ``1h30m``.

Every duration must be positive and finite: ``.inf``, ``.nan``, ``0`` and
negative values are refused at load time, so no drill can wait forever.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$")


def parse_duration(value: Any, *, allow_zero: bool = False) -> float:
    """Seconds from a number or a unit string; ValueError unless positive (or zero) and finite."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"a duration must be a number of seconds or a string like '90s', '5m', '4h', "
                         f"not {type(value).__name__}")
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        if _WHOLE.match(text):
            seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise ValueError(
                    f"cannot read duration {value!r}; use seconds or a unit: ms, s, m, h, d (e.g. '5m')"
                ) from None
    else:
        seconds = _to_float(value)
    if not math.isfinite(seconds):
        raise ValueError("a duration must be finite")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError("a duration must be positive" if not allow_zero else "a duration cannot be negative")
    return seconds


def _finite_number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    if isinstance(value, int | float) and not math.isfinite(_to_float(value)):
        raise ValueError("the value must be finite (not .inf or .nan)")
    return value


def _to_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf


Seconds = Annotated[float, BeforeValidator(parse_duration)]
"""A positive, finite duration in seconds (numbers or '90s', '5m', '4h', '1h30m')."""

NonNegativeSeconds = Annotated[float, BeforeValidator(lambda v: parse_duration(v, allow_zero=True))]
"""Like :data:`Seconds` but 0 is allowed (an RPO of zero: no data loss)."""

FiniteFloat = Annotated[float, BeforeValidator(_finite_number)]
"""A float that is neither infinite nor NaN (nor a boolean)."""
