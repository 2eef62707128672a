"""hourglass: autoencoders defined by their hyperparameters, compared honestly with PCA.

The public API is imported on first use (PEP 562), so ``import hourglass`` and the
``hourglass`` command start without loading PyTorch or scikit-learn until a model is needed.

Examples
--------
>>> from hourglass import AutoEncoder
>>> ae = AutoEncoder(code_size=8).fit(X)   # doctest: +SKIP
>>> codes = ae.transform(X)                # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hourglass._version import __version__
from hourglass.exceptions import (
    CallbackError,
    DataFileError,
    ExportError,
    HourglassError,
    InvalidInputError,
    MissingDependencyError,
    ModelFileError,
    OutputExistsError,
    TrainingDivergedError,
)
from hourglass.registry import ESTIMATOR_MODULES as _ESTIMATOR_MODULES

#: Where each public name lives; imported when first asked for. The estimators are the registry's.
_LAZY = {
    **_ESTIMATOR_MODULES,
    "load": "hourglass.estimators.persistence",
    "compare": "hourglass.uses.comparison",
    "cluster": "hourglass.uses.clustering",
}

if TYPE_CHECKING:
    # What type checkers and IDEs read for the lazy names (a module __getattr__ gives them Any,
    # and then AutoEncoder(code_sze=8) would pass); at run time the table above imports them.
    from hourglass.estimators.anomaly import AnomalyDetector
    from hourglass.estimators.conv import ConvAutoEncoder
    from hourglass.estimators.dense import AutoEncoder
    from hourglass.estimators.persistence import load
    from hourglass.estimators.variational import VariationalAutoEncoder
    from hourglass.estimators.vq import VQAutoEncoder
    from hourglass.uses.clustering import cluster
    from hourglass.uses.comparison import compare


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # the next access is a plain attribute
        return value
    raise AttributeError(f"module 'hourglass' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AutoEncoder",
    "compare",
    "ConvAutoEncoder",
    "AnomalyDetector",
    "VQAutoEncoder",
    "VariationalAutoEncoder",
    "cluster",
    "load",
    "HourglassError",
    "InvalidInputError",
    "DataFileError",
    "ModelFileError",
    "OutputExistsError",
    "TrainingDivergedError",
    "CallbackError",
    "ExportError",
    "MissingDependencyError",
    "__version__",
]
