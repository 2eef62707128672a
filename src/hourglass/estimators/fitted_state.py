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
from hourglass.nn.config import layer_widths

#: JSON types of what a run resolved, which a model folder keeps since versions after 0.2.0
#: (:data:`hourglass.estimators.persistence.FITTED_TYPES` holds them with the rest).
RUN_TYPES: dict[str, Any] = {
    "epochs_": int,
    "learning_rate_reason_": str,
    "statistics_basis_": str,
    "data_range_": tuple[float, float],
    "detector_seed_": int,  # an AnomalyDetector's seed_ (its "seed_" is its autoencoder's)
    "training_data_fingerprint_": dict[str, Any],  # shape, dtype, hash of the rows fit was given
}


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
    # What the run resolved from 'auto' settings and the data; salt-and-pepper noise of a later
    # partial_fit writes data_range_. Left out where a fit never set them.
    for name in ("epochs_", "learning_rate_reason_", "statistics_basis_", "training_data_fingerprint_"):
        if getattr(est, name, None) is not None:
            fitted[name] = getattr(est, name)
    if getattr(est, "data_range_", None) is not None:
        fitted["data_range_"] = [float(v) for v in est.data_range_]
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
        elif name == "data_range_":
            est.data_range_ = tuple(float(v) for v in value)
        else:
            setattr(est, name, value)
    derive_from_recipe(est)
    names = getattr(est, "feature_names_in_", None)
    if getattr(est, "table_", None) is None and names is not None:
        # Saved before models kept their table: the names scikit-learn kept say as much.
        est.table_ = TableSchema(tuple(map(str, names)), (), n_features=len(names))
    est._bottleneck().restore(est, fitted, tensors)
    est._input().restore(est, fitted)
    if "arch_" in fitted and est.arch_ not in ("dense", "conv"):  # the keys of inputs.ARCHES
        raise InvalidInputError(f"fitted arch_={est.arch_!r}; expected 'dense' or 'conv'")


def derive_from_recipe(est: Any) -> None:
    """Fitted attributes a model folder saved before they were kept: the history's recipe records
    the learning rate's rule and the statistics' basis (``epochs_`` and ``data_range_`` stay absent)."""
    history = getattr(est, "history_", None)
    recipe = history.recipe if history is not None else {}
    for name, key in (("learning_rate_reason_", "learning_rate_rule"), ("statistics_basis_", "statistics")):
        if not hasattr(est, name) and isinstance(recipe.get(key), str):
            setattr(est, name, recipe[key])


def check_architecture(params: dict[str, Any], fitted: dict[str, Any], architecture: Any) -> None:
    """Refuse a config.json whose parameters or fitted sizes contradict its architecture.

    The module is built from the architecture alone, so a ``params.code_size`` of 4 over an
    architecture of 8 would load as a model that says one code size and gives another. Only what
    the architecture records is compared: ``hidden_layers='auto'`` and ``decoder_layers=None``
    were resolved into it, so they agree with any layers.

    Raises
    ------
    InvalidInputError
        Naming the parameter and both values.
    """
    owner = "params"
    if "estimator_class" in fitted:  # a detector: its autoencoder's parameters built the network
        owner, params = "estimator_params", fitted.get("estimator_params", {})
    saved = {
        "code_size": getattr(architecture, "code_size", None),
        "hidden_layers": getattr(architecture, "hidden_layers", None),
        "decoder_layers": getattr(architecture, "resolved_decoder_layers", None),
    }
    # Layers a pretrained part brought: a model saved before they were checked at fit may record
    # the user's other widths beside them (the part's won); it loaded then and loads now.
    pretrained = {"hidden_layers": params.get("encoder"), "decoder_layers": params.get("decoder")}
    for name, want in saved.items():
        if name not in params or (name != "code_size" and want is None):
            continue  # not a parameter of this estimator, or not a network the architecture records
        if isinstance(pretrained.get(name), str):
            continue
        value = params[name]
        if isinstance(value, str):
            continue  # 'auto' (layers, a conv model's code) was resolved into the architecture
        if name != "code_size":
            if value is None:
                continue  # None (a mirrored decoder) was resolved into the architecture
            value, want = layer_widths(value), tuple(want)
        if value != want:
            raise InvalidInputError(f"{owner}.{name}={value!r} but the architecture's {name} is {want!r}")
    code = saved["code_size"]
    if isinstance(code, int) and fitted.get("n_features_out", code) != code:
        raise InvalidInputError(
            f"fitted n_features_out={fitted['n_features_out']!r} but the architecture's code_size is {code}"
        )
    names, n_features = fitted.get("feature_names_in_"), fitted.get("n_features_in_")
    if names and n_features is not None and len(names) != n_features:
        raise InvalidInputError(
            f"fitted feature_names_in_ has {len(names)} names but n_features_in_={n_features}"
        )


__all__ = [
    "RUN_TYPES",
    "check_architecture",
    "derive_from_recipe",
    "restore_attributes",
    "saved_attributes",
    "saved_tensors",
]
