"""Registers the convolutional architecture (``kind = "conv"``) so saved models rebuild.

Imported by :mod:`hourglass` itself, so ``hourglass.load`` knows convolutional models.
"""

from __future__ import annotations

from typing import Any

import torch

from hourglass.config import ConvConfig
from hourglass.model import AutoEncoder, register_architecture
from hourglass.nn.bottleneck import make_bottleneck
from hourglass.nn.conv import build_conv_decoder, build_conv_encoder

_EPS = 1e-3


class ResidualAutoEncoder(AutoEncoder):
    """An autoencoder whose output is its input plus the decoded correction.

    For restoration tasks (denoise, super-resolve, colorize, inpaint) the corrupted input is
    already close to the target; learning only the difference is what lets small networks beat
    the classical methods (Zhang et al. 2017, DnCNN; Kim et al. 2016, VDSR). The code still
    passes through the bottleneck; ``decode(code)`` returns the correction alone.
    """

    def _skip(self, x: torch.Tensor) -> torch.Tensor:
        # With a sigmoid output the skip enters as logits, so that sigmoid(0 + skip) = x.
        if self.output_activation == "sigmoid":
            return torch.logit(x.clamp(_EPS, 1 - _EPS))
        return x

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        out = super().forward(x)
        logits = out["logits"] + self._skip(x)
        return {**out, "logits": logits, "reconstruction": self._activate(logits)}

    @torch.no_grad()
    def layer_outputs(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        outputs = super().layer_outputs(x)
        last = [k for k in outputs if k.startswith("decoder.")][-1]
        outputs["reconstruction"] = self._activate(outputs[last] + self._skip(x))
        return outputs


@register_architecture(ConvConfig)
def build_conv(config: ConvConfig) -> AutoEncoder:
    """Build a convolutional autoencoder from its config.

    Examples
    --------
    >>> model = build_conv(ConvConfig(input_shape=(1, 30, 30), channels=(4, 8), code_size=5))
    >>> out = model(torch.rand(2, 1, 30, 30))
    >>> out["code"].shape, out["reconstruction"].shape
    (torch.Size([2, 5]), torch.Size([2, 1, 30, 30]))
    """
    cls = ResidualAutoEncoder if config.residual else AutoEncoder
    return cls(
        build_conv_encoder(config),
        build_conv_decoder(config),
        bottleneck=make_bottleneck(config),
        output_activation=config.output_activation,
    )
