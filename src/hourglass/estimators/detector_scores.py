"""An anomaly detector's scores: the anomaly score, its parts, and the decisions made from it.

A mixin of :class:`~hourglass.AnomalyDetector`: everything a fitted detector says about new
samples (PyOD's ``decision_function`` as :meth:`anomaly_score`, scikit-learn's
``score_samples`` / ``decision_function`` / ``predict``, and PyOD's ``predict_proba``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from hourglass.estimators.code_distance import combined_score
from hourglass.estimators.detector_outputs import speaking_as
from hourglass.estimators.outlier_scores import (
    _check_proba_method,
    outlier_proba,
)


class DetectorScores:
    """Scoring methods of a fitted :class:`~hourglass.AnomalyDetector`."""

    def anomaly_score(self, X: Any) -> np.ndarray:
        """Per-sample score on the scale of ``threshold_``: the higher, the more abnormal.

        PyOD's ``decision_function``. With ``score_kind='combined'`` the reconstruction error plus
        half the code's distance from the normal codes, each in medians of the calibration
        rows; with ``score_kind='reconstruction'`` the reconstruction MSE in ``score_units_``.

        Parameters
        ----------
        X : array-like
            Samples, in the shape the estimator takes.

        Returns
        -------
        ndarray of shape (n_samples,)

        Examples
        --------
        >>> detector.anomaly_score(X[:2]).shape  # doctest: +SKIP
        (2,)
        """
        check_is_fitted(self, "offset_")
        if getattr(self, "score_kind_", "reconstruction") == "combined":
            with speaking_as(self):
                return combined_score(self, X, self.estimator_.reconstruction_error(X, scaled=True))
        return self.reconstruction_error(X)

    def reconstruction_error(self, X: Any, *, scaled: bool | None = None) -> np.ndarray:
        """Per-sample reconstruction MSE: all of a reconstruction score, the first half of a combined one.

        Parameters
        ----------
        X : array-like
            Samples, in the shape the estimator takes.
        scaled : bool or None, default=None
            None for ``score_units_``, True for the autoencoder's units (z-scores for
            standardized data), False for the data's raw units.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "offset_")
        if scaled is None:
            scaled = getattr(self, "score_units_", "raw") == "scaled"
        with speaking_as(self):
            return self.estimator_.reconstruction_error(X, scaled=scaled)

    def score_samples(self, X: Any) -> np.ndarray:
        """Negative anomaly score per sample: the higher, the more normal.

        Parameters
        ----------
        X : array-like
            Samples, in the shape the estimator takes.

        Returns
        -------
        ndarray of shape (n_samples,)

        Examples
        --------
        >>> detector.score_samples(X[:2]).shape  # doctest: +SKIP
        (2,)
        """
        return -self.anomaly_score(X)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers.

        Parameters
        ----------
        X : array-like
            Samples, in the shape the estimator takes.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """+1 for inliers, -1 for outliers: an anomaly score (:meth:`anomaly_score`) above ``threshold_``.

        Parameters
        ----------
        X : array-like
            Samples, in the shape the estimator takes.

        Returns
        -------
        ndarray of int of shape (n_samples,)
        """
        return np.where(self.decision_function(X) < 0, -1, 1)

    def predict_proba(self, X: Any, method: str = "linear") -> np.ndarray:
        """Probability of each sample being normal and abnormal, as PyOD computes it.

        Parameters
        ----------
        X : array-like
            Samples, in the shape the estimator takes.
        method : {'linear', 'unify'}, default='linear'
            'linear': the score min-max scaled by the smallest and largest of
            ``decision_scores_``, clipped to [0, 1]; 'unify': ``erf((s - mean) / (std * sqrt(2)))``
            of the score ``s`` standardized by ``decision_scores_``, clipped to [0, 1] (Kriegel et
            al., "Interpreting and unifying outlier scores", 2011; PyOD's definition).

        Returns
        -------
        ndarray of shape (n_samples, 2)
            Column 0: probability of being normal; column 1: of being abnormal. Rows sum to 1.

        Examples
        --------
        >>> detector.predict_proba(X[:2], method="unify").sum(axis=1)  # doctest: +SKIP
        array([1., 1.])
        """
        # The method is checked first: a misspelt one is the error to hear about, fitted or not.
        _check_proba_method(method)
        return outlier_proba(self.anomaly_score(X), self.decision_scores_, method)


__all__ = ["DetectorScores"]
