"""Parameters as a model file holds them: JSON values, and what a file never carries.

config.json keeps an estimator's ``get_params()`` as JSON (:func:`saved_params`), and loading
reads them back (:func:`loaded_params`). Objects JSON cannot hold are saved as None, but for a
RandomState seed, saved as the seed the fit drew from it (:func:`json_params`), and two
parameters never travel with a model (:data:`NOT_SAVED`).
"""

from __future__ import annotations

import datetime
import numbers
from typing import Any

import numpy as np

from hourglass.train.budget import parse_duration


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


#: Parameters a model file never carries: the user's callback objects (JSON would hold them as
#: None, which a refit of the loaded model refuses), and the checkpoint folder, where a refit
#: would write (a model someone sends does not choose a folder on your disk).
NOT_SAVED = ("callbacks", "checkpoint_dir")


def json_params(estimator: Any) -> dict[str, Any]:
    """``estimator``'s parameters as JSON (:func:`json_safe`), a RandomState seed as the int seed
    (``seed_``) the fit drew from it: it was saved as None, which draws a fresh seed on a refit,
    and which a resume compared with the run's int seed as ``random_state 0 -> None``."""
    params = {k: json_safe(v) for k, v in estimator.get_params(deep=False).items()}
    budget = getattr(estimator, "max_time", None)
    if isinstance(budget, (dict, datetime.timedelta)):  # Lightning's forms: saved as the seconds
        params["max_time"] = f"{parse_duration(budget):.12g}s"
    seed = getattr(estimator, "seed_", None)
    if isinstance(getattr(estimator, "random_state", None), np.random.RandomState) and seed is not None:
        params["random_state"] = int(seed)
    return params


def saved_params(estimator: Any) -> dict[str, Any]:
    """``estimator``'s parameters as config.json holds them (:func:`json_params`, :data:`NOT_SAVED` None)."""
    return {k: None if k in NOT_SAVED else v for k, v in json_params(estimator).items()}


def loaded_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters from config.json (:func:`from_json`); :data:`NOT_SAVED` ones None, as files
    saved before they were left out may still hold them."""
    return {k: None if k in NOT_SAVED else from_json(v) for k, v in params.items()}


def from_json(value: Any) -> Any:
    """Inverse of :func:`json_safe` for parameters: lists become tuples again."""
    return tuple(from_json(v) for v in value) if isinstance(value, list) else value


__all__ = ["NOT_SAVED", "from_json", "json_params", "json_safe", "loaded_params", "saved_params"]
