"""Image tasks as corrupted input -> clean target: what the network sees instead of the truth.

Every task is a corruption ``(clean_batch, generator) -> input_batch`` like the noises of
:mod:`hourglass.train.corruptions`, drawn afresh for every batch by the training loop. Batches are
channels first, ``(b, c, *spatial)``. A task that must see pixel values (luminance weights,
masks) works in the data's units when given the scaler's ``offset`` and ``scale``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hourglass.exceptions import InvalidInputError
from hourglass.nn.pixels import (  # noqa: F401  (the tasks' pixel transforms, by their old names too)
    CHROMA_TO_RGB,
    LUMA,
    RGB_TO_CHROMA,
    chroma_to_rgb,
    downsample,
    luma,
    luminance,
    rgb_to_chroma,
    upsample,
)
from hourglass.registry import TASKS

SCALE_FACTORS = (2, 3, 4)


@dataclass
class SuperResolve:
    """Input: the batch downsampled by ``factor`` and interpolated back to its own size."""

    factor: int = 2

    def __call__(self, batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return upsample(downsample(batch, self.factor), batch.shape[2:])


@dataclass
class Colorize:
    """Input: the luminance of an RGB batch, on all three channels."""

    def __call__(self, batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return luminance(batch)


@dataclass
class Inpaint:
    """Input: the batch with ``holes`` random boxes per sample set to ``fill``.

    Each box spans the share ``size`` of every spatial axis.
    """

    holes: int = 2
    size: float = 0.25
    fill: float = 0.0

    def __call__(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        spatial = batch.shape[2:]
        extent = [max(1, int(round(s * self.size))) for s in spatial]
        hole = torch.zeros((batch.shape[0], *spatial), dtype=torch.bool)
        for _ in range(self.holes):
            box = torch.ones((batch.shape[0], *spatial), dtype=torch.bool)
            for axis, (s, e) in enumerate(zip(spatial, extent, strict=True)):
                # One corner per sample and axis, drawn on the loop's seeded generator.
                start = torch.randint(
                    0, s - e + 1, (batch.shape[0],), generator=generator, device=generator.device
                ).cpu()
                pos = torch.arange(s)
                inside = (pos >= start[:, None]) & (pos < start[:, None] + e)  # (b, s)
                view = [batch.shape[0]] + [1] * len(spatial)
                view[axis + 1] = s
                box &= inside.view(view)
            hole |= box
        hole = hole.unsqueeze(1).to(batch.device)  # (b, 1, *spatial), the same holes in every channel
        return torch.where(hole, torch.full_like(batch, self.fill), batch)


@dataclass
class InDataUnits:
    """Run ``task`` on pixel values: undo the scaling, corrupt, scale again.

    Luminance weights and hole fills mean something only in the data's own units.
    """

    task: object
    offset: torch.Tensor
    scale: torch.Tensor

    def __call__(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        offset, scale = self.offset.to(batch.device, batch.dtype), self.scale.to(batch.device, batch.dtype)
        return (self.task(batch * scale + offset, generator) - offset) / scale


@dataclass
class Compose:
    """Apply corruptions in order (e.g. a task, then input noise)."""

    steps: tuple

    def __call__(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for step in self.steps:
            batch = step(batch, generator)
        return batch


def check_task(task: str, scale_factor: int = 2) -> None:
    """Raise InvalidInputError unless ``task`` and ``scale_factor`` are known."""
    if task not in TASKS:
        raise InvalidInputError(f"task={task!r}; expected one of {TASKS}")
    if task == "super_resolve" and scale_factor not in SCALE_FACTORS:
        raise InvalidInputError(f"scale_factor={scale_factor!r}; expected one of {SCALE_FACTORS}")


def make_task(task: str, scale_factor: int = 2):
    """The corruption of ``task`` ('reconstruct' and 'denoise' have none of their own: None).

    Denoising's corruption is the input noise (:func:`hourglass.train.corruptions.make_noise`).

    Examples
    --------
    >>> make_task("super_resolve", 4)
    SuperResolve(factor=4)
    >>> make_task("denoise") is None
    True
    """
    check_task(task, scale_factor)
    if task == "super_resolve":
        return SuperResolve(int(scale_factor))
    if task == "colorize":
        return Colorize()
    if task == "inpaint":
        return Inpaint()
    return None
