"""How far a sample's code lies from the codes of normal data: the second half of a detector's score.

A reconstruction error measures how far a sample lies *off* the surface the autoencoder learned
(the Q statistic, or squared prediction error, of PCA process monitoring). A sample *on* that
surface but far along it (a tumour larger than any the normal data held, a garment with every
feature of its class, only more so) reconstructs well and passes unseen. The squared Mahalanobis
distance of its code from the normal data's codes (PCA's Hotelling T^2) sees that one. A
detector with ``score_kind='combined'`` adds the two, each in units of its median over the held-out
normal rows, the distance at half weight (:data:`DISTANCE_WEIGHT`). Mean one-class AUROC of the
default detector (``python -m benchmarks peers``, 2026-12-05): breast cancer 76.3 -> 83.9, wine
97.1 -> 97.7, Fashion-MNIST 90.4 -> 91.2, digits 99.63 -> 99.64; since pixels are scaled
(:func:`~hourglass.estimators.default_detector.detection_scaling`), Fashion-MNIST 92.08 -> 92.42
and digits 99.56 -> 99.47 (the error alone is the better score there).

The codes' covariance is the Ledoit-Wolf shrinkage estimate (scikit-learn's): a code of many
units fitted on a few hundred rows has a singular sample covariance, and a dead unit none at all.
Normal data of several clusters get a Gaussian mixture instead, and the distance from the nearest
of its components (:class:`CodeDistance`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.covariance import LedoitWolf

from hourglass.choices import SCORE_KINDS

#: Weight of the code distance beside the reconstruction error (each in units of its median over
#: normal data). Measured with a plain sample covariance while choosing it: the distance alone
#: loses to the error on images (Fashion-MNIST 87.4 against 90.4 AUROC) and wins on tables
#: (breast cancer 86.7 against 76.3); weights 1, 1/2 and 1/4 all gained on both, 1/2 most on
#: Fashion-MNIST and wine, and on digits it keeps the error's 99.6.
DISTANCE_WEIGHT = 0.5


#: The most Gaussian components the normal codes' mixture may have (:meth:`CodeDistance.fit`).
MAX_COMPONENTS = 8
#: Codes a mixture is chosen and fitted on, at most (a random subset of more): the choice costs
#: 0.1-0.3 s on them, one core, and more rows barely move it.
MIXTURE_ROWS = 2000
#: How much lower the BIC of one more component must be for it to be taken: 10, "very strong"
#: evidence on Kass and Raftery's scale. A component that barely lowers it was taken at one seed
#: and not at the next (a prefitted model's 100 breast-cancer rows: one or two, by the seed).
BIC_MARGIN = 10.0


@dataclass
class CodeDistance:
    """Squared Mahalanobis distance of codes from the nearest normal cluster, per code unit.

    Normal data of one cluster get the distance from its center (PCA's Hotelling T^2). Normal
    data of several (the digits other than one, a machine's several normal states) are not one
    cloud: measured from the mean of all, a sample between the clusters, where no normal one
    lies, counts as typical, and a normal one at a cluster's far edge as strange. So the codes
    are fitted with a Gaussian mixture of as many components as the BIC asks for (up to
    :data:`MAX_COMPONENTS`), and a code's distance is that from its nearest component; where
    the BIC asks for one, the distance is the single cloud's, as before. The components share
    one covariance (scikit-learn's ``'tied'``): each with its own, fitted on a few dozen rows,
    swung the distance from seed to seed (281 calibration digits: AUROC 0.94-0.955 against
    0.97-0.975 shared, and 3 % of new normal digits over a 0.99 quantile against 1.1-1.7 %).

    Mean AUROC of the default detector, one cloud -> nearest component (2026-12-08, one core,
    half of each class trains): normal data of all classes but one, the one left out abnormal,
    digits 92.10 -> 93.64, iris 90.35 -> 94.43, wine 93.89 -> 95.62, Fashion-MNIST (4,000
    images, five classes left out in turn) 60.83 -> 63.13; five blobs in 40 dimensions, one
    abnormal, 72.66 -> 87.63. One class normal: Fashion-MNIST 92.26 -> 92.68 (2,000 images a
    class) and 92.44 -> 92.66 (500), breast cancer 84.04 / 87.62 -> 84.04 / 87.55 (two splits),
    digits 99.48 / 99.46 -> 99.48 / 99.45, wine and iris unchanged (one component).

    Attributes
    ----------
    center : ndarray of shape (d,) or (k, d)
        Mean code of the normal rows, or of each of the ``k`` components of their mixture.
    precision : ndarray of shape (d, d) or (k, d, d)
        Inverse of their (shrunk) covariance, or of the components' shared one (one copy each).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> distance = CodeDistance.fit(rng.normal(size=(500, 3)))
    >>> bool(distance(np.zeros((1, 3)))[0] < distance(np.full((1, 3), 4.0))[0])
    True
    >>> two = np.vstack([rng.normal(size=(300, 2)) - 6, rng.normal(size=(300, 2)) + 6])
    >>> mixture = CodeDistance.fit(two)
    >>> mixture.n_components, bool(mixture(np.zeros((1, 2)))[0] > mixture(np.full((1, 2), 6.0))[0])
    (2, True)
    """

    center: np.ndarray
    precision: np.ndarray

    @property
    def n_components(self) -> int:
        """How many Gaussian components the normal codes were fitted with (1: one cloud)."""
        return 1 if np.ndim(self.center) == 1 else len(self.center)

    @classmethod
    def fit(cls, codes: np.ndarray, random_state: int = 0) -> CodeDistance:
        """The distance from the codes of normal rows, shape ``(n, d)``, ``n >= 1``.

        ``random_state`` seeds the mixture's initialisation and the subset it is fitted on.
        """
        codes = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
        mixture = _normal_mixture(codes, random_state)
        if mixture is not None:
            return mixture
        with warnings.catch_warnings():
            # One normal row (a detector calibrated on one): scikit-learn warns that it has one
            # sample; the floor below keeps the distance defined, the threshold's own warning says why.
            warnings.filterwarnings("ignore", "Only one sample available", UserWarning)
            covariance = LedoitWolf().fit(codes).covariance_
        width = covariance.shape[0]
        # A unit that never varies leaves the covariance singular even after shrinkage (all
        # units dead: zero): a floor of a millionth of the mean variance keeps it invertible.
        floor = 1e-6 * max(float(np.trace(covariance)) / width, 1e-12)
        precision = np.linalg.inv(covariance + floor * np.eye(width))
        return cls(center=codes.mean(axis=0), precision=(precision + precision.T) / 2)

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        """The distance of each code, shape ``(n,)``: about 1 for a typical normal row."""
        codes = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
        centers = np.reshape(self.center, (-1, codes.shape[1]))
        precisions = np.reshape(self.precision, (-1, codes.shape[1], codes.shape[1]))
        nearest = np.full(len(codes), np.inf)
        for center, precision in zip(centers, precisions, strict=True):
            diff = codes - center
            nearest = np.minimum(nearest, np.einsum("ij,jk,ik->i", diff, precision, diff))
        return nearest / codes.shape[1]


def _normal_mixture(codes: np.ndarray, random_state: int) -> CodeDistance | None:
    """The distance from a Gaussian mixture of ``codes``, or None where the BIC asks for one cloud.

    Components, sharing one covariance, are added one at a time while the BIC falls by more than
    :data:`BIC_MARGIN`, each mixture fitted on the codes in units of their spread (so that the
    covariance floor, ``reg_covar``, is the same share of every unit's variance); the centers
    and precisions are then put back in the codes' units.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    n, width = codes.shape
    if n < 20:  # too few rows to see clusters in: one cloud
        return None
    rng = np.random.default_rng(random_state)
    rows = codes[rng.choice(n, MIXTURE_ROWS, replace=False)] if n > MIXTURE_ROWS else codes
    mean = rows.mean(axis=0)
    spread = rows.std(axis=0)
    spread = np.maximum(spread, 1e-3 * max(float(spread.mean()), 1e-12))
    scaled = (rows - mean) / spread
    best, best_bic = None, np.inf
    seed = int(rng.integers(2**31 - 1))
    for k in range(1, MAX_COMPONENTS + 1):
        if len(scaled) < 10 * k:
            break
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = GaussianMixture(k, covariance_type="tied", reg_covar=1e-3, random_state=seed)
            model.fit(scaled)
        bic = model.bic(scaled)
        if bic >= best_bic - BIC_MARGIN:
            break
        best, best_bic = model, bic
    if best is None or best.n_components == 1:
        return None
    centers = mean + best.means_ * spread
    # (x - c)' P (x - c) in scaled units is (x - c)' (P / (s s')) (x - c) in the codes' own.
    precision = best.precisions_ / np.outer(spread, spread)  # tied: one for all components
    precisions = np.repeat(((precision + precision.T) / 2)[None], best.n_components, axis=0)
    return CodeDistance(center=centers, precision=precisions)


def median_scale(values: np.ndarray) -> float:
    """The median of ``values``, the unit each half of a combined score is measured in.

    Falls back to the mean, then to 1, where the median is zero (a model that reconstructs every
    held-out row exactly), so that the unit is never zero.
    """
    values = np.asarray(values, dtype=np.float64)
    for candidate in (np.median(values), np.mean(values)):
        if np.isfinite(candidate) and candidate > 0:
            return float(candidate)
    return 1.0


#: Folds of :func:`out_of_fold_distance`.
DISTANCE_FOLDS = 5


def out_of_fold_distance(codes: np.ndarray, random_state: int = 0) -> np.ndarray:
    """Each row's distance from a :class:`CodeDistance` fitted on the other folds' rows.

    Where one set of rows both fits the distance and calibrates it (a prefitted autoencoder's
    normal rows), their own distances are those of rows the covariance was fitted to: small, the
    more so the fewer the rows. The median and the threshold read from them then sat below new
    normal rows' distances, and new normal rows were flagged: digits' code of 8 from 10 rows,
    48 % flagged against 13 % with these out-of-fold distances (from 2 rows: all of them).

    Examples
    --------
    >>> codes = np.random.default_rng(0).normal(size=(40, 3))
    >>> bool(np.median(out_of_fold_distance(codes)) > np.median(CodeDistance.fit(codes)(codes)))
    True
    """
    codes = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
    if len(codes) < 2:  # nothing to hold out: the row's own distance (zero)
        return CodeDistance.fit(codes, random_state)(codes)
    fold = np.arange(len(codes)) % min(DISTANCE_FOLDS, len(codes))
    distance = np.empty(len(codes))
    for index in np.unique(fold):
        held = fold == index
        distance[held] = CodeDistance.fit(codes[~held], random_state)(codes[held])
    return distance


def fit_combined_score(
    detector: Any, fit_rows: Any, calibration: Any, calibration_errors: np.ndarray
) -> np.ndarray:
    """Fit the code distance of a detector's ``score_kind='combined'`` and the units of its halves.

    The distance is measured from the codes of ``fit_rows`` (the rows the autoencoder trained
    on, or the normal data given to a prefitted one); each half is then measured in units of
    its median over the held-out ``calibration`` rows, whose reconstruction errors (in the
    autoencoder's units) are ``calibration_errors``. Where ``fit_rows`` is ``calibration`` (a
    prefitted autoencoder), the calibration rows' distances are out of fold
    (:func:`out_of_fold_distance`), as new rows' are. Sets ``code_distance_``, ``error_scale_``
    and ``distance_scale_``, and returns the calibration rows' combined scores (their codes are
    computed once, for both).
    """
    inner = detector.estimator_
    seed = int(getattr(detector, "seed_", 0) or 0)
    if fit_rows is calibration:  # a prefitted autoencoder: one set of normal rows for both
        codes = np.asarray(inner.transform(calibration), dtype=np.float64).reshape(len(calibration), -1)
        detector.code_distance_ = CodeDistance.fit(codes, seed)
        distance = out_of_fold_distance(codes, seed)
    else:
        detector.code_distance_ = CodeDistance.fit(inner.transform(fit_rows), seed)
        distance = detector.code_distance_(inner.transform(calibration))
    detector.error_scale_ = median_scale(calibration_errors)
    detector.distance_scale_ = median_scale(distance)
    return _combine(detector, calibration_errors, distance)


def _combine(detector: Any, errors: np.ndarray, distance: np.ndarray) -> np.ndarray:
    return np.asarray(errors, dtype=np.float64) / detector.error_scale_ + DISTANCE_WEIGHT * (
        distance / detector.distance_scale_
    )


def combined_score(detector: Any, X: Any, errors: np.ndarray) -> np.ndarray:
    """The combined score of ``X``, whose reconstruction errors (autoencoder's units) are ``errors``."""
    return _combine(detector, errors, detector.code_distance_(detector.estimator_.transform(X)))


__all__ = [
    "DISTANCE_WEIGHT",
    "MAX_COMPONENTS",
    "SCORE_KINDS",
    "CodeDistance",
    "combined_score",
    "fit_combined_score",
    "median_scale",
    "out_of_fold_distance",
]
