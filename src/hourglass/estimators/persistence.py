"""Save and load fitted estimators: a folder of JSON + safetensors, written atomically.

Layout of a model folder::

    config.json          format, versions, estimator class, parameters, architecture, fitted state
    weights.safetensors  the module's weights, the scaler and any other fitted tensors
    history.json         per-epoch training record

Nothing here is ever a pickle, so loading a folder a stranger sent runs none of their code.
Nor does such a folder cost memory before it is checked: :func:`load` checks every JSON value's
type, the architecture's sizes against the limits in :mod:`hourglass.nn.config`, and the shape and
dtype of every tensor named in the weights file's header against the module the config
describes (built on PyTorch's ``meta`` device, which allocates nothing), all before a single
weight is read. Every failure is a :class:`~hourglass.exceptions.ModelFileError`.

A folder is written beside its final name and swapped in (:func:`hourglass.data.fileio.atomic_path`:
``renameat2(RENAME_EXCHANGE)`` on Linux, two renames elsewhere), so at every instant the name
holds the complete old model or the complete new one, and a normal save leaves nothing hidden
behind.
"""

from __future__ import annotations

import importlib
import json
import math
import typing
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from hourglass import registry
from hourglass._version import __version__
from hourglass.data.fileio import atomic_path, check_writable, interrupted_swap, safetensors_header
from hourglass.data.scaling import SCALINGS, AffineScaler
from hourglass.data.tensor_files import save_tensors
from hourglass.estimators.fitted_state import (
    RUN_TYPES,
    check_architecture,
    restore_attributes,
    saved_attributes,
    saved_tensors,
)
from hourglass.estimators.saved_params import from_json, json_safe, loaded_params, saved_params  # noqa: F401
from hourglass.exceptions import InvalidInputError, ModelFileError
from hourglass.nn.config import MAX_INPUT_VALUES, check_json_types
from hourglass.nn.model import build_model, config_from_dict
from hourglass.runtime.devices import resolve_device
from hourglass.train import pretrained
from hourglass.train.history import History

FORMAT = "hourglass-model"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
HISTORY_FILE = "history.json"

PER_EPOCH = ("epoch", "train_loss", "val_loss", "lr", "seconds")  #: history.json's per-epoch lists

#: Largest config.json or history.json read: a crafted one could otherwise cost gigabytes to parse.
MAX_JSON_BYTES = 16 * 2**20

#: JSON types of config.json's entries (those without a default are required).
CONFIG_TYPES: dict[str, Any] = {
    "format": str,
    "format_version": int,
    "hourglass_version": str | None,
    "torch_version": str | None,
    "estimator": str,
    "params": dict[str, Any],
    "architecture": dict[str, Any],
    "scaling": str,
    "fitted": dict[str, Any],
}
CONFIG_REQUIRED = ("format", "estimator", "params", "architecture", "scaling", "fitted")

#: JSON types of the fitted attributes estimators save (:mod:`~hourglass.estimators.fitted_state`);
#: anything else in ``fitted`` must at least be named like a fitted attribute (:func:`_check_fitted`).
FITTED_TYPES: dict[str, Any] = {
    "loss_": str,
    "loss_reason_": str,
    "n_features_in_": int,
    "feature_names_in_": list[str] | None,
    "table_": dict[str, Any] | None,
    "n_features_out": int,
    "seed_": int,
    "n_epochs_": int,
    "fit_seconds_": float,
    "device_": str,
    "validation_mse_": float | None,
    "validation_mse_scaled_": float | None,
    "validation_pca_mse_": float | None,
    "pca_path_": bool,
    "pca_path_reason_": str,
    "score_units_": str,
    "threshold_raw_": float | None,
    "score_kind_": str,
    "error_scale_": float,
    "distance_scale_": float,
    "input_shape_": list[int],
    "threshold_": float,
    "offset_": float,
    "estimator_class": str,
    "estimator_params": dict[str, Any],
    **RUN_TYPES,
}
#: Fitted attributes that a config must never set: they are built from the weights.
BUILT_ATTRIBUTES = ("module_", "scaler_", "architecture_", "history_", "estimator_")

