"""Anomaly and out-of-distribution detection by reconstruction error.

An autoencoder is data-specific: trained on digits it reconstructs digits well and anything
else badly, so its reconstruction error is an anomaly score. :class:`AnomalyDetector` wraps any
hourglass estimator as a scikit-learn outlier detector and calibrates the threshold on normal
data the autoencoder did not train on; the threshold is saved with the model.

This module holds the estimator. The AutoEncoder settings it forwards, and the constraints of
every parameter, are declared in :mod:`~hourglass.estimators.detector_params`, the default
AutoEncoder in :mod:`~hourglass.estimators.default_detector`, the threshold rule, the
calibration split and probabilities in :mod:`~hourglass.estimators.outlier_scores`, the fitted
state it passes through to its autoencoder and saves in
:mod:`~hourglass.estimators.detector_state`, the autoencoder's outputs it passes on (codes,
reconstructions, layers, exports) in :mod:`~hourglass.estimators.detector_outputs`; its report
section is presentation (:mod:`hourglass.report.anomaly`), the photo patches of the
out-of-distribution demo are data (:mod:`hourglass.data.photos`). The public names below the
report are importable from here too.
"""

from __future__ import annotations

import datetime
from typing import Any, ClassVar

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, OutlierMixin, TransformerMixin, clone
from sklearn.utils import ClassifierTags, TransformerTags, _safe_indexing
from sklearn.utils.validation import _num_samples, check_is_fitted

from hourglass.data.duplicates import duplicate_groups
from hourglass.data.memory import dense_rows
from hourglass.data.photos import PHOTOS, photo_patches
from hourglass.data.validation import check_binary_labels, check_ignored_y
from hourglass.estimators import detector_state
from hourglass.estimators.atomic import all_or_nothing
from hourglass.estimators.code_distance import SCORE_KINDS, combined_score, fit_combined_score
from hourglass.estimators.constraints import check_choices
from hourglass.estimators.default_detector import (
    DETECTION_MIN_EPOCHS,
    DETECTION_STEPS,
    _default_estimator,
    detection_epochs,
    detection_scaling,
)
from hourglass.estimators.detector_outputs import DetectorOutputs, speaking_as
from hourglass.estimators.detector_params import _FORWARDED, _same, detector_constraints
from hourglass.estimators.detector_scores import DetectorScores
from hourglass.estimators.detector_state import delegated
from hourglass.estimators.outlier_scores import (
    PROBA_METHODS,
    THRESHOLDS,
    calibration_split,
    error_quantile,
    score_units,
    threshold_rule,
    warn_if_few_scores,
)
from hourglass.estimators.params import store_parameters
from hourglass.estimators.persistence import register_estimator
from hourglass.estimators.seen_rows import warn_if_training_rows
from hourglass.exceptions import InvalidInputError
from hourglass.runtime.seeds import as_seed
from hourglass.train import checkpoint


