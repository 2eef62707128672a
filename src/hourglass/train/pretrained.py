"""Reusing trained layers: an encoder or decoder from a saved model or any PyTorch module,
frozen or fine-tuned, and greedy layer-wise pretraining of deep dense autoencoders.

A pretrained part comes from one of two places:

* a saved hourglass model folder: its architecture is known, so the new model's architecture
  config describes it and the new model saves and loads like any other;
* any ``torch.nn.Module``: hourglass cannot rebuild it from JSON, so such a model refuses to
  ``save`` (keep the module and save its weights with PyTorch instead).

Training sees modules only: reading a model folder is the estimators' business, so
:mod:`hourglass.estimators.parts` turns a folder into its architecture and its modules first.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hourglass.exceptions import InvalidInputError
from hourglass.nn.bottleneck import IdentityBottleneck
from hourglass.nn.config import DenseConfig
from hourglass.train.config import TrainConfig

ROLES = ("encoder", "decoder")

#: Share of a time budget that layer-wise pretraining takes, split evenly among the layer pairs.
PRETRAIN_SHARE = 0.25


def is_path(source: Any) -> bool:
    return isinstance(source, (str, Path))


def load_part(source: Any, role: str) -> nn.Module:
    """A fresh copy of the ``role`` ('encoder' or 'decoder') of ``source``.

    Parameters
    ----------
    source : nn.Module
        A module, copied so the caller's stays untouched (a saved model folder goes through
        :func:`hourglass.estimators.parts.load_part`, which reads it and comes here).
    role : {'encoder', 'decoder'}

    Examples
    --------
    >>> load_part(torch.nn.Linear(4, 2), "encoder")
    Linear(in_features=4, out_features=2, bias=True)
    """
    if role not in ROLES:
        raise InvalidInputError(f"role={role!r}; expected one of {ROLES}")
    if isinstance(source, nn.Module):
        return copy.deepcopy(source)
    raise InvalidInputError(
        f"{role}={source!r}; expected a saved hourglass model folder or a torch.nn.Module"
    )


def module_code_width(encoder: nn.Module, sample: torch.Tensor) -> int:
    """Units of the code ``encoder`` makes from ``sample``, with a clear error if it cannot."""
    try:
        with torch.no_grad():
            out = encoder.eval()(sample)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise InvalidInputError(
            f"the pretrained encoder does not accept inputs of shape {tuple(sample.shape)}: "
            f"{' '.join(str(exc).split())[:200]}"
        ) from None
    if not isinstance(out, torch.Tensor) or out.ndim < 2:
        raise InvalidInputError("the pretrained encoder must return a tensor of shape (n_samples, units)")
    return int(out[0].numel())


def freeze(module: nn.Module) -> nn.Module:
    """Stop gradients to every parameter of ``module`` (the optimizer then leaves it as it is)."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def attach(
    model: nn.Module,
    sample: torch.Tensor,
    encoder: Any = None,
    decoder: Any = None,
    freeze_encoder: bool = False,
    freeze_decoder: bool = False,
) -> nn.Module:
    """Put pretrained parts into ``model`` (an :class:`hourglass.nn.model.AutoEncoder`), in place.

    The new parts are checked on ``sample`` (a few scaled training rows): the encoder must accept
    them, and encoder + decoder must give back the sample's shape.
    """
    device = sample.device
    if encoder is not None:
        model.encoder = load_part(encoder, "encoder").to(device)
    if decoder is not None:
        model.decoder = load_part(decoder, "decoder").to(device)
    code_width = module_code_width(model.encoder, sample)
    try:
        with torch.no_grad():
            out = model.eval()(sample)["reconstruction"]
    except (RuntimeError, ValueError, TypeError) as exc:
        raise InvalidInputError(
            f"the decoder does not accept the encoder's codes of {code_width} units: "
            f"{' '.join(str(exc).split())[:200]}"
        ) from None
    if out.shape != sample.shape:
        raise InvalidInputError(
            f"encoder and decoder map inputs of shape {tuple(sample.shape)} to {tuple(out.shape)}; "
            "expected the input's shape back"
        )
    if freeze_encoder:
        freeze(model.encoder)
    if freeze_decoder:
        freeze(model.decoder)
    return model.train()


