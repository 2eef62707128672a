"""Image tasks as corrupted input -> clean target: what the network sees instead of the truth.

Every task is a corruption ``(clean_batch, generator) -> input_batch`` like the noises of
:mod:`hourglass.train.corruptions`, drawn afresh for every batch by the training loop. Batches are
channels first, ``(b, c, *spatial)``. A task that must see pixel values (luminance weights,
masks) works in the data's units when given the scaler's ``offset`` and ``scale``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from hourglass.exceptions import InvalidInputError

TASKS = ("reconstruct", "denoise", "colorize", "super_resolve", "inpaint")
SCALE_FACTORS = (2, 3, 4)
#: ITU-R BT.601 luma weights, the luminance of JPEG and of PIL's "L" mode.
LUMA = (0.299, 0.587, 0.114)
#: RGB from chroma (JPEG's full-range YCbCr, Cb and Cr centred on 0): R, G, B = Y + CHROMA_TO_RGB @ (Cb, Cr).
#: Every row is orthogonal to LUMA, so any chroma leaves the luminance unchanged.
CHROMA_TO_RGB = ((0.0, 1.402), (-0.344136, -0.714136), (1.772, 0.0))
#: (Cb, Cr) from RGB, the inverse of CHROMA_TO_RGB on the chroma plane.
RGB_TO_CHROMA = ((-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))


def luminance(batch: torch.Tensor) -> torch.Tensor:
    """The luma of an RGB batch ``(b, 3, ...)``, repeated over three channels.

    Examples
    --------
    >>> luminance(torch.ones(1, 3, 2, 2)).shape
    torch.Size([1, 3, 2, 2])
    """
    if batch.shape[1] != 3:
        raise InvalidInputError(f"colorize needs RGB data with 3 channels, got {batch.shape[1]} channel(s)")
    weights = torch.tensor(LUMA, dtype=batch.dtype, device=batch.device).view(1, 3, *[1] * (batch.ndim - 2))
    gray = (batch * weights).sum(dim=1, keepdim=True)
    return gray.expand_as(batch).contiguous()


def luma(batch: torch.Tensor) -> torch.Tensor:
    """The luma ``(b, 1, ...)`` of an RGB batch ``(b, 3, ...)`` (BT.601 weights).

    Examples
    --------
    >>> luma(torch.ones(1, 3, 2, 2)).shape
    torch.Size([1, 1, 2, 2])
    """
    weights = torch.tensor(LUMA, dtype=batch.dtype, device=batch.device)
    return torch.einsum("bc...,c->b...", batch, weights).unsqueeze(1)


def rgb_to_chroma(batch: torch.Tensor) -> torch.Tensor:
    """The chroma ``(b, 2, ...)`` (Cb, Cr of full-range YCbCr, 0 for gray) of an RGB batch.

    Examples
    --------
    >>> rgb_to_chroma(torch.full((1, 3, 2, 2), 0.4)).abs().max() < 1e-6
    tensor(True)
    """
    matrix = torch.tensor(RGB_TO_CHROMA, dtype=batch.dtype, device=batch.device)
    return torch.einsum("bc...,kc->bk...", batch, matrix)


def chroma_to_rgb(luma_: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
    """RGB ``(b, 3, ...)`` of luma ``(b, 1, ...)`` and chroma ``(b, 2, ...)``; its luma is ``luma_``.

    Examples
    --------
    >>> rgb = torch.rand(2, 3, 4, 4)
    >>> bool(torch.allclose(chroma_to_rgb(luma(rgb), rgb_to_chroma(rgb)), rgb, atol=1e-5))
    True
    """
    matrix = torch.tensor(CHROMA_TO_RGB, dtype=chroma.dtype, device=chroma.device)
    return luma_ + torch.einsum("bk...,ck->bc...", chroma, matrix)


def _interp_mode(batch: torch.Tensor) -> str:
    return {3: "linear", 4: "bicubic", 5: "trilinear"}[batch.ndim]


def downsample(batch: torch.Tensor, factor: int) -> torch.Tensor:
    """Shrink every spatial axis by ``factor`` (antialiased bicubic for images, area otherwise)."""
    size = [max(1, s // factor) for s in batch.shape[2:]]
    if batch.ndim == 4:
        return F.interpolate(batch, size=size, mode="bicubic", antialias=True, align_corners=False)
    return F.interpolate(batch, size=size, mode="area")


def upsample(batch: torch.Tensor, size) -> torch.Tensor:
    """Bicubic (linear / trilinear for series / video) interpolation to ``size`` (the baseline)."""
    return F.interpolate(batch, size=list(size), mode=_interp_mode(batch), align_corners=False)


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
