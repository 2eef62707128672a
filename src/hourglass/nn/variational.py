"""The variational autoencoder module: a Gaussian code, its KL term, and likelihood bounds.

The encoder (dense or convolutional, built by :mod:`hourglass.nn.dense` / :mod:`hourglass.nn.conv`)
outputs twice the code width: the mean and the log-variance of the posterior
``q(z | x) = N(mu, diag(sigma^2))``. In training the code is a reparameterized draw
``mu + sigma * eps`` (Kingma and Welling 2014); in eval mode it is the mean, so that
``encode``, ``decode`` and the reconstruction are deterministic.

The KL term goes into ``outputs['aux']['kl_loss']``, which the trainer adds to the reconstruction
loss (:func:`hourglass.train.losses.total_loss`). The trainer's reconstruction loss is a mean over
every value of the batch, so the KL (nats per sample) is divided by the number of values per
sample: the sum is then the negative ELBO per value. Its weight is ``beta`` (beta-VAE, Higgins
et al. 2017) times the KL warm-up factor (Bowman et al. 2016; Sønderby et al. 2016), which the
trainer sets every epoch through :meth:`VariationalAutoEncoder.start_epoch`; free bits (Kingma et
al. 2016) floor each unit's batch-mean KL in training.

Likelihoods: ``'bernoulli'`` (binary cross-entropy on the logits, summed over values: the
standard for pixels in [0, 1]) and ``'gaussian'`` with one variance shared by all values, kept
at its maximum-likelihood value, the mean squared error (the calibrated decoder of Rybkin et al.
2021): the trainer minimises the MSE, so the KL's weight is ``2 sigma^2 / n_values``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hourglass.nn.config import ConvConfig, DenseConfig, _require
from hourglass.nn.model import AutoEncoder, register_architecture
from hourglass.runtime import distributed

LIKELIHOODS = ("bernoulli", "gaussian")
#: Posterior log-variances are clamped here: exp(20) is far wider than any useful code, and the
#: bound keeps a diverging step from producing inf.
LOGVAR_RANGE = (-30.0, 20.0)
#: Rows decoded at once by :func:`log_weights` (batch x importance samples).
DECODE_ROWS = 32_768
_LOG_2PI = math.log(2 * math.pi)


class GaussianBottleneck(nn.Module):
    """Split the encoder's output into a posterior mean and log-variance; draw the code.

    ``forward(h) -> (code, aux)`` like every bottleneck, with ``aux = {'mu', 'logvar'}``. In
    training the code is ``mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)`` from the global
    generator (which the trainer seeds per epoch); in eval mode it is ``mu``.

    Examples
    --------
    >>> code, aux = GaussianBottleneck().eval()(torch.tensor([[1.0, 2.0, 0.0, 0.0]]))
    >>> code.tolist(), aux["logvar"].tolist()
    ([[1.0, 2.0]], [[0.0, 0.0]])
    """

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        mu, logvar = h.float().chunk(2, dim=1)  # (b, k) each
        logvar = logvar.clamp(*LOGVAR_RANGE)
        code = mu
        if self.training:
            # Under torchrun the noise of the whole global batch, this process's rows of it: the
            # draws of one process (distributed.batch_rows).
            eps = distributed.draw_rows(mu)
            eps = torch.randn_like(mu) if eps is None else eps.normal_()[distributed.own_rows()]
            code = mu + torch.exp(0.5 * logvar) * eps
        return code.to(h.dtype), {"mu": mu, "logvar": logvar}


def kl_per_unit(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, exp(logvar)) || N(0, 1))`` per sample and code unit, in nats, shape ``(b, k)``.

    Examples
    --------
    >>> kl_per_unit(torch.zeros(1, 3), torch.zeros(1, 3)).tolist()
    [[0.0, 0.0, 0.0]]
    """
    return 0.5 * (mu.float() ** 2 + logvar.float().exp() - 1.0 - logvar.float())


