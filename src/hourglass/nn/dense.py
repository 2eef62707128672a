"""Dense encoder and decoder stacks built from layer widths."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from hourglass.nn.activations import make_activation
from hourglass.nn.config import DenseConfig
from hourglass.nn.dropout import RowDropout
from hourglass.nn.pca_path import LinearPathSequential


def _hidden_stack(widths: tuple[int, ...], in_features: int, activation: str, dropout: float):
    layers: list[tuple[str, nn.Module]] = []
    for i, width in enumerate(widths, start=1):
        block = [nn.Linear(in_features, width), make_activation(activation)]
        if dropout > 0:
            block.append(RowDropout(dropout))
        layers.append((f"layer{i}", nn.Sequential(*block)))
        in_features = width
    return layers, in_features


def build_dense_encoder(config: DenseConfig) -> nn.Sequential:
    """Encoder ``input -> hidden_layers... -> code`` with a linear code layer.

    The code layer has no activation: a linear bottleneck keeps the code unconstrained, as in
    PCA, and lets regularizers and bottlenecks decide its sparsity. With ``pca_encoder`` the
    stack adds a fixed linear map of its input (:mod:`hourglass.nn.pca_path`).
    """
    layers, width = _hidden_stack(config.hidden_layers, config.input_dim, config.activation, config.dropout)
    layers.append(("code", nn.Linear(width, config.code_size)))
    if config.pca_encoder:
        return LinearPathSequential(config.input_dim, config.code_size, OrderedDict(layers))
    return nn.Sequential(OrderedDict(layers))


def build_dense_decoder(config: DenseConfig) -> nn.Sequential:
    """Decoder ``code -> decoder layers... -> output`` (the output activation is the model's)."""
    widths = config.resolved_decoder_layers
    layers, width = _hidden_stack(widths, config.code_size, config.activation, config.dropout)
    layers.append(("output", nn.Linear(width, config.input_dim)))
    if config.pca_decoder:
        return LinearPathSequential(config.code_size, config.input_dim, OrderedDict(layers))
    return nn.Sequential(OrderedDict(layers))
