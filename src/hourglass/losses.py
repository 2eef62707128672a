"""Reconstruction losses, the automatic loss choice, and the regularizer contract.

A loss returns a dict holding ``"loss"`` (the scalar to minimise) and its named parts, so the
training history can show each term.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from hourglass.exceptions import InvalidInputError
from hourglass.scaling import in_unit_interval


def choose_loss(loss: str, X: np.ndarray) -> tuple[str, str]:
    """Resolve ``loss`` ('auto', 'mse', 'bce') for training data ``X``; return (loss, reason).

    ``'auto'`` picks binary cross-entropy when every value lies in [0, 1] (pixel intensities,
    probabilities, binary features) and mean squared error otherwise.

    Examples
    --------
    >>> choose_loss("auto", np.array([[0.0, 0.5, 1.0]]))[0]
    'bce'
    """
    lo, hi = (float(X.min()), float(X.max())) if X.size else (0.0, 0.0)
    if loss == "auto":
        if in_unit_interval(X):
            return "bce", f"auto: every training value lies in [0, 1] (min {lo:.3g}, max {hi:.3g})"
        return "mse", f"auto: training values span [{lo:.3g}, {hi:.3g}], outside [0, 1]"
    if loss == "bce":
        if not in_unit_interval(X):
            raise InvalidInputError(
                f"loss='bce' needs targets in [0, 1], but the (scaled) training data span "
                f"[{lo:.3g}, {hi:.3g}]; use loss='mse' or scaling='minmax'"
            )
        return "bce", "set by the user"
    if loss == "mse":
        return "mse", "set by the user"
    raise InvalidInputError(f"loss={loss!r}; expected one of ('auto', 'mse', 'bce')")


def reconstruction_loss(outputs: dict[str, Any], target: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean reconstruction loss over every element of the batch.

    BCE is computed from logits (``binary_cross_entropy_with_logits``), which stays finite
    where a sigmoid saturates.
    """
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(outputs["logits"].float(), target)
    return F.mse_loss(outputs["reconstruction"].float(), target)


class Regularizer(Protocol):
    """A penalty added to the reconstruction loss.

    ``name`` labels its term in the history; calling it returns a scalar tensor (already
    multiplied by its weight).
    """

    name: str

    def __call__(
        self, model: torch.nn.Module, inputs: torch.Tensor, outputs: dict[str, Any]
    ) -> torch.Tensor: ...


def total_loss(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor,
    outputs: dict[str, Any],
    kind: str,
    regularizers: list[Regularizer] = (),  # type: ignore[assignment]
) -> dict[str, torch.Tensor]:
    """Reconstruction loss plus every regularizer's term, by name, with the sum in ``'loss'``."""
    parts = {"reconstruction": reconstruction_loss(outputs, target, kind)}
    for reg in regularizers:
        parts[reg.name] = reg(model, inputs, outputs)
    for name, value in outputs.get("aux", {}).items():
        # Bottlenecks may return ready-weighted auxiliary losses under names ending in "_loss".
        if name.endswith("_loss"):
            parts[name] = value
    parts["loss"] = sum(parts.values())  # type: ignore[assignment]
    return parts
