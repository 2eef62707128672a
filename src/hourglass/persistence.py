"""Save and load fitted estimators: a folder of JSON + safetensors, written atomically.

Layout of a model folder::

    config.json          format, versions, estimator class, parameters, architecture, fitted state
    weights.safetensors  the module's weights, the scaler and any other fitted tensors
    history.json         per-epoch training record

Nothing here is ever a pickle, so loading a folder a stranger sent runs none of their code.
"""

from __future__ import annotations

import json
import numbers
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from hourglass.exceptions import InvalidInputError, ModelFileError
from hourglass.fileio import atomic_path, check_writable
from hourglass.model import build_model, config_from_dict
from hourglass.scaling import AffineScaler
from hourglass.training import History, resolve_device

FORMAT = "hourglass-model"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
HISTORY_FILE = "history.json"

ESTIMATORS: dict[str, type] = {}


def register_estimator(cls: type) -> type:
    """Class decorator: let :func:`load` rebuild estimators of this class by name."""
    ESTIMATORS[cls.__name__] = cls
    return cls


def json_safe(value: Any) -> Any:
    """Parameters as JSON: tuples become lists; objects that JSON cannot hold become None."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (tuple, list)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return None  # e.g. a RandomState or a user's torch module: the weights carry what matters


def from_json(value: Any) -> Any:
    """Inverse of :func:`json_safe` for parameters: lists become tuples again."""
    return tuple(from_json(v) for v in value) if isinstance(value, list) else value


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
    """
    from hourglass import __version__

    if not hasattr(estimator, "module_"):
        raise InvalidInputError(f"this {type(estimator).__name__} is not fitted yet; call fit before save")
    path = check_writable(path, force)
    if path.exists() and not path.is_dir():
        raise InvalidInputError(f"{str(path)!r} is a file; a model is saved as a folder")
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in estimator.module_.state_dict().items()}
    tensors["scaler.offset"] = torch.from_numpy(np.ascontiguousarray(estimator.scaler_.offset))
    tensors["scaler.scale"] = torch.from_numpy(np.ascontiguousarray(estimator.scaler_.scale))
    for name, array in estimator._saved_tensors().items():
        tensors[f"extra.{name}"] = torch.as_tensor(np.ascontiguousarray(array))
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "hourglass_version": __version__,
        "torch_version": torch.__version__,
        "estimator": type(estimator).__name__,
        "params": {k: json_safe(v) for k, v in estimator.get_params(deep=False).items()},
        "architecture": estimator.architecture_.to_dict(),
        "scaling": estimator.scaler_.kind,
        "fitted": estimator._saved_attributes(),
    }
    with atomic_path(path) as tmp:
        tmp.mkdir()
        save_file(tensors, str(tmp / WEIGHTS_FILE), metadata={"format": FORMAT})
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        (tmp / HISTORY_FILE).write_text(json.dumps(estimator.history_.to_dict()))
    return path


def read_config(path: str | Path) -> dict[str, Any]:
    """Read and check a model folder's ``config.json``; raise ModelFileError if it is not one."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"no such model folder: {str(path)!r}")
    if not path.is_dir():
        raise ModelFileError(f"{str(path)!r} is not a model folder (expected a folder holding {CONFIG_FILE})")
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
    except FileNotFoundError:
        raise ModelFileError(
            f"{str(path)!r} holds no {CONFIG_FILE}; is it an hourglass model folder?"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{str(path / CONFIG_FILE)!r} is corrupt: {exc}") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f"{str(path / CONFIG_FILE)!r} is not an hourglass model config")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(
            f"{str(path)!r} was saved in format version {config['format_version']}, newer than this "
            f"hourglass reads ({FORMAT_VERSION}); upgrade hourglass"
        )
    return config


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
    path = Path(path)
    config = read_config(path)
    name = config.get("estimator")
    if name not in ESTIMATORS:
        raise ModelFileError(
            f"{str(path)!r} holds an unknown estimator {name!r}; expected one of {sorted(ESTIMATORS)}"
        )
    try:
        tensors = load_file(str(path / WEIGHTS_FILE))
    except FileNotFoundError:
        raise ModelFileError(f"{str(path)!r} holds no {WEIGHTS_FILE}") from None
    except (OSError, SafetensorError, ValueError) as exc:
        raise ModelFileError(
            f"{str(path / WEIGHTS_FILE)!r} is corrupt: {' '.join(str(exc).split())}"
        ) from None
    try:
        history = History.from_dict(json.loads((path / HISTORY_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        history = History()  # the history is a record, not needed to use the model
    try:
        cls = ESTIMATORS[name]
        params = {k: from_json(v) for k, v in config["params"].items()}
        estimator = cls(**params)
        architecture = config_from_dict(config["architecture"])
        module = build_model(architecture)
        module.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        estimator.architecture_ = architecture
        estimator.module_ = module.to(resolve_device(device or estimator.device)).eval()
        estimator.scaler_ = AffineScaler(
            config["scaling"], tensors["scaler.offset"].numpy(), tensors["scaler.scale"].numpy()
        )
        estimator.history_ = history
        extra = {k[6:]: v.numpy() for k, v in tensors.items() if k.startswith("extra.")}
        estimator._restore_attributes(config["fitted"], extra)
    except (KeyError, TypeError, RuntimeError, InvalidInputError) as exc:
        message = " ".join(str(exc).split())[:300]
        raise ModelFileError(f"{str(path)!r} does not match its config: {message}") from None
    return estimator
