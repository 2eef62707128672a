"""Tables and numbers in the HTML report: readable numbers, escaped cells, the best cell marked."""

from __future__ import annotations

import html
import math
import numbers
import re

import numpy as np
import pandas as pd

# Column names that hold durations in seconds: shown with two decimals, never in e-notation.
_SECONDS_COLUMN = re.compile(r"(^|_)(s|sec|secs|seconds|time)$|\(s\)$|seconds", re.IGNORECASE)
_MISSING = "—"


def format_number(value: object, seconds: bool = False) -> str:
    """Format a table or card value for reading: ints as ints, floats to 4 significant digits.

    Parameters
    ----------
    value : object
        A number (Python or NumPy) or anything else, which is shown with ``str``.
    seconds : bool, default=False
        The value is a duration in seconds: show two decimals (two significant digits below 0.01).

    Returns
    -------
    str
        Thousands separated by commas; very small or large floats in e-notation; missing
        values as an em dash.

    Examples
    --------
    >>> [format_number(v) for v in (12345, 0.012345, 3.0, 1.5e-7, float("nan"))]
    ['12,345', '0.01235', '3', '1.500e-07', '—']
    >>> format_number(73.456, seconds=True), format_number(0.003904, seconds=True)
    ('73.46', '0.0039')
    """
    if value is None or (isinstance(value, numbers.Real) and math.isnan(value)):
        return _MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if not isinstance(value, numbers.Real):
        return str(value)
    value = float(value)
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if seconds:
        if 0 < abs(value) < 0.01:  # PCA's fit in milliseconds read "0.00"
            return f"{value:.{1 - math.floor(math.log10(abs(value)))}f}"
        return f"{value:,.2f}"
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    magnitude = math.floor(math.log10(abs(value)))
    if not -3 <= magnitude < 6:
        return f"{value:.3e}"
    # Four significant digits as fixed-point; drop trailing zeros so 0.5 does not read 0.5000.
    text = f"{value:,.{max(0, 3 - magnitude)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- helpers -------------------------------------------------------------------------------------


def _escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def _is_seconds(name: object) -> bool:
    return bool(_SECONDS_COLUMN.search(str(name)))


def _table_html(df: pd.DataFrame, highlight: dict[str, str], better_than: dict[str, float]) -> str:
    show_index = not isinstance(df.index, pd.RangeIndex) or df.index.name is not None
    # Columns by position, so duplicate names work; tolist() keeps ints as Python ints, which
    # iterrows() would turn into floats in a table that mixes the two.
    columns = [df.iloc[:, position] for position in range(df.shape[1])]
    values = [column.tolist() for column in columns]
    best = [
        _best_mask(column, highlight[column.name], better_than.get(column.name))
        if column.name in highlight
        else None
        for column in columns
    ]
    header = f'<th class="index">{_escape(df.index.name or "")}</th>' if show_index else ""
    header += "".join(_header_cell(column, highlight.get(column.name)) for column in columns)
    rows = []
    for row, label in enumerate(df.index):
        cells = f'<th class="index">{_escape(format_number(label))}</th>' if show_index else ""
        for column, column_values, mask in zip(columns, values, best, strict=True):
            cells += _body_cell(column_values[row], column, mask is not None and bool(mask[row]))
        rows.append(f"<tr>{cells}</tr>")
    body = "\n".join(rows)
    return (
        f'<div class="table-wrap"><table>\n<thead><tr>{header}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody>\n</table></div>"
    )


def _header_cell(column: pd.Series, direction: str | None) -> str:
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    classes = ' class="num"' if numeric else ""
    if direction is None:
        return f"<th{classes}>{_escape(column.name)}</th>"
    arrow, hint = ("↓", "lower is better") if direction == "min" else ("↑", "higher is better")
    return (
        f'<th{classes} title="{hint}">{_escape(column.name)}'
        f' <span class="arrow" aria-label="{hint}">{arrow}</span></th>'
    )


def _body_cell(value: object, column: pd.Series, is_best: bool) -> str:
    classes = []
    if isinstance(value, numbers.Number) and not isinstance(value, (bool, np.bool_)):
        classes.append("num")
        value = _column_aware(value, column)
    if is_best:
        classes.append("best")
    text = format_number(value, seconds=_is_seconds(column.name))
    if text == _MISSING:
        classes.append("missing")
    attribute = f' class="{" ".join(classes)}"' if classes else ""
    return f"<td{attribute}>{_escape(text)}</td>"


#: Floats from this magnitude on are all whole numbers: wholeness says nothing of them there.
_WHOLE_FLOATS = 2.0**52


def _column_aware(value: numbers.Number, column: pd.Series) -> numbers.Number:
    # A column of ints with one missing value turns float in pandas; show the others as ints.
    # Not a column of huge errors (a raw MSE of 4.8e63 would print as 64 digits) or infinities.
    if isinstance(value, float) and pd.api.types.is_float_dtype(column):
        finite = column.dropna()
        whole = bool((finite == finite.round()).all()) and bool((finite.abs() < _WHOLE_FLOATS).all())
        if len(finite) and whole and not _is_seconds(column.name):
            return value if math.isnan(value) else int(value)
    return value


def _best_mask(column: pd.Series, direction: str, bound: float | None = None) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(values).any():
        return np.zeros(len(values), dtype=bool)
    target = np.nanmin(values) if direction == "min" else np.nanmax(values)
    if bound is not None and not (target < bound if direction == "min" else target > bound):
        return np.zeros(len(values), dtype=bool)  # the best of the column, but no success
    return values == target