#: safetensors dtype names of the torch dtypes a module holds.
_DTYPE_NAMES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}

ESTIMATORS: dict[str, type] = {}


def register_estimator(cls: type) -> type:
    """Class decorator: let :func:`load` rebuild estimators of this class by name.

    The name is the tag ``config.json`` saves, so it must be a kind of :mod:`hourglass.registry`
    defined in this very module: a class the registry does not know could be saved but never
    loaded in a fresh process.
    """
    entry = registry.by_estimator(cls.__name__)
    if entry is None or entry.module != cls.__module__:
        raise TypeError(
            f"{cls.__module__}.{cls.__name__} is not an estimator kind of hourglass.registry; add it there"
        )
    ESTIMATORS[cls.__name__] = cls
    return cls


def _import_estimators() -> None:
    """Import the registry's estimator modules, which register themselves (``hourglass`` imports
    them lazily, and a fresh process may load a model before it has used any)."""
    for module in registry.ESTIMATOR_MODULES.values():
        importlib.import_module(module)


def save_estimator(estimator, path: str | Path, force: bool = False) -> Path:
    """Write a fitted estimator to the folder ``path`` (see the module docstring).

    Parameters
    ----------
    estimator : BaseAutoEncoder
        A fitted hourglass estimator.
    path : str or Path
        The folder to create.
    force : bool, default=False
        Replace an existing folder.

    Returns
    -------
    Path
        The folder written.

    Raises
    ------
    OutputError
        If a file of it cannot be written (disk full, ``ulimit -f``), naming that file; the
        folder is then left as it was.
    """
    if not hasattr(estimator, "module_"):
        raise InvalidInputError(f"this {type(estimator).__name__} is not fitted yet; call fit before save")
    path = check_writable(path, force)
    if path.exists() and not path.is_dir():
        raise InvalidInputError(f"{str(path)!r} is a file; a model is saved as a folder")
    refuse_other_folder(path)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in estimator.module_.state_dict().items()}
    tensors["scaler.offset"] = torch.from_numpy(np.ascontiguousarray(estimator.scaler_.offset))
    tensors["scaler.scale"] = torch.from_numpy(np.ascontiguousarray(estimator.scaler_.scale))
    if getattr(estimator.scaler_, "inverse_scale", None) is not None:  # a constant feature's 0
        tensors["scaler.inverse_scale"] = torch.from_numpy(
            np.ascontiguousarray(estimator.scaler_.inverse_scale)
        )
    for name, array in saved_tensors(estimator).items():
        tensors[f"extra.{name}"] = torch.as_tensor(np.ascontiguousarray(array))
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "hourglass_version": __version__,
        "torch_version": torch.__version__,
        "estimator": type(estimator).__name__,
        "params": saved_params(estimator),
        "architecture": estimator.architecture_.to_dict(),
        "scaling": estimator.scaler_.kind,
        "fitted": saved_attributes(estimator),
    }
    with atomic_path(path) as tmp:
        tmp.mkdir()
        save_tensors(tensors, tmp / WEIGHTS_FILE, metadata={"format": FORMAT})
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        (tmp / HISTORY_FILE).write_text(json.dumps(estimator.history_.to_dict()))
    return path


def _read_json(path: Path, what: str) -> Any:
    """Parse the JSON file ``path``; raise ModelFileError (naming ``what``) if it is not one."""
    try:
        if not path.is_file():
            raise ModelFileError(f"{what} {str(path)!r} is not a regular file")
        if path.stat().st_size > MAX_JSON_BYTES:
            raise ModelFileError(f"{what} {str(path)!r} is larger than {MAX_JSON_BYTES} bytes")
        return json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else type(exc).__name__
        raise ModelFileError(f"{what} {str(path)!r} is corrupt: {reason}") from None


