"""Registers the convolutional architecture (``kind = "conv"``) so saved models rebuild.

Imported by :mod:`hourglass` itself, so ``hourglass.load`` knows convolutional models.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hourglass.exceptions import InvalidInputError
from hourglass.nn.bottleneck import make_bottleneck
from hourglass.nn.config import ConvConfig
from hourglass.nn.conv import build_conv_decoder, build_conv_encoder
from hourglass.nn.model import AutoEncoder, register_architecture
from hourglass.nn.pixels import chroma_to_rgb, luma

_EPS = 1e-3


class ResidualAutoEncoder(AutoEncoder):
    """An autoencoder whose output is its input plus the decoded correction.

    For restoration tasks (denoise, super-resolve, colorize, inpaint) the corrupted input is
    already close to the target; learning only the difference is what lets small networks beat
    the classical methods (Zhang et al. 2017, DnCNN; Kim et al. 2016, VDSR). The code still
    passes through the bottleneck; ``decode(code)`` returns the correction alone.

    With ``chroma=(offset, scale)`` (colorization) the decoder predicts chroma instead, and the
    output is the RGB image of the input's exact luminance with that chroma, in the scaled
    units ``(pixels - offset) / scale`` the network sees; zero chroma is the gray input. With
    ``chroma_subsampling`` N the network sees the input shrunk N times and its chroma is
    upsampled back onto the full-resolution luminance.
    """

    def __init__(
        self, *args: Any, chroma: tuple | None = None, chroma_subsampling: int = 1, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.chroma = chroma is not None
        self.chroma_subsampling = int(chroma_subsampling)
        if self.chroma:
            offset, scale = (torch.as_tensor(v, dtype=torch.float32).view(1, 3, 1, 1) for v in chroma)
            # Rebuilt from the config, so not part of the saved weights.
            self.register_buffer("pixel_offset", offset, persistent=False)
            self.register_buffer("pixel_scale", scale, persistent=False)

    def _with_input(self, decoded: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The output logits: the decoded correction plus the input, or the input's luma with chroma."""
        if not self.chroma:
            return decoded + self._skip(x)
        offset, scale = self.pixel_offset.to(x.dtype), self.pixel_scale.to(x.dtype)
        if decoded.shape[2:] != x.shape[2:]:  # chroma of the shrunk input -> the input's size
            decoded = F.interpolate(decoded, size=x.shape[2:], mode="bilinear", align_corners=False)
        # (b, 1, h, w) luma in pixel units, plus (b, 2, h, w) chroma -> (b, 3, h, w) scaled RGB
        rgb = chroma_to_rgb(luma(x * scale + offset), decoded.to(x.dtype))
        return (rgb - offset) / scale

    def _network_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the encoder sees: ``x``, or ``x`` shrunk ``chroma_subsampling`` times (area average)."""
        if self.chroma_subsampling == 1:
            return x
        size = [-(-s // self.chroma_subsampling) for s in x.shape[2:]]
        return F.interpolate(x, size=size, mode="area")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        # The code of what the network sees (the shrunk input under chroma subsampling), as in forward.
        return super().encode(self._network_input(x))

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        if self.chroma:
            raise InvalidInputError(
                "a colorizer cannot decode a code alone: its decoder gives chroma, which needs the "
                "input's luminance; pass the input through the whole model instead"
            )
        return super().decode(code)

    def _skip(self, x: torch.Tensor) -> torch.Tensor:
        # With a sigmoid output the skip enters as logits, so that sigmoid(0 + skip) = x.
        if self.output_activation == "sigmoid":
            return torch.logit(x.clamp(_EPS, 1 - _EPS))
        return x

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        out = super().forward(self._network_input(x))
        logits = self._with_input(out["logits"], x)
        return {**out, "logits": logits, "reconstruction": self._activate(logits)}

    @torch.no_grad()
    def layer_outputs(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        outputs = super().layer_outputs(self._network_input(x))
        last = [k for k in outputs if k.startswith("decoder.")][-1]
        outputs["reconstruction"] = self._activate(self._with_input(outputs[last], x))
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
        return self._with_input(logits, x) if self.residual or self.chroma else logits

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Not available: the decoder also reads the encoder's feature maps of the input."""
        raise InvalidInputError(
            "a model with skip_connections=True cannot decode a code alone: its decoder also reads "
            "the encoder's feature maps; pass the input through the whole model instead"
        )

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        pre_code, skips = self._encode_with_skips(self._network_input(x))
        code, aux = self.bottleneck(pre_code)
        logits = self._add_input(self._decode_with_skips(code, skips), x)
        return self._outputs(pre_code, code, aux, logits)

    @torch.no_grad()
    def layer_outputs(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        outputs: dict[str, torch.Tensor] = {}
        h, skips = self._encode_with_skips(self._network_input(x), outputs)
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
    if config.chroma:
        ones, zeros = (1.0,) * 3, (0.0,) * 3
        parts["chroma"] = (config.pixel_offset or zeros, config.pixel_scale or ones)
        parts["chroma_subsampling"] = config.chroma_subsampling
        # Start from zero chroma, the gray input: colour is added only where training finds it.
        nn.init.zeros_(decoder.output.weight)
        nn.init.zeros_(decoder.output.bias)
    if config.skip_connections:
        return UNetAutoEncoder(encoder, decoder, residual=config.residual, **parts)
    cls = ResidualAutoEncoder if config.residual or config.chroma else AutoEncoder
    return cls(encoder, decoder, **parts)
