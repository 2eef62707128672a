"""Anomaly and out-of-distribution detection by reconstruction error.

An autoencoder is data-specific: trained on digits it reconstructs digits well and anything
else badly, so its reconstruction error is an anomaly score. :class:`AnomalyDetector` wraps any
hourglass estimator as a scikit-learn outlier detector and calibrates the threshold on normal
data the autoencoder did not train on; the threshold is saved with the model.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, clone
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_is_fitted

from hourglass.estimators.persistence import ESTIMATORS, from_json, json_safe, register_estimator
from hourglass.exceptions import InvalidInputError

THRESHOLDS = ("quantile", "contamination")

# Fitted state of the wrapped estimator that the persistence layer reads and writes on the
# object it saves or loads; a detector keeps it on its ``estimator_``.
_DELEGATED = ("module_", "scaler_", "architecture_", "history_")


def _delegated(name: str) -> property:
    def get(self):
        if "estimator_" not in vars(self):
            raise AttributeError(name)  # not fitted: hasattr(detector, "module_") is False
        return getattr(self.estimator_, name)

    def set_(self, value):
        if "estimator_" in vars(self):
            setattr(self.estimator_, name, value)
        else:  # hourglass.load sets these before _restore_attributes rebuilds the estimator
            vars(self).setdefault("_loaded_parts", {})[name] = value

    return property(get, set_, doc=f"``{name}`` of the wrapped estimator.")


def _default_estimator(n_features: int, random_state: Any):
    from hourglass.estimators.dense import AutoEncoder

    # A code a quarter of the input, at most 16 wide: narrow enough not to learn the identity.
    code_size = max(1, min(16, n_features // 4))
    return AutoEncoder(code_size=code_size, random_state=random_state, verbose=0)


@register_estimator
class AnomalyDetector(OutlierMixin, BaseEstimator):
    """Outlier detector scoring samples by the reconstruction error of an autoencoder.

    Follows scikit-learn's outlier detectors: ``score_samples`` is higher for more normal
    samples (the negative reconstruction MSE), ``decision_function`` is ``score_samples -
    offset_`` (negative for anomalies) and ``predict`` returns +1 for inliers, -1 for outliers.

    Parameters
    ----------
    estimator : BaseAutoEncoder or None, default=None
        The autoencoder. An unfitted one is cloned and fitted on part of ``X``, the rest
        calibrates the threshold; a fitted one is used as it is and all of ``X`` calibrates
        (so pass normal data it did not train on). None: a dense ``AutoEncoder`` with a code a
        quarter of the input's width (at most 16).
    threshold : {'quantile', 'contamination'} or float, default='quantile'
        'quantile': flag errors above the ``quantile`` of the held-out normal errors (about
        ``1 - quantile`` false alarms on normal data); 'contamination': the data hold about
        ``contamination`` anomalies, so flag that share of the held-out split; a number: a
        fixed reconstruction-error (MSE) threshold.
    quantile : float, default=0.99
        Used with ``threshold='quantile'``, in (0, 1).
    contamination : float, default=0.01
        Used with ``threshold='contamination'``, in (0, 0.5].
    calibration_fraction : float, default=0.2
        Share of ``X`` held out from training to calibrate the threshold (unfitted estimator).
    random_state : int or None, default=None
        Seed of the calibration split.

    Attributes
    ----------
    estimator_ : BaseAutoEncoder
        The fitted autoencoder.
    threshold_ : float
        Reconstruction MSE above which a sample is an outlier.
    offset_ : float
        ``-threshold_``, following scikit-learn's convention.
    calibration_errors_ : ndarray
        Reconstruction errors of the held-out calibration samples.
    n_features_in_ : int

    Examples
    --------
    >>> from hourglass import AutoEncoder
    >>> from hourglass.data.loading import load_data
    >>> X = load_data("digits").X
    >>> ae = AutoEncoder(code_size=8, epochs=5, random_state=0, verbose=0)
    >>> detector = AnomalyDetector(ae, quantile=0.95, random_state=0).fit(X)
    >>> detector.predict(X[:3]).tolist()  # doctest: +SKIP
    [1, 1, 1]
    >>> detector.save("digits-detector", force=True)  # doctest: +SKIP
    """

    def __init__(
        self,
        estimator: Any = None,
        threshold: str | float = "quantile",
        quantile: float = 0.99,
        contamination: float = 0.01,
        calibration_fraction: float = 0.2,
        random_state: Any = None,
    ) -> None:
        self.estimator = estimator
        self.threshold = threshold
        self.quantile = quantile
        self.contamination = contamination
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state

    module_ = _delegated("module_")
    scaler_ = _delegated("scaler_")
    architecture_ = _delegated("architecture_")
    history_ = _delegated("history_")

    @property
    def device(self) -> str:
        """Where the wrapped estimator runs ('auto' before it exists); read by ``hourglass.load``."""
        inner = vars(self).get("estimator_", self.estimator)
        return getattr(inner, "device", "auto")

    # -- fitting -----------------------------------------------------------------------------
    def _error_quantile(self) -> float | None:
        """The quantile of held-out errors that sets the threshold, None for a fixed one."""
        if isinstance(self.threshold, numbers.Real) and not isinstance(self.threshold, bool):
            if not np.isfinite(self.threshold) or self.threshold < 0:
                raise InvalidInputError(
                    f"threshold={self.threshold!r}; a fixed threshold must be a finite MSE >= 0"
                )
            return None
        if self.threshold == "quantile":
            if not 0.0 < self.quantile < 1.0:
                raise InvalidInputError(f"quantile={self.quantile!r}; expected a number in (0, 1)")
            return float(self.quantile)
        if self.threshold == "contamination":
            if not 0.0 < self.contamination <= 0.5:
                raise InvalidInputError(
                    f"contamination={self.contamination!r}; expected a number in (0, 0.5]"
                )
            return 1.0 - float(self.contamination)
        raise InvalidInputError(
            f"threshold={self.threshold!r}; expected 'quantile', 'contamination' or a number (an MSE)"
        )

    def _calibration_split(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        fraction = self.calibration_fraction
        if not 0.0 < fraction < 1.0:
            raise InvalidInputError(f"calibration_fraction={fraction!r}; expected a number in (0, 1)")
        n_cal = int(round(n * fraction))
        if n_cal < 1 or n - n_cal < 2:
            raise InvalidInputError(
                f"{n} samples with calibration_fraction={fraction} leave none to calibrate or to train on"
            )
        seed = self.random_state if isinstance(self.random_state, numbers.Integral) else None
        order = np.random.default_rng(seed).permutation(n)
        return np.sort(order[n_cal:]), np.sort(order[:n_cal])

    def fit(self, X: Any, y: Any = None) -> AnomalyDetector:
        """Fit the autoencoder on normal data ``X`` and calibrate the threshold (``y`` is ignored).

        Parameters
        ----------
        X : array-like
            Normal samples, in the shape the estimator takes.
        y : None
            Ignored.

        Returns
        -------
        self
        """
        q = self._error_quantile()
        n = len(X)
        if self.estimator is not None and not hasattr(self.estimator, "reconstruction_error"):
            raise InvalidInputError(
                f"estimator must be an hourglass autoencoder, got {type(self.estimator).__name__}"
            )
        if self.estimator is not None and hasattr(self.estimator, "module_"):
            # Already trained: every sample of X is held-out normal data.
            self.estimator_ = self.estimator
            calibration = X
        else:
            train_idx, cal_idx = self._calibration_split(n)
            n_features = int(np.prod(np.shape(X)[1:])) if np.ndim(X) > 1 else 1
            template = (
                self.estimator
                if self.estimator is not None
                else _default_estimator(n_features, self.random_state)
            )
            self.estimator_ = clone(template).fit(_safe_indexing(X, train_idx))
            calibration = _safe_indexing(X, cal_idx)
        self.calibration_errors_ = self.estimator_.reconstruction_error(calibration)
        threshold = float(self.threshold) if q is None else float(np.quantile(self.calibration_errors_, q))
        self.threshold_ = threshold
        self.offset_ = -threshold
        self.n_features_in_ = self.estimator_.n_features_in_
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        return self

    # -- scoring -----------------------------------------------------------------------------
    def reconstruction_error(self, X: Any) -> np.ndarray:
        """Per-sample reconstruction MSE, in the units of the input (higher is more abnormal)."""
        check_is_fitted(self, "offset_")
        return self.estimator_.reconstruction_error(X)

    def score_samples(self, X: Any) -> np.ndarray:
        """Negative reconstruction MSE per sample: the higher, the more normal.

        Examples
        --------
        >>> detector.score_samples(X[:2]).shape  # doctest: +SKIP
        (2,)
        """
        return -self.reconstruction_error(X)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """+1 for inliers, -1 for outliers (reconstruction error above ``threshold_``)."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    def error_map(self, X: Any) -> np.ndarray:
        """Squared reconstruction error of every feature or pixel, shaped like the input.

        Returns
        -------
        ndarray
            ``(n, d)`` for tables, ``(n, c, h, w)`` for images given to a conv estimator; its
            mean over all axes but the first is :meth:`reconstruction_error`.

        Examples
        --------
        >>> detector.error_map(X[:2]).shape  # doctest: +SKIP
        (2, 64)
        """
        check_is_fitted(self, "offset_")
        data = self.estimator_._validate_input(X, reset=False)
        return (self.estimator_.reconstruct(X).astype(np.float64) - data) ** 2

    def transform(self, X: Any, *, out: np.ndarray | None = None) -> np.ndarray:
        """Codes of ``X`` from the wrapped autoencoder (to cluster or plot them); ``out`` as there."""
        check_is_fitted(self, "offset_")
        return self.estimator_.transform(X, out=out)

    def reconstruct(self, X: Any, *, out: np.ndarray | None = None) -> np.ndarray:
        """Reconstruction of ``X`` by the wrapped autoencoder; ``out`` as there."""
        check_is_fitted(self, "offset_")
        return self.estimator_.reconstruct(X, out=out)

    def _validate_input(self, X: Any, reset: bool) -> np.ndarray:
        return self.estimator_._validate_input(X, reset=reset)

    # -- persistence -------------------------------------------------------------------------
    def save(self, path, force: bool = False):
        """Save the autoencoder and the calibrated threshold to a folder (see :func:`hourglass.load`)."""
        from hourglass.estimators.persistence import save_estimator

        check_is_fitted(self, "offset_")
        return save_estimator(self, path, force=force)

    # Keys of config.json's "fitted" that belong to the detector; the rest are the wrapped
    # estimator's own, kept at the top level so that ``hourglass info`` shows them as usual.
    _DETECTOR_KEYS = ("estimator_class", "estimator_params", "threshold_", "offset_")

    def _saved_attributes(self) -> dict[str, Any]:
        inner = self.estimator_
        return {
            **inner._saved_attributes(),
            "estimator_class": type(inner).__name__,
            "estimator_params": {k: json_safe(v) for k, v in inner.get_params(deep=False).items()},
            "threshold_": float(self.threshold_),
            "offset_": float(self.offset_),
        }

    def _saved_tensors(self) -> dict[str, np.ndarray]:
        tensors = {f"estimator.{k}": v for k, v in self.estimator_._saved_tensors().items()}
        tensors["calibration_errors"] = np.asarray(self.calibration_errors_, dtype=np.float64)
        return tensors

    def _restore_attributes(self, fitted: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        name = fitted["estimator_class"]
        if name not in ESTIMATORS:
            raise KeyError(f"unknown wrapped estimator {name!r}")
        inner = ESTIMATORS[name](**{k: from_json(v) for k, v in fitted["estimator_params"].items()})
        for attribute, value in vars(self).pop("_loaded_parts", {}).items():
            setattr(inner, attribute, value)
        prefix = "estimator."
        inner._restore_attributes(
            {k: v for k, v in fitted.items() if k not in self._DETECTOR_KEYS},
            {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)},
        )
        self.estimator_ = inner
        self.threshold_ = float(fitted["threshold_"])
        self.offset_ = float(fitted["offset_"])
        self.calibration_errors_ = tensors["calibration_errors"]
        self.n_features_in_ = inner.n_features_in_
        if hasattr(inner, "feature_names_in_"):
            self.feature_names_in_ = inner.feature_names_in_


