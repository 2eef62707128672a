"""A training time budget, read from what a user writes: ``90``, ``'90s'``, ``'10min'``, ``'1.5h'``.

Free of torch, so that the command line checks a budget before it imports anything heavy.
"""

from __future__ import annotations

import math
import re
from typing import Any

from hourglass.exceptions import InvalidInputError

#: Units a time budget may be written in, to seconds.
DURATION_UNITS = {"s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|sec|min|m|h)?\s*$")


def parse_duration(value: Any) -> float | None:
    """Seconds from a time budget: None, a number of seconds, or a string such as ``'90s'``, ``'10min'``.

    Raises
    ------
    InvalidInputError
        For zero, a negative or non-finite number, or a string of another form, naming it.

    Examples
    --------
    >>> parse_duration("10min"), parse_duration(90), parse_duration("1.5h")
    (600.0, 90.0, 5400.0)
    """
    if value is None:
        return None
    forms = "expected a positive number of seconds or a string such as '90s', '10min', '1.5h'"
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise InvalidInputError(f"max_time={value!r}; {forms}")
        seconds = float(match.group(1)) * DURATION_UNITS[match.group(2) or "s"]
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise InvalidInputError(f"max_time={value!r}; {forms}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidInputError(f"max_time={value!r}; {forms}")
    return seconds
