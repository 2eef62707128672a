"""Whether a detector is calibrated on the very rows its autoencoder was fitted on.

An autoencoder reconstructs the rows it trained on better than new normal rows, so a threshold
set at a quantile of their scores comes out too low and flags more new normal rows than the
quantile says. Every fit fingerprints its data already (the run's fingerprint,
:func:`hourglass.train.checkpoint.source_fingerprint`) and keeps it in
``training_data_fingerprint_``, saved with the model; :func:`warn_if_training_rows` hashes the
calibration rows by the same rule and warns when the two are equal.

Only the exact data is recognised: the same array or file (in any form a fit reads, in the same
row order). A subset, a shuffle or a superset of the training rows is not, and a model saved
before fingerprints were kept, or trained by ``partial_fit`` alone, is not checked.
"""

from __future__ import annotations

import warnings
from typing import Any

from hourglass.data.sources import ArraySource
from hourglass.exceptions import TrainingRowsWarning
from hourglass.train import checkpoint


def fitted_on(estimator: Any, X: Any) -> int | None:
    """The number of rows when ``X`` holds exactly the data ``estimator`` was fitted on, else None.

    Parameters
    ----------
    estimator : BaseAutoEncoder
        A fitted autoencoder; one without ``training_data_fingerprint_`` (saved before it was
        kept, or trained by ``partial_fit`` alone) is never matched.
    X : array-like
        Rows the estimator has read already (validated, as for ``reconstruction_error``).

    Returns
    -------
    int or None
    """
    kept = getattr(estimator, "training_data_fingerprint_", None)
    shape = kept.get("shape") if isinstance(kept, dict) else None
    n = getattr(X, "shape", (None,))[0]
    # Another number of rows cannot be the same data: no hashing then, the usual case.
    if not isinstance(shape, list) or not shape or n != shape[0]:
        return None
    rows = estimator._validate_input(X, reset=False)
    return int(n) if checkpoint.source_fingerprint(ArraySource(rows)) == kept else None


def warn_if_training_rows(estimator: Any, X: Any) -> None:
    """Warn (:class:`~hourglass.exceptions.TrainingRowsWarning`) when the calibration rows ``X``
    are exactly those ``estimator`` was fitted on (see :func:`fitted_on`)."""
    n = fitted_on(estimator, X)
    if n is not None:
        warnings.warn(
            # Words for both callers: NORMAL on the command line, the rows of fit(X) in Python.
            f"the calibration rows are those the model was fitted on ({n} rows, its training and "
            "validation rows): the threshold will flag more new normal rows than its quantile says; "
            "calibrate on normal rows the model did not see",
            TrainingRowsWarning,
            stacklevel=4,  # the caller of AnomalyDetector.fit (through all_or_nothing's wrapper)
        )


__all__ = ["fitted_on", "warn_if_training_rows"]
