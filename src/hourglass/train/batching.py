"""The data side of a run: how many samples, which batches each process reads, and the seeded draws.

Randomness is drawn from generators seeded by ``(seed, epoch)``, so a run resumed from the
checkpoint of epoch ``e`` draws exactly what the uninterrupted run drew from epoch ``e + 1`` on.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from hourglass.data.sources import ScaledRows, iterate_batches
from hourglass.runtime import distributed

Corruption = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
Data = torch.Tensor | torch.utils.data.Dataset


def n_samples(data: Data) -> int:
    """Samples in ``data``: rows of a tensor, items of a Dataset."""
    return data.shape[0] if isinstance(data, torch.Tensor) else len(data)  # type: ignore[arg-type]


def device_batches(
    data: Data,
    batch_size: int,
    generator: torch.Generator | None,
    device: torch.device,
    workers: int = 0,
    shard: tuple[int, int] | None = None,
):
    """Yield device batches of ``data``, shuffled with ``generator`` (or in order when None)."""
    return iterate_batches(data, batch_size, generator, device, workers, shard)


def sharded(data: Data) -> tuple[int, int] | None:
    """(rank, world size) when each process should read only its share of every batch.

    Data read lazily (a file, photos) are read by shares under torchrun: each process reads its
    slice of every global batch. Data in memory are already in every process, where drawing the
    whole batch and its noise and slicing it gives exactly the single-process weights.
    """
    if not distributed.active() or isinstance(data, (torch.Tensor, ScaledRows)):
        return None
    return distributed.rank(), distributed.world_size()


def global_batch_sizes(n: int, batch_size: int) -> list[int]:
    """Sizes of the shuffled batches :func:`~hourglass.data.sources.iterate_batches` splits ``n`` into."""
    if n == 0:
        return []
    k = math.ceil(n / batch_size)
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def epoch_generator(
    seed: int, epoch: int, salt: int = 0, device: torch.device | None = None
) -> torch.Generator:
    """The generator of ``(seed, epoch, salt)``: on the CPU, or on a CUDA ``device`` for noise drawn there."""
    device = device if device is not None and device.type == "cuda" else torch.device("cpu")
    return torch.Generator(device=device).manual_seed((seed * 1_000_003 + epoch * 7_919 + salt) % (2**63))
