"""Input scaling that is fitted, saved with the model, and undone on decode.

An affine map ``(x - offset) / scale`` per feature (or per channel for images) is all the
scalers we offer need, and unlike a pickled scikit-learn scaler it saves as two plain arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from hourglass.choices import SCALINGS
from hourglass.exceptions import InvalidInputError


def in_unit_interval(X: np.ndarray) -> bool:
    """True when every value of ``X`` lies in [0, 1]."""
    return bool(X.size) and float(np.min(X)) >= 0.0 and float(np.max(X)) <= 1.0


def is_binary(X: np.ndarray) -> bool:
    """True when every value of ``X`` is exactly 0 or 1."""
    return bool(X.size) and bool(np.all((X == 0) | (X == 1)))


@dataclass
class AffineScaler:
    """``transform(x) = (x - offset) / scale``, broadcast over the sample axis.

    Attributes
    ----------
    kind : str
        ``'none'``, ``'standard'``, ``'minmax'`` or ``'shrunk'`` (the resolved choice, never
        ``'auto'``).
    offset, scale : ndarray
        Shaped like one sample with singleton axes where statistics are shared.
    inverse_scale : ndarray or None
        What :meth:`inverse_transform` multiplies by: ``scale``, except 0 for a feature that was
        constant in the training data, which then comes back as exactly its constant (the
        network's output there carries no information). None: ``scale`` (models saved before).
    """

    kind: str
    offset: np.ndarray
    scale: np.ndarray
    inverse_scale: np.ndarray | None = None

    @property
    def unscale(self) -> np.ndarray:
        """The factor :meth:`inverse_transform` multiplies by (``inverse_scale``, else ``scale``)."""
        # getattr: a scaler pickled before the field existed has no such attribute.
        inverse = getattr(self, "inverse_scale", None)
        return self.scale if inverse is None else inverse

    def transform(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.offset) / self.scale).astype(np.float32, copy=False)

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        return (X * self.unscale + self.offset).astype(np.float32, copy=False)


@dataclass
class DataSummary:
    """What fitting a scaler and choosing a loss need from the training data, in one pass.

    Statistics are per feature (or per channel), shaped like one sample with singleton axes
    where they are shared. Built block by block by :func:`summarize`, so data larger than
    memory are summarized without being loaded.

    Attributes
    ----------
    n_items : int
        Items summarized.
    mean, var, min, max : ndarray of float64
        Per-feature (per-channel) statistics.
    binary : bool
        Whether every value is exactly 0 or 1.
    basis : str
        Which items the statistics come from ("all training items", or the sample taken).
    """

    n_items: int
    mean: np.ndarray
    var: np.ndarray
    min: np.ndarray
    max: np.ndarray
    binary: bool
    basis: str = field(default="all training items")

    @property
    def lo(self) -> float:
        return float(self.min.min()) if self.n_items else 0.0

    @property
    def hi(self) -> float:
        return float(self.max.max()) if self.n_items else 0.0

    def in_unit_interval(self) -> bool:
        return bool(self.n_items) and self.lo >= 0.0 and self.hi <= 1.0

    def scaled(self, scaler: AffineScaler) -> DataSummary:
        """The summary of the same data after ``scaler`` (an affine map, so exact)."""
        offset, scale = scaler.offset.astype(np.float64), scaler.scale.astype(np.float64)
        lo, hi = (self.min - offset) / scale, (self.max - offset) / scale
        # Binary data stay binary only when 0 and 1 each map to 0 or 1.
        zero, one = (0.0 - offset) / scale, (1.0 - offset) / scale
        keeps = bool(np.all(np.isin(zero, (0.0, 1.0)) & np.isin(one, (0.0, 1.0))))
        return DataSummary(
            self.n_items,
            (self.mean - offset) / scale,
            self.var / scale**2,
            np.minimum(lo, hi),
            np.maximum(lo, hi),
            self.binary and keeps,
            self.basis,
        )


def _stat_axes(ndim: int, channel_axis: int | None) -> tuple[int, ...]:
    return (0,) if channel_axis is None else tuple(a for a in range(ndim) if a != channel_axis)


def summarize(
    blocks: Iterable[np.ndarray],
    channel_axis: int | None = None,
    first_index: Callable[[int], int] | None = None,
    what: str = "X",
) -> DataSummary:
    """Summarize data given as blocks of items (each of shape (n_i, ...)), refusing non-finite values.

    Means and variances are merged across blocks with Chan et al.'s pairwise update, in
    float64, so the result equals a one-shot computation to rounding.

    Parameters
    ----------
    blocks : iterable of ndarray
        The data, a block of items at a time (one block for an array in memory).
    channel_axis : int or None
        As in :func:`fit_scaler`: the axis of the data (1 for (n, c, h, w)) whose entries get
        their own statistics.
    first_index : callable, optional
        Maps the position of an item among those summarized to the index to name in an error.
    what : str
        What to call the data in an error.

    Examples
    --------
    >>> s = summarize([np.array([[0.0, 2.0]]), np.array([[2.0, 4.0]])])
    >>> s.mean, s.var
    (array([1., 3.]), array([1., 1.]))
    """
    n, mean, m2, lo, hi, binary, seen = 0, None, None, None, None, True, 0
    bad, first, checked = 0, None, 0
    for block in blocks:
        block = np.asarray(block)
        if block.shape[0] == 0:
            continue
        axes = _stat_axes(block.ndim, channel_axis)
        finite = np.isfinite(block)
        checked += block.shape[0]
        if first is not None or not finite.all():
            # Count through every block read, so the message gives the count, not a block's.
            bad += int((~finite).sum())
            if first is None:
                index = np.argwhere(~finite)[0]
                row = int(index[0]) + seen
                first = (first_index(row) if first_index is not None else row, *map(int, index[1:]))
            continue
        seen += block.shape[0]
        b64 = block.astype(np.float64, copy=False)
        count = block.size // math.prod(block.shape[a] for a in range(1, block.ndim) if a not in axes)
        b_mean = b64.mean(axis=axes, keepdims=True)[0]
        b_m2 = ((b64 - b_mean) ** 2).sum(axis=axes, keepdims=True)[0]
        b_lo, b_hi = b64.min(axis=axes, keepdims=True)[0], b64.max(axis=axes, keepdims=True)[0]
        binary = binary and bool(np.all((block == 0) | (block == 1)))
        if mean is None:
            n, mean, m2, lo, hi = count, b_mean, b_m2, b_lo, b_hi
            continue
        total = n + count
        delta = b_mean - mean
        mean = mean + delta * (count / total)
        m2 = m2 + b_m2 + delta**2 * (n * count / total)
        lo, hi, n = np.minimum(lo, b_lo), np.maximum(hi, b_hi), total
    if first is not None:
        where = f"(row {first[0]}, column {first[1]})" if len(first) == 2 else f"index {first}"
        raise InvalidInputError(
            f"{what} holds {bad} NaN or infinite value(s) in the {checked} items read, the first at "
            f"{where}; fill or drop them first"
        )
    if mean is None:
        raise InvalidInputError(f"{what} is empty; expected at least one sample")
    return DataSummary(seen, mean, m2 / n, lo, hi, binary)


def shrunk_scale(var: np.ndarray) -> np.ndarray:
    """Per-feature scale of ``scaling='shrunk'``: the root of each variance plus their mean.

    Standardizing divides by each feature's own spread, so a pixel that is dark in all but one
    training image becomes a z-score of thousands where it lights up: a detector trained so on
    Fashion-MNIST diverged. Adding the mean variance to each (shrinking every variance toward
    the pooled one) leaves such a feature at the common scale, while a feature's weight still
    falls as its spread grows. Meant for features that share one unit (pixels, shares); for
    columns in unrelated units the mean variance is that of the largest, so use 'standard'.

    Examples
    --------
    >>> shrunk_scale(np.array([0.0, 1.0, 8.0]))
    array([1.73205081, 2.        , 3.31662479])
    """
    var = np.asarray(var, dtype=np.float64)
    return np.sqrt(var + var.mean())


#: ``scaling='auto'`` keeps data in [0, 1] in their own units (pixels, shares) only when some
#: feature's standard deviation reaches this share of the interval; narrower data are
#: standardized. The network's defaults (the input noise's sigma of 0.3 in the units it sees, the
#: initial weights) are sized for spreads of 0.1 to 1. Held-out error in the data's units as a
#: share of PCA's, code 2, 30 % held out: iris / 8 (largest spread 0.22) 1.06x unscaled against
#: 1.38x standardized; the same rows scaled to a largest spread of 0.11 1.30x, 0.067 1.87x, 0.022
#: 8.6x, 0.007 36x unscaled, while the standardized model is the same at every scale. Digits / 16
#: (60 epochs) lose unscaled from a spread of 0.2 down (0.75x against 0.65x; 1.36x at 0.012).
#: Binary data always stay as they are.
NARROW_SPREAD = 0.1


def _spread(X: np.ndarray | DataSummary) -> float:
    """The largest standard deviation of a feature (or channel) of ``X``."""
    if isinstance(X, DataSummary):
        return float(np.sqrt(np.max(X.var))) if X.n_items else 0.0
    return float(np.max(np.std(np.asarray(X, dtype=np.float64), axis=0))) if X.size else 0.0


def _binary(X: np.ndarray | DataSummary) -> bool:
    return X.binary if isinstance(X, DataSummary) else is_binary(X)


def resolve_scaling(kind: str, X: np.ndarray | DataSummary) -> str:
    """Resolve ``'auto'``: no scaling for data already in [0, 1] whose spread is not narrow
    (:data:`NARROW_SPREAD`), standardization otherwise.

    Examples
    --------
    >>> pixels = np.array([[0.0, 0.2], [1.0, 0.9]])
    >>> resolve_scaling("auto", pixels), resolve_scaling("auto", pixels * 1e-3)
    ('none', 'standard')
    """
    if kind not in SCALINGS:
        raise InvalidInputError(f"scaling={kind!r}; expected one of {SCALINGS}")
    if kind == "auto":
        inside = X.in_unit_interval() if isinstance(X, DataSummary) else in_unit_interval(X)
        if inside and (_binary(X) or _spread(X) >= NARROW_SPREAD):
            return "none"
        return "standard"
    return kind


def _floor_constant(scale: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """``scale`` with each constant feature's entry set to the pooled scale of the others.

    A constant feature would divide by zero. The scale also turns a model's error there into
    the model's units (``reconstruction_error(scaled=True)``, a detector's score): the 1.0 used
    before left it at a full unit whatever the data's units, so digits / 16 scaled by 0.03 read
    4.2x PCA's error where the same model read 0.65x at 1 (its blank pixels dominated; 0.65x at
    every scale now). The pooled scale weighs a constant feature like a typical one. The way
    back does not use it (:attr:`AffineScaler.inverse_scale`): the network's small wobble there,
    multiplied by wine's pooled 86, put a constant 5 anywhere from -0.5 to 10.6.
    """
    scale = np.asarray(scale, dtype=np.float64)
    varying = scale > np.maximum(1e-7 * np.abs(np.asarray(offset, dtype=np.float64)), 1e-30)
    fill = float(np.sqrt(np.mean(scale[varying] ** 2))) if varying.any() else 1.0
    return np.where(varying, scale, fill)


def scaler_from_summary(summary: DataSummary, kind: str, constants_exact: bool = True) -> AffineScaler:
    """Fit a scaler of ``kind`` from a :class:`DataSummary` (see :func:`fit_scaler`).

    ``constants_exact``: a feature constant in the summary comes back from
    :meth:`AffineScaler.inverse_transform` as that constant. Only where the summary covers all
    the training items: a feature constant in a sample, or in ``partial_fit``'s first chunk,
    may vary in the rest, which the network must then be free to reconstruct.
    """
    kind = resolve_scaling(kind, summary)
    shape = summary.mean.shape
    if kind == "none":
        offset, scale = np.zeros(shape), np.ones(shape)
    elif kind == "standard":
        offset, scale = summary.mean, np.sqrt(summary.var)
    elif kind == "shrunk":
        offset, scale = summary.mean, shrunk_scale(summary.var)
    else:  # minmax
        offset, scale = summary.min, summary.max - summary.min
    inverse = None
    if kind != "none":
        scale = _floor_constant(scale, offset)
        # Every value the same (the data are float32 by now): also for 'shrunk', whose scale
        # is the pooled one there without a floor.
        constant = summary.max == summary.min
        if constants_exact and constant.any():
            inverse = np.asarray(np.where(constant, 0.0, scale), np.float32)
    return AffineScaler(kind, np.asarray(offset, np.float32), np.asarray(scale, np.float32), inverse)


def fit_scaler(X: np.ndarray, kind: str, channel_axis: int | None = None) -> AffineScaler:
    """Fit a scaler of ``kind`` on ``X`` of shape (n, ...).

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...)
        Training data.
    kind : {'auto', 'none', 'standard', 'minmax', 'shrunk'}
        ``'auto'`` resolves through :func:`resolve_scaling`; ``'shrunk'`` standardizes by
        :func:`shrunk_scale`.
    channel_axis : int or None
        For image-like data, the axis of one sample (1 for (n, c, h, w)) whose entries get
        their own statistics; the other axes share them. ``None``: one statistic per feature.

    Examples
    --------
    >>> s = fit_scaler(np.array([[0.0, 10.0], [2.0, 30.0]]), "minmax")
    >>> s.transform(np.array([[1.0, 20.0]]))
    array([[0.5, 0.5]], dtype=float32)
    """
    if kind not in SCALINGS:
        raise InvalidInputError(f"scaling={kind!r}; expected one of {SCALINGS}")
    return scaler_from_summary(summarize([X], channel_axis), kind)