@register_estimator
class AnomalyDetector(DetectorScores, DetectorOutputs, OutlierMixin, TransformerMixin, BaseEstimator):
    """Outlier detector scoring samples by how badly an autoencoder fits them.

    The score (:meth:`anomaly_score`, higher is more abnormal) is by default the reconstruction
    error plus half the squared Mahalanobis distance of the sample's code from the normal
    data's codes, each in units of its median over held-out normal rows: the error sees a
    sample off the surface the autoencoder learned, the distance one on it but far along it
    (:mod:`hourglass.estimators.code_distance`); ``score_kind='reconstruction'`` keeps the error
    alone. Follows scikit-learn's outlier detectors: ``score_samples`` is higher for more normal
    samples (the negative score), ``decision_function`` is ``score_samples - offset_``
    (negative for anomalies) and ``predict`` returns +1 for inliers, -1 for outliers. It also
    has PyOD's fitted attributes and ``predict_proba``, with PyOD's meanings:
    ``decision_scores_`` is higher for more abnormal samples (the score), ``labels_`` is 1 for
    outliers and 0 for inliers, ``threshold_`` is on the scale of ``decision_scores_``. Mind the
    signs: PyOD's ``decision_function(X)`` is this class's ``anomaly_score(X)``, that is
    ``threshold_ - decision_function(X)``, and PyOD's ``predict`` gives 1 where this one gives -1
    (see the PyOD table of docs/guide/anomaly.md).

    Parameters
    ----------
    estimator : BaseAutoEncoder or None, default=None
        The autoencoder. An unfitted one is cloned and fitted on part of ``X``, the rest
        calibrates the threshold; a fitted one is used as it is and all of ``X`` calibrates
        (so pass normal data it did not train on: the very data it was fitted on, the same
        array or file, is warned of with :class:`~hourglass.exceptions.TrainingRowsWarning`,
        a subset or shuffle of it is not recognised). None: a dense ``AutoEncoder`` built from
        the settings below.
    threshold : {'auto', 'quantile', 'contamination'} or float, default='auto'
        'quantile': flag scores above the ``quantile`` of the held-out normal rows' scores
        (about ``1 - quantile`` false alarms on normal data); 'contamination': the data given
        to fit hold ``contamination`` anomalies, so flag that share of them (``labels_``), as
        PyOD and scikit-learn's outlier detectors do; 'auto': 'contamination' when
        ``contamination`` is set, 'quantile' otherwise; a number: a fixed threshold on the
        score's scale (see ``threshold_``; with ``score_kind='reconstruction'`` a
        reconstruction MSE in the autoencoder's units).
    quantile : float, default=0.99
        The quantile rule's share, in (0, 1).
    contamination : float, 'auto' or None, default=None
        The share of anomalies in the data given to fit, in (0, 0.5]: setting it chooses the
        contamination rule (with ``threshold='auto'``). None (or ``'auto'``, scikit-learn's
        outlier detectors' default): not known, so the quantile rule
        (``threshold='contamination'`` alone assumes 0.01).
    calibration_fraction : float, default=0.2
        Share of ``X`` held out from training to calibrate the threshold (unfitted estimator).
    random_state : int, RandomState or None, default=None
        Seed of the calibration split and of the autoencoder (one given as ``estimator=`` keeps
        a seed of its own); None draws one, kept in ``seed_``.
    score_kind : {'combined', 'reconstruction'}, default='combined'
        Keyword-only. 'combined': the reconstruction error plus half the code's squared
        Mahalanobis distance from the nearest cluster of the codes the autoencoder trained on
        (one cloud: Ledoit-Wolf covariance; several: a Gaussian mixture sharing one covariance,
        as many components as the BIC asks for), each divided by its median over the
        calibration rows (PCA monitoring's Q and T^2 statistics, together).
        'reconstruction': the reconstruction MSE alone, in the autoencoder's units (the score of
        detectors saved before 'combined' existed).
    code_size : int or None, default=None
        Keyword-only, like every parameter of :class:`~hourglass.AutoEncoder` but
        ``random_state`` (``hidden_layers``, ``epochs``, ...; see the signature): passed to the
        default autoencoder, with its defaults except ``code_size=None`` (a quarter of the
        input's width, at most 16), ``hidden_layers=(128,)`` (a net that cannot reconstruct
        everything), ``epochs='auto'`` meaning about 200 steps and at least 20 epochs (detection
        stops gaining long before reconstruction does; :func:`detection_epochs`),
        ``scaling='auto'`` meaning 'shrunk' for data in [0, 1] (every feature centred and
        weighed by its spread; :func:`detection_scaling`), ``pca_path=False`` (random weights,
        as the detector's scores were measured; from PCA's solution its errors are PCA's for a
        while) and ``verbose=0``:
        ``AnomalyDetector(code_size=4, epochs=5)``. Refused with ``estimator``, which carries
        its own settings. A ``max_time`` bounds the autoencoder's fit; the calibration after
        it (scoring the rows given, fitting the code distance: about 0.4 s for 6,000 images on
        one core) is not counted.

    Attributes
    ----------
    estimator_ : BaseAutoEncoder
        The fitted autoencoder.
    threshold_ : float
        Score above which a sample is an outlier; on the scale of ``decision_scores_``, as in
        PyOD. Reconstruction errors are in the autoencoder's units (``score_units_``):
        per-feature z-scores from its training rows for standardized data, so that no single
        column in large numbers decides them; the data's own units for data in [0, 1]. A
        combined score is in medians of the calibration rows (a typical normal row scores
        about 1.5).
    threshold_raw_ : float or None
        With ``score_kind='reconstruction'``, the same quantile of the calibration errors in the
        data's raw units, for reading beside ``threshold_`` (None for a fixed threshold and for
        a combined score, which has no raw units).
    score_kind_ : {'combined', 'reconstruction'}
        The ``score_kind`` the detector was fitted with.
    code_distance_ : CodeDistance
        With a combined score: the center and precision of the normal codes, or of each
        component of their Gaussian mixture where they form several clusters
        (``code_distance_.n_components``); a code's distance is from the nearest.
    error_scale_, distance_scale_ : float
        With a combined score: the medians of the calibration rows' reconstruction errors and
        code distances, the units of the score's two halves.
    score_units_ : {'scaled', 'raw'}
        'scaled' (the autoencoder's units, as above); 'raw' for detectors saved before
        scores were scaled, which keep their raw-unit threshold.
    offset_ : float
        ``-threshold_``, following scikit-learn's convention.
    decision_scores_ : ndarray of shape (n_samples,)
        Score of each sample of the ``X`` given to ``fit``, in its order (PyOD: higher is more
        abnormal). Models saved before it existed load with the calibration scores in its
        place.
    labels_ : ndarray of shape (n_samples,)
        ``decision_scores_ > threshold_`` as 0 (inlier) or 1 (outlier), as in PyOD.
    calibration_errors_ : ndarray
        Scores of the held-out calibration samples (their reconstruction errors, with
        ``score_kind='reconstruction'``).
    seed_ : int
        The seed of the split and the autoencoder, drawn from ``random_state``:
        ``AnomalyDetector(random_state=detector.seed_)`` fits the same detector (on the CPU, as
        :class:`~hourglass.AutoEncoder`'s ``random_state`` says). Absent from detectors saved
        before it was kept, but for an int ``random_state``.
    n_features_in_ : int
    n_iter_, loss_curve_ : int, list of float
        The wrapped autoencoder's epochs and training loss after each, as
        :class:`~hourglass.AutoEncoder` has them.

    Examples
    --------
    >>> from hourglass.data.loading import load_data
    >>> X = load_data("digits").X
    >>> detector = AnomalyDetector(code_size=8, epochs=5, quantile=0.95, random_state=0).fit(X)
    >>> detector.predict(X[:3]).tolist()  # doctest: +SKIP
    [1, 1, 1]
    >>> detector.predict_proba(X[:2]).shape  # (normal, abnormal) per sample
    (2, 2)
    >>> detector.save("digits-detector", force=True)  # doctest: +SKIP
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = detector_constraints()

    # The detector's own parameters, then the default AutoEncoder's settings (keyword-only, with
    # the defaults of _forwarded_defaults and the types of hourglass.estimators.params; checked
    # by tests/test_params.py), declared so that get_params, clone, persistence and type
    # checkers see them as ordinary parameters.
    def __init__(
        self,
        estimator: Any = None,
        threshold: str | float = "auto",
        quantile: float = 0.99,
        contamination: float | str | None = None,
        calibration_fraction: float = 0.2,
        random_state: Any = None,
        *,
        score_kind: str = "combined",
        code_size: int | None = None,
        hidden_layers: tuple[int, ...] | str = (128,),
        decoder_layers: tuple[int, ...] | None = None,
        activation: str = "gelu",
        pca_path: bool | str = False,
        loss: str = "auto",
        scaling: str = "auto",
        epochs: int | str = "auto",
        max_time: float | str | datetime.timedelta | dict | None = None,
        threads: int | str = "auto",
        batch_size: int = 256,
        learning_rate: float | str = "auto",
        weight_decay: float = 0.01,
        validation_fraction: float = 0.1,
        patience: int = 30,
        device: str = "auto",
        precision: str = "auto",
        compile: bool = False,
        checkpoint_dir: str | None = None,
        verbose: int = 0,
        warm_start: bool = False,
        callbacks: Any = None,
        noise: str | None = "gaussian",
        noise_level: float = 0.3,
        noise_schedule: str = "cosine",
        dropout: float = 0.0,
        l1_penalty: float = 0.0,
        kl_penalty: float = 0.0,
        sparsity_target: float = 0.05,
        topk: int | None = None,
        topk_aux_penalty: float = 1 / 32,
        contractive_penalty: float = 0.0,
        encoder: Any = None,
        freeze_encoder: bool = False,
        decoder: Any = None,
        freeze_decoder: bool = False,
        pretrain: str | None = None,
    ) -> None:
        store_parameters(self, locals())

    module_ = delegated("module_")
    scaler_ = delegated("scaler_")
    architecture_ = delegated("architecture_")
    history_ = delegated("history_")
    # Read-only on the autoencoder: what a user of AutoEncoder plots (training's loss curve).
    n_iter_ = delegated("n_iter_")
    loss_curve_ = delegated("loss_curve_")

    # -- fitting -----------------------------------------------------------------------------
    def _error_quantile(self) -> float | None:
        """The quantile of held-out errors that sets the threshold, None for a fixed one."""
        return error_quantile(self.threshold, self.quantile, self.contamination)

    def _settings(self) -> dict[str, Any]:
        """The AutoEncoder settings given to the detector (for the default estimator)."""
        return {name: getattr(self, name) for name in _FORWARDED}

    @all_or_nothing
    def fit(self, X: Any, y: Any = None, *, resume: bool = False) -> AnomalyDetector:
        """Fit the autoencoder on normal data ``X`` and calibrate the threshold (``y`` is ignored).

        Parameters
        ----------
        X : array-like
            Normal samples, in the shape the estimator takes.
        y : None or str
            Ignored, unless ``X`` is a DataFrame and ``y`` names its label column, which is then
            never a feature (see :meth:`hourglass.AutoEncoder.fit`).
        resume : bool, default=False
            Continue the autoencoder's training from the checkpoint in ``checkpoint_dir`` (an
            interrupted fit with the same data and ``random_state``, so the same split; with
            ``random_state=None``, the split of the seed the checkpoint recorded).

        Returns
        -------
        self
        """
        q = self._error_quantile()
        settings = self._settings()
        if self.estimator is not None and not hasattr(self.estimator, "reconstruction_error"):
            raise InvalidInputError(
                f"estimator must be an hourglass autoencoder, got {type(self.estimator).__name__}"
            )
        changed = {name: value for name, value in settings.items() if not _same(value, _FORWARDED[name])}
        if self.estimator is not None and changed:
            given = ", ".join(f"{name}={value!r}" for name, value in changed.items())
            raise InvalidInputError(
                f"AnomalyDetector got both estimator= and the settings {given}; set them on the "
                "estimator, or leave out estimator= to build the default AutoEncoder from them"
            )
        # Settings outside their choices are refused before the data are read, as an
        # AutoEncoder refuses them (with the settings unchanged, an estimator= passes this).
        check_choices(self)
        check_ignored_y(X, y)
        if scipy.sparse.issparse(X):  # dense once here, not again in every split and score
            X = dense_rows(X)
        if not hasattr(X, "shape") and hasattr(X, "__array__"):
            X = np.asarray(X)  # an array-like object: read it once, as an array
        n = _num_samples(X)
        # Scores in the autoencoder's units: per-feature z-scores for standardized data, so
        # that the column with the largest numbers (wine's proline) does not set the threshold.
        self.score_units_ = "scaled"
        if self.score_kind not in SCORE_KINDS:
            raise InvalidInputError(f"score_kind={self.score_kind!r}; expected one of {SCORE_KINDS}")
        self.score_kind_ = self.score_kind
        for stale in ("code_distance_", "error_scale_", "distance_scale_"):  # of an earlier fit
            vars(self).pop(stale, None)
        if self.estimator is not None and hasattr(self.estimator, "module_"):
            if resume:
                raise InvalidInputError("resume=True, but the estimator given is trained already")
            # Already trained: every sample of X is held-out normal data.
            self.seed_ = as_seed(self.random_state)  # no split to draw here; kept as every fit keeps it
            self.estimator_ = self.estimator
            train = calibration = X
        else:
            template = self.estimator
            self.seed_ = self._split_seed(template, resume)
            groups = duplicate_groups(X)
            train_idx, cal_idx = calibration_split(n, self.calibration_fraction, self.seed_, groups, X)
            if template is None:  # the default AutoEncoder, sized and scaled for X
                template = _default_estimator(X, y, self.seed_, settings, len(train_idx))
            train = _safe_indexing(X, train_idx)
            # A column name in y is the DataFrame's label column, never a feature.
            label = y if isinstance(y, str) else None
            self.estimator_ = self._model_to_train(template).fit(train, label, resume=resume)
            calibration = _safe_indexing(X, cal_idx)
        errors = self.estimator_.reconstruction_error(calibration, scaled=True)
        if self.estimator_ is self.estimator:  # trained already: not on these very rows, we hope
            warn_if_training_rows(self.estimator_, X)
        if self.score_kind_ == "combined":
            self.calibration_errors_ = fit_combined_score(self, train, calibration, errors)
            self.threshold_raw_ = None  # a combined score has no raw units
        else:
            self.calibration_errors_ = errors
            contaminated = threshold_rule(self.threshold, self.contamination) == "contamination"
            raw = self.estimator_.reconstruction_error(X if contaminated else calibration)
            self.threshold_raw_ = None if q is None else float(np.quantile(raw, q))
        if calibration is X:
            self.decision_scores_ = np.array(self.calibration_errors_, dtype=np.float64)  # a copy
        else:  # PyOD's decision_scores_ cover all of the data given to fit, in its order.
            self.decision_scores_ = np.empty(n, dtype=np.float64)
            train_scores = self.estimator_.reconstruction_error(train, scaled=True)
            if self.score_kind_ == "combined":
                train_scores = combined_score(self, train, train_scores)
            self.decision_scores_[train_idx] = train_scores
            self.decision_scores_[cal_idx] = self.calibration_errors_
        # The contamination rule flags its share of the data given to fit (PyOD's labels_); the
        # quantile rule reads held-out normal rows, whose scores new normal data resemble.
        contaminated = threshold_rule(self.threshold, self.contamination) == "contamination"
        reference = self.decision_scores_ if contaminated else self.calibration_errors_
        threshold = float(self.threshold) if q is None else float(np.quantile(reference, q))
        if q is not None:
            warn_if_few_scores(len(reference), q)
        self.threshold_ = threshold
        self.offset_ = -threshold
        self.labels_ = (self.decision_scores_ > threshold).astype(np.int64)
        self.n_features_in_ = self.estimator_.n_features_in_
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        else:  # a refit on an array: the names of an earlier DataFrame no longer hold
            vars(self).pop("feature_names_in_", None)
        return self

    def _split_seed(self, template: Any, resume: bool) -> int:
        """The seed of the calibration split and of an autoencoder without a seed of its own:
        ``random_state``'s, or when resuming with None, the seed the checkpoint recorded (the
        autoencoder was given this seed, so the checkpoint's is the interrupted run's, and the
        split, hence the training rows, are the same: a fresh one made every resume fail)."""
        params = template.get_params() if template is not None else self.get_params()
        directory = params.get("checkpoint_dir")
        if resume and self.random_state is None and params.get("random_state") is None and directory:
            seed = checkpoint.saved_seed(directory)
            if seed is not None:
                return seed
        return as_seed(self.random_state)

    def _model_to_train(self, template: Any) -> Any:
        """A fresh clone of ``template``, or under ``warm_start`` the autoencoder of the last fit,
        given the template's settings, to continue from its weights (as the template's own
        ``warm_start`` asks when it is given as ``estimator=``). A template without a seed is
        given the detector's (``seed_``), so that ``seed_`` reproduces the whole fit."""
        previous = getattr(self, "estimator_", None)
        model = clone(template)
        if "random_state" in model.get_params() and model.get_params()["random_state"] is None:
            model.set_params(random_state=self.seed_)
        continues = model.get_params().get("warm_start", False) and previous is not self.estimator
        if continues and previous is not None and type(previous) is type(model):
            return previous.set_params(**model.get_params(deep=False))
        return model

    def transform(self, X: Any, *, out: np.ndarray | None = None) -> np.ndarray:
        """Codes of ``X`` from the wrapped autoencoder (to cluster or plot them); ``out`` as there."""
        # Here, not with the other outputs in DetectorOutputs: scikit-learn's set_output wraps
        # only a transform defined by the class itself.
        check_is_fitted(self, "offset_")
        with speaking_as(self):
            return self.estimator_.transform(X, out=out)

    def _validate_input(self, X: Any, reset: bool) -> np.ndarray:
        return self.estimator_._validate_input(X, reset=reset)

    # -- persistence -------------------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # transform gives the wrapped autoencoder's codes: scikit-learn checks it as a transformer.
        tags.transformer_tags = TransformerTags(preserves_dtype=["float64", "float32"])
        tags.non_deterministic = False
        tags.input_tags.sparse = True  # made dense once, as an AutoEncoder's rows are
        tags.classifier_tags = ClassifierTags(multi_class=False)  # predict_proba has 2 columns
        return tags

    def save(self, path, force: bool = False):
        """Save the autoencoder and the calibrated threshold to a folder (see :func:`hourglass.load`)."""
        from hourglass.estimators.persistence import save_estimator

        check_is_fitted(self, "offset_")
        return save_estimator(self, path, force=force)

    # Keys of config.json's "fitted" that belong to the detector (the rest are the autoencoder's).
    _DETECTOR_KEYS = detector_state.DETECTOR_KEYS

    def _saved_attributes(self) -> dict[str, Any]:
        return detector_state.saved_attributes(self)

    def _saved_tensors(self) -> dict[str, np.ndarray]:
        return detector_state.saved_tensors(self)

    def _restore_attributes(self, fitted: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        detector_state.restore_attributes(self, fitted, tensors)


# Names defined in data/photos.py, data/validation.py, default_detector.py
# and outlier_scores.py are offered here too, where callers have always imported them.
__all__ = [
    "AnomalyDetector",
    "DETECTION_MIN_EPOCHS",
    "DETECTION_STEPS",
    "check_binary_labels",
    "detection_epochs",
    "detection_scaling",
    "photo_patches",
    "score_units",
    "PHOTOS",
    "PROBA_METHODS",
    "THRESHOLDS",
]
