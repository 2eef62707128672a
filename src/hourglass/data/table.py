"""The columns a model was fitted on, so that the training table can be given to it again as it is.

A model fitted on a table (a CSV, TSV, Parquet file or a pandas DataFrame) keeps a
:class:`TableSchema`: its feature columns by name, in order, with their dtypes, the label column
and the columns dropped at fit time. Every later read of a table selects the features by name,
so identifiers, the label and any column added since are ignored, and a table that lacks a
feature column is refused with one line naming it.

A table without a header has no names: its columns are taken by position, and the columns
dropped at fit time (and the label) are dropped again when the table is as wide as the one the
model was fitted on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hourglass.exceptions import InvalidInputError

#: Feature names shown in an error before "...".
_SHOWN = 8


@dataclass(frozen=True)
class TableSchema:
    """The columns of the table a model was fitted on.

    Attributes
    ----------
    features : tuple of str or None
        The feature columns, in the order the model reads them; None for a table without a
        header, whose columns are taken by position.
    dtypes : tuple of str
        The dtype of each feature column as it was read (``'float64'``, ``'int64'``).
    label : str or None
        The column holding each row's label (never a feature), if one was named.
    dropped : tuple of str
        The columns dropped at fit time (by name, or by position for a table without header).
    n_features : int
        How many feature columns the model reads.

    Examples
    --------
    >>> frame = pd.DataFrame({"id": [1, 2], "a": [0.5, 1.5], "b": [3, 4]})
    >>> schema = schema_of(frame.drop(columns="id"), dropped=("id",))
    >>> schema.features, schema.dtypes
    (('a', 'b'), ('float64', 'int64'))
    >>> select_features(frame, schema, "new.csv").columns.tolist()
    ['a', 'b']
    """

    features: tuple[str, ...] | None
    dtypes: tuple[str, ...]
    label: str | None = None
    dropped: tuple[str, ...] = ()
    n_features: int = 0

    def to_json(self) -> dict[str, Any]:
        """The schema as JSON types, for a model's ``config.json``."""
        return {
            "features": None if self.features is None else list(self.features),
            "dtypes": list(self.dtypes),
            "label": self.label,
            "dropped": list(self.dropped),
            "n_features": int(self.n_features),
        }

    @classmethod
    def from_json(cls, value: Any) -> TableSchema:
        """Read :meth:`to_json`'s output back, refusing anything of another shape."""

        def strings(item: Any) -> bool:
            return isinstance(item, list) and all(isinstance(v, str) for v in item)

        keys = {"features", "dtypes", "label", "dropped", "n_features"}
        ok = isinstance(value, dict) and set(value) <= keys
        ok = ok and (value.get("features") is None or strings(value.get("features")))
        ok = ok and strings(value.get("dtypes", [])) and strings(value.get("dropped", []))
        ok = ok and (value.get("label") is None or isinstance(value.get("label"), str))
        ok = ok and isinstance(value.get("n_features"), int) and not isinstance(value["n_features"], bool)
        if ok and value.get("features") is not None:
            ok = len(value["features"]) == value["n_features"]
        if not ok:
            raise InvalidInputError(f"table_={str(value)[:60]!r} is not a table schema")
        features = value.get("features")
        return cls(
            features=None if features is None else tuple(features),
            dtypes=tuple(value.get("dtypes", [])),
            label=value.get("label"),
            dropped=tuple(value.get("dropped", [])),
            n_features=int(value["n_features"]),
        )

    def describe(self) -> str:
        """One line for ``hourglass info``: the features, the label and what was dropped."""
        if self.features is None:
            text = f"{self.n_features} columns by position (no header)"
        else:
            shown = ", ".join(self.features[:_SHOWN]) + (", ..." if self.n_features > _SHOWN else "")
            text = f"{self.n_features} feature columns ({shown})"
        if self.label is not None:
            text += f"; label {self.label!r}"
        if self.dropped:
            text += f"; dropped {', '.join(map(repr, self.dropped))}"
        return text


def schema_of(
    frame: pd.DataFrame, label: str | None = None, dropped: tuple[str, ...] = (), has_header: bool = True
) -> TableSchema:
    """The schema of ``frame``'s columns, all of them features (the label and drops already removed).

    Examples
    --------
    >>> schema_of(pd.DataFrame({"x": [1.0]}), label="y").label
    'y'
    """
    return TableSchema(
        features=tuple(str(c) for c in frame.columns) if has_header else None,
        dtypes=tuple(str(t) for t in frame.dtypes),
        label=label,
        dropped=tuple(str(d) for d in dropped),
        n_features=int(frame.shape[1]),
    )


