"""PCA beside every fit: its error on the same validation items, at the same code size.

The figure a user reads a fit's validation error against: ``hourglass compare`` does it on a
held-out split for several code sizes; every ``fit`` does it once, for its own code, on its own
validation split, so the end-of-fit line can say ``0.47x PCA-2's error``. PCA is fitted on a
sample of the training items in the model's units (:attr:`~hourglass.data.scaling.AffineScaler`:
z-scores for standardized data), as :func:`hourglass.compare` fits it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.decomposition import PCA

from hourglass.data.sources import TrainingSource
from hourglass.exceptions import InvalidInputError
from hourglass.train.tasks import task_of

#: PCA is fitted on at most this many training items (a random sample of them) ...
PCA_ROWS = 10_000
#: ... of at most this many values: on one core, 10,000 x 784 (Fashion-MNIST) at 30 components
#: took 0.26 s, 10,000 x 4096 at 64 took 3.8 s, more than a fit should pay for a figure. Wider
#: images get none (a pixel PCA is not what a convolutional code of a large image is judged by);
#: a wider table (spectra, counts of words) is sampled to as many values in all, fewer rows.
MAX_FEATURES = 1024
#: Values of the validation items read at once for :func:`validation_error`.
BLOCK_VALUES = 1 << 21
#: The architectures whose code is a number of values PCA's components compare with.
COMPARABLE_KINDS = ("dense", "conv")


def baseline_pca(est: Any, source: TrainingSource, train_idx: np.ndarray, val_idx: np.ndarray) -> PCA | None:
    """PCA with as many components as ``est``'s code has values, fitted on up to :data:`PCA_ROWS`
    training items in the model's units; :func:`~hourglass.estimators.fitting.validation_mse`
    scores it on the validation items in the same pass as the autoencoder.

    None without a validation split, for restoration tasks (judged against their own
    baselines), for codes PCA does not compare with (variational, quantized), images or series
    wider than :data:`MAX_FEATURES` values, or a code as wide as the sample of training items.
    Rows wider than that are sampled to ``PCA_ROWS * MAX_FEATURES`` values, fewer rows.
    """
    if not len(val_idx) or task_of(est).restoration:
        return None
    if getattr(est.architecture_, "kind", None) not in COMPARABLE_KINDS:
        return None
    width = int(np.prod(source.sample_shape))
    if width > MAX_FEATURES and est.architecture_.kind != "dense":
        return None
    rows = PCA_ROWS if width <= MAX_FEATURES else max(1, PCA_ROWS * MAX_FEATURES // width)
    if len(train_idx) > rows:  # a sample from the whole split: files are often sorted by class
        train_idx = np.sort(np.random.default_rng(est.seed_).choice(train_idx, rows, replace=False))
    train = _flat_scaled(est, source.read(train_idx))
    k = est._code_width()
    if k >= min(train.shape):
        return None
    with np.errstate(invalid="ignore", divide="ignore"):  # constant rows: a variance ratio of 0/0
        return PCA(n_components=k, random_state=0).fit(train)


def validation_error(est: Any, pca: PCA | None, source: TrainingSource, val_idx: np.ndarray) -> float | None:
    """``pca``'s mean squared error per value on the validation items, in the model's units
    (``validation_pca_mse_``), or None without ``pca``.

    Computed before training: where training monitors the squared error, it is the floor a
    network still above it has not reached (:class:`~hourglass.train.trainer.Trainer`'s
    ``linear_floor``). Read in blocks of a bounded number of values, as the autoencoder's own
    validation error is (:func:`~hourglass.estimators.fitting.validation_mse`).
    """
    if pca is None or not len(val_idx):
        return None
    width = max(1, int(np.prod(source.sample_shape)))
    block = max(1, BLOCK_VALUES // width)
    total, bad, first = 0.0, 0, None
    for start in range(0, len(val_idx), block):
        items = source.read(val_idx[start : start + block])
        finite = np.isfinite(items)
        if not finite.all():
            # A source whose values were checked only on (a sample of) the training items, a
            # Dataset: name the first bad value in one line, not in PCA's paragraph on NaN.
            bad += int((~finite).sum())
            index = np.argwhere(~finite)[0]
            first = first or (int(val_idx[start + int(index[0])]), *(int(i) for i in index[1:]))
        elif first is None:
            total += squared_error(est, pca, items)
    if first is not None:
        where = f"(row {first[0]}, column {first[1]})" if len(first) == 2 else f"index {first}"
        raise InvalidInputError(
            f"X holds {bad} NaN or infinite value(s) in its {len(val_idx)} validation items, the first at "
            f"{where}; fill or drop them first"
        )
    return total / (len(val_idx) * width)


def squared_error(est: Any, pca: PCA, items: np.ndarray) -> float:
    """The summed squared error of ``pca``'s reconstruction of ``items``, in the model's units."""
    rows = _flat_scaled(est, items)
    return float(np.sum((pca.inverse_transform(pca.transform(rows)) - rows) ** 2))


def _flat_scaled(est: Any, items: np.ndarray) -> np.ndarray:
    """Items in the model's units, one row each, in float64."""
    scaled = est.scaler_.transform(np.asarray(items, dtype=np.float32))
    return scaled.reshape(len(scaled), -1).astype(np.float64)
