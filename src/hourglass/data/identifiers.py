"""Columns that look like identifiers: a row's number or key, which a model would learn as a feature.

A ``customer_id`` of 1..n is the row's name, not a measurement: as a feature it costs code
capacity, dominates a scale-sensitive loss and makes every new row look abnormal (its id lies
beyond the training range). Nothing can tell for sure, so :func:`warn_if_identifier_columns`
warns, naming the column and how to drop it, and never drops it. A column is suspect when

* its name says so (``id``, ``customer_id``, ``Customer ID``, ``customerId``, ``id_client``,
  ``index``, pandas' ``Unnamed: 0``) and it holds whole numbers; or
* it holds whole numbers, each once, evenly spaced (0..n-1 in any order, 1001, 1002, ...; a
  shuffled split of an index is not evenly spaced and says nothing), over at least
  :data:`ID_MIN_ROWS` rows, where a measurement that does so by chance is very unlikely.

Evenly spaced whole numbers are also how time is counted, so that rule spares a column named
like a time (``year``, ``fiscal_year``, ``Month``, ``week``: :func:`time_name`) and values that
read as calendar years (all within :data:`CALENDAR_YEARS`, 1990..2020 say, whatever the name):
a table of one row per year holds its year as a measurement. A name that says ``id`` as well
(``year_id``) still warns.

Counts, ages, pixel values and the columns of scikit-learn's tables repeat values or have a
name of their own, and do not warn (``tests/test_identifier_columns.py``).
"""

from __future__ import annotations

import re
import shlex
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hourglass.data.validation import user_stacklevel
from hourglass.exceptions import IdentifierColumnWarning

#: Rows below which values alone (without a name like ``id``) never make a column an identifier.
ID_MIN_ROWS = 20
#: Rows read first: a column that repeats a value or holds a fraction there is let go at once.
HEAD_ROWS = 1000
#: Evenly spaced whole numbers all within these years (both included) read as calendar years.
CALENDAR_YEARS = (1800, 2200)

#: The arrays :func:`~hourglass.data.loading.load_data` returned from a table it judged, by id:
#: it warned of their identifier-like columns (or found none) with advice on its own ``drop``,
#: so ``fit(ds.X)`` does not warn again with other advice. Weak: an array gone frees its id.
_JUDGED: weakref.WeakValueDictionary[int, np.ndarray] = weakref.WeakValueDictionary()

_NAMES = {"id", "ids", "idx", "index", "rowid", "row_id", "uuid"}
# 'customer_id', 'Customer ID', 'customer.id', 'id_client'; not 'acid' or 'fluid' (no separator).
_SEPARATED = re.compile(r"(?:^|[\s_.\-])id$|^id[\s_.\-]", re.IGNORECASE)
# 'customerId', 'CustomerID'; not 'Valid' or 'PAID'.
_CAMEL = re.compile(r"[a-z0-9](?:Id|ID)$")
_UNNAMED = re.compile(r"unnamed: ?\d+", re.IGNORECASE)  # pandas' name for a header's empty cell
_TIME_WORDS = frozenset(
    {"year", "month", "day", "date", "time", "period", "quarter", "week", "hour", "timestamp"}
)
# A name's words: 'fiscal_year' -> fiscal, year; 'fiscalYear' -> fiscal, Year; 'YEAR' -> YEAR.
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def identifier_name(name: Any) -> bool:
    """Whether a column's name says it identifies rows.

    Examples
    --------
    >>> [identifier_name(n) for n in ("customer_id", "Customer ID", "userId", "id", "acid", "Valid")]
    [True, True, True, True, False, False]
    """
    text = str(name).strip()
    return text.lower() in _NAMES or bool(
        _SEPARATED.search(text) or _CAMEL.search(text) or _UNNAMED.fullmatch(text)
    )


def time_name(name: Any) -> bool:
    """Whether a column's name says it counts time: one of its words is ``year``, ``month``, ``day``,
    ``date``, ``time``, ``period``, ``quarter``, ``week``, ``hour`` or ``timestamp`` (or their plural).

    Examples
    --------
    >>> [time_name(n) for n in ("year", "Year", "fiscal_year", "fiscalYear", "hours", "yearly", "update")]
    [True, True, True, True, True, False, False]
    """
    words = (word.lower() for word in _WORDS.findall(str(name)))
    return any(word in _TIME_WORDS or word.removesuffix("s") in _TIME_WORDS for word in words)


def _whole(values: np.ndarray) -> bool:
    with np.errstate(invalid="ignore"):
        return bool(values.size) and bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))


def identifier_reason(values: np.ndarray, name: Any = None) -> str | None:
    """Why the 1-D column ``values`` (named ``name``) looks like an identifier; None where it does not."""
    values = np.asarray(values)
    head = values[:HEAD_ROWS]
    if values.dtype.kind not in "iuf" or not _whole(head):
        return None  # booleans, text, fractions: no id
    named = name is not None and identifier_name(name)
    if not named and (len(values) < ID_MIN_ROWS or len(np.unique(head)) < len(head)):
        return None
    if not _whole(values):
        return None
    ordered = np.sort(values.astype(np.float64))
    steps = np.diff(ordered)
    if len(values) > 1 and steps[0] > 0 and np.all(steps == steps[0]):
        years = CALENDAR_YEARS[0] <= ordered[0] and ordered[-1] <= CALENDAR_YEARS[1]
        if not named and (years or (name is not None and time_name(name))):
            return None  # one row per year (month, day): time as a measurement, not the row's name
        apart = "" if steps[0] == 1 else f", {steps[0]:g} apart"
        return f"the whole numbers {ordered[0]:g} to {ordered[-1]:g}, each once{apart}"
    return "whole numbers under a name that identifies rows" if named else None