def _plain_trainer(module: nn.Module, config: TrainConfig, loss: str, **settings):
    from hourglass.train.trainer import Trainer

    return Trainer(module, config, loss, **settings)


def layerwise_pretrain(
    model: nn.Module,
    config: DenseConfig,
    train: torch.Tensor,
    train_config: TrainConfig,
    loss: str,
    regularizers: list | None = None,
    corruption=None,
    epochs: int | None = None,
    make_trainer=None,
) -> list:
    """Greedy layer-wise pretraining (Hinton & Salakhutdinov 2006; Bengio et al. 2007), in place.

    Each encoder layer and its mirror decoder layer train as a shallow autoencoder on the
    previous layer's output, outermost first; the deep model then fine-tunes as a whole (the
    caller's ordinary ``fit``). The layers are trained where they sit in ``model``, so nothing
    is copied. The outermost pair uses the model's loss and ``corruption``; inner pairs
    reconstruct hidden representations with MSE; the innermost pair carries the bottleneck and
    ``regularizers``.

    Parameters
    ----------
    model : hourglass.nn.model.AutoEncoder
        A dense model built from ``config`` with a mirrored decoder.
    train : Tensor of shape (n, input_dim)
        Scaled training data, on the model's device.
    epochs : int, optional
        Epochs per layer pair; ``max(1, train_config.epochs // 4)`` by default.
    make_trainer : callable, optional
        ``make_trainer(module, config, **settings) -> Trainer``, the estimator's one Trainer
        factory; a plain :class:`~hourglass.train.trainer.Trainer` by default.

    Returns
    -------
    list of History
        One per layer pair, outermost first.
    """
    from hourglass.nn.model import AutoEncoder

    if not isinstance(config, DenseConfig):
        raise InvalidInputError(f"pretrain='layerwise' works on dense models, not {config.kind!r} ones")
    if tuple(config.resolved_decoder_layers) != tuple(reversed(config.hidden_layers)):
        raise InvalidInputError(
            f"pretrain='layerwise' needs a decoder mirroring the encoder; decoder_layers="
            f"{config.decoder_layers} is not {tuple(reversed(config.hidden_layers))}"
        )
    enc = list(model.encoder.children())  # layer1..layerN, code
    dec = list(model.decoder.children())  # layer1..layerN, output
    epochs = epochs or max(1, train_config.epochs // 4)
    # Each pair trains for its fixed epochs, within its share of a time budget (the pairs had
    # none, and a 2 s budget fitted in 22 s); the rest of the budget and the adaptive length are
    # the fine-tuning's.
    share = None if train_config.max_time is None else PRETRAIN_SHARE * train_config.max_time / len(enc)
    pair_config = replace(train_config, epochs=epochs, patience=0, verbose=0, adaptive=False, max_time=share)
    histories = []
    inputs = train
    for i, block in enumerate(enc):
        innermost = i == len(enc) - 1
        shallow = AutoEncoder(
            nn.Sequential(block),
            nn.Sequential(dec[len(dec) - 1 - i]),
            bottleneck=model.bottleneck if innermost else IdentityBottleneck(),
            output_activation=model.output_activation if i == 0 else "identity",
        )
        trainer = (make_trainer or _plain_trainer)(
            shallow,
            pair_config,
            loss=loss if i == 0 else "mse",
            regularizers=regularizers if innermost else None,
            corruption=corruption if i == 0 else None,
            epoch_metrics=None,
            checkpoint_dir=None,  # the pairs are short; the checkpoint belongs to the whole run
            description=f"pretrain layer {i + 1}",
        )
        histories.append(trainer.fit(inputs))
        if not innermost:
            inputs = inputs.to(trainer.device)  # the block now sits there (CUDA, say)
            with torch.no_grad():
                block.eval()
                inputs = torch.cat([block(inputs[j : j + 4096]) for j in range(0, len(inputs), 4096)])
    model.train()
    return histories
