"""The vector-quantized convolutional autoencoder (``kind = "vq"``): a code of integer indices.

The convolutional encoder's last feature map is projected (a 1 x 1 convolution) to
``embedding_dim`` channels, each position's vector is quantized (:mod:`hourglass.nn.quantizers`),
and a 1 x 1 convolution takes the codes back to the decoder's channels. The code a codec stores
is the grid of indices: ``latent_grid`` positions of ``log2(codebook_size)`` bits each.
Imported by :mod:`hourglass.estimators.vq`, which registers the architecture for ``load``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from hourglass.choices import QUANTIZERS
from hourglass.exceptions import InvalidInputError
from hourglass.nn.config import ConvConfig, _check_limits, _require
from hourglass.nn.conv import _CONV, build_conv_decoder, build_conv_encoder, code_map_shape
from hourglass.nn.model import AutoEncoder, register_architecture
from hourglass.nn.quantizers import FiniteScalarQuantizer, VectorQuantizer, fsq_levels


@dataclass
class VQConfig(ConvConfig):
    """Architecture of a vector-quantized convolutional autoencoder: a :class:`ConvConfig` plus
    the quantizer.

    Parameters
    ----------
    codebook_size : int
        Codes in the codebook (for 'fsq', the product of the levels chosen for it, at most this).
    embedding_dim : int
        Channels of the quantized map for 'vq' (ignored by 'fsq', whose levels set it).
    quantizer : {'vq', 'fsq'}
        A learned codebook with EMA updates, or finite scalar quantization.
    commitment_cost : float
        Weight of the commitment loss ('vq').
    codebook_decay : float
        Decay of the codebook's moving averages ('vq').
    """

    kind: ClassVar[str] = "vq"

    codebook_size: int = 256
    embedding_dim: int = 16
    quantizer: str = "vq"
    commitment_cost: float = 0.25
    codebook_decay: float = 0.99

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.code_size is None, f"code_size={self.code_size}: a VQ code is a map; expected None")
        _require(self.quantizer in QUANTIZERS, f"quantizer={self.quantizer!r}; expected one of {QUANTIZERS}")
        _require(
            2 <= int(self.codebook_size) <= 2**16,
            f"codebook_size={self.codebook_size}; expected 2 to 65536 codes",
        )
        _require(int(self.embedding_dim) >= 1, f"embedding_dim={self.embedding_dim} must be positive")
        _check_limits("embedding_dim", (int(self.embedding_dim),), 4096, None)
        _require(
            not self.skip_connections and not self.residual and not self.chroma,
            "a VQ codec's output must come from its code alone (no skips, residual or chroma)",
        )
        if self.quantizer == "fsq":
            fsq_levels(int(self.codebook_size))  # refuses sizes it has no levels for

    @property
    def quantized_dim(self) -> int:
        """Channels of the quantized map."""
        if self.quantizer == "fsq":
            return len(fsq_levels(int(self.codebook_size)))
        return int(self.embedding_dim)

    @property
    def grid_shape(self) -> tuple[int, ...]:
        """Spatial shape of the index grid of one sample."""
        return tuple(code_map_shape(self)[1:])

    @property
    def code_width(self) -> int:
        return self.quantized_dim * math.prod(self.grid_shape)


class VQAutoEncoderModule(AutoEncoder):
    """A convolutional autoencoder whose code is quantized; adds index encode / decode.

    Examples
    --------
    >>> model = build_vq(VQConfig(input_shape=(1, 28, 28), channels=(8, 16), codebook_size=32))
    >>> model.eval().encode_indices(torch.rand(2, 1, 28, 28)).shape
    torch.Size([2, 7, 7])
    """

    def encode_indices(self, x: torch.Tensor) -> torch.Tensor:
        """The index grid (b, *grid) of inputs ``x`` (b, c, ...), deterministic in eval mode."""
        return self.bottleneck.indices(self.encoder(x))

    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """The reconstruction of an index grid (b, *grid)."""
        return self.decode(self.bottleneck.lookup(indices))


@register_architecture(VQConfig)
def build_vq(config: VQConfig) -> VQAutoEncoderModule:
    """Build a vector-quantized convolutional autoencoder from its config."""
    if config.quantizer == "fsq":
        bottleneck: nn.Module = FiniteScalarQuantizer(fsq_levels(int(config.codebook_size)))
    else:
        bottleneck = VectorQuantizer(
            int(config.codebook_size),
            int(config.embedding_dim),
            float(config.commitment_cost),
            float(config.codebook_decay),
        )
    d, width, dim = config.spatial_dims, config.channels[-1], config.quantized_dim
    encoder = build_conv_encoder(config)
    encoder.add_module("quantize_in", _CONV[d](width, dim, 1))  # (b, dim, *grid)
    decoder = build_conv_decoder(config)
    decoder = nn.Sequential(
        OrderedDict([("quantize_out", _CONV[d](dim, width, 1)), *decoder.named_children()])
    )
    return VQAutoEncoderModule(
        encoder, decoder, bottleneck=bottleneck, output_activation=config.output_activation
    )


def check_quantizer(value: Any) -> None:
    """Raise unless ``value`` names a quantizer."""
    if value not in QUANTIZERS:
        raise InvalidInputError(f"quantizer={value!r}; expected one of {QUANTIZERS}")


__all__ = ["QUANTIZERS", "VQAutoEncoderModule", "VQConfig", "build_vq"]
