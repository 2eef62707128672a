"""An :class:`~hourglass.estimators.anomaly.AnomalyDetector`'s fitted state, and how it is saved.

A detector holds a fitted autoencoder (``estimator_``) and its calibration. The persistence
layer reads and writes the parts of a model (``module_``, ``scaler_``, ...) on the object it
saves or loads, so the detector passes them through to its autoencoder (:func:`delegated`); its
config.json holds the autoencoder's fitted attributes at the top level, so that ``hourglass
info`` shows them as usual, beside the detector's own (:data:`DETECTOR_KEYS`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone

from hourglass.estimators import fitted_state
from hourglass.estimators.code_distance import SCORE_KINDS, CodeDistance
from hourglass.estimators.persistence import ESTIMATORS, loaded_params, saved_params
from hourglass.exceptions import InvalidInputError

# Fitted state of the wrapped estimator that the persistence layer reads and writes on the
# object it saves or loads; a detector keeps it on its ``estimator_``.
DELEGATED = ("module_", "scaler_", "architecture_", "history_")

#: Keys of config.json's "fitted" that belong to the detector; the rest are the wrapped
#: estimator's own.
DETECTOR_KEYS = (
    "estimator_class",
    "estimator_params",
    "estimator_given_",
    "threshold_",
    "offset_",
    "score_units_",
    "threshold_raw_",
    "score_kind_",
    "error_scale_",
    "distance_scale_",
    "detector_seed_",
)


def delegated(name: str) -> property:
    """A property reading and writing ``name`` on the detector's ``estimator_``."""

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


def saved_attributes(detector: Any) -> dict[str, Any]:
    """config.json's "fitted" of a detector: its autoencoder's, then the detector's own."""
    inner = detector.estimator_
    return {
        **fitted_state.saved_attributes(inner),
        "estimator_class": type(inner).__name__,
        "estimator_params": saved_params(inner),
        # The estimator= template is the wrapped model's parameters: a loaded detector refits it.
        "estimator_given_": detector.estimator is not None,
        "threshold_": float(detector.threshold_),
        "offset_": float(detector.offset_),
        "score_units_": getattr(detector, "score_units_", "raw"),
        "threshold_raw_": getattr(detector, "threshold_raw_", None),
        "score_kind_": getattr(detector, "score_kind_", "reconstruction"),
        **combined_scales(detector),
        # Its own key: "seed_" is the autoencoder's, whose seed may be another (its own random_state).
        **({"detector_seed_": int(detector.seed_)} if hasattr(detector, "seed_") else {}),
    }


def combined_scales(detector: Any) -> dict[str, float]:
    """The units of a combined score's two halves, or nothing for a reconstruction score."""
    if getattr(detector, "score_kind_", "reconstruction") != "combined":
        return {}
    return {"error_scale_": float(detector.error_scale_), "distance_scale_": float(detector.distance_scale_)}


def saved_tensors(detector: Any) -> dict[str, np.ndarray]:
    """The arrays a detector saves: its autoencoder's (prefixed ``estimator.``) and its errors."""
    tensors = {f"estimator.{k}": v for k, v in fitted_state.saved_tensors(detector.estimator_).items()}
    tensors["calibration_errors"] = np.asarray(detector.calibration_errors_, dtype=np.float64)
    # A copy: safetensors refuses two names for one buffer.
    tensors["decision_scores"] = np.array(detector.decision_scores_, dtype=np.float64)
    if getattr(detector, "score_kind_", "reconstruction") == "combined":
        tensors["code_center"] = np.asarray(detector.code_distance_.center, dtype=np.float64)
        tensors["code_precision"] = np.asarray(detector.code_distance_.precision, dtype=np.float64)
    return tensors


def restore_attributes(detector: Any, fitted: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
    """Rebuild a loaded detector's autoencoder and calibration from what :func:`saved_attributes` wrote."""
    name = fitted["estimator_class"]
    if name not in ESTIMATORS:
        raise KeyError(f"unknown wrapped estimator {name!r}")
    inner = ESTIMATORS[name](**loaded_params(fitted["estimator_params"]))
    if fitted.get("estimator_given_"):
        detector.estimator = clone(inner)  # before the fitted state: the template, unfitted
    for attribute, value in vars(detector).pop("_loaded_parts", {}).items():
        setattr(inner, attribute, value)
    prefix = "estimator."
    fitted_state.restore_attributes(
        inner,
        {k: v for k, v in fitted.items() if k not in DETECTOR_KEYS},
        {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)},
    )
    detector.estimator_ = inner
    detector.threshold_ = float(fitted["threshold_"])
    detector.offset_ = float(fitted["offset_"])
    # Detectors saved before their seed was kept: an int random_state was the seed.
    seed = fitted.get("detector_seed_", detector.random_state)
    if isinstance(seed, int) and not isinstance(seed, bool):
        detector.seed_ = seed
    # Detectors saved before scores were scaled keep their raw-unit threshold.
    detector.score_units_ = fitted.get("score_units_", "raw")
    if detector.score_units_ not in ("raw", "scaled"):
        raise InvalidInputError(f"score_units_={detector.score_units_!r}; expected 'raw' or 'scaled'")
    detector.threshold_raw_ = fitted.get(
        "threshold_raw_", detector.threshold_ if detector.score_units_ == "raw" else None
    )
    detector.calibration_errors_ = tensors["calibration_errors"]
    # A model saved before decision_scores_ existed: its calibration errors are the scores
    # of training-time data it has (all of them, for a detector of a prefitted estimator).
    detector.decision_scores_ = tensors.get("decision_scores", detector.calibration_errors_.copy())
    _restore_score(detector, fitted, tensors, width=int(inner._n_features_out))
    detector.labels_ = (detector.decision_scores_ > detector.threshold_).astype(np.int64)
    detector.n_features_in_ = inner.n_features_in_
    if hasattr(inner, "feature_names_in_"):
        detector.feature_names_in_ = inner.feature_names_in_


def _restore_score(detector: Any, fitted: dict[str, Any], tensors: dict[str, np.ndarray], width: int) -> None:
    """The kind of score and, for a combined one, its code distance and units (checked shapes)."""
    # Detectors saved before the combined score existed scored by reconstruction alone.
    kind = fitted.get("score_kind_", "reconstruction")
    if kind not in SCORE_KINDS:
        raise InvalidInputError(f"score_kind_={kind!r}; expected one of {SCORE_KINDS}")
    detector.score_kind_ = detector.score_kind = kind
    if kind != "combined":
        return
    center, precision = tensors["code_center"], tensors["code_precision"]
    # One cloud: (width,) and (width, width); a mixture of k components: (k, width) and
    # (k, width, width).
    one = center.shape == (width,) and precision.shape == (width, width)
    mixture = (
        center.ndim == 2 and center.shape[1:] == (width,) and precision.shape == (len(center), width, width)
    )
    if not (one or mixture) or not np.all(np.isfinite(precision)):
        raise InvalidInputError(
            f"code_center {center.shape} and code_precision {precision.shape}; expected ({width},) "
            f"and ({width}, {width}) for a code of {width}, or (k, {width}) and (k, {width}, {width}) "
            "for a mixture of k components, all finite"
        )
    detector.code_distance_ = CodeDistance(center=center, precision=precision)
    for name in ("error_scale_", "distance_scale_"):
        value = float(fitted[name])
        if not (np.isfinite(value) and value > 0):
            raise InvalidInputError(f"{name}={value!r}; expected a positive number")
        setattr(detector, name, value)