def select_features(frame: pd.DataFrame, schema: TableSchema | None, source: str) -> pd.DataFrame:
    """``frame``'s feature columns in the model's order; the rest (ids, the label, new ones) ignored.

    Raises
    ------
    InvalidInputError
        When ``frame`` lacks one of the model's feature columns (named in the message).

    Examples
    --------
    >>> schema = schema_of(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    >>> select_features(pd.DataFrame({"b": [0.0], "a": [1.0]}), schema, "t.csv").columns.tolist()
    ['a', 'b']
    """
    if schema is None or schema.features is None:
        return frame
    by_name = {str(c): c for c in frame.columns}
    missing = [name for name in schema.features if name not in by_name]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InvalidInputError(
            f"{source!r} has no column {missing[0]!r}{more}, a feature the model was fitted on; "
            f"it reads {schema.n_features} columns by name"
        )
    return frame[[by_name[name] for name in schema.features]]


def check_column_names(X: pd.DataFrame) -> None:
    """Refuse column names that mix strings with other types, which scikit-learn refuses with a
    TypeError: by name a column could then be read as another (``0`` and ``'0'``).

    Examples
    --------
    >>> check_column_names(pd.DataFrame({0: [1.0], "x": [2.0]}))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hourglass.exceptions.InvalidInputError: X's column names mix strings with int (0); ...
    """
    others = [c for c in X.columns if not isinstance(c, str)]
    if others and len(others) < len(X.columns):
        raise InvalidInputError(
            f"X's column names mix strings with {type(others[0]).__name__} ({others[0]!r}); name every "
            "column with a string (X.columns = X.columns.astype(str)) or none"
        )


def split_frame(X: Any, y: Any = None) -> tuple[Any, TableSchema | None]:
    """A DataFrame given to ``fit`` as (its feature columns, their schema); anything else as it is.

    ``y`` may name a column of the DataFrame: that column is the label, kept out of the
    features and remembered, as ``--label`` does on the command line.

    Examples
    --------
    >>> frame = pd.DataFrame({"a": [1.0, 2.0], "kind": ["x", "y"]})
    >>> features, schema = split_frame(frame, "kind")
    >>> features.columns.tolist(), schema.label
    (['a'], 'kind')
    """
    if not isinstance(X, pd.DataFrame):
        return X, None
    label = None
    if isinstance(y, str):
        _named_column(X, y, "y")  # refuses a name of no column
        label = y
        X = X.drop(columns=[c for c in X.columns if str(c) == y])
    check_column_names(X)  # the features' names: a label named by string may sit among numbers
    return X, schema_of(X, label=label)


def column_labels(X: Any, labels: Any, what: str = "labels") -> Any:
    """Labels given as the name of a column of the DataFrame ``X``: that column's values.

    Anything else (an array of labels, None) is returned as it is, so that ``y=`` and
    ``labels=`` take a column name wherever they take labels, as ``fit(X, y=...)`` and the
    command line's ``--label`` / ``--labels`` do. A column with a missing label is refused, as
    the command line refuses it (``fit(X, y=...)`` reads no label, so it takes any column).

    Examples
    --------
    >>> frame = pd.DataFrame({"a": [1.0, 2.0], "kind": ["x", "y"]})
    >>> column_labels(frame, "kind").tolist(), column_labels(frame, [0, 1])
    (['x', 'y'], [0, 1])
    """
    if not isinstance(labels, str):
        return labels
    if not isinstance(X, pd.DataFrame):
        raise InvalidInputError(
            f"{what}={labels!r} names a column, but X is a {type(X).__name__}, which has none; "
            f"give X as a DataFrame or {what} as one label per sample"
        )
    values = X[_named_column(X, labels, what)]
    missing = values.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise InvalidInputError(
            f"label column {labels!r} of X holds {int(missing.sum())} missing value(s), the first in row "
            f"{row} (index {X.index[row]!r}); expected a label on every row"
        )
    return values.to_numpy()


def _named_column(X: pd.DataFrame, name: str, what: str) -> Any:
    """The column of ``X`` whose name reads ``name``; refuse one that names none."""
    matches = [c for c in X.columns if str(c) == name]
    if not matches:
        shown = [str(c) for c in X.columns][:_SHOWN]
        raise InvalidInputError(f"{what}={name!r} names no column of X; expected one of {shown}")
    return matches[0]


def is_frame(X: Any) -> bool:
    """True for a pandas DataFrame."""
    return isinstance(X, pd.DataFrame)


__all__ = ["TableSchema", "column_labels", "schema_of", "select_features", "split_frame"]
