"""Penalties that keep an autoencoder from learning the identity: sparsity and contraction.

Each is a :class:`hourglass.train.losses.Regularizer`: ``name`` labels its term in the training
history, and ``reg(model, inputs, outputs)`` returns a scalar already multiplied by its weight.

* :class:`L1Penalty`: ``weight * mean |code|`` (per unit and sample, so the weight does not
  grow with the code width).
* :class:`KLSparsity`: ``beta * sum_j KL(rho || rho_hat_j)`` where ``rho_hat_j`` is unit j's mean
  activation over the batch (codes in (0, 1), e.g. a sigmoid code; Ng 2011).
* :class:`ContractivePenalty`: ``weight * mean_b ||d code / d x||_F^2`` (Rifai et al. 2011),
  in closed form for a one-layer encoder, exact row by row for narrow codes, and as an unbiased
  random-projection estimate otherwise.
* :class:`AuxKLoss`: the TopK auxiliary loss of Gao et al. 2024 that revives dead latents.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hourglass.exceptions import InvalidInputError


def _check_weight(name: str, weight: float) -> float:
    if not weight >= 0:
        raise InvalidInputError(f"{name}={weight!r} must be a non-negative number")
    return float(weight)


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1).float()


@dataclass
class L1Penalty:
    """``weight * mean |code|``: pushes code units to exactly zero under a ReLU code.

    Examples
    --------
    >>> out = {"code": torch.tensor([[1.0, -3.0]])}
    >>> float(L1Penalty(0.5)(None, None, out))
    1.0
    """

    weight: float
    name: str = "l1"

    def __post_init__(self) -> None:
        _check_weight("l1_penalty", self.weight)

    def __call__(self, model: Any, inputs: Any, outputs: dict[str, Any]) -> torch.Tensor:
        return self.weight * _flat(outputs["code"]).abs().mean()


@dataclass
class KLSparsity:
    """``beta * sum_j KL(rho || rho_hat_j)``, with ``rho_hat_j`` unit j's mean activation.

    The code must lie in [0, 1] (the estimator gives a sigmoid code when this penalty is on);
    ``rho_hat`` is clamped away from 0 and 1 so the divergence stays finite.

    Parameters
    ----------
    beta : float
        Weight of the penalty.
    rho : float
        Target activation rate, in (0, 1).

    Examples
    --------
    >>> out = {"code": torch.full((4, 3), 0.05)}
    >>> float(KLSparsity(1.0, 0.05)(None, None, out)) < 1e-6
    True
    """

    beta: float
    rho: float = 0.05
    name: str = "kl"

    def __post_init__(self) -> None:
        _check_weight("kl_penalty", self.beta)
        if not 0.0 < self.rho < 1.0:
            raise InvalidInputError(f"sparsity_target={self.rho!r} must lie strictly between 0 and 1")

    def __call__(self, model: Any, inputs: Any, outputs: dict[str, Any]) -> torch.Tensor:
        rho_hat = _flat(outputs["code"]).mean(dim=0).clamp(1e-6, 1 - 1e-6)  # (units,)
        rho = self.rho
        kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
        return self.beta * kl.sum()


@contextlib.contextmanager
def _quiet_bottleneck(model: nn.Module):
    # Recomputing the code must not advance the TopK dead-unit counters a second time.
    bottleneck = getattr(model, "bottleneck", None)
    was = bottleneck.training if bottleneck is not None else False
    if bottleneck is not None:
        bottleneck.eval()
    try:
        yield
    finally:
        if bottleneck is not None:
            bottleneck.train(was)


def _single_linear(model: nn.Module) -> nn.Linear | None:
    """The encoder's only layer when it is one ``nn.Linear`` (the classic shallow CAE)."""
    layers = [m for m in model.encoder.modules() if not isinstance(m, (nn.Sequential, nn.Identity))]
    if len(layers) == 1 and isinstance(layers[0], nn.Linear):
        return layers[0]
    return None