# -- out-of-distribution data and the report ------------------------------------------------------

#: Gray photographs shipped with scikit-image, used as "not digits" in the out-of-distribution demo.
PHOTOS = ("camera", "coins", "moon", "page", "text", "astronaut", "coffee", "chelsea", "rocket", "horse")


def photo_patches(n: int, size: int = 8, downscale: int = 4, random_state: int = 0) -> np.ndarray:
    """Random ``size`` x ``size`` gray patches of scikit-image's photos, in [0, 1], as rows.

    Photos are shrunk by ``downscale`` first, so a patch holds edges and texture at the scale
    of a whole digit rather than a few nearly flat pixels.

    Parameters
    ----------
    n : int
        Number of patches.
    size : int, default=8
        Side of a patch, in pixels.
    downscale : int, default=4
        Shrink factor applied to each photo before cutting patches.
    random_state : int, default=0
        Seed of the photo and position of each patch.

    Returns
    -------
    ndarray of shape (n, size * size), float32

    Examples
    --------
    >>> photo_patches(5).shape
    (5, 64)
    """
    from skimage import data as skdata
    from skimage.color import rgb2gray
    from skimage.transform import rescale
    from skimage.util import img_as_float

    if n < 1 or size < 1 or downscale < 1:
        raise InvalidInputError(
            f"photo_patches needs n, size and downscale >= 1; got {n}, {size}, {downscale}"
        )
    photos = []
    for name in PHOTOS:
        image = img_as_float(getattr(skdata, name)())
        if image.ndim == 3:
            image = rgb2gray(image[..., :3])
        photos.append(rescale(image, 1 / downscale, anti_aliasing=True))
    rng = np.random.default_rng(random_state)
    patches = np.empty((n, size * size), dtype=np.float32)
    for i in range(n):
        photo = photos[rng.integers(len(photos))]
        top = rng.integers(photo.shape[0] - size + 1)
        left = rng.integers(photo.shape[1] - size + 1)
        patches[i] = photo[top : top + size, left : left + size].ravel()
    return np.clip(patches, 0.0, 1.0)


