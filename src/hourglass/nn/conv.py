"""Convolutional encoder and decoder stacks for series (1-D), images (2-D) and video (3-D).

The seed's recipe: encoder blocks of convolution -> activation -> max-pooling, decoder blocks of
upsampling -> convolution -> activation; ``downsampling='stride'`` swaps in strided and
transposed convolutions. Inputs whose sizes the ``2 ** n_blocks`` downsampling does not divide
are padded (edge values repeated) on the way in and cropped back on the way out.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from hourglass.nn.activations import make_activation
from hourglass.nn.config import ConvConfig
from hourglass.nn.dropout import RowDropout1d, RowDropout2d, RowDropout3d

_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_CONV_T = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
_POOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
_DROPOUT = {1: RowDropout1d, 2: RowDropout2d, 3: RowDropout3d}


class PadTo(nn.Module):
    """Pad the trailing spatial axes up to ``size`` by repeating edge values (split evenly)."""

    def __init__(self, size: tuple[int, ...]) -> None:
        super().__init__()
        self.size = tuple(size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads: list[int] = []
        # F.pad takes (left, right) pairs starting from the last axis.
        for have, want in zip(reversed(x.shape[2:]), reversed(self.size), strict=True):
            extra = max(0, want - have)
            pads += [extra // 2, extra - extra // 2]
        if not any(pads):
            return x
        return F.pad(x, pads, mode="replicate")

    def extra_repr(self) -> str:
        return f"size={self.size}"


class CropTo(nn.Module):
    """Crop the trailing spatial axes back to ``size`` (the inverse of :class:`PadTo`)."""

    def __init__(self, size: tuple[int, ...]) -> None:
        super().__init__()
        self.size = tuple(size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        slices = [slice(None), slice(None)]
        for have, want in zip(x.shape[2:], self.size, strict=True):
            start = (have - want) // 2
            slices.append(slice(start, start + want))
        return x[tuple(slices)]

    def extra_repr(self) -> str:
        return f"size={self.size}"


def padded_size(config: ConvConfig) -> tuple[int, ...]:
    """Spatial size after padding: each axis rounded up to a multiple of ``2 ** n_blocks``."""
    factor = 2 ** len(config.channels)
    return tuple(math.ceil(s / factor) * factor for s in config.network_shape[1:])


def code_map_shape(config: ConvConfig) -> tuple[int, ...]:
    """Shape ``(channels, *spatial)`` of the encoder's last feature map.

    Examples
    --------
    >>> code_map_shape(ConvConfig(input_shape=(1, 28, 28), channels=(8, 16)))
    (16, 7, 7)
    """
    factor = 2 ** len(config.channels)
    return (config.channels[-1], *(s // factor for s in padded_size(config)))


def shapes_spatial_code(config: ConvConfig) -> bool:
    """Whether a bottleneck (TopK or a code activation) acts on the encoder's last feature map.

    Then the last encoder block ends at its convolution (and pooling), without activation or
    dropout, so the bottleneck sees signed pre-activations: a ReLU map has too few nonzero
    entries for TopK to keep exactly k, and a sigmoid of it never falls below one half.
    """
    return config.code_size is None and bool(config.topk or config.code_activation != "identity")


def _convs(in_ch: int, out_ch: int, config: ConvConfig, stride: int = 1) -> list[nn.Module]:
    """``convs_per_block`` convolutions, the first ``in_ch -> out_ch`` (strided if asked)."""
    d, k = config.spatial_dims, config.kernel_size
    return [_CONV[d](in_ch, out_ch, k, stride=stride, padding=k // 2), *_refining_convs(out_ch, config)]


def _refining_convs(channels: int, config: ConvConfig) -> list[nn.Module]:
    """The ``convs_per_block - 1`` convolutions that follow a block's first, at its resolution."""
    d, k = config.spatial_dims, config.kernel_size
    return [_CONV[d](channels, channels, k, padding=k // 2) for _ in range(config.convs_per_block - 1)]


def _activated(convs: list[nn.Module], config: ConvConfig, raw_last: bool = False) -> list[nn.Module]:
    """Each convolution followed by the activation (and dropout); the last one bare if asked."""
    layers: list[nn.Module] = []
    for i, conv in enumerate(convs):
        layers.append(conv)
        if raw_last and i == len(convs) - 1:
            break
        layers.append(make_activation(config.activation))
        if config.dropout > 0:
            layers.append(_DROPOUT[config.spatial_dims](config.dropout))
    return layers


def build_conv_encoder(config: ConvConfig) -> nn.Sequential:
    """Encoder ``pad -> block1 ... blockN [-> flatten -> code]``; each block halves every axis.

    A 'pool' block is ``(conv -> activation) x convs_per_block -> max-pool``, so its
    convolutions see the block's input resolution; a 'stride' block's first convolution halves it.
    """
    d = config.spatial_dims
    layers: list[tuple[str, nn.Module]] = [("pad", PadTo(padded_size(config)))]
    in_ch = config.input_shape[0]
    raw_last = shapes_spatial_code(config)
    for i, out_ch in enumerate(config.channels, start=1):
        last = raw_last and i == len(config.channels)
        if config.downsampling == "pool":
            block = nn.Sequential(*_activated(_convs(in_ch, out_ch, config), config, last), _POOL[d](2))
        else:
            block = nn.Sequential(*_activated(_convs(in_ch, out_ch, config, stride=2), config, last))
        layers.append((f"block{i}", block))
        in_ch = out_ch
    if config.code_size is not None:
        # A linear code layer without activation, as in the dense model: the code is unconstrained.
        layers.append(("flatten", nn.Flatten()))
        layers.append(("code", nn.Linear(math.prod(code_map_shape(config)), int(config.code_size))))
    return nn.Sequential(OrderedDict(layers))


def build_conv_decoder(config: ConvConfig) -> nn.Sequential:
    """Decoder ``[expand ->] block1 ... blockN -> output -> crop``; each block doubles every axis.

    A 'pool' block is ``upsample -> (conv -> activation) x convs_per_block``; with
    ``skip_connections`` its first convolution also reads the encoder's pre-pooling feature map
    of the same resolution (concatenated after the upsampling: see
    :class:`hourglass.nn.conv_model.UNetAutoEncoder`). The output convolution has no activation:
    the model applies its output activation.
    """
    d, k = config.spatial_dims, config.kernel_size
    layers: list[tuple[str, nn.Module]] = []
    map_shape = code_map_shape(config)
    if config.code_size is not None:
        expand = [nn.Linear(int(config.code_size), math.prod(map_shape)), make_activation(config.activation)]
        layers.append(("expand", nn.Sequential(*expand, nn.Unflatten(1, map_shape))))
    in_ch = map_shape[0]
    for i, out_ch in enumerate(reversed(config.channels), start=1):
        if config.downsampling == "pool":
            # The encoder block mirrored here ends its convolutions with out_ch channels.
            skip_ch = out_ch if config.skip_connections else 0
            up = nn.Upsample(scale_factor=2, mode="nearest")
            block = nn.Sequential(up, *_activated(_convs(in_ch + skip_ch, out_ch, config), config))
        else:
            conv_t = _CONV_T[d](in_ch, out_ch, k, stride=2, padding=k // 2, output_padding=1)
            block = nn.Sequential(*_activated([conv_t, *_refining_convs(out_ch, config)], config))
        layers.append((f"block{i}", block))
        in_ch = out_ch
    layers.append(("output", _CONV[d](in_ch, config.output_channels, k, padding=k // 2)))
    layers.append(("crop", CropTo(config.network_shape[1:])))
    return nn.Sequential(OrderedDict(layers))
