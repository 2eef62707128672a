"""The AutoEncoder module: encoder -> bottleneck -> code -> decoder, with named outputs.

This file knows nothing of files, optimizers, data or the CLI. Architectures are registered by
name (``"dense"``, ...) so a saved config can rebuild its module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from hourglass import registry
from hourglass.exceptions import InvalidInputError
from hourglass.nn.bottleneck import IdentityBottleneck, make_bottleneck
from hourglass.nn.config import OUTPUT_ACTIVATIONS, DenseConfig
from hourglass.nn.dense import build_dense_decoder, build_dense_encoder


class AutoEncoder(nn.Module):
    """An encoder, a bottleneck and a decoder, returning their pieces by name.

    Parameters
    ----------
    encoder : nn.Module
        Maps inputs to the pre-bottleneck code. If it is an ``nn.Sequential``, each child is a
        layer whose output :meth:`layer_outputs` reports.
    decoder : nn.Module
        Maps a code to output *logits* (before ``output_activation``).
    bottleneck : nn.Module, optional
        ``forward(z) -> (code, aux)``; the identity by default.
    output_activation : {'identity', 'sigmoid', 'clip'}
        Turns logits into the reconstruction (``'clip'``: clamped to [0, 1] in eval mode).

    Examples
    --------
    >>> model = build_model(DenseConfig(input_dim=64, code_size=8))
    >>> out = model(torch.rand(5, 64))
    >>> out["code"].shape, out["reconstruction"].shape
    (torch.Size([5, 8]), torch.Size([5, 64]))
    """

    #: Whether :meth:`decode` works from a code alone (a U-Net's decoder also needs the input).
    decodes_codes_alone: bool = True

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        bottleneck: nn.Module | None = None,
        output_activation: str = "identity",
    ) -> None:
        super().__init__()
        if output_activation not in OUTPUT_ACTIVATIONS:
            raise InvalidInputError(
                f"output_activation={output_activation!r}; expected one of {OUTPUT_ACTIVATIONS}"
            )
        self.encoder = encoder
        self.bottleneck = bottleneck if bottleneck is not None else IdentityBottleneck()
        self.decoder = decoder
        self.output_activation = output_activation

    def _activate(self, logits: torch.Tensor) -> torch.Tensor:
        if self.output_activation == "sigmoid":
            return torch.sigmoid(logits)
        if self.output_activation == "clip" and not self.training:
            # Data known to lie in [0, 1]: clamping can only move a reconstruction closer. In
            # training the identity keeps the gradient of outputs beyond the bounds.
            return logits.clamp(0.0, 1.0)
        return logits

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Return the code of ``x``."""
        code, _ = self.bottleneck(self.encoder(x))
        return code

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Return the reconstruction decoded from ``code``."""
        return self._activate(self.decoder(code))

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        """Return ``{'pre_code', 'code', 'logits', 'reconstruction', 'aux'}`` for input ``x``."""
        pre_code = self.encoder(x)  # (b, code...) before the bottleneck
        code, aux = self.bottleneck(pre_code)
        logits = self.decoder(code)  # (b, *input_shape)
        return self._outputs(pre_code, code, aux, logits)

    def _outputs(self, pre_code, code, aux, logits: torch.Tensor) -> dict[str, Any]:
        """The named pieces :meth:`forward` returns, the reconstruction activated from the logits."""
        return {
            "pre_code": pre_code,
            "code": code,
            "logits": logits,
            "reconstruction": self._activate(logits),
            "aux": aux,
        }

    @torch.no_grad()
    def layer_outputs(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return the representation after every layer, by name, from input to reconstruction.

        Names are ``encoder.<child>``, ``code``, ``decoder.<child>`` and ``reconstruction``.
        """
        outputs: dict[str, torch.Tensor] = {}
        h = _run_layers(self.encoder, x, "encoder", outputs)
        h, _ = self.bottleneck(h)
        outputs["code"] = h
        h = _run_layers(self.decoder, h, "decoder", outputs)
        outputs["reconstruction"] = self._activate(h)
        return outputs


def _run_layers(stack: nn.Module, x: torch.Tensor, prefix: str, outputs: dict[str, torch.Tensor]):
    """``stack``'s output for ``x``, recording each layer's output under ``prefix.<name>``."""
    children = _children(stack)
    h = x
    for i, (name, layer) in enumerate(children, start=1):
        h = layer(h)
        if i == len(children) and hasattr(stack, "linear_path"):
            h = h + stack.linear_path(x)  # the last layer's output is the stack's: add the path
        outputs[f"{prefix}.{name}"] = h
    return h


def _children(module: nn.Module) -> list[tuple[str, nn.Module]]:
    # A Sequential exposes its layers; any other module counts as one layer.
    if isinstance(module, nn.Sequential):
        return list(module.named_children())
    return [("output", module)]


#: ``{architecture kind: builder}`` of the modules imported so far; :func:`_builder_module`
#: imports the one :mod:`hourglass.registry` names for a kind not seen yet.
ARCHITECTURES: dict[str, Callable[[Any], AutoEncoder]] = {}
CONFIGS: dict[str, type] = {}


def register_architecture(config_cls: type) -> Callable:
    """Register a builder ``config -> AutoEncoder`` under ``config_cls.kind``.

    The kind must be one of :data:`hourglass.registry.ARCHITECTURE_MODULES`, registered by the
    module named there: the registry is what finds the builder of a saved model's architecture.
    """

    def decorator(builder: Callable[[Any], AutoEncoder]) -> Callable[[Any], AutoEncoder]:
        if registry.ARCHITECTURE_MODULES.get(config_cls.kind) != builder.__module__:
            raise TypeError(
                f"architecture kind {config_cls.kind!r} of {builder.__module__} is not in "
                "hourglass.registry.ARCHITECTURE_MODULES; add it there"
            )
        ARCHITECTURES[config_cls.kind] = builder
        CONFIGS[config_cls.kind] = config_cls
        return builder

    return decorator


def _builder_module(kind: Any) -> None:
    """Import the module that builds architectures of ``kind``, if the registry knows one."""
    if isinstance(kind, str) and kind not in CONFIGS and kind in registry.ARCHITECTURE_MODULES:
        importlib.import_module(registry.ARCHITECTURE_MODULES[kind])


@register_architecture(DenseConfig)
def build_dense(config: DenseConfig) -> AutoEncoder:
    """Build a dense autoencoder from its config."""
    return AutoEncoder(
        build_dense_encoder(config),
        build_dense_decoder(config),
        bottleneck=make_bottleneck(config),
        output_activation=config.output_activation,
    )


def config_from_dict(data: dict[str, Any]):
    """Rebuild an architecture config from its JSON form (dispatching on ``kind``)."""
    kind = data.get("kind")
    _builder_module(kind)
    if not isinstance(kind, str) or kind not in CONFIGS:
        raise InvalidInputError(f"unknown architecture kind {kind!r}; expected one of {sorted(CONFIGS)}")
    return CONFIGS[kind].from_dict(data)


def build_model(config) -> AutoEncoder:
    """Build the module described by an architecture config.

    Examples
    --------
    >>> build_model(DenseConfig(input_dim=4, code_size=2, hidden_layers=(3,))).encoder
    Sequential(...)
    """
    _builder_module(config.kind)
    return ARCHITECTURES[config.kind](config)