def _score_histograms(errors: dict[str, np.ndarray], threshold: float):
    """Overlaid histograms of reconstruction errors per group, with the threshold marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.8, 3.8), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    positive = np.concatenate([e[e > 0] for e in errors.values()])
    log = positive.size > 0 and positive.max() / max(positive.min(), 1e-12) > 100
    lo, hi = (positive.min(), positive.max()) if positive.size else (0.0, 1.0)
    bins = np.geomspace(lo, hi, 50) if log else np.linspace(0.0, hi, 50)
    for (name, values), color in zip(errors.items(), ("#1f77b4", "#d62728", "#2ca02c"), strict=False):
        ax.hist(np.clip(values, lo, hi), bins=bins, alpha=0.6, color=color, label=f"{name} ({len(values)})")
    if log:
        ax.set_xscale("log")
    ax.axvline(threshold, color="#333333", linestyle="--", lw=1.2, label=f"threshold {threshold:.4g}")
    ax.set_xlabel("reconstruction error (MSE)")
    ax.set_ylabel("count")
    ax.legend(frameon=False, fontsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def anomaly_report_section(
    report,
    detector: AnomalyDetector,
    X_normal: Any,
    X_other: Any,
    names: tuple[str, str] = ("normal", "other"),
    image_shape: tuple[int, ...] | None = None,
) -> dict[str, float]:
    """Add the detector's score histograms, AUROC and the most abnormal samples to ``report``.

    Parameters
    ----------
    report : hourglass.report.html.Report
        The report to extend.
    detector : AnomalyDetector
        A fitted detector.
    X_normal : array-like or None
        Normal data the autoencoder did not train on; None uses the detector's calibration
        errors.
    X_other : array-like
        Data to score, e.g. another distribution (out-of-distribution demo) or new data.
    names : (str, str), default=("normal", "other")
        What to call the two groups.
    image_shape : tuple of int, optional
        How a row reshapes into an image; adds the most abnormal samples of ``X_other`` with
        their reconstructions and error maps. Inferred for image batches ``(n, c, h, w)``.

    Returns
    -------
    dict of str to float
        The figures shown: AUROC (when both groups are there), threshold, flagged shares.

    Examples
    --------
    >>> from hourglass.report.html import Report
    >>> report = Report("Digits vs photos")
    >>> anomaly_report_section(report, detector, X_test, photo_patches(300),
    ...                        names=("digits", "photo patches"), image_shape=(8, 8))  # doctest: +SKIP
    """
    from sklearn.metrics import roc_auc_score

    from hourglass.report import plots

    check_is_fitted(detector, "offset_")
    normal_errors = (
        detector.calibration_errors_ if X_normal is None else detector.reconstruction_error(X_normal)
    )
    other_errors = detector.reconstruction_error(X_other)
    normal_name = names[0] if X_normal is not None else f"{names[0]} (held-out calibration)"
    figures: dict[str, float] = {"threshold (MSE)": detector.threshold_}
    if len(normal_errors) and len(other_errors):
        truth = np.r_[np.zeros(len(normal_errors)), np.ones(len(other_errors))]
        figures["AUROC"] = float(roc_auc_score(truth, np.r_[normal_errors, other_errors]))
    figures[f"{names[0]} flagged"] = float(np.mean(normal_errors > detector.threshold_))
    figures[f"{names[1]} flagged"] = float(np.mean(other_errors > detector.threshold_))
    report.add_metrics(figures, heading="Anomaly scores")
    report.add_figure(
        _score_histograms({normal_name: normal_errors, names[1]: other_errors}, detector.threshold_),
        heading="Reconstruction error by group",
        caption="The score is the reconstruction error; samples right of the dashed threshold are flagged.",
    )
    other = np.asarray(X_other)
    if image_shape is None and other.ndim == 4:
        image_shape = other.shape[1:]
    if image_shape is not None and len(other):
        # Eight flagged samples spread from the most abnormal down to the threshold: the very
        # top alone is often one kind repeated (e.g. blank paper in every photo patch).
        order = np.argsort(other_errors)[::-1]
        n_flagged = max(int(np.sum(other_errors > detector.threshold_)), min(8, len(order)))
        worst = order[np.unique(np.linspace(0, n_flagged - 1, num=min(8, n_flagged)).astype(int))]
        flat = other[worst].reshape(len(worst), -1)
        recon = np.asarray(detector.reconstruct(other[worst])).reshape(len(worst), -1)
        maps = detector.error_map(other[worst]).reshape(len(worst), -1)
        report.add_figure(
            plots.reconstruction_grid({"input": flat, "reconstruction": recon}, tuple(image_shape)),
            heading=f"Abnormal {names[1]}",
        )
        gray = maps.reshape(len(worst), *tuple(image_shape))
        if gray.ndim == 4:
            gray = gray.mean(axis=1)  # one map per image: error averaged over channels
        report.add_figure(
            plots.image_grid(gray, [f"{e:.3g}" for e in other_errors[worst]], cmap="magma", vmin=0.0),
            caption="Squared error per pixel (bright: badly reconstructed); titles give the mean. Samples "
            "spread over those flagged, most abnormal first.",
        )
    return figures


__all__ = ["AnomalyDetector", "anomaly_report_section", "photo_patches", "PHOTOS", "THRESHOLDS"]
