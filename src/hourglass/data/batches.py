"""Batches of training data for the Trainer: scaled rows without a copy, one loop over any kind.

Training data come in three kinds (a tensor, :class:`ScaledRows` over an array, or a torch
``Dataset``); :func:`iterate_batches` yields device batches of any of them in the same order for
a seed, so a Dataset trains to the same weights as its array.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch

from hourglass.exceptions import InvalidInputError


class ScaledRows(torch.utils.data.Dataset):
    """Rows ``indices`` of a raw tensor, scaled as they are read: a training set without a copy.

    ``batch(positions)`` returns ``(data[indices[positions]] - offset) / scale`` as float32, on
    the device the tensors live on. It is a ``Dataset`` too (``__getitems__`` reads a whole
    batch at once), so code written for datasets accepts it.
    """

    def __init__(self, data: torch.Tensor, indices: torch.Tensor, offset: torch.Tensor, scale: torch.Tensor):
        self.data, self.indices = data, indices
        self.offset, self.scale = offset, scale
        # Data that need no scaling (pixels already in [0, 1]) skip two passes over every batch.
        self._identity = bool((offset == 0).all() and (scale == 1).all())

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def to(self, device: torch.device) -> ScaledRows:
        if self.data.device == device:
            return self
        return ScaledRows(*(t.to(device) for t in (self.data, self.indices, self.offset, self.scale)))

    def batch(self, positions: torch.Tensor | slice) -> torch.Tensor:
        if isinstance(positions, torch.Tensor):
            # index_select gathers rows 3x faster than indexing with a tensor on the CPU (117 us
            # against 38 for 256 Fashion-MNIST rows), the same numbers.
            rows = self.data.index_select(0, self.indices.index_select(0, positions))
        else:
            rows = self.data[self.indices[positions]]
        if self._identity:
            return rows.to(torch.float32)
        # In the data's dtype, then float32: the same numbers as scaling the whole array at once.
        return ((rows - self.offset) / self.scale).to(torch.float32)

    def __getitems__(self, positions: list[int]) -> torch.Tensor:
        return self.batch(torch.as_tensor(positions, dtype=torch.long))

    def __getitem__(self, position: int) -> torch.Tensor:
        return self.batch(torch.as_tensor([position]))[0]

    def materialize(self) -> torch.Tensor:
        """All rows, scaled, as one tensor (layer-wise pretraining needs them whole)."""
        return self.batch(slice(None))


def _keep_batch(batch: Any) -> Any:
    # Datasets with __getitems__ return the batch already stacked; nothing left to collate.
    return batch


def iterate_batches(
    data: Any,
    batch_size: int,
    generator: torch.Generator | None,
    device: torch.device,
    workers: int = 0,
    shard: tuple[int, int] | None = None,
) -> Iterator[torch.Tensor]:
    """Yield device batches of ``data`` (a tensor, :class:`ScaledRows` or a Dataset).

    Shuffled with ``generator``, or in order when it is None. A shuffled epoch is split into
    equal batches rather than full ones and a runt: a last batch of a handful of samples costs a
    whole step and gives a noisy gradient. ``shard=(rank, world_size)`` reads only that part of
    every batch of a Dataset (each torchrun process reads its own share, in the same order).
    """
    n = data.shape[0] if isinstance(data, torch.Tensor) else len(data)
    if n == 0:
        return
    if isinstance(data, (torch.Tensor, ScaledRows)):
        take = data.__getitem__ if isinstance(data, torch.Tensor) else data.batch
        if generator is None:
            for start in range(0, n, batch_size):
                yield take(slice(start, start + batch_size))
            return
        order = torch.randperm(n, generator=generator)
        order = order.to(data.device if isinstance(data, torch.Tensor) else data.data.device)
        for index in torch.tensor_split(order, math.ceil(n / batch_size)):
            yield take(index)
        return
    if generator is None:
        batches = [list(range(s, min(n, s + batch_size))) for s in range(0, n, batch_size)]
    else:
        # The same batches as for a tensor, so a Dataset trains to the same weights as its array.
        order = torch.randperm(n, generator=generator)
        batches = [part.tolist() for part in torch.tensor_split(order, math.ceil(n / batch_size))]
    if shard is not None:
        rank, world = shard
        if min(len(b) for b in batches) < world:
            # A process without items would skip a step the others take, and DDP would wait forever.
            raise InvalidInputError(
                f"batches of {min(len(b) for b in batches)} item(s) for {world} torchrun processes; expected "
                "batch_size of at least one item per process"
            )
        batches = [batch[rank::world] for batch in batches]
    batched = hasattr(data, "__getitems__")
    loader = torch.utils.data.DataLoader(
        data,
        batch_sampler=batches,
        num_workers=workers,
        collate_fn=_keep_batch if batched else None,
        # Pinned host batches let the copy to a GPU overlap the step before it.
        pin_memory=device.type == "cuda",
        # A loader of its own seed: without one, starting its iterator draws the workers' base
        # seed from torch's global generator, which the epoch's dropout, a VAE's draws and a
        # codebook's restarts then drew after it (their weights moved away from the array's).
        generator=torch.Generator().manual_seed(generator.initial_seed() if generator is not None else 0),
    )
    for batch in loader:
        batch = batch[0] if isinstance(batch, (list, tuple)) else batch
        yield batch.to(device, non_blocking=True)


def first_items(data: Any, n: int) -> torch.Tensor:
    """The first ``n`` items of training data (tensor, :class:`ScaledRows` or Dataset), on the CPU."""
    count = min(n, data.shape[0] if isinstance(data, torch.Tensor) else len(data))
    if isinstance(data, ScaledRows):
        return data.batch(slice(0, count)).cpu()
    if isinstance(data, torch.Tensor):
        return data[:count].detach().cpu().clone()
    if hasattr(data, "__getitems__"):
        return data.__getitems__(list(range(count))).cpu()
    return torch.stack([torch.as_tensor(data[i]) for i in range(count)])
