"""The one set of units every headline uses: the model's own, with the data's raw units beside.

Data whose every value lies in [0, 1] (pixels, rates) are compared in their own units; anything
else in per-feature z-scores from the training rows, the units a standardizing scaler maps it
to, so that a column in thousands does not outweigh one in fractions. :func:`hourglass.compare`
has always scored in these units; ``fit``'s printed line, ``info``, the reports and the anomaly
scores of :class:`~hourglass.AnomalyDetector` use them too, each with the raw-unit figure beside.
"""

from __future__ import annotations

#: How each kind of units reads in tables, reports and the CLI.
UNITS_TEXT = {
    "data": "in the data's units",
    "standardized": "in standardized units (z-scores from the training rows, per feature; per channel for "
    "a convolutional autoencoder)",
    "range": "in units of each feature's training range (min-max scaled)",
    "shrunk": "in shrunk standardized units (each feature centred and divided by the root of its variance "
    "plus the mean variance of all features, from the training rows)",
    "medians": "in medians of held-out normal rows (an anomaly detector's combined score: the "
    "reconstruction error over its median, plus half the code's distance over its median)",
}
#: The same, short, for one-line headlines.
UNITS_SHORT = {
    "data": "data units",
    "standardized": "standardized units",
    "range": "range units",
    "shrunk": "shrunk standardized units",
    "medians": "medians of normal rows",
}
#: The units a fitted scaler's kind stands for.
_BY_SCALER = {"none": "data", "standard": "standardized", "minmax": "range", "shrunk": "shrunk"}


def units_of(scaler) -> str:
    """The units of errors measured after ``scaler``: 'data', 'standardized' or 'range'.

    Examples
    --------
    >>> import numpy as np
    >>> from hourglass.data.scaling import fit_scaler
    >>> units_of(fit_scaler(np.array([[0.0, 10.0], [1.0, 30.0]]), "standard"))
    'standardized'
    """
    return _BY_SCALER.get(getattr(scaler, "kind", "none"), "data")


def headline(value: float, raw: float | None, units: str) -> str:
    """``0.382 standardized units (raw 916.1)``: a figure in the model's units, the raw one beside.

    Examples
    --------
    >>> headline(0.3821, 916.13, "standardized")
    "0.3821 in standardized units (916.1 in the data's raw units)"
    >>> headline(0.02, 0.02, "data")
    "0.02 in the data's units"
    """
    text = f"{value:.4g} {'in ' + UNITS_SHORT[units] if units != 'data' else UNITS_TEXT['data']}"
    if units != "data" and raw is not None:
        text += f" ({raw:.4g} in the data's raw units)"
    return text


def ratio_text(ratio: float) -> str:
    """A ratio of two errors as headlines print it: ``0.786x``, ``1.18x``; near 1, to 3 decimals.

    Three significant digits everywhere else, but from 1 to 1.1 a fourth: ``.3g`` printed
    1.004 as ``1x`` beside the words "PCA wins", and 0.995 as ``0.995x``, so the two sides of
    a tie read with unequal precision.

    Examples
    --------
    >>> ratio_text(0.7864), ratio_text(1.004), ratio_text(1.18), ratio_text(12.34)
    ('0.786x', '1.004x', '1.18x', '12.3x')
    """
    ratio = float(ratio)
    return f"{ratio:.4g}x" if 1.0 <= ratio < 1.1 else f"{ratio:.3g}x"


__all__ = ["UNITS_SHORT", "UNITS_TEXT", "headline", "ratio_text", "units_of"]
