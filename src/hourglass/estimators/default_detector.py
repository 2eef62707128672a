"""The AutoEncoder a detector builds when it is given none: its code width and training length."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from hourglass.data.scaling import in_unit_interval
from hourglass.estimators.code_width import narrow_code
from hourglass.exceptions import InvalidInputError

#: Optimizer steps a default detector trains for (at least 20 epochs): the mean AUROC of
#: Fashion-MNIST's one-class detectors (2,000 images each) is the same after 120 and after 1,800
#: steps, while digits' classes (90 images, one step an epoch) need a few hundred. 200 rather
#: than 300 (one core, 2026-12-06): Fashion-MNIST 92.41 -> 92.26 with 2,000 images a class in
#: 1.54 -> 1.26 s (PyOD's default 91.56 in 1.38 s, same run), 92.47 -> 92.47 with 500 in 1.69 ->
#: 1.08 s; digits 99.47 / 99.48 / 99.33 -> 99.49 / 99.46 / 99.35 on three splits; breast cancer
#: 83.88 -> 84.04, wine 97.65 both. At 150, Fashion-MNIST fell to 92.08.
DETECTION_STEPS = 200
#: A default detector's hidden layers (:mod:`hourglass.estimators.detector_params` says why).
DETECTION_HIDDEN = (128,)
DETECTION_MIN_EPOCHS = 20


def detection_epochs(n_rows: int, batch_size: int, validation_fraction: float) -> int:
    """Epochs of a default detector's ``epochs='auto'``: about :data:`DETECTION_STEPS` steps.

    Examples
    --------
    >>> detection_epochs(2000, 256, 0.1), detection_epochs(90, 256, 0.1)
    (25, 200)
    """
    n_train = max(1, int(n_rows * (1 - validation_fraction)))
    steps_per_epoch = math.ceil(n_train / max(1, int(batch_size)))
    return max(DETECTION_MIN_EPOCHS, math.ceil(DETECTION_STEPS / steps_per_epoch))


def detection_scaling(X: Any, y: Any = None) -> str:
    """What a default detector's ``scaling='auto'`` means for ``X``: 'shrunk' for data in [0, 1].

    An AutoEncoder leaves data in [0, 1] unscaled, which reconstructs them best in their own
    units. A detector scores by where the errors fall: unscaled, a pixel that varies a lot weighs
    as much as one that never does, and an anomaly that lights up the pixels normal images leave
    dark is under-weighted. Scaling by :func:`~hourglass.data.scaling.shrunk_scale` centres each
    feature and weighs it by its spread without blowing up the near-constant ones (plain
    standardization does: one class of Fashion-MNIST diverged with it). Mean one-class AUROC of
    the default detector with it (2026-12-05, one core): Fashion-MNIST 91.07 -> 92.47 (2,000
    images a class) and 91.17 -> 92.37 (500 a class, another draw); digits 99.64 / 99.45 ->
    99.51 / 99.46 on two splits. Anything else (tables in unrelated units, values outside [0,
    1], data it cannot read as numbers) keeps 'auto', which the AutoEncoder resolves.

    Examples
    --------
    >>> detection_scaling(np.array([[0.0, 0.5], [1.0, 0.25]])), detection_scaling(np.array([[0.0, 5.0]]))
    ('shrunk', 'auto')
    """
    if hasattr(X, "select_dtypes"):  # a DataFrame: its numeric features, never the label column
        if isinstance(y, str) and y in X.columns:
            X = X.drop(columns=[y])
        if X.shape[1] != X.select_dtypes("number").shape[1]:
            return "auto"  # text or categories: encoded by the AutoEncoder, its choice stands
    try:
        values = np.asarray(X)
    except (TypeError, ValueError):
        return "auto"
    if values.dtype.kind not in "biuf" or values.ndim < 2:
        return "auto"
    return "shrunk" if in_unit_interval(values) else "auto"


def _default_estimator(X: Any, y: Any, random_state: Any, settings: dict[str, Any], n_rows: int):
    """The AutoEncoder a detector trains on ``n_rows`` of ``X`` (``y``: a table's label column)."""
    from hourglass.estimators.dense import AutoEncoder

    settings = dict(settings)
    n_features = int(np.prod(np.shape(X)[1:])) if np.ndim(X) > 1 else 1
    if settings.get("scaling") == "auto":
        settings["scaling"] = detection_scaling(X, y)
    if settings.get("epochs") == "auto" and isinstance(settings.get("batch_size"), int):
        settings["epochs"] = detection_epochs(n_rows, settings["batch_size"], settings["validation_fraction"])
    if isinstance(settings.get("encoder"), (str, os.PathLike)):
        # A pretrained encoder brings its layers and code: the detector's own defaults for them
        # (one layer of 128, a code from the input's width) would contradict the folder.
        from hourglass.estimators.parts import source_architecture

        saved = source_architecture(settings["encoder"])
        if settings.get("code_size") is None:
            settings["code_size"] = getattr(saved, "code_size", None)
        layers = settings.get("hidden_layers")
        if isinstance(layers, (list, tuple)) and tuple(layers) == DETECTION_HIDDEN:
            settings["hidden_layers"] = "auto"
    if settings.get("code_size") is None:
        # Other data (no columns, complex numbers) get the autoencoder's own check, in its words.
        if n_features == 1 and getattr(getattr(X, "dtype", None), "kind", "f") in "biuf":
            raise InvalidInputError(
                "X has 1 feature (n_features=1); a detector's autoencoder compresses several features "
                "into fewer, so it needs at least 2 (for one feature, its z-score is the detector)"
            )
        # A code a quarter of the input, at most 16 wide: narrow enough not to learn the identity.
        settings["code_size"] = narrow_code(n_features)
    return AutoEncoder(**settings, random_state=random_state)
