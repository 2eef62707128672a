"""The AutoEncoder settings an :class:`~hourglass.estimators.anomaly.AnomalyDetector` forwards.

A detector takes its own parameters (the threshold rule, the calibration share, the seed) and,
keyword-only, every setting of the default AutoEncoder it builds when given no estimator. Its
``__init__`` declares them all (so that ``get_params``, ``clone``, persistence and type checkers
see them); the defaults it forwards are these, which a test holds the signature to. Its
scikit-learn ``_parameter_constraints`` come from the same declarations as the other
estimators': the forwarded settings' from :data:`~hourglass.estimators.params.PARAMS`, the
detector's own from the rules :mod:`~hourglass.estimators.outlier_scores` applies.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from hourglass.estimators import params as declared
from hourglass.estimators.code_distance import SCORE_KINDS
from hourglass.estimators.constraints import constraints_of
from hourglass.estimators.default_detector import DETECTION_HIDDEN
from hourglass.estimators.outlier_scores import SHARES, THRESHOLDS


def _forwarded_defaults() -> dict[str, Any]:
    """The default AutoEncoder's settings a detector accepts, with the detector's defaults."""
    settings = {name: value for name, value in declared.defaults("dense").items() if name != "random_state"}
    # The seed is the detector's own (it also draws the calibration split); the code size is
    # chosen from the input's width unless given; a detector trains quietly, like scikit-learn's.
    # A short run (epochs='auto' is resolved for detection by detection_epochs): AUROC stops
    # gaining long before reconstruction does. One hidden layer of 128: a detector should not
    # reconstruct everything well, and it costs two thirds of the time of 256-128 for the same
    # AUROC. scaling='auto' means 'shrunk' for data in [0, 1] (detection_scaling): plain
    # standardization won 1.5 points on Fashion-MNIST's classes but lost 1.5 on digits' (99.54 ->
    # 98.08 mean AUROC) and made one Fashion class diverge; the shrunk variances keep the gain.
    # No PCA path: a detector's scores were measured from random weights on classes of every
    # size, and a start at PCA's solution makes its errors PCA's for a while.
    settings.update(code_size=None, verbose=0, hidden_layers=DETECTION_HIDDEN, pca_path=False)
    return settings


_FORWARDED = _forwarded_defaults()


def _same(value: Any, default: Any) -> bool:
    try:
        return value is default or bool(value == default)
    except (TypeError, ValueError):  # e.g. an array, which has no single truth value
        return False


def _share(name: str) -> list[Any]:
    low, high, closed = SHARES[name]
    return [Interval(Real, low, high, closed="right" if closed else "neither")]


def detector_constraints() -> dict[str, list[Any]]:
    """``_parameter_constraints`` of a detector, in the order of its signature.

    Its own parameters first (an autoencoder or None, the threshold rule or a fixed MSE, the
    shares, the seed, the kind of score), then every forwarded setting with the constraints it has on an
    AutoEncoder, so that ``fit`` refuses a bad choice with the same line
    (:func:`~hourglass.estimators.constraints.check_choices`).
    """
    own = {
        "estimator": [HasMethods(["fit", "reconstruction_error"]), None],
        "threshold": [StrOptions(set(THRESHOLDS)), Interval(Real, 0, None, closed="left")],
        "quantile": _share("quantile"),
        "contamination": [*_share("contamination"), StrOptions({"auto"}), None],
        "calibration_fraction": _share("calibration_fraction"),
        "random_state": constraints_of(declared.BY_NAME["random_state"]),
        "score_kind": [StrOptions(set(SCORE_KINDS))],
    }
    return {**own, **{name: constraints_of(declared.BY_NAME[name]) for name in _FORWARDED}}