def read_config(path: str | Path) -> dict[str, Any]:
    """Read and check a model folder's ``config.json``; raise ModelFileError if it is not one.

    The entries must have the JSON types of :data:`CONFIG_TYPES`; the estimator must be a known
    one.
    """
    path = Path(path)
    if not path.exists():
        aside = interrupted_swap(path)
        hint = f" (an interrupted save left the previous model in {str(aside)!r})" if aside else ""
        raise ModelFileError(f"no such model folder: {str(path)!r}{hint}")
    if not path.is_dir():
        raise ModelFileError(f"{str(path)!r} is not a model folder (expected a folder holding {CONFIG_FILE})")
    if not (path / CONFIG_FILE).exists():
        raise ModelFileError(f"{str(path)!r} holds no {CONFIG_FILE}; is it an hourglass model folder?")
    config = _read_json(path / CONFIG_FILE, "config")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f"{str(path / CONFIG_FILE)!r} is not an hourglass model config")
    try:
        check_json_types("config", config, CONFIG_TYPES)
    except InvalidInputError as exc:
        raise ModelFileError(f"{str(path / CONFIG_FILE)!r}: {exc}") from None
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(
            f"{str(path)!r} was saved in format version {config['format_version']}, newer than this "
            f"hourglass reads ({FORMAT_VERSION}); upgrade hourglass"
        )
    missing = [name for name in CONFIG_REQUIRED if name not in config]
    if missing:
        raise ModelFileError(f"{str(path / CONFIG_FILE)!r} lacks {', '.join(missing)}")
    _import_estimators()
    if config["estimator"] not in ESTIMATORS:
        raise ModelFileError(
            f"{str(path)!r} holds an unknown estimator {config['estimator']!r}; expected one of "
            f"{sorted(ESTIMATORS)}"
        )
    if config["scaling"] not in SCALINGS[1:]:
        raise ModelFileError(
            f"{str(path / CONFIG_FILE)!r}: scaling={config['scaling']!r} is not one of {SCALINGS[1:]}"
        )
    return config


def _check_params(cls: type, params: dict[str, Any]) -> None:
    """Parameters of ``cls`` with the JSON types its ``__init__`` declares, and no others."""
    hints = typing.get_type_hints(cls.__init__)
    unknown = sorted(set(params) - set(hints) - {"self"})
    if unknown:
        raise InvalidInputError(f"unknown {cls.__name__} parameters {unknown[:5]}")
    check_json_types(f"{cls.__name__} parameter", params, hints, scalar_for_tuple=True)


def _check_fitted(cls: type, fitted: dict[str, Any]) -> None:
    """Fitted attributes: the types of :data:`FITTED_TYPES`, names of fitted state only."""
    check_json_types("fitted", fitted, FITTED_TYPES)
    for name in fitted:
        if name in FITTED_TYPES:
            continue
        if (
            not name.isidentifier()
            or not name.endswith("_")
            or name.startswith("_")
            or name in BUILT_ATTRIBUTES
        ):
            raise InvalidInputError(f"fitted holds {name!r}, which is not a fitted attribute")
    if "estimator_class" in fitted:
        inner = fitted["estimator_class"]
        if inner not in ESTIMATORS or inner == cls.__name__:
            raise InvalidInputError(f"fitted estimator_class={inner!r} is not a known estimator")
        _check_params(ESTIMATORS[inner], fitted.get("estimator_params", {}))


