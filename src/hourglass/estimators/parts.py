"""Pretrained parts from saved model folders: their architecture and their modules.

A folder is read here, where :func:`hourglass.load` lives, and handed to training as plain
modules (:mod:`hourglass.train.pretrained`): the training layer knows modules, not files. A saved
part's architecture goes into the new model's own config, so the new model saves and loads like
any other.

Examples
--------
>>> source_architecture("digits-model").code_size  # doctest: +SKIP
8
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any

from torch import nn

from hourglass.data.scaling import AffineScaler
from hourglass.estimators.persistence import load, read_config
from hourglass.exceptions import InvalidInputError
from hourglass.nn.config import DenseConfig
from hourglass.nn.model import config_from_dict
from hourglass.train import pretrained
from hourglass.train.pretrained import is_path


def source_architecture(source: str | Path):
    """The architecture config saved in the model folder ``source``."""
    return config_from_dict(read_config(source)["architecture"])


def load_part(source: Any, role: str) -> nn.Module:
    """A fresh copy of the ``role`` ('encoder' or 'decoder') of ``source``.

    Parameters
    ----------
    source : str, Path or nn.Module
        A saved hourglass model folder, or a module (copied, so the caller's stays untouched).
    role : {'encoder', 'decoder'}

    Examples
    --------
    >>> load_part(nn.Linear(4, 2), "encoder")
    Linear(in_features=4, out_features=2, bias=True)
    """
    if role in pretrained.ROLES and is_path(source):
        return copy.deepcopy(getattr(load(source, device="cpu").module_, role))
    return pretrained.load_part(source, role)


def encoder_scaler(est: Any, fitted: AffineScaler) -> AffineScaler:
    """The scaler ``est`` trains with: ``fitted`` on its own data, or a frozen encoder's own.

    An encoder frozen from a saved model folder (``freeze_encoder=True``) computes features
    that mean something only in the units it was trained in: the new model takes that model's
    ``offset`` and ``scale``, so that the same raw rows give it the same codes. A fine-tuned
    encoder (not frozen) adapts to the new data's scaling, and a module passed as the encoder
    has no scaler: ``fitted`` for both. The source's ``inverse_scale`` (its own constant
    features) is not taken: the new decoder reconstructs the new data.

    Raises
    ------
    InvalidInputError
        When the data's columns or channels are not the source's, or ``scaling`` names
        another scaling than the source's.
    """
    source = getattr(est, "encoder", None)
    if not (getattr(est, "freeze_encoder", False) and is_path(source)):
        return fitted
    shape = tuple(getattr(est, "input_shape_", ()))
    if len(shape) > 1:  # images: another kind of model or other channels, in check_grid_parts' words
        check_grid_parts(shape, encoder=source)
    model = load(source, device="cpu")
    theirs, names = model.scaler_, getattr(model, "feature_names_in_", None)
    own = getattr(est, "feature_names_in_", None)
    if names is not None and own is not None and list(names) != list(own):
        pairs = itertools.zip_longest(map(str, own), map(str, names), fillvalue="nothing")
        i, (here, there) = next((i, pair) for i, pair in enumerate(pairs) if pair[0] != pair[1])
        raise InvalidInputError(
            f"the frozen encoder from {str(source)!r} was fitted on other columns: column {i} is {here!r} "
            f"in the data and was {there!r}; expected its {len(names)} columns, in the same order"
        )
    if theirs.offset.shape != fitted.offset.shape:
        raise InvalidInputError(
            f"the frozen encoder from {str(source)!r} scales its inputs with statistics of shape "
            f"{theirs.offset.shape} and the data needs {fitted.offset.shape}; expected data of the "
            "features (or channels) it was trained on"
        )
    if est.scaling not in ("auto", theirs.kind):
        raise InvalidInputError(
            f"scaling={est.scaling!r}, but the frozen encoder from {str(source)!r} reads inputs scaled "
            f"as it was trained ({theirs.kind!r}); leave scaling='auto' or pass {theirs.kind!r}"
        )
    return AffineScaler(theirs.kind, theirs.offset.copy(), theirs.scale.copy())


def dense_architecture(base: DenseConfig, encoder: Any = None, decoder: Any = None) -> DenseConfig:
    """``base`` with the layer sizes of the encoder / decoder taken from saved model folders.

    Raises InvalidInputError naming the mismatch when the saved parts do not fit the data's
    width or each other's code size.
    """
    config = base
    if is_path(encoder):
        src = _dense_source(encoder, "encoder")
        if src.input_dim != base.input_dim:
            raise InvalidInputError(
                f"the encoder from {str(encoder)!r} takes {src.input_dim} features but the data has "
                f"{base.input_dim}; expected data of the width it was trained on"
            )
        decoder_layers = (
            base.decoder_layers if base.decoder_layers is not None else src.resolved_decoder_layers
        )
        config = replace(
            config,
            hidden_layers=src.hidden_layers,
            code_size=src.code_size,
            activation=src.activation,
            decoder_layers=decoder_layers,
            pca_encoder=src.pca_encoder,  # the saved encoder's fixed path comes with it
        )
    if is_path(decoder):
        src = _dense_source(decoder, "decoder")
        if is_path(encoder) and src.activation != config.activation:
            # One network has one activation: the decoder's replaced the encoder's in the config,
            # and the model saved so ran its encoder with the wrong one once loaded.
            raise InvalidInputError(
                f"the encoder from {str(encoder)!r} uses activation={config.activation!r} and the decoder "
                f"from {str(decoder)!r} activation={src.activation!r}; expected parts of one activation"
            )
        if src.input_dim != base.input_dim or src.code_size != config.code_size:
            raise InvalidInputError(
                f"the decoder from {str(decoder)!r} maps codes of {src.code_size} units to {src.input_dim} "
                f"features; expected {config.code_size} units to {base.input_dim} features"
            )
        config = replace(
            config,
            decoder_layers=src.resolved_decoder_layers,
            activation=src.activation,
            pca_decoder=src.pca_decoder,
        )
    return config


#: The settings of a convolutional network that a saved encoder or decoder brings with it.
GRID_PART_FIELDS = (
    "channels", "kernel_size", "downsampling", "convs_per_block", "skip_connections", "activation",
)  # fmt: skip


def grid_architecture(config: Any, given: dict[str, Any], encoder: Any = None, decoder: Any = None) -> Any:
    """``config`` (a conv network's) with the layer settings of a saved encoder / decoder.

    As :func:`dense_architecture` does for dense models: the model folder decides channels,
    kernel, downsampling and activation, and its code size must be the model's. A saved model
    kept the defaults' settings otherwise, so its config described another network than its
    weights (saved, it did not load; or loaded with ReLU where the encoder held GELU).

    Parameters
    ----------
    config : ConvConfig
        The architecture the estimator's own settings give.
    given : dict
        The settings the user set (not left at their defaults): one that a saved part
        contradicts is refused, as is an encoder and decoder of two different networks.
    encoder, decoder : str, Path, module or None
        Only model folders bring settings (a module is checked on a sample instead).
    """
    taken: dict[str, tuple[str, Any]] = {}
    for role, source in (("encoder", encoder), ("decoder", decoder)):
        if not is_path(source):
            continue
        src = source_architecture(source)
        if hasattr(src, "channels") and src.code_size != config.code_size:
            # The code is the model's own parameter, as for dense models: said, never taken over.
            def code(size: Any) -> str:
                return "a spatial code" if size is None else f"a flat code of {size} units"

            raise InvalidInputError(
                f"code_size={config.code_size!r} ({code(config.code_size)}), but the {role} from "
                f"{str(source)!r} has {code(src.code_size)}; pass code_size={src.code_size!r}"
            )
        for name in GRID_PART_FIELDS:
            if not hasattr(src, name):
                continue  # a dense folder: check_grid_parts refuses it in its words
            value = getattr(src, name)
            value = tuple(value) if isinstance(value, list) else value
            if name in taken and taken[name][1] != value:
                raise InvalidInputError(
                    f"the encoder from {taken[name][0]!r} has {name}={taken[name][1]!r} and the decoder from "
                    f"{str(source)!r} {name}={value!r}; expected parts of one network"
                )
            if name in given and given[name] != value:
                raise InvalidInputError(
                    f"{name}={given[name]!r}, but the {role} from {str(source)!r} was built with "
                    f"{name}={value!r}; leave {name} out (the {role} brings it) or pass {value!r}"
                )
            taken[name] = (str(source), value)
    return replace(config, **{name: value for name, (_, value) in taken.items()}) if taken else config


def _described(shape: tuple[int, ...]) -> str:
    """``'3x64x64 images'``, ``'rows of 64 features'``: what a model reads, in words."""
    shown = "x".join(str(int(s)) for s in shape)
    if len(shape) == 1:
        return f"rows of {shown} features"
    return {2: f"{shown} series", 3: f"{shown} images", 4: f"{shown} videos"}.get(len(shape), shown)


def check_grid_parts(input_shape: tuple[int, ...], encoder: Any = None, decoder: Any = None) -> None:
    """Refuse a saved encoder or decoder that was fitted on other samples than ``input_shape``.

    Said in words before any layer sees the data: torch's own error names weights and
    channels ("weight of size [32, 3, 3, 3]"), not what the part and the data hold.

    Raises
    ------
    InvalidInputError
        "the encoder from 'm' was fitted on 3x64x64 images; the data holds 1x32x32 images ...".

    Examples
    --------
    >>> check_grid_parts((1, 32, 32), encoder=nn.Identity())  # a module is checked on a sample instead
    """
    for role, source in (("encoder", encoder), ("decoder", decoder)):
        if not is_path(source):
            continue
        src = source_architecture(source)
        fitted = getattr(src, "input_shape", None)
        if fitted is None:  # a dense model's layers take rows, whatever their width
            raise InvalidInputError(
                f"the {role} from {str(source)!r} is a dense model fitted on {_described((src.input_dim,))}; "
                f"the data holds {_described(input_shape)}, for which a convolutional model takes the "
                f"{role} of a convolutional one"
            )
        fitted, wanted = tuple(fitted), tuple(input_shape)
        # Convolutions take any size: a spatial code's part fits larger images as it is (transfer
        # learning). Channels, the kind of grid and a flat code's linear layer do not.
        flat = getattr(src, "code_size", None) is not None
        if fitted[0] != wanted[0] or len(fitted) != len(wanted) or (flat and fitted != wanted):
            why = "; its flat code's layer is sized for that shape" if flat and fitted[0] == wanted[0] else ""
            raise InvalidInputError(
                f"the {role} from {str(source)!r} was fitted on {_described(fitted)}; the data holds "
                f"{_described(wanted)}{why}; expected data of the shape it was fitted on"
            )


def _dense_source(path: str | Path, role: str) -> DenseConfig:
    src = source_architecture(path)
    if not isinstance(src, DenseConfig):
        raise InvalidInputError(
            f"{role}={str(path)!r} holds a {src.kind!r} model; a dense AutoEncoder takes a dense one "
            "(pass the module itself to reuse layers of another kind)"
        )
    return src


__all__ = [
    "GRID_PART_FIELDS", "check_grid_parts", "dense_architecture", "encoder_scaler", "grid_architecture",
    "load_part", "source_architecture",
]  # fmt: skip
