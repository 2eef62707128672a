"""Pixel arithmetic of the image tasks: luma and chroma of RGB, and resampling.

Batches are channels first, ``(b, c, *spatial)``, in pixel units. The image tasks
(:mod:`hourglass.train.tasks`) corrupt with these, the colorizing network rebuilds RGB from
luma and chroma with them, and exported models prepare their input with them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hourglass.exceptions import InvalidInputError

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
