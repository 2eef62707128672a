"""The AutoEncoder a detector builds when it is given none: its code width and training length."""

from __future__ import annotations

import math
from typing import Any

#: Optimizer steps a default detector trains for (at least 20 epochs): the mean AUROC of
#: Fashion-MNIST's one-class detectors (2,000 images each) is the same after 120 and after 1,800
#: steps, while digits' classes (90 images, one step an epoch) need a few hundred.
DETECTION_STEPS = 300
DETECTION_MIN_EPOCHS = 20


def detection_epochs(n_rows: int, batch_size: int, validation_fraction: float) -> int:
    """Epochs of a default detector's ``epochs='auto'``: about :data:`DETECTION_STEPS` steps.

    Examples
    --------
    >>> detection_epochs(2000, 256, 0.1), detection_epochs(90, 256, 0.1)
    (38, 300)
    """
    n_train = max(1, int(n_rows * (1 - validation_fraction)))
    steps_per_epoch = math.ceil(n_train / max(1, int(batch_size)))
    return max(DETECTION_MIN_EPOCHS, math.ceil(DETECTION_STEPS / steps_per_epoch))


def _default_estimator(n_features: int, random_state: Any, settings: dict[str, Any], n_rows: int):
    from hourglass.estimators.dense import AutoEncoder

    settings = dict(settings)
    if settings.get("epochs") == "auto" and isinstance(settings.get("batch_size"), int):
        settings["epochs"] = detection_epochs(n_rows, settings["batch_size"], settings["validation_fraction"])
    if settings.get("code_size") is None:
        # A code a quarter of the input, at most 16 wide: narrow enough not to learn the identity.
        settings["code_size"] = max(1, min(16, n_features // 4))
    return AutoEncoder(**settings, random_state=random_state)
