"""The rows part: tables and vectors ``(n, features)``, and a dense network for them."""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse
import torch
from sklearn.utils.validation import check_array, validate_data

from hourglass.data.identifiers import array_advice, frame_advice, judged, warn_if_identifier_columns
from hourglass.data.loading import check_finite, validation_reason
from hourglass.data.memory import dense_rows
from hourglass.data.sources import DatasetSource, NpyFileSource, TrainingSource, streams
from hourglass.data.table import check_column_names
from hourglass.data.validation import first_non_finite, warn_if_offset_loses_precision
from hourglass.estimators import parts
from hourglass.estimators.columns import selected_columns
from hourglass.estimators.inputs.part import InputPart, declared_default, register_input
from hourglass.exceptions import InvalidInputError
from hourglass.nn.config import DenseConfig, layer_widths
from hourglass.train import pretrained

#: The learning rate ``'auto'`` starts from, for layers of up to ``REFERENCE_WIDTH`` units at a
#: batch of ``REFERENCE_BATCH``: it trains digits to 0.39x PCA's error in 130 epochs.
REFERENCE_LEARNING_RATE = 1e-2
REFERENCE_WIDTH = 256
REFERENCE_BATCH = 256


def auto_learning_rate(width: int, batch_size: int) -> tuple[float, str]:
    """The dense learning rate for a network whose widest layer has ``width`` units.

    Adam's update of a weight is about the learning rate whatever its gradient's scale, so a
    layer's output moves in proportion to its fan-in times the rate: a rate that suits 256 units
    makes 1000 units take four times the step, and wide networks collapse at it. The rate is
    therefore scaled by ``256 / width`` above 256 units (the muP rule for Adam's hidden layers),
    and by the square root of ``batch_size / 256`` (the square-root rule for Adam).

    Examples
    --------
    >>> auto_learning_rate(1000, 256)[0]
    0.00256
    """
    rate = REFERENCE_LEARNING_RATE * min(1.0, REFERENCE_WIDTH / max(1, int(width)))
    rate *= math.sqrt(max(1, int(batch_size)) / REFERENCE_BATCH)
    rule = (
        f"auto: {REFERENCE_LEARNING_RATE:g} x min(1, {REFERENCE_WIDTH}/{int(width)} units) "
        f"x sqrt({int(batch_size)}/{REFERENCE_BATCH} batch)"
    )
    return float(f"{rate:.3g}"), rule


#: ``hidden_layers='auto'``: the encoder's layers for inputs of up to ``WIDE_INPUT`` features,
#: and for wider ones (the decoder mirrors them).
AUTO_HIDDEN = (256, 128)
AUTO_HIDDEN_WIDE = (512, 256)
WIDE_INPUT = 512


def auto_hidden_layers(n_features: int) -> tuple[int, ...]:
    """The encoder layers of ``hidden_layers='auto'`` for an input of ``n_features``.

    256-128 cuts a 784-pixel image to a third in its first layer; 512-256 learns more per
    second there, even though each step costs about 1.6 times as much: on 10,000 Fashion-MNIST
    images, code 30, in the same 30 s budget, 7.50 against 7.71 squared error per test image
    (bf16), 7.69 against 7.87 (fp32); a single layer of 512 did as well there but lost digits'
    2-unit codes (0.74x PCA against 0.50x). Up to 512 features 256-128 stays: on digits' 64
    pixels a wider net only costs time.

    Examples
    --------
    >>> auto_hidden_layers(64), auto_hidden_layers(784)
    ((256, 128), (512, 256))
    """
    return AUTO_HIDDEN_WIDE if int(n_features) > WIDE_INPUT else AUTO_HIDDEN


