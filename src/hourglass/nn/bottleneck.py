"""Bottlenecks: what happens to the encoder's output before it becomes the code.

Every bottleneck shares one contract: ``forward(z) -> (code, aux)`` where ``aux`` is a dict of
named auxiliary tensors (possibly empty) that losses may use, so bottlenecks are swappable.
"""

from __future__ import annotations

import torch
from torch import nn


class IdentityBottleneck(nn.Module):
    """The plain bottleneck: the code is the encoder's output."""

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return z, {}
