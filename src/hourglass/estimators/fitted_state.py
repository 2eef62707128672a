"""An autoencoder's fitted state as a model folder keeps it: JSON attributes and extra tensors.

:mod:`hourglass.estimators.persistence` writes the weights and the scaler itself; what else a
fitted estimator knows (its loss, seed, epochs, table, validation error, input shape) is saved in
``config.json`` by :func:`saved_attributes`, its extra arrays in ``weights.safetensors`` by
:func:`saved_tensors`, and both are set again by :func:`restore_attributes`. The parts contribute
their own: the bottleneck part (:mod:`hourglass.estimators.bottlenecks`) fields and tensors, the
input part (:mod:`hourglass.estimators.inputs`) the fitted shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hourglass.data.table import TableSchema
from hourglass.exceptions import InvalidInputError


def saved_attributes(est: Any) -> dict[str, Any]:
    """Fitted state saved in ``config.json`` (JSON types only), from the estimator and its parts.

    An estimator that wraps an autoencoder (the anomaly detector) saves its own state, around the
    autoencoder's, with a method of the same name.
    """
    if hasattr(est, "_saved_attributes"):
        return est._saved_attributes()
    fitted = {
        "loss_": est.loss_,
        "loss_reason_": est.loss_reason_,
        "n_features_in_": int(est.n_features_in_),
        "feature_names_in_": list(map(str, getattr(est, "feature_names_in_", []))) or None,
        "table_": est.table_.to_json() if getattr(est, "table_", None) is not None else None,
        "n_features_out": int(est._n_features_out),
        "seed_": int(est.seed_),
        "learning_rate_": getattr(est, "learning_rate_", None),
        "n_epochs_": int(est.n_epochs_),
        "fit_seconds_": float(est.fit_seconds_),
        "device_": est.device_,
        "validation_mse_": getattr(est, "validation_mse_", None),
        "validation_mse_scaled_": getattr(est, "validation_mse_scaled_", None),
        "validation_pca_mse_": getattr(est, "validation_pca_mse_", None),
        **est._bottleneck().saved_attributes(est),
        **est._input().saved_attributes(est),
    }
    if hasattr(est, "pca_path_"):  # a dense autoencoder's: whether it has the PCA path, and why
        fitted.update(pca_path_=bool(est.pca_path_), pca_path_reason_=est.pca_path_reason_)
    if hasattr(est, "arch_"):  # chose its input part from the data (the VAE): which, and the shape
        fitted.update(arch_=est.arch_, input_shape_=list(est.input_shape_))
    return fitted


def saved_tensors(est: Any) -> dict[str, np.ndarray]:
    """Fitted arrays saved in ``weights.safetensors`` besides the weights and the scaler."""
    if hasattr(est, "_saved_tensors"):  # a wrapper's own, as in saved_attributes
        return est._saved_tensors()
    return est._bottleneck().saved_tensors(est)


def restore_attributes(est: Any, fitted: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
    """Inverse of :func:`saved_attributes` and :func:`saved_tensors`."""
    if hasattr(est, "_restore_attributes"):  # a wrapper's own, as in saved_attributes
        est._restore_attributes(fitted, tensors)
        return
    for name, value in fitted.items():
        if name == "feature_names_in_":
            if value:
                est.feature_names_in_ = np.asarray(value, dtype=object)
        elif name == "table_":
            if value is not None:
                est.table_ = TableSchema.from_json(value)
        elif name == "n_features_out":
            est._n_features_out = value
        else:
            setattr(est, name, value)
    names = getattr(est, "feature_names_in_", None)
    if getattr(est, "table_", None) is None and names is not None:
        # Saved before models kept their table: the names scikit-learn kept say as much.
        est.table_ = TableSchema(tuple(map(str, names)), (), n_features=len(names))
    est._bottleneck().restore(est, fitted, tensors)
    est._input().restore(est, fitted)
    if "arch_" in fitted and est.arch_ not in ("dense", "conv"):  # the keys of inputs.ARCHES
        raise InvalidInputError(f"fitted arch_={est.arch_!r}; expected 'dense' or 'conv'")


__all__ = ["restore_attributes", "saved_attributes", "saved_tensors"]
