"""A training time budget, read from what a user writes: ``90``, ``'90s'``, ``'10min'``, ``'1.5h'``,
or as Lightning's ``max_time`` takes it, a ``datetime.timedelta`` or a dict of its fields.

Free of torch, so that the command line checks a budget before it imports anything heavy.
"""

from __future__ import annotations

import datetime
import math
import numbers
import re
from typing import Any

from hourglass.exceptions import InvalidInputError

#: Units a time budget may be written in (any case), to seconds.
DURATION_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
}
_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
_DURATION = re.compile(rf"^\s*({_NUMBER})\s*([a-z]+)?\s*$", re.IGNORECASE)
#: Lightning's ``max_time`` string, 'DD:HH:MM:SS', and its shorter forms 'HH:MM:SS' and 'MM:SS'.
_CLOCK = re.compile(r"^\s*(\d+(?::\d+){1,3}(?:\.\d*)?)\s*$")


def parse_duration(value: Any) -> float | None:
    """Seconds from a time budget: None, a number of seconds, a string such as ``'90s'``,
    ``'10min'``, or, as PyTorch Lightning's ``max_time`` takes them, a ``datetime.timedelta`` or a
    dict of its fields (``{'hours': 1, 'minutes': 30}``).

    Raises
    ------
    InvalidInputError
        For zero, a negative or non-finite number, or a string of another form, naming it.

    Examples
    --------
    >>> parse_duration("10min"), parse_duration(90), parse_duration("1.5h"), parse_duration("00:00:02:30")
    (600.0, 90.0, 5400.0, 150.0)
    >>> parse_duration(datetime.timedelta(minutes=2)), parse_duration({"hours": 1, "minutes": 30})
    (120.0, 5400.0)
    """
    if value is None:
        return None
    forms = (
        "expected a positive number of seconds or a string such as '90s', '10min', '1.5h' or "
        "'00:01:30:00' (DD:HH:MM:SS)"
    )
    if not isinstance(value, str):  # Python's forms, which the command line's text never is
        forms += ", or a datetime.timedelta or a dict of its fields such as {'hours': 1, 'minutes': 30}"
    if isinstance(value, dict):
        try:
            value = datetime.timedelta(**value)
        except (TypeError, ValueError, OverflowError):  # a key timedelta does not take, a bad value
            raise InvalidInputError(f"max_time={value!r}; {forms}") from None
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str):
        seconds = _seconds(value)
        if seconds is None:
            raise InvalidInputError(f"max_time={value!r}; {forms}")
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond any float (10**400)
            seconds = math.inf
    else:
        raise InvalidInputError(f"max_time={value!r}; {forms}")
    if not math.isfinite(seconds) or seconds <= 0:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise InvalidInputError(f"max_time={shown}; {forms}")
    return seconds


def _seconds(text: str) -> float | None:
    """Seconds from a budget written as text, or None when it is of no form read here."""
    match = _DURATION.match(text)
    if match is not None:
        unit = DURATION_UNITS.get((match.group(3) or "s").lower())
        return None if unit is None else float(match.group(1)) * unit
    match = _CLOCK.match(text)
    if match is None:
        return None
    # The last field holds seconds, the ones before it minutes, hours and days.
    fields = [float(part) for part in match.group(1).split(":")]
    # A clock's seconds and minutes below 60, its hours below 24 where days precede them: '1:99'
    # is a typo, not 159 s. The first field is unbounded ('90:00' is 90 minutes).
    limits = (60, 60, 24)
    if any(value >= limit for value, limit in zip(reversed(fields[1:]), limits, strict=False)):
        return None
    return sum(value * unit for value, unit in zip(reversed(fields), (1, 60, 3600, 86400), strict=False))


def duration_words(seconds: float) -> str:
    """A time trained or left, readable at any length: ``'19.5 s'``, ``'9 min 05 s'``, ``'1 h 30 min'``
    (a 2 h budget's time left read '5.97e+03 s').

    Examples
    --------
    >>> duration_words(0.0259), duration_words(19.53), duration_words(545), duration_words(5400)
    ('0.0259 s', '19.5 s', '9 min 05 s', '1 h 30 min')
    """
    if seconds < 99.5:
        return f"{seconds:.3g} s"
    total = round(seconds)
    if total < 3600:
        return f"{total // 60} min {total % 60:02d} s"
    return f"{total // 3600} h {total % 3600 // 60:02d} min"
