"""How well a compressed file does: PSNR, and the sizes and bits per pixel of one compression."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def psnr(truth: np.ndarray, approx: np.ndarray, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB over all values; the range is 1 for data in [0, 1].

    Examples
    --------
    >>> round(psnr(np.zeros(4), np.full(4, 0.1)), 2)
    20.0
    """
    truth = np.asarray(truth, np.float64)
    if data_range is None:
        lo, hi = float(truth.min()), float(truth.max())
        data_range = 1.0 if lo >= 0 and hi <= 1 else hi - lo
    mse = float(np.mean((truth - np.asarray(approx, np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(data_range**2 / mse)


@dataclass(frozen=True)
class CompressionReport:
    """Sizes and quality of one compression.

    Attributes
    ----------
    bytes_in : int
        The input's size as 8-bit values (one byte per pixel and channel), what an uncompressed
        8-bit image file would hold.
    bytes_out : int
        The compressed file's size, header included.
    bits_per_pixel : float
        ``8 * bytes_out`` per pixel (per spatial position, all channels together).
    bits_per_value : float
        ``8 * bytes_out`` per value (per pixel and channel).
    psnr : float
        Reconstruction PSNR in dB against the input.
    coder : str
    """

    bytes_in: int
    bytes_out: int
    bits_per_pixel: float
    bits_per_value: float
    psnr: float
    coder: str

    @property
    def ratio(self) -> float:
        return self.bytes_in / max(1, self.bytes_out)


#: What one position of a sample is called, by the rank of its ``(c, ...)`` shape.
POSITION_WORDS = {2: "step", 3: "pixel", 4: "voxel"}


def position_word(sample_shape: tuple[int, ...]) -> str:
    """``'pixel'`` for images ``(c, h, w)``, ``'step'`` for series ``(c, L)``, ``'voxel'`` for
    video: what :attr:`CompressionReport.bits_per_pixel` is per (a series read "bits per pixel").

    Examples
    --------
    >>> position_word((8, 8)), position_word((1, 28, 28))
    ('step', 'pixel')
    """
    return POSITION_WORDS.get(len(sample_shape), "position")
