"""Whole photos of any size through a model trained on patches: overlapping tiles, blended back.

A network trained on ``64 x 64`` patches processes a ``3000 x 4000`` photo as overlapping
tiles; each output tile is weighted by a smooth window (a raised cosine that never reaches zero)
and the weighted tiles are summed and divided by the summed weights, so seams do not show.
:class:`PatchDataset` is the other direction: random patches cut from a folder of photos, for
training.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from hourglass.data.images import load_image
from hourglass.exceptions import InvalidInputError


def blend_window(size: tuple[int, ...], floor: float = 0.05) -> np.ndarray:
    """A separable raised-cosine window over ``size``, at least ``floor`` everywhere.

    Examples
    --------
    >>> w = blend_window((8, 8))
    >>> w.shape, bool(w[4, 4] > w[0, 0] > 0)
    ((8, 8), True)
    """
    window = np.ones((), np.float32)
    for n in size:
        # Sample the cosine at pixel centres so the window is symmetric and strictly positive.
        t = (np.arange(n) + 0.5) / n
        axis = floor + (1 - floor) * np.sin(np.pi * t) ** 2
        window = np.multiply.outer(window, axis.astype(np.float32))
    return window


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` covering ``length`` with at least ``overlap`` shared.

    Examples
    --------
    >>> tile_starts(10, 4, 2)
    [0, 2, 4, 6]
    """
    if length <= tile:
        return [0]
    step = max(1, tile - overlap)
    n = math.ceil((length - tile) / step) + 1
    # Spread the tiles evenly so the last one ends exactly at the border.
    return sorted({int(round(i * (length - tile) / (n - 1))) for i in range(n)})


def process_tiled(
    fn: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    tile: tuple[int, int],
    overlap: float = 0.5,
    batch_size: int = 32,
) -> np.ndarray:
    """Apply ``fn`` (a batch ``(b, c, th, tw)`` -> ``(b, c_out, th, tw)``) to a whole image.

    Parameters
    ----------
    fn : callable
        Processes a batch of tiles of shape ``(b, c, *tile)`` and returns tiles of the same
        spatial size (the channels may change, e.g. gray in, colour out).
    image : ndarray of shape (c, h, w)
        Any size; an image smaller than ``tile`` is padded with its edge values, then cropped.
    tile : (int, int)
        The size the model expects.
    overlap : float, default=0.5
        Share of a tile that neighbouring tiles overlap, in [0, 1).
    batch_size : int, default=32
        Tiles per call of ``fn``.

    Returns
    -------
    ndarray of shape (c_out, h, w), float32

    Examples
    --------
    >>> img = np.random.default_rng(0).random((1, 50, 70)).astype(np.float32)
    >>> out = process_tiled(lambda b: b, img, (16, 16))
    >>> bool(np.allclose(out, img, atol=1e-6))
    True
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3:
        raise InvalidInputError(f"image has shape {image.shape}; expected (c, h, w)")
    if not 0.0 <= overlap < 1.0:
        raise InvalidInputError(f"overlap={overlap} must lie in [0, 1)")
    th, tw = (int(t) for t in tile)
    h, w = image.shape[1:]
    pad_h, pad_w = max(0, th - h), max(0, tw - w)
    if pad_h or pad_w:
        image = np.pad(image, ((0, 0), (0, pad_h), (0, pad_w)), mode="edge")
    H, W = image.shape[1:]
    window = blend_window((th, tw))
    corners = [
        (y, x)
        for y in tile_starts(H, th, int(round(th * overlap)))
        for x in tile_starts(W, tw, int(round(tw * overlap)))
    ]
    out = None
    weight = np.zeros((H, W), np.float32)
    for start in range(0, len(corners), batch_size):
        chunk = corners[start : start + batch_size]
        tiles = np.stack([image[:, y : y + th, x : x + tw] for y, x in chunk])  # (b, c, th, tw)
        result = np.asarray(fn(tiles), dtype=np.float32)
        if result.ndim != 4 or result.shape[0] != len(chunk) or result.shape[2:] != (th, tw):
            raise InvalidInputError(
                f"the tile function returned shape {result.shape}; expected ({len(chunk)}, c, {th}, {tw})"
            )
        if out is None:
            out = np.zeros((result.shape[1], H, W), np.float32)
        for (y, x), res in zip(chunk, result, strict=True):
            out[:, y : y + th, x : x + tw] += res * window
            weight[y : y + th, x : x + tw] += window
    return out[:, :h, :w] / weight[None, :h, :w]


class PatchDataset(torch.utils.data.Dataset):
    """Random ``size`` patches cut from photos of any size, for training restoration models.

    Photos are decoded when a patch of them is first asked for, and up to ``cache`` of them are
    kept in memory, so a folder larger than memory still trains (more slowly). Patch ``i``
    comes from photo ``i // patches_per_image`` at a position drawn from ``(seed, i)``.

    Parameters
    ----------
    paths : list of Path
        The photos.
    size : (int, int)
        ``(height, width)`` of every patch; a photo smaller than it raises InvalidInputError
        naming the file.
    mode : {'L', 'RGB'}
    patches_per_image : int
    seed : int
    cache : int
        Photos kept decoded in memory.

    Examples
    --------
    >>> patches = PatchDataset(sorted(Path("photos").glob("*.jpg")), (48, 48))  # doctest: +SKIP
    >>> patches[0].shape  # doctest: +SKIP
    torch.Size([3, 48, 48])
    """

    def __init__(self, paths, size, mode="RGB", patches_per_image=16, seed=0, cache=256) -> None:
        self.paths = [Path(p) for p in paths]
        self.size = (int(size[0]), int(size[1]))
        self.mode = mode
        self.patches_per_image = int(patches_per_image)
        self.seed = int(seed)
        self.cache = int(cache)
        self._decoded: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.paths) * self.patches_per_image

    def _photo(self, index: int) -> np.ndarray:
        if index not in self._decoded:
            photo = load_image(self.paths[index], mode=self.mode)
            if photo.shape[1] < self.size[0] or photo.shape[2] < self.size[1]:
                raise InvalidInputError(
                    f"image {str(self.paths[index])!r} is {photo.shape[1]}x{photo.shape[2]}, smaller "
                    f"than the {self.size[0]}x{self.size[1]} training patches; lower image_size"
                )
            if len(self._decoded) >= self.cache:
                self._decoded.pop(next(iter(self._decoded)))
            self._decoded[index] = photo
        return self._decoded[index]

    def __getitem__(self, i: int) -> torch.Tensor:
        photo = self._photo(i // self.patches_per_image)
        rng = np.random.default_rng((self.seed, i))
        y = int(rng.integers(0, photo.shape[1] - self.size[0] + 1))
        x = int(rng.integers(0, photo.shape[2] - self.size[1] + 1))
        return torch.from_numpy(np.ascontiguousarray(photo[:, y : y + self.size[0], x : x + self.size[1]]))