def _dense_columns(X: Any) -> Any:
    """A DataFrame's sparse columns (``pd.SparseDtype``) made dense; anything else as it is."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return X
    sparse = {name: dtype.subtype for name, dtype in dtypes.items() if isinstance(dtype, pd.SparseDtype)}
    return X.astype(sparse) if sparse else X


def reject_non_numeric_columns(X: Any) -> Any:
    """Name the first non-numeric column of a DataFrame, which numpy's error would not; refuse an
    array of text, which numpy would parse where it can ('5.1' as 5.1: scikit-learn refuses it).

    Returns ``X``, with a text column (pandas' ``string``/``str``, also pyarrow's) whose values
    are all numbers as float64, as numbers stored as text in an ``object`` column are read.
    """
    kind = getattr(getattr(X, "dtype", None), "kind", None)
    if kind in ("U", "S"):
        example = str(np.asarray(X).flat[0]) if np.size(X) else ""
        raise InvalidInputError(f"X has dtype {X.dtype} and holds text (e.g. {example!r}); expected numbers")
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return X
    texts = {}
    for name, dtype in dtypes.items():
        # pandas' own predicates understand extension dtypes (pandas 3's default text dtype,
        # nullable Int64/Float64), which np.issubdtype cannot interpret.
        if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            continue
        values = X[name]
        # Numbers kept as Python objects (a column built row by row, X.astype(object)) or as
        # text ('0.25', of any text dtype) are numbers, as they are in an array of dtype object.
        text = pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
        numbers_ = pd.to_numeric(values, errors="coerce") if text else None
        if numbers_ is not None and bool(numbers_.notna().eq(values.notna()).all()):
            if not pd.api.types.is_object_dtype(dtype):  # numpy reads an object column itself
                texts[name] = numbers_.astype(np.float64)
            continue
        bad = values[numbers_.isna() & values.notna()] if numbers_ is not None else values.dropna()
        example = bad.iloc[0] if len(bad) else None
        raise InvalidInputError(
            f"column {name!r} is not numeric (dtype {dtype}, e.g. {example!r}); expected numeric columns only"
        )
    return _with(X, texts)


def _with(X: pd.DataFrame, columns: dict) -> pd.DataFrame:
    """``X`` with ``columns`` replaced, in a copy (the caller's frame stays as it was)."""
    if not columns:
        return X
    X = X.copy()
    for name, values in columns.items():
        X[name] = values
    return X


def name_non_finite(X: Any) -> None:
    """Refuse a DataFrame holding NaN or infinite values, naming the first one's column and index
    label (the array check that follows knows positions only)."""
    found = first_non_finite(X) if hasattr(X, "columns") and hasattr(X, "index") else None
    if found is not None:
        total, column, row = found
        raise InvalidInputError(
            f"X holds {total} NaN or infinite value(s), the first in column {column!r} at index "
            f"{X.index[row]!r} (row {row}); fill or drop them first"
        )


def check_pretrained_settings(est: Any) -> None:
    """Refuse layer settings the user gave that a pretrained model folder would silently replace.

    A saved encoder brings its hidden layers and activation, a saved decoder its layers and
    activation (:func:`hourglass.estimators.parts.dense_architecture`); taking them over a value
    the user set would leave ``get_params()`` describing another network, as for ``code_size``.
    A parameter left at its default never conflicts.
    """
    settings = {"encoder": ("hidden_layers", "activation"), "decoder": ("decoder_layers", "activation")}
    for role, names in settings.items():
        source = getattr(est, role, None)
        if not pretrained.is_path(source):
            continue
        src = parts.source_architecture(source)
        if not isinstance(src, DenseConfig):
            continue  # dense_architecture refuses another kind, in its words
        saved = {
            "hidden_layers": tuple(src.hidden_layers),
            "decoder_layers": tuple(src.resolved_decoder_layers),
            "activation": src.activation,
        }
        for name in names:
            value, default = getattr(est, name), declared_default(est, name)
            if name == "activation":
                if value == default:
                    continue
                given = value
            elif value is None or isinstance(value, str):
                continue  # the defaults ('auto', None), or text base_architecture refuses in its words
            else:
                given = layer_widths(value)
            if given is not None and given != saved[name]:
                raise InvalidInputError(
                    f"{name}={given!r} but the {role} from {str(source)!r} has {name}={saved[name]!r}; "
                    f"pass {name}={saved[name]!r} or leave the default {default!r}"
                )


@register_input
class RowsPart(InputPart):
    """Rows ``(n, features)``: arrays, DataFrames (by column name), large ``.npy`` memory maps and
    Datasets of 1-D items; a dense network, with pretrained dense parts."""

    kind = "rows"

    def training_source(self, est: Any, X: Any) -> TrainingSource:
        """An array, a large ``.npy`` memory map (streamed), or a torch Dataset / DataLoader of rows."""
        if isinstance(X, torch.utils.data.DataLoader):
            # The loader's dataset is what is read; batches follow batch_size, as for arrays.
            X = X.dataset
        if isinstance(X, torch.utils.data.Dataset):
            source: TrainingSource = DatasetSource(X)
            if len(source.sample_shape) != 1:
                raise InvalidInputError(
                    f"the dataset's items have shape {source.sample_shape}; expected 1-D rows (n_features,) "
                    "for AutoEncoder (use ConvAutoEncoder for images, series and video)"
                )
            est.n_features_in_ = source.sample_shape[0]
        else:
            source = self.array_source(est, X)
        est.input_shape_ = (int(est.n_features_in_),)
        return source

    def check_streamed(
        self, est: Any, X: np.ndarray, source: NpyFileSource | None, reset: bool = True
    ) -> None:
        if X.ndim != 2:
            try:  # scikit-learn's reason, from one row, in the words the in-memory check gives
                check_array(X[:1], dtype=None, ensure_all_finite=False)
            except ValueError as exc:
                raise InvalidInputError(validation_reason(exc, X)) from None
            raise InvalidInputError(f"X has shape {X.shape}; expected 2-D data (n_samples, n_features)")
        try:
            validate_data(est, X, reset=reset, skip_check_array=True)  # n_features_in_
        except ValueError as exc:
            raise InvalidInputError(validation_reason(exc, X)) from None

    def validate(self, est: Any, X: Any, reset: bool) -> np.ndarray:
        said = judged(X)  # load_data's array: reading its table warned of identifiers already
        if scipy.sparse.issparse(X):
            X = dense_rows(X)  # bag-of-words, one-hot: the zeros are values to reconstruct
        if not reset:
            X = selected_columns(est, X)  # the training table's columns, by name
        if isinstance(X, pd.DataFrame):
            check_column_names(X)  # after the selection: other columns' names do not matter
        X = reject_non_numeric_columns(_dense_columns(X))
        if streams(X):
            # scikit-learn's check would convert the whole map to float64 in memory; its shape
            # is checked here and its values block by block, and it is read a batch at a time.
            self.check_streamed(est, X, None, reset=reset)
            if reset:  # a float64 map is read into float32 a batch at a time: warn before
                warn_if_offset_loses_precision(X)
            return check_finite(X, "X")
        try:
            data = validate_data(est, X, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=False)
        except ValueError as exc:
            raise InvalidInputError(validation_reason(exc, X)) from None
        if reset:
            names = getattr(X, "columns", None)
            warn_if_offset_loses_precision(data, names)
            if not said:
                warn_if_identifier_columns(data, "X", array_advice if names is None else frame_advice, names)
        try:
            return check_finite(data, "X", names=getattr(X, "columns", None))
        except InvalidInputError:
            name_non_finite(X)  # a DataFrame's column and index label, where it has them
            raise

    def resolved_code_size(self, est: Any, head: np.ndarray) -> int:
        """The code width: ``code_size``, or that of a pretrained encoder (which decides it)."""
        if pretrained.is_path(est.encoder):
            base = self.base_architecture(est, head, "identity")
            return parts.dense_architecture(base, est.encoder).code_size
        if est.encoder is not None:
            sample = torch.from_numpy(np.ascontiguousarray(head[:2], dtype=np.float32))
            return pretrained.module_code_width(pretrained.load_part(est.encoder, "encoder"), sample)
        return est.code_size

    def check_code_size(self, est: Any, head: np.ndarray) -> None:
        n_features = head.shape[1]
        if not isinstance(est.code_size, numbers.Integral) or est.code_size < 1:
            raise InvalidInputError(f"code_size={est.code_size!r} must be a positive integer")
        code_size = self.resolved_code_size(est, head)
        if code_size != est.code_size:
            # Taking the encoder's width silently would leave get_params() saying another size.
            where = f"from {str(est.encoder)!r}" if isinstance(est.encoder, (str, os.PathLike)) else "module"
            raise InvalidInputError(
                f"code_size={est.code_size} but the encoder {where} gives codes of {code_size} units; "
                f"pass code_size={code_size}"
            )
        check_pretrained_settings(est)
        if code_size >= n_features and not self.overcomplete_allowed(est):
            if n_features == 1:
                # "lower code_size" sent users after a size below 1 that does not exist.
                # scikit-learn's check_fit2d_1feature matches "1 feature(s)" / "n_features=1".
                raise InvalidInputError(
                    f"X has 1 feature(s) (n_features=1): a one-feature input cannot be compressed (a code "
                    f"must be narrower than the input, and code_size={code_size} is not); expected 2 or more "
                    "features, or a sparse code with a sparsity regularizer (l1_penalty, kl_penalty or topk)"
                )
            raise InvalidInputError(
                f"code_size={code_size} must be smaller than the input's {n_features} feature(s) "
                f"(n_features={n_features}): a code as wide as the input can learn the identity; "
                "lower code_size or add a sparsity regularizer (l1_penalty, kl_penalty or topk)"
            )

    def auto_learning_rate(self, est: Any) -> tuple[float, str]:
        widths = (*est.architecture_.hidden_layers, *est.architecture_.resolved_decoder_layers)
        return auto_learning_rate(max(widths, default=est.architecture_.code_size), est.batch_size)

    def base_architecture(self, est: Any, head: np.ndarray, output_activation: str) -> DenseConfig:
        """The dense config from the parameters alone, before any pretrained part is read."""
        hidden = est.hidden_layers
        if isinstance(hidden, str):
            if hidden != "auto":
                raise InvalidInputError(
                    f"hidden_layers={hidden!r}; expected 'auto' or layer widths such as (256, 128)"
                )
            hidden = auto_hidden_layers(head.shape[1])
        decoder = est.decoder_layers
        return DenseConfig(
            input_dim=head.shape[1],
            code_size=int(est.code_size),
            hidden_layers=layer_widths(hidden),
            decoder_layers=None if decoder is None else layer_widths(decoder),
            activation=est.activation,
            output_activation=output_activation,
            **est._bottleneck().code_fields(est, head.shape[1]),
        )

    def architecture(self, est: Any, head: np.ndarray, output_activation: str) -> DenseConfig:
        config = self.base_architecture(est, head, output_activation)
        if isinstance(est.encoder, torch.nn.Module):
            config = replace(config, code_size=self.resolved_code_size(est, head))
        return parts.dense_architecture(config, est.encoder, est.decoder)

    def restore(self, est: Any, fitted: dict[str, Any]) -> None:
        est.input_shape_ = (int(est.n_features_in_),)  # as fit sets it; never saved for rows
        if hasattr(est, "pca_path") and not hasattr(est, "pca_path_"):
            est.pca_path_, est.pca_path_reason_ = False, "off: saved before hourglass had the PCA path"


__all__ = ["RowsPart", "auto_learning_rate", "reject_non_numeric_columns"]
