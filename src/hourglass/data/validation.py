"""Checks at the door: finite numbers, a ``y`` that is ignored, 0/1 labels; reasons on one line.

A NaN, a text value or a 1-D array is reported here, naming the source and the first bad value,
and never surfaces later as a cryptic shape error or a NaN loss. Memory maps are checked block
by block, so a file larger than memory is checked without being read whole.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections import Counter
from typing import Any

import numpy as np

from hourglass.data import sources
from hourglass.exceptions import InvalidInputError


def _reason(exc: Exception) -> str:
    """A library's error message on one line, short enough for a CLI error."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


#: Values the finiteness check looks at in one block (64 MB of float32).
FINITE_CHECK_VALUES = 1 << 24


def check_finite(X: np.ndarray, what: str, first_row: int = 0, names: Any = None) -> np.ndarray:
    """Return ``X`` as C-contiguous float32, refusing empty, non-numeric or non-finite data.

    A memory map that is streamed (:func:`hourglass.data.sources.streams`) is checked block by
    block and returned as it is, in its own dtype: converting it would read the whole file
    into memory, and its readers convert a batch at a time. ``first_row`` is the index of
    ``X``'s first row in the data named ``what`` (for a table checked chunk by chunk); ``names``
    the columns' names (a DataFrame's), by which the first bad value's column is then named.
    """
    mapping = sources.memory_map_of(X)
    X = X if mapping is not None else np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise InvalidInputError(f"{what} has dtype {X.dtype}; expected numbers (int, float or bool)")
    if X.size == 0:
        raise InvalidInputError(f"{what} is empty (shape {X.shape}); expected at least one sample")
    streamed = sources.streams(X)
    if streamed and not X.flags.c_contiguous:
        raise InvalidInputError(
            f"{what} is a memory map in Fortran (column) order, shape {X.shape}; expected C (row) order "
            "to stream it by rows (rewrite it with np.save(path, np.ascontiguousarray(X)))"
        )
    original = X
    if not streamed:
        # Cast first, so float64 values too large for float32 are caught as the inf they become.
        # A C-ordered float32 memory map stays one (no copy).
        with np.errstate(over="ignore"):
            X = np.ascontiguousarray(X, dtype=np.float32)
    rows = max(1, FINITE_CHECK_VALUES // max(1, int(np.prod(X.shape[1:]))))
    bad_count, first = 0, None
    # One block at a time, so no mask as large as the data is ever built, and a memory map's
    # pages are released as the check goes.
    for start, block in sources.row_blocks(X, rows):
        with np.errstate(over="ignore"):
            bad = ~np.isfinite(block.astype(np.float32, copy=False))
        if bad.any():
            bad_count += int(bad.sum())
            if first is None:
                index = np.argwhere(bad)[0]
                first = (int(index[0]) + start + first_row, *(int(i) for i in index[1:]))
    if first is not None:
        column = first[1] if names is None or X.ndim != 2 else repr(list(names)[first[1]])
        where = f"(row {first[0]}, column {column})" if X.ndim == 2 else f"index {first}"
        problem, advice = _describe_bad(original, bad_count)
        raise InvalidInputError(f"{what} holds {problem}, the first at {where}; {advice}")
    return X


def checked_statistics(source: sources.TrainingSource, items: np.ndarray, channel_axis: int | None):
    """``source.statistics(items, channel_axis)``; a streamed file's values that are not finite
    refused in the words of :func:`check_finite` (the count in the whole file, the first one's row
    and column), as an array in memory is."""
    try:
        return source.statistics(items, channel_axis)
    except sources.NotFiniteInFile as bad:
        check_finite(bad.data, "X")
        raise  # a value the file check passes (it cannot): never a silent summary


def first_non_finite(frame: Any) -> tuple[int, Any, int] | None:
    """In a DataFrame: how many values are NaN or infinite, and the first one's column and row
    position (column by column, as a user reads a table); None where all are finite."""
    found = non_finite_columns(frame)
    return None if not found else (sum(count for _, count, _ in found), found[0][0], found[0][2])


def non_finite_columns(frame: Any) -> list[tuple[Any, int, int]]:
    """In a DataFrame: each column holding NaN or infinite values, in order, with how many it
    holds and the row position of its first.

    Examples
    --------
    >>> import pandas as pd
    >>> non_finite_columns(pd.DataFrame({"a": [1.0, 2.0], "b": [np.nan, np.inf], "c": [0.0, np.nan]}))
    [('b', 2, 0), ('c', 1, 1)]
    """
    import pandas as pd

    found = []
    for column in frame.columns:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            found.append((column, int(bad.sum()), int(np.flatnonzero(bad)[0])))
    return found


def _describe_bad(original: np.ndarray, bad_count: int) -> tuple[str, str]:
    """What is wrong with the ``bad_count`` values float32 cannot hold: NaN, infinite, or finite
    but beyond float32's range (which the cast turned into infinities), and what to do."""
    if original.dtype.kind != "f" or original.dtype.itemsize <= 4:
        return f"{bad_count} NaN or infinite value(s)", "fill or drop them first"
    nan = inf = 0
    rows = max(1, FINITE_CHECK_VALUES // max(1, int(np.prod(original.shape[1:]))))
    for _, block in sources.row_blocks(original, rows):
        nan += int(np.isnan(block).sum())
        inf += int(np.isinf(block).sum())
    overflow = bad_count - nan - inf
    if not overflow:
        return f"{bad_count} NaN or infinite value(s)", "fill or drop them first"
    limit = float(np.finfo(np.float32).max)
    parts = [f"{overflow} value(s) that overflow float32 (magnitude above {limit:.3g})"]
    if nan or inf:
        parts.append(f"{nan + inf} NaN or infinite value(s)")
    return " and ".join(parts), "rescale the data (and fill or drop what is not finite) first"


#: Rows :func:`warn_if_offset_loses_precision` reads, at most (evenly spaced).
PRECISION_CHECK_ROWS = 10_000
#: A column warns when float32 keeps fewer than this many steps of its spread (about 3 digits).
PRECISION_STEPS = 1000


#: What :func:`warn_if_offset_loses_precision` advises by default (an estimator's ``fit``).
PIPELINE_ADVICE = "subtract the column's mean first, e.g. make_pipeline(StandardScaler(), AutoEncoder())"


def warn_if_offset_loses_precision(
    X: np.ndarray, names: Any = None, what: str = "X", advice: str = PIPELINE_ADVICE
) -> bool:
    """Warn when a float64 or int64 column sits so far from zero for its spread that float32,
    which models hold the data in, keeps only a few digits of its variation; say whether it warned.

    Timestamps, map coordinates or IDs (iris + 1e8: float32's step there is 8, so the four
    columns' spreads of 0.4 to 1.8 round away) train to worse than the mean and corrupt the PCA
    figure. Centring such columns first (``make_pipeline(StandardScaler(), AutoEncoder())``)
    keeps them. Must run before the data are cast to float32 (by the estimator, or by
    :func:`~hourglass.data.loading.load_data` for a file), which hides the loss from it. Reads
    at most :data:`PRECISION_CHECK_ROWS` rows, evenly spaced.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warned = warn_if_offset_loses_precision(np.array([[1e8], [1e8 + 1.0]]))
    >>> warned, "float32" in str(caught[0].message)
    (True, True)
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.dtype.itemsize <= 4 or X.dtype.kind not in "iuf" or not X.size:
        return False
    step = max(1, len(X) // PRECISION_CHECK_ROWS)
    rows = np.asarray(X[::step], dtype=np.float64)  # a view of float64 data, not a copy
    with np.errstate(all="ignore"):
        center, spread = np.abs(rows.mean(axis=0)), rows.std(axis=0)
        # float32's step at the column's magnitude, against the column's spread.
        steps = spread / np.maximum(center * np.finfo(np.float32).eps, np.finfo(np.float32).tiny)
    # A spread at float64's own rounding of the mean is a constant column, not a narrow one.
    varying = spread > 1e-10 * center
    lossy = np.flatnonzero(np.isfinite(steps) & varying & (spread > 0) & (steps < PRECISION_STEPS))
    if not len(lossy):
        return False
    j = int(lossy[0])
    name = repr(list(names)[j]) if names is not None else str(j)
    more = f" (and {len(lossy) - 1} more)" if len(lossy) > 1 else ""
    warnings.warn(
        f"column {name}{more} of {what} sits far from zero for its spread (mean {center[j]:.6g}, standard "
        f"deviation {spread[j]:.3g}): float32, which models compute in, resolves only about "
        f"{max(steps[j], 1):.0f} steps across one standard deviation there; {advice}",
        UserWarning,
        stacklevel=user_stacklevel(),
    )
    return True


def user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside hourglass.

    For ``warnings.warn(..., stacklevel=user_stacklevel())`` in the function that warns: the
    checks run at different depths (fit, partial_fit, a streamed file, apply), where a fixed
    level pointed at hourglass's own lines.
    """
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 1  # the caller of this function is level 1 for warnings.warn
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def validation_reason(exc: Exception, X: Any, what: str = "X") -> str:
    """One line saying why scikit-learn's ``check_array`` refused ``X``, without the data.

    Its message for complex input ends with the whole array; only the first line is kept, and
    complex or text input is named by its dtype.

    Examples
    --------
    >>> validation_reason(ValueError("Complex data not supported"), np.ones(1, complex))[:71]
    'Complex data not supported: X holds complex numbers (dtype complex128);'
    """
    if X is None:
        return f"{what} is None; expected an array of shape (n_samples, n_features)"
    dtype = getattr(X, "dtype", None)
    kind = getattr(dtype, "kind", None)
    if str(exc).startswith("Expected 2D array"):  # its message goes on to print the array
        return (
            f"{what} has shape {np.shape(X)}; expected a 2D array (n_samples, n_features). Reshape your "
            f"data: {what}.reshape(1, -1) for one sample or {what}.reshape(-1, 1) for one feature"
        )
    # A DataFrame has no one dtype: the complex columns' own are named.
    dtypes = getattr(X, "dtypes", None) if dtype is None else None
    columns = [] if dtypes is None else [(c, t) for c, t in dtypes.items() if getattr(t, "kind", None) == "c"]
    if kind == "c" or columns or str(exc).startswith("Complex data"):
        where = f" in column {columns[0][0]!r}" if columns else ""
        more = f" (and {len(columns) - 1} more)" if len(columns) > 1 else ""
        # scikit-learn's own words first: its check_estimator (check_complex_data) matches them.
        return (
            f"Complex data not supported: {what} holds complex numbers{where}{more} "
            f"(dtype {columns[0][1] if columns else dtype}); "
            f"expected real numbers: keep np.real({what}), or np.abs({what})"
        )
    if str(exc).startswith("Found array with dim") and np.ndim(X) > 2:
        return (
            f"{what} has shape {np.shape(X)}; expected 2-D rows (n_samples, n_features): flatten each "
            f"sample ({what}.reshape(len({what}), -1)) or use ConvAutoEncoder for images, series and video"
        )
    if str(exc).startswith("Expected unique column names"):  # its message lists them on more lines
        counts = Counter(str(name) for name in getattr(X, "columns", []))
        repeated = sorted(name for name, count in counts.items() if count > 1)
        return (
            f"{what} has columns with the same name ({', '.join(map(repr, repeated[:5]))}); "
            "expected unique column names (the model finds its columns by name)"
        )
    first = " ".join(str(exc).strip().splitlines()[0].split()) if str(exc).strip() else type(exc).__name__
    if kind in ("U", "S", "O") and "convert" in first:
        return f"{what} has dtype {dtype} and holds text ({first[:120]}); expected numbers"
    return first[:300]


def check_ignored_y(X: Any, y: Any) -> None:
    """Refuse a ``y`` whose length is not ``X``'s: an estimator that ignores ``y`` still says when
    it was given one that cannot belong to ``X`` (a sign of misaligned arrays).

    Examples
    --------
    >>> check_ignored_y(np.zeros((4, 2)), [0, 1, 2])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hourglass.exceptions.InvalidInputError: y has 3 entries but X has 4 samples; expected one per ...
    """
    import scipy.sparse

    if y is None or isinstance(X, (str, os.PathLike)):
        return  # nothing given, or a file the estimator reads (its label column named by y)
    if isinstance(y, str):
        # A string y names X's label column: an array has none to name (it was ignored).
        if hasattr(X, "shape") and not hasattr(X, "columns"):
            raise InvalidInputError(
                f"y={y!r} names a label column, but X ({type(X).__name__}) has no column names; "
                "pass a DataFrame holding that column, or the labels themselves"
            )
        return
    try:
        n_y = len(y)
        # A sparse matrix's rows are its shape's first entry (it has no length).
        n_x = X.shape[0] if scipy.sparse.issparse(X) else len(X)
    except TypeError:
        return  # no length to compare (a scalar, a sparse matrix): X's own checks say what is wrong
    if n_y != n_x:
        raise InvalidInputError(
            f"y has {n_y} entries but X has {n_x} samples; expected one per sample (or y=None: it is ignored)"
        )


def check_binary_labels(labels: Any, n: int, name: str = "labels") -> np.ndarray:
    """``labels`` as 0 (normal) / 1 (abnormal) integers, one per sample, or a one-line error.

    Parameters
    ----------
    labels : array-like of shape (n,)
        0 / 1 or False / True per sample, PyOD's convention (1: abnormal).
    n : int
        The number of samples scored.
    name : str, default="labels"
        What to call them in the error, e.g. the file they came from.

    Returns
    -------
    ndarray of shape (n,), int64

    Examples
    --------
    >>> check_binary_labels([0, 1, 1.0], 3).tolist()
    [0, 1, 1]
    """
    array = np.asarray(labels)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.shape != (n,):
        raise InvalidInputError(f"{name} have shape {array.shape}; expected one 0/1 label per sample ({n},)")
    try:
        values = array.astype(np.float64)
    except (TypeError, ValueError):
        values = np.full(n, np.nan)
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        raise InvalidInputError(
            f"{name} hold {array[bad][:1].tolist()[0]!r} (row {int(np.argmax(bad))}); expected 0 (normal) "
            "or 1 (abnormal)"
        )
    return values.astype(np.int64)