def _expected_tensors(architecture) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{name: (dtype, shape)}`` of the module ``architecture`` describes, allocating nothing."""
    with torch.device("meta"):
        module = build_model(architecture)
    return {
        f"model.{k}": (_DTYPE_NAMES.get(v.dtype, str(v.dtype)), tuple(v.shape))
        for k, v in module.state_dict().items()
    }


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) or "scalar"


def _check_weights(
    header: dict[str, tuple[str, tuple[int, ...]]], architecture, sample_shape: tuple[int, ...]
) -> None:
    """Compare the weights file's header with the module and scaler the config describes."""
    expected = _expected_tensors(architecture)
    saved = {k: v for k, v in header.items() if k.startswith("model.")}
    for name in sorted(set(expected) | set(saved)):
        if name not in saved:
            raise InvalidInputError(f"the weights lack {name} (the architecture needs it)")
        if name not in expected:
            raise InvalidInputError(f"the weights hold {name}, which the architecture does not have")
        (dtype, shape), (want_dtype, want_shape) = saved[name], expected[name]
        if 0 in want_shape and len(shape) == len(want_shape) and math.prod(shape) <= MAX_INPUT_VALUES:
            want_shape = shape  # a buffer sized on the first batch (a TopK code's firing counts)
        if shape != want_shape or dtype != want_dtype:
            raise InvalidInputError(
                f"{name} is {_shape_text(shape)} {dtype} in the weights but {_shape_text(want_shape)} "
                f"{want_dtype} in the architecture"
            )
    # scaler.inverse_scale: saved where a feature was constant (by versions after 0.2.0).
    for name in ("scaler.offset", "scaler.scale", *(n for n in ("scaler.inverse_scale",) if n in header)):
        if name not in header:
            raise InvalidInputError(f"the weights lack {name}")
        dtype, shape = header[name]
        fits = dtype in ("F32", "F64") and len(shape) <= len(sample_shape)
        if fits:
            try:
                fits = np.broadcast_shapes(shape, sample_shape) == tuple(sample_shape)
            except ValueError:
                fits = False
        if not fits:
            raise InvalidInputError(
                f"{name} is {_shape_text(shape)} {dtype}; expected floats that fit one sample "
                f"({_shape_text(sample_shape)})"
            )


def _sample_shape(architecture, fitted: dict[str, Any]) -> tuple[int, ...]:
    """One sample's shape, from the architecture, after checking the fitted sizes agree with it."""
    if architecture.kind == "dense":
        shape: tuple[int, ...] = (architecture.input_dim,)
    else:
        shape = tuple(architecture.input_shape)
        saved = fitted.get("input_shape_")
        if saved is not None and tuple(saved) != shape:
            raise InvalidInputError(f"fitted input_shape_={saved} but the architecture's is {list(shape)}")
    n_features = fitted.get("n_features_in_")
    if n_features is not None and n_features != math.prod(shape):
        raise InvalidInputError(
            f"fitted n_features_in_={n_features} but the architecture takes {math.prod(shape)}"
        )
    return shape


