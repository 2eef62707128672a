"""Input scaling that is fitted, saved with the model, and undone on decode.

An affine map ``(x - offset) / scale`` per feature (or per channel for images) is all the
scalers we offer need, and unlike a pickled scikit-learn scaler it saves as two plain arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hourglass.exceptions import InvalidInputError

SCALINGS = ("auto", "none", "standard", "minmax")


def in_unit_interval(X: np.ndarray) -> bool:
    """True when every value of ``X`` lies in [0, 1]."""
    return bool(X.size) and float(np.min(X)) >= 0.0 and float(np.max(X)) <= 1.0


@dataclass
class AffineScaler:
    """``transform(x) = (x - offset) / scale``, broadcast over the sample axis.

    Attributes
    ----------
    kind : str
        ``'none'``, ``'standard'`` or ``'minmax'`` (the resolved choice, never ``'auto'``).
    offset, scale : ndarray
        Shaped like one sample with singleton axes where statistics are shared.
    """

    kind: str
    offset: np.ndarray
    scale: np.ndarray

    def transform(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.offset) / self.scale).astype(np.float32, copy=False)

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        return (X * self.scale + self.offset).astype(np.float32, copy=False)


def resolve_scaling(kind: str, X: np.ndarray) -> str:
    """Resolve ``'auto'``: no scaling for data already in [0, 1], standardization otherwise."""
    if kind not in SCALINGS:
        raise InvalidInputError(f"scaling={kind!r}; expected one of {SCALINGS}")
    if kind == "auto":
        return "none" if in_unit_interval(X) else "standard"
    return kind


def fit_scaler(X: np.ndarray, kind: str, channel_axis: int | None = None) -> AffineScaler:
    """Fit a scaler of ``kind`` on ``X`` of shape (n, ...).

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...)
        Training data.
    kind : {'auto', 'none', 'standard', 'minmax'}
        ``'auto'`` resolves through :func:`resolve_scaling`.
    channel_axis : int or None
        For image-like data, the axis of one sample (1 for (n, c, h, w)) whose entries get
        their own statistics; the other axes share them. ``None``: one statistic per feature.

    Examples
    --------
    >>> s = fit_scaler(np.array([[0.0, 10.0], [2.0, 30.0]]), "minmax")
    >>> s.transform(np.array([[1.0, 20.0]]))
    array([[0.5, 0.5]], dtype=float32)
    """
    kind = resolve_scaling(kind, X)
    if channel_axis is None:
        axes: tuple[int, ...] = (0,)
    else:
        axes = tuple(a for a in range(X.ndim) if a != channel_axis)
    shape = [1 if a in axes else X.shape[a] for a in range(X.ndim)][1:]
    if kind == "none":
        offset, scale = np.zeros(shape, np.float32), np.ones(shape, np.float32)
    elif kind == "standard":
        X64 = X.astype(np.float64, copy=False)
        offset, scale = X64.mean(axis=axes), X64.std(axis=axes)
    else:  # minmax
        offset = X.min(axis=axes).astype(np.float64)
        scale = X.max(axis=axes) - offset
    # Constant features would divide by zero; leave them centred but unscaled.
    scale = np.where(np.asarray(scale) > 1e-12, scale, 1.0)
    return AffineScaler(
        kind,
        np.asarray(offset, np.float32).reshape(shape),
        np.asarray(scale, np.float32).reshape(shape),
    )
