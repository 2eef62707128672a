"""Results in the input's space (a reconstruction, decoded codes) in the container ``set_output`` asks for.

scikit-learn's ``set_output(transform="pandas")`` (or ``sklearn.set_config(transform_output=
"pandas")``) makes ``transform`` and ``fit_transform`` return DataFrames, named by
``get_feature_names_out``; its transformers' ``inverse_transform`` stays an array. An
autoencoder's reconstruction and its decoded codes are the input again, row for row: a user who
asked for DataFrames gets them as the input was, with its columns (``feature_names_in_``) and its
index. Without ``set_output``, arrays, as everywhere in scikit-learn: a DataFrame by default
would change what every existing caller gets. ``layer_outputs`` follows it too, every layer a
table of its own (:func:`layers_in_output`).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def input_feature_names(est: Any, width: int) -> list[str]:
    """The names of the input's ``width`` columns: those fitted on, else ``x0, x1, ...`` (scikit-learn's).

    A model fitted through the command line on a table knows them from its table's schema.
    """
    inner = getattr(est, "estimator_", est)  # a detector: the autoencoder it wraps
    names = getattr(inner, "feature_names_in_", None)
    if names is None and getattr(inner, "table_", None) is not None:
        names = inner.table_.features
    if names is None or len(names) != width:
        return [f"x{i}" for i in range(width)]
    return [str(name) for name in names]


def in_input_space(est: Any, result: np.ndarray, original: Any) -> Any:
    """``result``, rows in the input's space, as ``est``'s ``set_output(transform=...)`` container.

    A DataFrame (or polars frame) with the input's column names and, where ``original`` (what
    the method was given) is a DataFrame, its index; ``result`` itself for the default output,
    or where it is not a table (the images of a convolutional model).

    Examples
    --------
    >>> ae.set_output(transform="pandas").reconstruct(frame).columns.equals(frame.columns)  # doctest: +SKIP
    True
    """
    if np.ndim(result) != 2:
        return result
    from sklearn.utils._set_output import ADAPTERS_MANAGER, _get_output_config

    dense = _get_output_config("transform", est)["dense"]
    if dense == "default":
        return result
    columns = input_feature_names(est, result.shape[1])
    return ADAPTERS_MANAGER.adapters[dense].create_container(result, original, columns, inplace=True)


def layer_columns(est: Any, name: str, width: int) -> list[str]:
    """The column names of the ``width`` units of layer output ``name``, for :func:`layers_in_output`.

    ``input`` and ``reconstruction`` are rows in the input's space: its columns. ``code`` is what
    ``transform`` gives: ``get_feature_names_out()``'s names (``autoencoder0, ...``). Every other
    layer's units are its name, an underscore and the unit's number (``encoder.layer1_0,
    encoder.layer1_1, ...``): the underscore keeps unit 0 of ``layer1`` apart from ``layer10``.
    """
    if name in ("input", "reconstruction"):
        return input_feature_names(est, width)
    if name == "code":
        names = [str(n) for n in est.get_feature_names_out()]
        if len(names) == width:
            return names
    return [f"{name}_{i}" for i in range(width)]


def layers_in_output(est: Any, outputs: dict[str, Any], original: Any) -> dict[str, Any]:
    """Every layer output of ``outputs`` as ``est``'s ``set_output(transform=...)`` container.

    With ``set_output(transform="pandas")``, each layer is a DataFrame with the index of
    ``original`` (what ``layer_outputs`` was given) where it is one, and the columns of
    :func:`layer_columns`. ``outputs`` itself for the default output, and where any layer is not
    a table (the feature maps and images of a convolutional model): the layers are then arrays
    throughout, rather than some tables and some not.

    Examples
    --------
    >>> list(ae.set_output(transform="pandas").layer_outputs(frame)["code"].columns)  # doctest: +SKIP
    ['autoencoder0', 'autoencoder1']
    """
    if any(np.ndim(values) != 2 for values in outputs.values()):
        return outputs
    from sklearn.utils._set_output import ADAPTERS_MANAGER, _get_output_config

    dense = _get_output_config("transform", est)["dense"]
    if dense == "default":
        return outputs
    adapter = ADAPTERS_MANAGER.adapters[dense]
    return {
        name: adapter.create_container(
            values, original, layer_columns(est, name, values.shape[1]), inplace=True
        )
        for name, values in outputs.items()
    }


__all__ = ["in_input_space", "input_feature_names", "layer_columns", "layers_in_output"]
