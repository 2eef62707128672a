"""A DataFrame's columns: remembered when an estimator is fitted, selected by name after.

``fit`` keeps the training table's columns in ``table_`` (:mod:`hourglass.data.table`); later
reads select those columns by name, so the training table can be given again as it is.
"""

from __future__ import annotations

from typing import Any

from hourglass.data.table import is_frame, select_features, split_frame


def remember_table(est: Any, X: Any, y: Any) -> Any:
    """Keep a DataFrame's columns in ``est.table_``; return the features.

    ``y`` may name the label column of a DataFrame (never a feature). Fitting on anything else
    forgets the table of an earlier fit.
    """
    X, schema = split_frame(X, y)
    if schema is not None:
        est.table_ = schema
    else:
        vars(est).pop("table_", None)
    return X


def selected_columns(est: Any, X: Any) -> Any:
    """A DataFrame's feature columns, by name, in the order ``est`` was fitted on.

    A model fitted without column names (on an array, or through the CLI, which reads the table
    itself) gets the selected values as an array, as it was fitted.
    """
    schema = getattr(est, "table_", None)
    if schema is None or schema.features is None or not is_frame(X):
        return X
    X = select_features(X, schema, "X")
    return X if hasattr(est, "feature_names_in_") else X.to_numpy()


__all__ = ["remember_table", "selected_columns"]
