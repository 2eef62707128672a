"""Sparse-code metrics with their conventional definitions, and a per-epoch monitor.

* L0: mean number of active units per sample (active: ``|code| > threshold``).
* Activation frequency: per unit, the fraction of samples on which it is active.
* Dead fraction: the share of units active on no sample over a window of recent evaluations.
* Normalized MSE: ``SSE / SST``, the squared error over that of predicting each feature's mean.
* Explained variance: ``1 - SSE / SST`` (SST about each feature's mean).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import torch

from hourglass.exceptions import InvalidInputError


def _as_2d(a: Any) -> np.ndarray:
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    return a.reshape(a.shape[0], -1).astype(np.float64, copy=False)


def active_mask(codes: Any, threshold: float = 0.0) -> np.ndarray:
    """Boolean (n, units) mask of active units: ``|code| > threshold``."""
    return np.abs(_as_2d(codes)) > threshold


def l0(codes: Any, threshold: float = 0.0) -> float:
    """Mean number of active units per sample.

    Examples
    --------
    >>> l0(np.array([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]]))
    1.5
    """
    return float(active_mask(codes, threshold).sum(axis=1).mean())


def activation_frequency(codes: Any, threshold: float = 0.0) -> np.ndarray:
    """Per unit, the fraction of samples on which it is active; shape (units,).

    Examples
    --------
    >>> activation_frequency(np.array([[0.0, 1.0], [0.0, 2.0]])).tolist()
    [0.0, 1.0]
    """
    return active_mask(codes, threshold).mean(axis=0)


def dead_fraction(codes: Any, threshold: float = 0.0) -> float:
    """Share of units active on none of the samples of ``codes``.

    Examples
    --------
    >>> dead_fraction(np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 1.0]]))
    0.3333333333333333
    """
    return float((~active_mask(codes, threshold).any(axis=0)).mean())


def _sse_sst(X: Any, X_hat: Any) -> tuple[float, float]:
    X, X_hat = _as_2d(X), _as_2d(X_hat)
    if X.shape != X_hat.shape:
        raise InvalidInputError(f"X has shape {X.shape} but its reconstruction {X_hat.shape}; expected equal")
    sse = float(((X - X_hat) ** 2).sum())
    sst = float(((X - X.mean(axis=0)) ** 2).sum())
    return sse, sst


def normalized_mse(X: Any, X_hat: Any) -> float:
    """``SSE / SST``: the reconstruction's squared error over that of predicting the mean.

    0 is perfect, 1 is no better than the per-feature mean.

    Examples
    --------
    >>> X = np.array([[0.0, 2.0], [2.0, 0.0]])
    >>> normalized_mse(X, np.ones_like(X))
    1.0
    """
    sse, sst = _sse_sst(X, X_hat)
    return sse / sst if sst > 0 else float("nan")


def explained_variance(X: Any, X_hat: Any) -> float:
    """``1 - SSE / SST`` with SST the total sum of squares about each feature's mean.

    Examples
    --------
    >>> X = np.array([[0.0, 2.0], [2.0, 0.0]])
    >>> explained_variance(X, X)
    1.0
    """
    return 1.0 - normalized_mse(X, X_hat)


def sparse_code_metrics(X: Any, codes: Any, X_hat: Any, threshold: float = 0.0) -> dict[str, float]:
    """L0, dead fraction, mean activation, normalized MSE and explained variance, by name.

    Examples
    --------
    >>> X = np.eye(3)
    >>> sorted(sparse_code_metrics(X, X, X))
    ['dead_fraction', 'explained_variance', 'l0', 'mean_activation', 'normalized_mse']
    """
    nmse = normalized_mse(X, X_hat)
    return {
        "l0": l0(codes, threshold),
        "dead_fraction": dead_fraction(codes, threshold),
        "mean_activation": float(_as_2d(codes).mean()),
        "normalized_mse": nmse,
        "explained_variance": 1.0 - nmse,
    }


def _iterate(data: Any, batch: int = 1024):
    from hourglass.data.sources import iterate_batches

    return iterate_batches(data, batch, None, torch.device("cpu"))


class SparsityMonitor:
    """``epoch_metrics`` for :class:`hourglass.train.trainer.Trainer`: sparse-code metrics per epoch.

    After every epoch it encodes the validation data (or ``probe`` when there is none) and
    records ``l0``, ``dead_fraction`` (units active on no sample in any of the last ``window``
    epochs), ``mean_activation``, ``normalized_mse`` and ``explained_variance`` (in the units the
    network sees) in ``history.metrics``.

    Parameters
    ----------
    probe : Tensor, optional
        Samples to measure on when the trainer has no validation data.
    window : int, default=3
        Epochs a unit must stay silent to count as dead.
    threshold : float, default=0.0
        A unit is active where ``|code| > threshold`` (0.5 suits sigmoid codes).

    Examples
    --------
    >>> from hourglass.nn.config import DenseConfig
    >>> from hourglass.nn.model import build_model
    >>> m = build_model(DenseConfig(input_dim=6, code_size=4, hidden_layers=(), topk=2))
    >>> SparsityMonitor()(m.eval(), torch.rand(10, 6))["l0"]
    2.0
    """

    def __init__(self, probe: torch.Tensor | None = None, window: int = 3, threshold: float = 0.0) -> None:
        if int(window) < 1:
            raise InvalidInputError(f"window={window} must be at least 1")
        self.probe = probe
        self.window = int(window)
        self.threshold = float(threshold)
        self._fired: deque[np.ndarray] = deque(maxlen=self.window)

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, val: Any = None) -> dict[str, float]:
        data = val if val is not None and len(val) else self.probe
        if data is None:
            return {}
        was = model.training
        model.eval()
        device = next(model.parameters()).device
        xs, codes, recons = [], [], []
        for batch in _iterate(data):
            batch = batch.to(device)
            out = model(batch)
            xs.append(_as_2d(batch))
            codes.append(_as_2d(out["code"]))
            recons.append(_as_2d(out["reconstruction"]))
        model.train(was)
        X, code, X_hat = np.concatenate(xs), np.concatenate(codes), np.concatenate(recons)
        metrics = sparse_code_metrics(X, code, X_hat, self.threshold)
        self._fired.append(active_mask(code, self.threshold).any(axis=0))
        metrics["dead_fraction"] = float((~np.logical_or.reduce(list(self._fired))).mean())
        return metrics
