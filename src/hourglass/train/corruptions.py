"""Input corruptions: what the network sees instead of the clean target.

Each corruption is a callable ``(clean_batch, generator) -> corrupted_batch`` drawn afresh for
every batch from the training loop's seeded generator (so runs are reproducible and resumable).
Noise is drawn where the generator lives, then moved to the batch's device: the Trainer passes
a CPU generator on the CPU (the same draws on every machine) and a CUDA one on a GPU, where
drawing a batch of noise on the CPU and copying it over took longer than the step itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hourglass.choices import NOISES
from hourglass.exceptions import InvalidInputError


def _uniform(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(batch.shape, generator=generator, device=generator.device).to(batch.device)


@dataclass
class GaussianNoise:
    """Add N(0, sigma^2) noise (``sigma`` in the units the network sees)."""

    sigma: float = 0.1

    def __call__(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        noise = torch.randn(batch.shape, generator=generator, device=generator.device)
        noise = noise.to(batch.device, batch.dtype)
        return batch + self.sigma * noise


@dataclass
class MaskingNoise:
    """Set a random fraction ``rate`` of the entries to zero (Vincent et al. 2008)."""

    rate: float = 0.25

    def __call__(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return batch * (_uniform(batch, generator) >= self.rate).to(batch.dtype)


@dataclass
class SaltPepperNoise:
    """Set a random fraction ``rate`` of the entries to ``low`` or ``high``, half each."""

    rate: float = 0.1
    low: float = 0.0
    high: float = 1.0

    def __call__(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        u = _uniform(batch, generator)
        out = batch.clone()
        out[u < self.rate / 2] = self.low
        out[(u >= self.rate / 2) & (u < self.rate)] = self.high
        return out


def make_noise(kind: str | None, level: float, low: float = 0.0, high: float = 1.0):
    """Build the noise corruption ``kind`` at ``level`` (sigma for gaussian, a rate otherwise).

    Parameters
    ----------
    kind : {'gaussian', 'masking', 'salt_pepper'} or None
        None means no noise (returns None).
    level : float
        Standard deviation for ``'gaussian'``; the fraction of entries hit otherwise.
    low, high : float
        The values salt-and-pepper noise writes (the data's range).

    Examples
    --------
    >>> noise = make_noise("masking", 0.5)
    >>> out = noise(torch.ones(2, 4), torch.Generator().manual_seed(0))
    >>> bool(((out == 0) | (out == 1)).all())
    True
    """
    if kind is None or kind == "none":
        return None
    if kind not in NOISES:
        raise InvalidInputError(f"noise={kind!r}; expected one of {NOISES} or None")
    if level < 0 or (kind != "gaussian" and level > 1):
        expected = "a non-negative sigma" if kind == "gaussian" else "a rate in [0, 1]"
        raise InvalidInputError(f"noise_level={level} for noise={kind!r}; expected {expected}")
    if kind == "gaussian":
        return GaussianNoise(level)
    if kind == "masking":
        return MaskingNoise(level)
    return SaltPepperNoise(level, low, high)