def load(path: str | Path, device: str | None = None):
    """Load a model folder written by ``save``.

    Parameters
    ----------
    path : str or Path
        The model folder.
    device : str, optional
        Where to put the module; defaults to the saved ``device`` parameter ('auto').

    Returns
    -------
    BaseAutoEncoder
        The fitted estimator, ready to ``transform``.

    Raises
    ------
    ModelFileError
        If the folder is missing, corrupt, or its weights do not match its config.

    Examples
    --------
    >>> ae.save("digits-model")          # doctest: +SKIP
    >>> ae = hourglass.load("digits-model")  # doctest: +SKIP
    """
    if not isinstance(path, (str, Path)) and not hasattr(path, "__fspath__"):
        raise InvalidInputError(f"path={path!r}; expected the model folder's path (a str or Path)")
    path = Path(path)
    config = read_config(path)
    cls = ESTIMATORS[config["estimator"]]
    weights = path / WEIGHTS_FILE
    if not weights.exists():
        raise ModelFileError(f"{str(path)!r} holds no {WEIGHTS_FILE}")
    # Everything is checked against the config and the weights' header before anything is
    # allocated: a crafted folder costs neither time nor memory.
    try:
        _check_params(cls, config["params"])
        _check_fitted(cls, config["fitted"])
        architecture = config_from_dict(config["architecture"])
    except InvalidInputError as exc:
        raise ModelFileError(f"{str(path / CONFIG_FILE)!r} is not valid: {_one_line(exc)}") from None
    try:
        header = safetensors_header(weights)[1]
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{str(weights)!r} is corrupt: {_one_line(exc)}") from None
    try:
        _check_weights(header, architecture, _sample_shape(architecture, config["fitted"]))
    except InvalidInputError as exc:
        raise ModelFileError(f"{str(path)!r} does not match its config: {_one_line(exc)}") from None
    try:
        # After the weights: an architecture they contradict is named as such first.
        check_architecture(config["params"], config["fitted"], architecture)
    except InvalidInputError as exc:
        raise ModelFileError(f"{str(path / CONFIG_FILE)!r} is not valid: {_one_line(exc)}") from None
    history = _read_history(path / HISTORY_FILE)
    try:
        tensors = load_file(str(weights))
    except (OSError, SafetensorError, ValueError) as exc:
        raise ModelFileError(f"{str(weights)!r} is corrupt: {_one_line(exc)}") from None
    try:
        estimator = cls(**loaded_params(config["params"]))
        module = build_model(architecture)
        module.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        for role in ("encoder", "decoder"):  # a frozen part stays frozen through a refit
            if getattr(estimator, f"freeze_{role}", False) is True:
                pretrained.freeze(getattr(module, role))
        estimator.architecture_ = architecture
        estimator.module_ = module.to(resolve_device(device or estimator.device)).eval()
        offset, scale = tensors["scaler.offset"].numpy(), tensors["scaler.scale"].numpy()
        inverse = tensors["scaler.inverse_scale"].numpy() if "scaler.inverse_scale" in tensors else None
        estimator.scaler_ = AffineScaler(config["scaling"], offset, scale, inverse)
        estimator.history_ = history
        extra = {k[6:]: v.numpy() for k, v in tensors.items() if k.startswith("extra.")}
        restore_attributes(estimator, config["fitted"], extra)
    except AttributeError as exc:  # a fitted attribute another one is rebuilt from is missing
        missing = f"fitted lacks {exc.name!r}" if exc.name else _one_line(exc)
        raise ModelFileError(f"{str(path / CONFIG_FILE)!r} is not valid: {missing}") from None
    except (KeyError, TypeError, ValueError, RuntimeError, InvalidInputError) as exc:
        raise ModelFileError(f"{str(path)!r} does not match its config: {_one_line(exc)}") from None
    return estimator


def refuse_other_folder(path: Path) -> None:
    """Refuse to replace a folder of other things than a model, named by mistake (``--out ~ --force``)."""
    path = Path(path)
    if path.is_dir() and not (path / CONFIG_FILE).exists() and any(path.iterdir()):
        raise InvalidInputError(
            f"{str(path)!r} holds no hourglass model; refusing to replace that folder (pick a new name)"
        )


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def _read_history(path: Path) -> History:
    """The training record in ``path``; ModelFileError naming the file if it is not one.

    A folder without it loads with an empty record (the weights and config make the model; a
    user may have removed the record). One that is there must be a record: a torn or edited
    file is refused. Fields an earlier hourglass lacked take their defaults; fields a later one
    added are left out.
    """
    if not path.exists():
        return History()  # the record of training, not part of the model: the model loads without it
    remedy = "; remove it to load the model without its training record"
    try:
        data = _read_json(path, "history")
    except ModelFileError as exc:
        raise ModelFileError(f"{exc}{remedy}") from None
    hints = typing.get_type_hints(History)
    try:
        if not isinstance(data, dict):
            kind = type(data).__name__
            raise InvalidInputError(f"it holds a JSON {kind}; expected an object of History fields")
        # Fields a later hourglass added are left out: the record of a newer run still loads.
        data = {name: value for name, value in data.items() if name in hints}
        check_json_types("history", data, hints)
        # The loop appends one value to each per-epoch list every epoch; lists of other lengths
        # would break the plots and the warm start that read them side by side.
        lengths = {name: len(data[name]) for name in PER_EPOCH if name in data}
        if len(set(lengths.values())) > 1:
            raise InvalidInputError(f"per-epoch lists of different lengths {lengths}")
        return History.from_dict(data)
    except (InvalidInputError, TypeError) as exc:
        raise ModelFileError(f"history {str(path)!r} is not valid: {_one_line(exc)}{remedy}") from None