class VariationalAutoEncoder(AutoEncoder):
    """An :class:`~hourglass.nn.model.AutoEncoder` with a Gaussian code and a KL term.

    Parameters
    ----------
    encoder, decoder : nn.Module
        The encoder outputs ``2 * code_size`` values (mean, then log-variance); the decoder
        maps a code of ``code_size`` to output logits.
    output_activation : {'sigmoid', 'identity', 'clip'}
        'sigmoid' goes with the Bernoulli likelihood.
    likelihood : {'bernoulli', 'gaussian'}
    beta : float
        Weight of the KL term (1: the ELBO; above 1: beta-VAE).
    free_bits : float
        Nats per code unit below which a unit's batch-mean KL costs nothing (training only).
    kl_warmup : int
        Epochs over which the KL weight rises linearly to ``beta`` (0: none).
    n_values : int
        Values in one sample (features, or channels x pixels).

    Examples
    --------
    >>> from hourglass.nn.model import build_model
    >>> config = VariationalDenseConfig(6, code_size=2, hidden_layers=(4,), output_activation="sigmoid")
    >>> model = build_model(config)
    >>> out = model.eval()(torch.rand(3, 6))
    >>> out["code"].shape, sorted(out["aux"])
    (torch.Size([3, 2]), ['kl_loss', 'kl_per_unit', 'logvar', 'mu'])
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        output_activation: str,
        likelihood: str,
        beta: float,
        free_bits: float,
        kl_warmup: int,
        n_values: int,
    ) -> None:
        super().__init__(encoder, decoder, GaussianBottleneck(), output_activation)
        self.likelihood = likelihood
        self.beta = float(beta)
        self.free_bits = float(free_bits)
        self.kl_warmup = int(kl_warmup)
        self.n_values = int(n_values)
        # Set by the trainer every epoch (a buffer, so torch.compile reads it rather than baking it in).
        self.register_buffer("kl_weight", torch.ones(()), persistent=False)
        # The Gaussian likelihood's variance in scaled units, tracked in training, used in eval.
        self.register_buffer("noise_variance", torch.ones(()))

    # -- the schedule the trainer drives -----------------------------------------------------
    def start_epoch(self, epoch: int) -> None:
        """Set the KL warm-up factor for ``epoch`` (1-based): ``min(1, epoch / kl_warmup)``."""
        factor = 1.0 if self.kl_warmup <= 0 else min(1.0, epoch / self.kl_warmup)
        self.kl_weight.fill_(factor)

    def warming_up(self, epoch: int) -> bool:
        """Whether the training objective still changes with the epoch (the KL weight is rising)."""
        return self.kl_warmup > 0 and epoch < self.kl_warmup

    # -- the pieces ------------------------------------------------------------------------
    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior's mean and log-variance, each ``(b, code_size)``, in float32."""
        mu, logvar = self.encoder(x).float().chunk(2, dim=1)
        return mu, logvar.clamp(*LOGVAR_RANGE)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean of ``x``'s code (deterministic, in training mode too)."""
        return self.posterior(x)[0].to(x.dtype)

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        """The named pieces of :class:`AutoEncoder`, with ``aux`` holding ``mu``, ``logvar``,
        ``kl_per_unit`` (nats, ``(b, k)``) and ``kl_loss`` (the weighted KL per value)."""
        pre_code = self.encoder(x)  # (b, 2k)
        code, aux = self.bottleneck(pre_code)
        logits = self.decoder(code)
        out = self._outputs(pre_code, code, aux, logits)
        kl = kl_per_unit(aux["mu"], aux["logvar"])  # (b, k)
        aux["kl_per_unit"] = kl
        aux["kl_loss"] = self._kl_loss(kl, x, out["reconstruction"])
        return out

    def _kl_loss(self, kl: torch.Tensor, x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
        if self.training:
            if self.free_bits > 0:
                # Kingma et al. 2016: a unit's KL below the floor is free, judged on the batch mean.
                total = kl.mean(dim=0).clamp_min(self.free_bits).sum()
            else:
                total = kl.sum(dim=1).mean()
            weight = self.beta * self.kl_weight
        else:
            total, weight = kl.sum(dim=1).mean(), self.beta
        scale = 1.0 / self.n_values
        if self.likelihood == "gaussian":
            variance = self.noise_variance
            if self.training:
                with torch.no_grad():
                    variance = (recon.float() - x.float()).pow(2).mean().clamp_min(1e-6)
                    self.noise_variance.mul_(0.99).add_(0.01 * variance)
            # The trainer minimises the MSE, i.e. 2 sigma^2 times the Gaussian NLL per value.
            scale = 2.0 * variance / self.n_values
        return weight * scale * total

    def log_likelihood_given_code(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``log p(x | z)`` per row, summed over values, in nats (scaled units), shape ``(b,)``."""
        flat_logits, flat_x = logits.float().reshape(len(logits), -1), x.float().reshape(len(x), -1)
        if self.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(flat_logits, flat_x, reduction="none").sum(dim=1)
        recon = self._activate(flat_logits)
        variance = self.noise_variance.float()
        sq = (flat_x - recon).pow(2).sum(dim=1)
        return -0.5 * (sq / variance + flat_x.shape[1] * (_LOG_2PI + variance.log()))


@torch.no_grad()
def log_weights(
    model: VariationalAutoEncoder, x: torch.Tensor, k: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Importance weights ``log p(x, z_i) - log q(z_i | x)`` for ``k`` draws per sample.

    Returns ``(log_w, kl)``: ``log_w`` of shape ``(b, k)`` and the analytic KL per sample
    ``(b,)``. ``logsumexp(log_w) - log k`` is the IWAE bound (Burda et al. 2016) and
    ``mean_i log p(x | z_i) - KL`` the ELBO. Draws come from ``generator`` on the CPU, so that a
    seed gives the same numbers on every device, and every row uses the same standard-normal
    draws (scaled by its own posterior), so a row's estimate does not depend on the others.
    """
    mu, logvar = model.posterior(x)  # (b, d)
    std = torch.exp(0.5 * logvar)
    b, d = mu.shape
    # Whole blocks of 16 values: torch's CPU randn turns uniforms into normals 16 at a time and a
    # partial block from fresh ones, so chunks of another size (another batch of rows) drew other
    # numbers, and a row's estimate moved with the rows scored beside it (0.19 nats at k=1000).
    per_chunk = max(16, DECODE_ROWS // max(1, b) // 16 * 16)
    columns = []
    for start in range(0, k, per_chunk):
        n = min(per_chunk, k - start)
        # The same draws for every row: each row's estimate depends on that row alone.
        eps = torch.randn((n, 1, d), generator=generator).to(mu.device).expand(n, b, d)
        z = mu + std * eps  # (n, b, d)
        logits = model.decoder(z.reshape(n * b, d).to(x.dtype))
        repeated = x.unsqueeze(0).expand(n, *x.shape).reshape(n * b, *x.shape[1:])
        log_px = model.log_likelihood_given_code(logits, repeated).reshape(n, b)
        log_pz = -0.5 * (z.pow(2) + _LOG_2PI).sum(dim=2)
        log_qz = -0.5 * (eps.pow(2) + _LOG_2PI + logvar).sum(dim=2)
        columns.append((log_px + log_pz - log_qz).T)  # (b, n)
    return torch.cat(columns, dim=1), kl_per_unit(mu, logvar).sum(dim=1)


@torch.no_grad()
def elbo(model: VariationalAutoEncoder, x: torch.Tensor, n_samples: int, generator: torch.Generator):
    """The ELBO per sample ``E_q[log p(x | z)] - KL(q || p)``, ``(b,)``, with ``n_samples`` draws."""
    mu, logvar = model.posterior(x)
    std = torch.exp(0.5 * logvar)
    total = torch.zeros(len(x), device=mu.device)
    for _ in range(n_samples):
        eps = torch.randn((1, mu.shape[1]), generator=generator).to(mu.device)  # shared by the rows
        total += model.log_likelihood_given_code(model.decoder((mu + std * eps).to(x.dtype)), x)
    return total / n_samples - kl_per_unit(mu, logvar).sum(dim=1)


def iwae_bound(model: VariationalAutoEncoder, x: torch.Tensor, k: int, generator: torch.Generator):
    """The importance-weighted bound on ``log p(x)`` with ``k`` samples, ``(b,)``, in nats.

    ``k = 1`` is an unbiased estimate of the ELBO; the bound rises toward ``log p(x)`` with ``k``.
    """
    weights, _ = log_weights(model, x, k, generator)
    return torch.logsumexp(weights, dim=1) - math.log(k)


# -- architecture configs ----------------------------------------------------------------------
def _check_variational(config) -> None:
    _require(
        config.likelihood in LIKELIHOODS, f"likelihood={config.likelihood!r}; expected one of {LIKELIHOODS}"
    )
    _require(
        (config.likelihood == "bernoulli") == (config.output_activation == "sigmoid"),
        f"likelihood={config.likelihood!r} with output_activation={config.output_activation!r}: the "
        "Bernoulli likelihood goes with a sigmoid output, the Gaussian with any other",
    )
    check_vae_settings(config.beta, config.free_bits, config.kl_warmup)
    _require(config.topk is None, "a variational code is Gaussian; topk does not apply")


def check_vae_settings(beta: Any, free_bits: Any, kl_warmup: Any) -> None:
    """Refuse a bad ``beta`` (a positive number), ``free_bits`` (>= 0) or ``kl_warmup`` (int >= 0)."""
    number = (int, float)
    _require(
        isinstance(beta, number) and not isinstance(beta, bool) and math.isfinite(beta) and beta > 0,
        f"beta={beta!r}; expected a positive number (1: the ELBO, above 1: a beta-VAE)",
    )
    _require(
        isinstance(free_bits, number) and not isinstance(free_bits, bool) and math.isfinite(free_bits)
        and free_bits >= 0,
        f"free_bits={free_bits!r}; expected a non-negative number of nats per code unit (0: off)",
    )  # fmt: skip
    _require(
        isinstance(kl_warmup, int) and not isinstance(kl_warmup, bool) and kl_warmup >= 0,
        f"kl_warmup={kl_warmup!r}; expected a non-negative number of epochs (0: no warm-up)",
    )


@dataclass
class VariationalDenseConfig(DenseConfig):
    """A :class:`~hourglass.nn.config.DenseConfig` with a Gaussian code.

    Parameters
    ----------
    likelihood : {'bernoulli', 'gaussian'}
    beta, free_bits, kl_warmup
        As in :class:`VariationalAutoEncoder`.
    """

    kind = "vae_dense"

    likelihood: str = "bernoulli"
    beta: float = 1.0
    free_bits: float = 0.0
    kl_warmup: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_variational(self)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One sample's shape, ``(input_dim,)``."""
        return (self.input_dim,)


@dataclass
class VariationalConvConfig(ConvConfig):
    """A :class:`~hourglass.nn.config.ConvConfig` with a flat Gaussian code (``code_size`` set)."""

    kind = "vae_conv"

    likelihood: str = "bernoulli"
    beta: float = 1.0
    free_bits: float = 0.0
    kl_warmup: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.code_size is not None, "a variational conv model needs a flat code: set code_size")
        _require(not self.skip_connections and not self.residual and not self.chroma,
                 "a variational model reconstructs: no skip connections, residual or chroma")  # fmt: skip
        _check_variational(self)


def _variational(config, encoder: nn.Module, decoder: nn.Module) -> VariationalAutoEncoder:
    return VariationalAutoEncoder(
        encoder,
        decoder,
        config.output_activation,
        config.likelihood,
        config.beta,
        config.free_bits,
        config.kl_warmup,
        math.prod(config.input_shape),
    )


@register_architecture(VariationalDenseConfig)
def build_variational_dense(config: VariationalDenseConfig) -> VariationalAutoEncoder:
    """A dense VAE: the dense encoder with ``2 * code_size`` outputs, the dense decoder."""
    from hourglass.nn.dense import build_dense_decoder, build_dense_encoder

    wide = replace(config, code_size=2 * config.code_size)
    return _variational(config, build_dense_encoder(wide), build_dense_decoder(config))


@register_architecture(VariationalConvConfig)
def build_variational_conv(config: VariationalConvConfig) -> VariationalAutoEncoder:
    """A convolutional VAE: conv blocks, a linear layer to ``2 * code_size``, the mirrored decoder."""
    from hourglass.nn.conv import build_conv_decoder, build_conv_encoder

    wide = replace(config, code_size=2 * int(config.code_size))
    return _variational(config, build_conv_encoder(wide), build_conv_decoder(config))


__all__ = [
    "GaussianBottleneck",
    "LIKELIHOODS",
    "VariationalAutoEncoder",
    "VariationalConvConfig",
    "VariationalDenseConfig",
    "elbo",
    "iwae_bound",
    "kl_per_unit",
    "log_weights",
]
