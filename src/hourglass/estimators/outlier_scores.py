"""Outlier scores of a detector: its threshold rule, probabilities of being abnormal, units.

Reconstruction errors become decisions here: :func:`error_quantile` turns the detector's
``threshold``, ``quantile`` and ``contamination`` into the quantile of held-out normal errors that
sets the threshold, and :func:`outlier_proba` turns errors into PyOD's probabilities. Both are
plain functions of arrays and numbers, so they can be read and tested without a fitted model.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np

from hourglass.data.duplicates import split_rows
from hourglass.data.units import units_of
from hourglass.exceptions import InvalidInputError
from hourglass.runtime.seeds import as_seed

THRESHOLDS = ("auto", "quantile", "contamination")
#: The share of anomalies ``threshold='contamination'`` assumes when ``contamination`` is not set.
DEFAULT_CONTAMINATION = 0.01
#: The methods of :meth:`AnomalyDetector.predict_proba`, as PyOD names them.
PROBA_METHODS = ("linear", "unify")
#: The ranges of a detector's shares, as ``(low, high, high included)`` (``low`` never is): what
#: the checks below refuse and the detector's ``_parameter_constraints`` declare.
SHARES = {
    "quantile": (0.0, 1.0, False),
    "contamination": (0.0, 0.5, True),
    "calibration_fraction": (0.0, 1.0, False),
}


def threshold_rule(threshold: Any, contamination: Any) -> str:
    """Which rule sets the threshold: ``'quantile'``, ``'contamination'`` or ``'fixed'``.

    ``'auto'`` is the contamination rule when ``contamination`` is set (PyOD's and scikit-learn's
    meaning: the data given to fit hold that share of anomalies), the quantile rule otherwise.

    Examples
    --------
    >>> threshold_rule("auto", None), threshold_rule("auto", 0.1), threshold_rule(0.5, None)
    ('quantile', 'contamination', 'fixed')
    """
    if isinstance(threshold, numbers.Real) and not isinstance(threshold, bool):
        return "fixed"
    if isinstance(threshold, str) and threshold == "auto":
        return "quantile" if known_share(contamination) is None else "contamination"
    return threshold


def known_share(contamination: Any) -> Any:
    """``contamination`` as a share, or None where it is not known: None, or scikit-learn's
    ``'auto'`` (IsolationForest's and LocalOutlierFactor's default, so that their settings carry
    over).

    Examples
    --------
    >>> known_share("auto"), known_share(None), known_share(0.1)
    (None, None, 0.1)
    """
    return None if isinstance(contamination, str) and contamination == "auto" else contamination


def error_quantile(threshold: Any, quantile: Any, contamination: Any) -> float | None:
    """The quantile of the scores that sets the threshold, None for a fixed one.

    Parameters
    ----------
    threshold : {'auto', 'quantile', 'contamination'} or float
        The detector's rule (see :func:`threshold_rule`), or a fixed threshold.
    quantile : float
        Used by the quantile rule, in (0, 1): of the held-out normal rows' scores.
    contamination : float or None
        Used by the contamination rule, in (0, 0.5]: ``1 - contamination`` of the scores of all
        the data given to fit. None: not set (the rule then assumes
        :data:`DEFAULT_CONTAMINATION`).

    Returns
    -------
    float or None
        ``quantile``, ``1 - contamination``, or None for a fixed threshold.

    Examples
    --------
    >>> error_quantile("contamination", 0.99, 0.05)
    0.95
    >>> error_quantile("auto", 0.99, None)
    0.99
    """
    # Both shares are checked whichever threshold uses them: a contamination=2 that the
    # quantile rule ignores is still a mistake the user should hear about.
    shares = {"quantile": quantile, "contamination": known_share(contamination)}
    for name, value in shares.items():
        if value is None and name == "contamination":
            continue
        low, high, closed = SHARES[name]
        inside = (
            isinstance(value, numbers.Real)
            and not isinstance(value, bool)
            and low < value
            and (value <= high if closed else value < high)
        )
        if not inside:
            raise InvalidInputError(
                f"{name}={value!r}; expected a number in ({low:g}, {high:g}{']' if closed else ')'}"
                + (" or None ('auto')" if name == "contamination" else "")
            )
    rule = threshold_rule(threshold, contamination)
    if rule == "fixed":
        if not np.isfinite(threshold) or threshold < 0:
            raise InvalidInputError(f"threshold={threshold!r}; a fixed threshold must be a finite MSE >= 0")
        return None
    if rule == "quantile":
        return float(quantile)
    if rule == "contamination":
        share = known_share(contamination)
        return 1.0 - float(DEFAULT_CONTAMINATION if share is None else share)
    raise InvalidInputError(
        f"threshold={threshold!r}; expected 'auto', 'quantile', 'contamination' or a number (a score)"
    )


#: Scores a quantile threshold is read from below which a detector warns: with fewer, the
#: threshold is little more than the largest of them, and where normal scores end is a guess.
FEW_SCORES = 20


def few_scores(quantile: float) -> int:
    """Scores a ``quantile`` threshold needs before it stops warning: :data:`FEW_SCORES`, and
    enough that the largest of them is not what decides it.

    A new normal score lands above the largest of ``n`` normal scores with chance ``1 / (n + 1)``:
    below ``1 / (2 (1 - quantile))`` scores that chance is more than twice the false alarms the
    quantile asks for (iris's 20 calibration rows at 0.99: 12 % of new normal rows flagged).

    Examples
    --------
    >>> few_scores(0.99), few_scores(0.9)
    (50, 20)
    """
    if not 0.0 < quantile < 1.0:
        return FEW_SCORES
    return max(FEW_SCORES, math.ceil(1.0 / (2.0 * (1.0 - quantile)) - 1e-9))


def warn_if_few_scores(n_scores: int, quantile: float) -> None:
    """Warn that a threshold read as the ``quantile`` of ``n_scores`` scores rests on too few.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_if_few_scores(3, 0.99); warn_if_few_scores(30, 0.99); warn_if_few_scores(60, 0.99)
    >>> len(caught)
    2
    """
    needed = few_scores(quantile)
    if n_scores < FEW_SCORES:
        warnings.warn(
            f"the threshold is the {quantile:g} quantile of the scores of {n_scores} normal row(s), too "
            f"few to tell where normal scores end (expected at least {needed}); give more normal data",
            UserWarning,
            stacklevel=4,  # the caller of fit, through its all-or-nothing wrapper
        )
    elif n_scores < needed:
        warnings.warn(
            f"the threshold is the {quantile:g} quantile of the scores of {n_scores} normal rows, few "
            f"enough that it sits near their largest: about {1 / (n_scores + 1):.0%} of new normal rows "
            f"will score above it, not {1 - quantile:.0%} (expected at least {needed} rows); give more "
            "normal data or a lower quantile",
            UserWarning,
            stacklevel=4,
        )


def calibration_split(
    n: int, fraction: Any, random_state: Any, groups: np.ndarray | None = None, X: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """The rows that train the autoencoder and those held out to calibrate the threshold.

    Parameters
    ----------
    n : int
        Rows of the data given to ``fit``.
    fraction : float
        The detector's ``calibration_fraction``, in (0, 1).
    random_state : int, RandomState or None
        Seeds the split (:func:`~hourglass.runtime.seeds.as_seed`); None draws a fresh one.
    groups : ndarray or None
        :func:`~hourglass.data.duplicates.duplicate_groups` of the rows: identical rows go to
        one side, so that a repeated row does not calibrate the threshold on its own copy's
        error (which would set it too low).
    X : array-like, optional
        The data, whose shape tells whether rows that are all alike have features at all.

    Returns
    -------
    train, calibration : ndarray
        Sorted row indices, disjoint, together all of ``range(n)``.

    Examples
    --------
    >>> [part.tolist() for part in calibration_split(5, 0.4, 0)]
    [[0, 1, 3], [2, 4]]
    """
    low, high, _ = SHARES["calibration_fraction"]
    if not low < fraction < high:
        raise InvalidInputError(f"calibration_fraction={fraction!r}; expected a number in (0, 1)")
    n_cal = int(round(n * fraction))
    if n_cal < 1 or n - n_cal < 2:
        raise InvalidInputError(
            f"{n} samples with calibration_fraction={fraction} leave none to calibrate or to train on"
        )
    # A RandomState gives its next draw, as the AutoEncoder reads one: two fresh
    # RandomState(0) give the same split (a non-int once drew a fresh split every fit).
    seed = as_seed(random_state)
    train, calibration = split_rows(n, n_cal, np.random.default_rng(seed), groups)
    features = int(np.prod(np.shape(X)[1:])) if X is not None else 1
    # Rows without features are all alike: the estimator's own check names those first.
    if (len(calibration) == 0 or len(train) == 0) and features:
        raise InvalidInputError(
            f"all {n} samples are one sample repeated; identical samples stay on one side of the "
            "split between training and calibration, so none are left to calibrate the threshold "
            "on; fit on normal data with more than one distinct sample"
        )
    return train, calibration


def outlier_proba(scores: np.ndarray, train_scores: np.ndarray, method: str = "linear") -> np.ndarray:
    """Probability of each score being normal and abnormal, as PyOD computes it.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,)
        Reconstruction errors to turn into probabilities.
    train_scores : ndarray
        The errors of the data the detector was fitted on (its ``decision_scores_``).
    method : {'linear', 'unify'}, default='linear'
        'linear': ``scores`` min-max scaled by the smallest and largest of ``train_scores``,
        clipped to [0, 1]; 'unify': ``erf((s - mean) / (std * sqrt(2)))`` of each score ``s``
        standardized by ``train_scores``, clipped to [0, 1] (Kriegel et al., "Interpreting and
        unifying outlier scores", 2011; PyOD's definition).

    Returns
    -------
    ndarray of shape (n_samples, 2)
        Column 0: probability of being normal; column 1: of being abnormal. Rows sum to 1.

    Examples
    --------
    >>> outlier_proba(np.array([0.0, 1.0, 2.0]), np.array([0.0, 2.0]))[:, 1].tolist()
    [0.0, 0.5, 1.0]
    """
    from scipy.special import erf

    _check_proba_method(method)
    scores = np.asarray(scores).astype(np.float64)
    train = np.asarray(train_scores, dtype=np.float64)
    if method == "linear":
        low, high = float(train.min()), float(train.max())
        # As scikit-learn's MinMaxScaler, which PyOD uses: a constant range scales by 1.
        abnormal = (scores - low) / (high - low if high > low else 1.0)
    else:
        sigma = float(train.std())
        abnormal = erf((scores - float(train.mean())) / ((sigma if sigma > 0 else 1.0) * np.sqrt(2)))
    abnormal = np.clip(abnormal, 0.0, 1.0)
    return np.column_stack([1.0 - abnormal, abnormal])


def _check_proba_method(method: str) -> None:
    if method not in PROBA_METHODS:
        raise InvalidInputError(f"method={method!r}; expected one of {', '.join(map(repr, PROBA_METHODS))}")


def score_units(detector: Any) -> str:
    """The units of a detector's scores and threshold: medians of normal rows for a combined score;
    those of its autoencoder for a reconstruction score, or raw for old ones."""
    if getattr(detector, "score_kind_", "reconstruction") == "combined":
        return "medians"
    if getattr(detector, "score_units_", "raw") != "scaled":
        return "data"
    return units_of(detector.estimator_.scaler_)


def score_name(detector: Any) -> str:
    """What a detector's score is, in a few words (for reports and the command line)."""
    if getattr(detector, "score_kind_", "reconstruction") == "combined":
        return "anomaly score (reconstruction error + code distance)"
    return "reconstruction MSE"
