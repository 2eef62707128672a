"""Activation functions by name, so configs can store them as strings."""

from __future__ import annotations

from torch import nn

from hourglass.exceptions import InvalidInputError

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation module for ``name`` (e.g. ``'relu'``, ``'gelu'``).

    Examples
    --------
    >>> make_activation("relu")
    ReLU()
    """
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        raise InvalidInputError(f"activation={name!r}; expected one of {tuple(_ACTIVATIONS)}") from None