def jacobian_sq_norm(
    model: nn.Module,
    inputs: torch.Tensor,
    method: str = "auto",
    n_projections: int = 1,
    generator: torch.Generator | None = None,
    create_graph: bool = True,
) -> torch.Tensor:
    """Per-sample squared Frobenius norm of the Jacobian of the code with respect to the input.

    Parameters
    ----------
    model : hourglass.nn.model.AutoEncoder
        Needs ``encoder`` and ``bottleneck`` (``model.encode``).
    inputs : Tensor of shape (b, ...)
    method : {'auto', 'closed', 'exact', 'estimate'}
        'closed': ``sum_j f'(z_j)^2 ||W_j||^2`` for a one-Linear encoder with an element-wise code
        activation; 'exact': one backward pass per code unit; 'estimate': Hutchinson's
        ``E_u ||u^T J||^2`` with ``u ~ N(0, I)``, unbiased, ``n_projections`` backward passes.
        'auto' takes 'closed' where it applies, 'exact' for codes of at most 16 units, else
        'estimate'.
    create_graph : bool
        Keep the graph so the result can be minimised (True while training).

    Returns
    -------
    Tensor of shape (b,)

    Examples
    --------
    >>> from hourglass.nn.config import DenseConfig
    >>> from hourglass.nn.model import build_model
    >>> _ = torch.manual_seed(0)
    >>> m = build_model(DenseConfig(input_dim=6, code_size=3, hidden_layers=(5,)))
    >>> x = torch.rand(4, 6)
    >>> torch.allclose(jacobian_sq_norm(m, x, "exact"), jacobian_sq_norm(m, x, "estimate", 1000), rtol=0.25)
    True
    """
    from hourglass.nn.bottleneck import ActivationBottleneck, IdentityBottleneck

    linear = _single_linear(model)
    elementwise = isinstance(model.bottleneck, (IdentityBottleneck, ActivationBottleneck))
    if method == "auto":
        if linear is not None and elementwise:
            method = "closed"
        else:
            with torch.no_grad(), _quiet_bottleneck(model):
                width = _flat(model.encode(inputs[:1])).shape[1]
            method = "exact" if width <= 16 else "estimate"
    if method == "closed":
        if linear is None or not elementwise:
            raise InvalidInputError("method='closed' needs a one-Linear encoder and an element-wise code")
        z = linear(_flat(inputs))  # (b, units); keeps its graph to W so f'(z) is trained too
        if not z.requires_grad:  # a frozen encoder
            z = z.detach().requires_grad_(True)
        code, _ = model.bottleneck(z)
        (slope,) = torch.autograd.grad(code.sum(), z, create_graph=create_graph)  # f'(z), element-wise
        row_norms = (linear.weight.float() ** 2).sum(dim=1)  # (units,) ||W_j||^2
        return (slope.float() ** 2 * row_norms).sum(dim=1)
    if method not in ("exact", "estimate"):
        raise InvalidInputError(f"method={method!r}; expected 'auto', 'closed', 'exact' or 'estimate'")
    x = inputs.detach().clone().requires_grad_(True)
    with _quiet_bottleneck(model):
        code = _flat(model.encode(x))  # (b, units)
    total = torch.zeros(x.shape[0], device=x.device)
    if method == "exact":
        # Samples do not interact in the encoder, so one backward pass per unit gives row j of
        # every sample's Jacobian at once.
        for j in range(code.shape[1]):
            (row,) = torch.autograd.grad(code[:, j].sum(), x, create_graph=create_graph, retain_graph=True)
            total = total + _flat(row).pow(2).sum(dim=1)
        return total
    for _ in range(n_projections):
        u = torch.randn(code.shape, generator=generator).to(code.device)
        (proj,) = torch.autograd.grad((code * u).sum(), x, create_graph=create_graph, retain_graph=True)
        total = total + _flat(proj).pow(2).sum(dim=1)
    return total / n_projections


@dataclass
class ContractivePenalty:
    """``weight * mean_b ||J_b||_F^2``: the contractive autoencoder's penalty (Rifai et al. 2011).

    Exact where it is cheap, an unbiased random-projection estimate for deep encoders with wide
    codes (see :func:`jacobian_sq_norm`).

    Examples
    --------
    >>> from hourglass.nn.config import DenseConfig
    >>> from hourglass.nn.model import build_model
    >>> m = build_model(DenseConfig(input_dim=6, code_size=3, hidden_layers=()))
    >>> ContractivePenalty(0.1)(m, torch.rand(4, 6), {}).item() > 0
    True
    """

    weight: float
    method: str = "auto"
    n_projections: int = 1
    name: str = "contractive"

    def __post_init__(self) -> None:
        _check_weight("contractive_penalty", self.weight)

    def __call__(self, model: nn.Module, inputs: torch.Tensor, outputs: dict[str, Any]) -> torch.Tensor:
        create = torch.is_grad_enabled()
        with torch.enable_grad():
            norms = jacobian_sq_norm(model, inputs, self.method, self.n_projections, create_graph=create)
        value = self.weight * norms.mean()
        return value if create else value.detach()


@dataclass
class AuxKLoss:
    """The TopK auxiliary loss (AuxK, Gao et al. 2024): dead latents learn to predict the residual.

    With ``e = x - x_hat`` the main model's residual and ``z_aux`` the bottleneck's auxiliary code
    (the top ``aux_k`` pre-activations among dead units), the loss is
    ``weight * mean (e - e_hat)^2`` where ``e_hat = decode(z + z_aux) - x_hat`` and ``z``, ``x_hat``
    are held fixed; for a linear decoder this is Gao et al.'s ``W_dec z_aux``. It is zero while no
    unit is dead. The residual is taken against the network's input (the clean batch unless noise
    is on).

    Examples
    --------
    >>> from hourglass.nn.config import DenseConfig
    >>> from hourglass.nn.model import build_model
    >>> m = build_model(DenseConfig(input_dim=6, code_size=4, hidden_layers=(), topk=1, topk_aux_k=2))
    >>> x = torch.rand(3, 6)
    >>> float(AuxKLoss()(m, x, m(x)))   # nothing is dead yet
    0.0
    """

    weight: float = 1 / 32
    name: str = "topk_aux"

    def __post_init__(self) -> None:
        _check_weight("topk_aux_penalty", self.weight)

    def __call__(self, model: nn.Module, inputs: torch.Tensor, outputs: dict[str, Any]) -> torch.Tensor:
        aux_code = outputs.get("aux", {}).get("topk_aux_code")
        if aux_code is None or not bool((aux_code != 0).any()):
            return torch.zeros((), device=inputs.device)
        recon = outputs["reconstruction"].detach()
        residual = inputs.float() - recon.float()
        code = outputs["code"].detach()
        # A spatial (feature-map) code: the auxiliary code may come flat, one row per sample.
        boosted = code + aux_code.reshape(code.shape)
        skip = getattr(model, "_skip", None)
        if skip is None:
            decoded = model.decode(boosted)
        else:  # a residual model: decode() is the correction alone; its output adds the input
            decoded = model._activate(model.decoder(boosted) + skip(inputs))
        predicted = decoded.float() - recon.float()
        return self.weight * F.mse_loss(predicted, residual)
