"""Dropout that draws its masks for the whole global batch under torchrun, as one process does.

``nn.Dropout`` draws a mask for the tensor it is given. Under torchrun a process is given only its
share of every global batch, so with one seed everywhere the processes drew the same mask for
their different rows, and with a seed a process they drew other masks than one process: the
weights matched one process in distribution only. These modules are torch's own outside
:func:`hourglass.runtime.distributed.batch_rows` (one process, evaluation: the same draws to the
bit); inside it they draw the mask of the whole batch, in the same calls torch makes, from the
generator every process seeds alike, and keep their own rows of it.
"""

from __future__ import annotations

import torch
from torch import nn

from hourglass.runtime import distributed

#: Devices on which ``nn.Dropout`` takes torch's fused kernel (``native_dropout``) in training.
_FUSED = ("cuda", "xpu")


def _kept_scale(p: float) -> float:
    """``1 / (1 - p)`` as the fused kernel computes it: the keep rate in float32 first."""
    return 1.0 / float(torch.tensor(1.0 - p, dtype=torch.float32))


class RowDropout(nn.Dropout):
    """``nn.Dropout`` whose training mask is the global batch's under torchrun (module docstring).

    Examples
    --------
    >>> x = torch.ones(4, 3)
    >>> _ = torch.manual_seed(0)
    >>> alone = RowDropout(0.5)(x)
    >>> _ = torch.manual_seed(0)
    >>> with distributed.batch_rows(4, slice(2, 4)):
    ...     share = RowDropout(0.5)(x[2:])
    >>> torch.equal(share, alone[2:])
    True
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.training or not 0 < self.p < 1:
            return super().forward(input)
        noise = distributed.draw_rows(input)
        if noise is None:
            return super().forward(input)
        rows = distributed.own_rows()
        if input.device.type in _FUSED:
            # One process took the fused kernel there, which draws its mask in its own way.
            _, mask = torch.native_dropout(noise.fill_(1), self.p, True)
            return input * mask[rows] * _kept_scale(self.p)
        # aten's dropout on the CPU: a Bernoulli draw of the input's shape and layout, scaled.
        return input * noise.bernoulli_(1 - self.p).div_(1 - self.p)[rows]


class _RowFeatureDropout:
    """Channel dropout (``nn.Dropout1d/2d/3d``) whose masks are the global batch's under torchrun."""

    p: float
    training: bool
    spatial_dims: int

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        noise = None
        if self.training and 0 < self.p < 1 and input.dim() == self.spatial_dims + 2:
            # aten's feature dropout: one draw a sample and channel, shape (b, c, 1, ...).
            noise = distributed.draw_rows(input, (input.shape[1],) + (1,) * self.spatial_dims)
        if noise is None:
            return super().forward(input)  # type: ignore[misc]
        return input * noise.bernoulli_(1 - self.p).div_(1 - self.p)[distributed.own_rows()]


class RowDropout1d(_RowFeatureDropout, nn.Dropout1d):
    """``nn.Dropout1d`` whose masks are the global batch's under torchrun."""

    spatial_dims = 1


class RowDropout2d(_RowFeatureDropout, nn.Dropout2d):
    """``nn.Dropout2d`` whose masks are the global batch's under torchrun."""

    spatial_dims = 2


class RowDropout3d(_RowFeatureDropout, nn.Dropout3d):
    """``nn.Dropout3d`` whose masks are the global batch's under torchrun."""

    spatial_dims = 3


#: The dropout classes whose draws follow :func:`~hourglass.runtime.distributed.batch_rows`.
ROW_DROPOUTS = (RowDropout, RowDropout1d, RowDropout2d, RowDropout3d)


def draws_by_rows(model: nn.Module) -> bool:
    """Whether every dropout of ``model`` draws the global batch's masks under torchrun: then every
    process may seed the global generator alike (another dropout would repeat its masks)."""
    return not any(
        isinstance(m, nn.modules.dropout._DropoutNd) and not isinstance(m, ROW_DROPOUTS)
        for m in model.modules()
    )


__all__ = ["ROW_DROPOUTS", "RowDropout", "RowDropout1d", "RowDropout2d", "RowDropout3d", "draws_by_rows"]
