"""hourglass: autoencoders defined by their hyperparameters, compared honestly with PCA.

``import hourglass`` loads the estimators and what they stand on (PyTorch, scikit-learn), so that
a program's first ``fit`` pays no import. The ``hourglass`` command (its script, or ``python -m
hourglass``) starts without them: there the public names are imported on first use (PEP 562),
and ``hourglass --help`` loads no heavy library.

Examples
--------
>>> from hourglass import AutoEncoder
>>> ae = AutoEncoder(code_size=8).fit(X)   # doctest: +SKIP
>>> codes = ae.transform(X)                # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

from hourglass._version import __version__
from hourglass.exceptions import (
    CallbackError,
    DataFileError,
    ExportError,
    HourglassError,
    IdentifierColumnWarning,
    InvalidInputError,
    MissingDependencyError,
    ModelFileError,
    OutputError,
    OutputExistsError,
    OutputLockedError,
    PosteriorCollapseWarning,
    TimeBudgetWarning,
    TrainingDivergedError,
    TrainingRowsWarning,
)
from hourglass.registry import ESTIMATOR_MODULES as _ESTIMATOR_MODULES

#: Where each public name lives; imported when first asked for. The estimators are the registry's.
_LAZY = {
    **_ESTIMATOR_MODULES,
    "load": "hourglass.estimators.persistence",
    "load_data": "hourglass.data.loading",
    "compare": "hourglass.uses.comparison",
    "cluster": "hourglass.uses.clustering",
}

if TYPE_CHECKING:
    # What type checkers and IDEs read for the lazy names (a module __getattr__ gives them Any,
    # and then AutoEncoder(code_sze=8) would pass); at run time the table above imports them.
    from hourglass.data.loading import load_data
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


def _command_starting() -> bool:
    """Whether this process is the ``hourglass`` command starting, not a program importing it.

    The command's script runs with its own path in ``sys.argv[0]``; ``python -m hourglass``
    imports this package while ``sys.argv[0]`` is still ``'-m'`` (the interpreter puts the
    module's path there only once it has found it).
    """
    argv = getattr(sys, "argv", None) or [""]
    script = os.path.basename(str(argv[0])).lower()
    return argv[0] == "-m" or script in ("hourglass", "hourglass.exe", "hourglass-script.py")


if not _command_starting():
    # A program importing hourglass is about to train or load a model: the estimators, PyTorch
    # and scikit-learn (about 1.4 s on one core, scikit-learn's scipy.stats and pandas most of
    # it) load here, once, rather than inside the first fit, which then takes 0.06 s on 100 rows
    # rather than 1.4 s (issue 21). The command imports them only in the commands that train
    # or load, so its help starts within half a second (issue 15).
    for _name in _ESTIMATOR_MODULES:
        __getattr__(_name)


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
    "load_data",
    "HourglassError",
    "InvalidInputError",
    "DataFileError",
    "ModelFileError",
    "OutputExistsError",
    "OutputError",
    "OutputLockedError",
    "TrainingDivergedError",
    "CallbackError",
    "ExportError",
    "MissingDependencyError",
    "IdentifierColumnWarning",
    "PosteriorCollapseWarning",
    "TimeBudgetWarning",
    "TrainingRowsWarning",
    "__version__",
]