def identifier_columns(X: Any, names: Sequence[Any] | None = None) -> list[tuple[int, Any, str]]:
    """The columns of ``X`` that look like identifiers: ``(position, name, reason)`` each.

    ``X`` is a 2-D array or a DataFrame (whose numeric columns are read; ``names`` default to
    its columns). A name is the column's position where there are no names.

    Examples
    --------
    >>> X = np.column_stack([np.arange(30), np.ones(30)])
    >>> identifier_columns(X)
    [(0, 0, 'the whole numbers 0 to 29, each once')]
    """
    if hasattr(X, "columns") and hasattr(X, "iloc"):  # a DataFrame: numeric columns one by one
        import pandas as pd

        names = list(X.columns) if names is None else list(names)
        columns = [
            X.iloc[:, j].to_numpy(dtype=np.float64, na_value=np.nan)
            if pd.api.types.is_numeric_dtype(X.iloc[:, j]) and not pd.api.types.is_bool_dtype(X.iloc[:, j])
            else np.empty(0)
            for j in range(X.shape[1])
        ]
    else:
        X = np.asarray(X)
        if X.ndim != 2 or X.dtype.kind not in "iuf":
            return []
        columns = [X[:, j] for j in range(X.shape[1])]
    found = []
    for j, values in enumerate(columns):
        name = names[j] if names is not None else j
        reason = identifier_reason(values, None if names is None else name)
        if reason is not None:
            found.append((j, name, reason))
    return found


def warn_if_identifier_columns(
    X: Any, what: str, advice: Callable[[list[Any]], str], names: Sequence[Any] | None = None
) -> bool:
    """Warn (:class:`~hourglass.exceptions.IdentifierColumnWarning`) of the columns of ``X`` that
    look like identifiers, naming them and, by ``advice(names)``, how to drop them; say whether it warned.

    Examples
    --------
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warned = warn_if_identifier_columns(np.c_[np.arange(30)], "X", lambda cols: "drop it")
    >>> warned, "column 0 of X holds the whole numbers 0 to 29" in str(caught[0].message)
    (True, True)
    """
    found = identifier_columns(X, names)
    if not found:
        return False
    shown = [name for _, name, _ in found]
    labels = [repr(name) if isinstance(name, str) else str(name) for name in shown]
    if len(found) == 1:
        message = (
            f"column {labels[0]} of {what} holds {found[0][2]}: it looks like an identifier, not a "
            f"measurement, yet is read as a feature; if so, drop it: {advice(shown)}"
        )
    else:
        listed = ", ".join(f"{label} ({reason})" for label, (_, _, reason) in zip(labels, found, strict=True))
        message = (
            f"columns {listed} of {what} look like identifiers, not measurements, yet are read as "
            f"features; if so, drop them: {advice(shown)}"
        )
    warnings.warn(message, IdentifierColumnWarning, stacklevel=user_stacklevel())
    return True


def mark_judged(dataset: Any, judged: bool = True) -> Any:
    """Record that reading a table judged the columns of ``dataset.X`` (and warned where it had
    to; ``judged``: it did, no model's schema having chosen them); return ``dataset``."""
    if judged:
        _JUDGED[id(dataset.X)] = dataset.X
    return dataset


def judged(X: Any) -> bool:
    """Whether ``X`` is an array a table reader judged (:func:`mark_judged`), itself and not a copy."""
    try:
        return _JUDGED.get(id(X)) is X
    except TypeError:  # an object weakref cannot hold is no array the reader returned
        return False


def as_given(names: list[Any]) -> Any:
    """One column's name alone, several as a list: as a user would write them in Python."""
    return names[0] if len(names) == 1 else names


def table_advice(names: list[Any]) -> str:
    """How to drop columns of a table file: on the command line, and in :func:`load_data`."""
    listed = shlex.quote(",".join(map(str, names)))  # 'Unnamed: 0' holds a space
    return f"--drop {listed} on the command line, drop={as_given(names)!r} in load_data"


def frame_advice(names: list[Any]) -> str:
    """How to drop columns of a DataFrame given to ``fit``."""
    return f"X.drop(columns={as_given(names)!r}) before fit"


def array_advice(positions: list[Any]) -> str:
    """How to drop columns of an array given to ``fit``."""
    return f"np.delete(X, {as_given(positions)!r}, axis=1) before fit"


__all__ = [
    "CALENDAR_YEARS",
    "ID_MIN_ROWS",
    "array_advice",
    "frame_advice",
    "identifier_columns",
    "identifier_name",
    "identifier_reason",
    "table_advice",
    "time_name",
    "warn_if_identifier_columns",
]
