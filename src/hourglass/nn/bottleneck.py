"""Bottlenecks: what happens to the encoder's output before it becomes the code.

Every bottleneck shares one contract: ``forward(z) -> (code, aux)`` where ``aux`` is a dict of
named auxiliary tensors (possibly empty) that losses may use, so bottlenecks are swappable.
"""

from __future__ import annotations

import torch
from torch import nn

from hourglass.exceptions import InvalidInputError
from hourglass.runtime import distributed


class IdentityBottleneck(nn.Module):
    """The plain bottleneck: the code is the encoder's output."""

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return z, {}


class ActivationBottleneck(nn.Module):
    """An element-wise non-linearity on the code: ``'relu'`` (exact zeros, for L1 sparsity) or
    ``'sigmoid'`` (rates in (0, 1), for the KL sparsity penalty).

    Examples
    --------
    >>> code, aux = ActivationBottleneck("relu")(torch.tensor([[-1.0, 2.0]]))
    >>> code.tolist(), aux
    ([[0.0, 2.0]], {})
    """

    def __init__(self, activation: str = "relu") -> None:
        super().__init__()
        from hourglass.nn.activations import make_activation

        self.activation = activation
        self.act = make_activation(activation)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return self.act(z), {}


class TopKBottleneck(nn.Module):
    """Keep the ``k`` largest entries of each code and zero the rest (Gao et al. 2024).

    Every sample gets exactly ``k`` active units. The kept values pass through unchanged (Gao
    et al. add a ReLU; without it "exactly k" holds even when a kept value is negative). A code
    with more than one axis per sample (a convolutional feature map ``(c, h, w)``) is ranked as
    one flat vector per sample and reshaped back, so ``k`` counts entries of the whole map.

    For the auxiliary loss that revives dead latents (AuxK), the bottleneck counts, in training
    mode, the training samples seen since each unit last fired; a unit silent for ``dead_after``
    samples is dead. ``aux['topk_aux_code']`` then holds, per sample, the ``aux_k`` largest
    pre-activations among the dead units (zeros elsewhere, and all zeros when none is dead);
    :class:`hourglass.train.regularizers.AuxKLoss` decodes it to predict the main model's residual.

    Parameters
    ----------
    k : int
        Active units per sample.
    aux_k : int, default=0
        Dead units used by the auxiliary code (0 switches it off).
    dead_after : int, default=10_000
        Training samples without firing after which a unit counts as dead.

    Examples
    --------
    >>> code, aux = TopKBottleneck(2)(torch.tensor([[0.1, 3.0, -2.0, 1.0]]))
    >>> code.tolist()
    [[0.0, 3.0, 0.0, 1.0]]
    >>> int((TopKBottleneck(3)(torch.randn(2, 4, 5, 5))[0] != 0).sum(dim=(1, 2, 3))[0])
    3
    """

    def __init__(self, k: int, aux_k: int = 0, dead_after: int = 10_000) -> None:
        super().__init__()
        if int(k) < 1:
            raise InvalidInputError(f"topk={k} must be a positive integer")
        self.k = int(k)
        self.aux_k = int(aux_k)
        self.dead_after = int(dead_after)
        # Lazily sized on the first batch so the module needs no code width up front; a
        # buffer, so that checkpoints and saved models keep it.
        self.register_buffer("samples_since_fired", torch.zeros(0, dtype=torch.long))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + "samples_since_fired"
        if key in state_dict:
            device = self.samples_since_fired.device
            self.samples_since_fired = torch.zeros_like(state_dict[key], device=device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def dead_mask(self) -> torch.Tensor:
        """Boolean mask of the units silent for at least ``dead_after`` training samples."""
        return self.samples_since_fired >= self.dead_after

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        flat = z.reshape(z.shape[0], -1)  # (b, units)
        k = min(self.k, flat.shape[1])
        values, index = flat.topk(k, dim=1)
        code = torch.zeros_like(flat).scatter(1, index, values)  # (b, units), k nonzero per row
        aux: dict[str, torch.Tensor] = {}
        if self.training:
            self._track(index, flat.shape)
            if self.aux_k > 0:
                # Shaped like the code (a feature map for a spatial code), so code + aux decodes.
                aux["topk_aux_code"] = self._aux_code(flat).reshape(z.shape)
        return code.reshape(z.shape), aux

    @torch.no_grad()
    def _track(self, index: torch.Tensor, shape: torch.Size) -> None:
        if self.samples_since_fired.numel() != shape[1]:
            self.samples_since_fired = torch.zeros(shape[1], dtype=torch.long, device=index.device)
        fired = torch.zeros(shape[1], dtype=torch.uint8, device=index.device)
        fired[index.reshape(-1)] = 1
        # Under data-parallel training a unit fired if it fired in any process's share.
        fired = distributed.all_reduce_max(fired).bool()
        self.samples_since_fired += shape[0] * distributed.world_size()
        self.samples_since_fired[fired] = 0

    def _aux_code(self, flat: torch.Tensor) -> torch.Tensor:
        dead = self.dead_mask()
        n_dead = int(dead.sum())
        if n_dead == 0:
            return torch.zeros_like(flat)
        k = min(self.aux_k, n_dead)
        masked = flat.masked_fill(~dead, float("-inf"))  # only dead units compete
        values, index = masked.topk(k, dim=1)
        return torch.zeros_like(flat).scatter(1, index, values)


def make_bottleneck(config) -> nn.Module:
    """The bottleneck an architecture config asks for (any config with the optional fields
    ``topk``, ``topk_aux_k``, ``topk_dead_after`` and ``code_activation``).

    Examples
    --------
    >>> from hourglass.nn.config import DenseConfig
    >>> make_bottleneck(DenseConfig(input_dim=8, code_size=4, topk=2)).k
    2
    """
    topk = getattr(config, "topk", None)
    if topk:
        aux_k = getattr(config, "topk_aux_k", 0) or 0
        return TopKBottleneck(topk, aux_k, getattr(config, "topk_dead_after", 10_000))
    activation = getattr(config, "code_activation", "identity")
    if activation and activation != "identity":
        return ActivationBottleneck(activation)
    return IdentityBottleneck()
