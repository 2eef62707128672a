"""hourglass: autoencoders defined by their hyperparameters, compared honestly with PCA.

Examples
--------
>>> from hourglass import AutoEncoder
>>> ae = AutoEncoder(code_size=8).fit(X)   # doctest: +SKIP
>>> codes = ae.transform(X)                # doctest: +SKIP
"""

__version__ = "0.1.0"

from hourglass.estimators.anomaly import AnomalyDetector  # noqa: E402
from hourglass.estimators.conv import ConvAutoEncoder  # noqa: E402
from hourglass.estimators.dense import AutoEncoder  # noqa: E402
from hourglass.estimators.persistence import load  # noqa: E402
from hourglass.exceptions import (  # noqa: E402
    DataFileError,
    HourglassError,
    InvalidInputError,
    ModelFileError,
    OutputExistsError,
    TrainingDivergedError,
)
from hourglass.uses.clustering import cluster  # noqa: E402
from hourglass.uses.comparison import compare  # noqa: E402

__all__ = [
    "AutoEncoder",
    "compare",
    "ConvAutoEncoder",
    "AnomalyDetector",
    "cluster",
    "load",
    "HourglassError",
    "InvalidInputError",
    "DataFileError",
    "ModelFileError",
    "OutputExistsError",
    "TrainingDivergedError",
    "__version__",
]
