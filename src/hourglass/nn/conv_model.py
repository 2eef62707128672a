"""Registers the convolutional architecture (``kind = "conv"``) so saved models rebuild.

Imported by :mod:`hourglass` itself, so ``hourglass.load`` knows convolutional models.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hourglass.exceptions import InvalidInputError
from hourglass.nn.bottleneck import make_bottleneck
from hourglass.nn.config import ConvConfig
from hourglass.nn.conv import build_conv_decoder, build_conv_encoder
from hourglass.nn.model import AutoEncoder, register_architecture

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


class UNetAutoEncoder(ResidualAutoEncoder):
    """A convolutional autoencoder with U-Net skip connections (Ronneberger et al. 2015).

    Every decoder block concatenates, after its upsampling, the feature map the mirrored
    encoder block had before its pooling, so fine detail reaches the output without squeezing
    through the code. That is what restoration needs (Zhang et al. 2021, DRUNet) and what a
    compressing autoencoder must not have; the builder allows it for restoration tasks only.
    With ``residual`` the input is also added to the output, as in
    :class:`ResidualAutoEncoder`.

    The encoder and decoder stay the plain ``nn.Sequential`` stacks of
    :func:`hourglass.nn.conv.build_conv_encoder` and ``build_conv_decoder``, so their weights
    and layer names are those of the model without skips.
    """

    decodes_codes_alone = False

    def __init__(self, encoder: nn.Sequential, decoder: nn.Sequential, residual: bool, **kwargs: Any) -> None:
        super().__init__(encoder, decoder, **kwargs)
        self.residual = residual

    def _encode_with_skips(self, x: torch.Tensor, record: dict | None = None):
        skips: list[torch.Tensor] = []
        h = x
        for name, layer in self.encoder.named_children():
            if name.startswith("block"):
                h = layer[:-1](h)  # every convolution of the block, before its max-pooling
                skips.append(h)
                h = layer[-1](h)
            else:
                h = layer(h)
            if record is not None:
                record[f"encoder.{name}"] = h
        return h, skips

    def _decode_with_skips(self, code: torch.Tensor, skips: list[torch.Tensor], record: dict | None = None):
        h = code
        for name, layer in self.decoder.named_children():
            if name.startswith("block"):
                h = layer[0](h)  # the upsampling
                h = layer[1:](torch.cat([h, skips.pop()], dim=1))
            else:
                h = layer(h)
            if record is not None:
                record[f"decoder.{name}"] = h
        return h

    def _add_input(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return logits + self._skip(x) if self.residual else logits

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Not available: the decoder also reads the encoder's feature maps of the input."""
        raise InvalidInputError(
            "a model with skip_connections=True cannot decode a code alone: its decoder also reads "
            "the encoder's feature maps; pass the input through the whole model instead"
        )

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        pre_code, skips = self._encode_with_skips(x)
        code, aux = self.bottleneck(pre_code)
        logits = self._add_input(self._decode_with_skips(code, skips), x)
        return self._outputs(pre_code, code, aux, logits)

    @torch.no_grad()
    def layer_outputs(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        outputs: dict[str, torch.Tensor] = {}
        h, skips = self._encode_with_skips(x, outputs)
        h, _ = self.bottleneck(h)
        outputs["code"] = h
        logits = self._decode_with_skips(h, skips, outputs)
        outputs["reconstruction"] = self._activate(self._add_input(logits, x))
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
    parts = {
        "bottleneck": make_bottleneck(config),
        "output_activation": config.output_activation,
    }
    encoder, decoder = build_conv_encoder(config), build_conv_decoder(config)
    if config.skip_connections:
        return UNetAutoEncoder(encoder, decoder, residual=config.residual, **parts)
    cls = ResidualAutoEncoder if config.residual else AutoEncoder
    return cls(encoder, decoder, **parts)
