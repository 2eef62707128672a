"""Image quality metrics and the classical baselines an autoencoder must beat.

PSNR and SSIM come from :mod:`skimage.metrics`; the baselines are what a user would otherwise
reach for: non-local means and total-variation denoising (:mod:`skimage.restoration`), bicubic
upsampling for super-resolution, and the grayscale input itself for colorization. Images are
channels first, ``(c, h, w)``, with values in [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import convolve
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.restoration import denoise_nl_means, denoise_tv_chambolle

from hourglass.exceptions import InvalidInputError
from hourglass.nn.pixels import downsample, luminance, upsample


def _check_pair(truth: np.ndarray, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    truth, image = np.asarray(truth, np.float64), np.asarray(image, np.float64)
    if truth.shape != image.shape or truth.ndim != 3:
        raise InvalidInputError(
            f"images of shape {image.shape} and {truth.shape} cannot be compared; expected two (c, h, w)"
        )
    return truth, image


def psnr(truth: np.ndarray, image: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of ``image`` against ``truth`` (both in [0, 1]).

    Values are clipped to [0, 1] first, as when the image is saved.

    Examples
    --------
    >>> round(psnr(np.zeros((1, 4, 4)), np.full((1, 4, 4), 0.1)), 2)
    20.0
    """
    truth, image = _check_pair(truth, image)
    return float(peak_signal_noise_ratio(truth, np.clip(image, 0, 1), data_range=1.0))


def ssim(truth: np.ndarray, image: np.ndarray) -> float:
    """Structural similarity of ``image`` to ``truth`` (mean over channels), in [-1, 1].

    Examples
    --------
    >>> ssim(np.ones((1, 16, 16)) * 0.5, np.ones((1, 16, 16)) * 0.5)
    1.0
    """
    truth, image = _check_pair(truth, image)
    window = min(7, *truth.shape[1:])
    window -= 1 - window % 2  # SSIM's window must be odd
    return float(
        structural_similarity(
            truth, np.clip(image, 0, 1), data_range=1.0, channel_axis=0, win_size=max(window, 1)
        )
    )


def quality(truth: np.ndarray, image: np.ndarray) -> dict[str, float]:
    """``{'psnr': ..., 'ssim': ...}`` of ``image`` against ``truth``."""
    return {"psnr": psnr(truth, image), "ssim": ssim(truth, image)}


def estimate_sigma(image: np.ndarray) -> float:
    """Gaussian noise level of a ``(c, h, w)`` image (Immerkaer 1996), averaged over channels.

    scikit-image's own estimator needs PyWavelets; this one needs a 3 x 3 convolution.

    Examples
    --------
    >>> noisy = 0.5 + 0.1 * np.random.default_rng(0).standard_normal((1, 128, 128))
    >>> round(estimate_sigma(noisy), 2)
    0.1
    """
    img = np.asarray(image, np.float64)
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64)
    h, w = img.shape[1:]
    if h < 3 or w < 3:
        raise InvalidInputError(
            f"image of shape {img.shape} is too small to estimate its noise; expected 3x3 or more"
        )
    sigmas = [
        np.sqrt(np.pi / 2) * np.abs(convolve(channel, kernel)[1:-1, 1:-1]).sum() / (6 * (h - 2) * (w - 2))
        for channel in img
    ]
    return float(np.mean(sigmas))


def _channels_first(out: np.ndarray) -> np.ndarray:
    # scikit-image drops a single channel axis; put it back, channels first.
    out = out[..., None] if out.ndim == 2 else out
    return out.transpose(2, 0, 1).astype(np.float32)


def nl_means(noisy: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Non-local means denoising of a ``(c, h, w)`` image; ``sigma`` estimated when None.

    Uses scikit-image's recommended settings for a known noise level (``h = 0.8 sigma``,
    ``fast_mode``, patch 5, distance 6).
    """
    img = np.asarray(noisy, np.float64).transpose(1, 2, 0)  # (h, w, c)
    if sigma is None:
        sigma = estimate_sigma(noisy)
    out = denoise_nl_means(
        img, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5, patch_distance=6, channel_axis=-1
    )
    return _channels_first(out)


def tv_chambolle(noisy: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Total-variation denoising of a ``(c, h, w)`` image, weighted by the noise level.

    The weight ``sigma`` (estimated when None) is a common rule of thumb, not a tuned value.
    """
    img = np.asarray(noisy, np.float64).transpose(1, 2, 0)
    if sigma is None:
        sigma = estimate_sigma(noisy)
    out = denoise_tv_chambolle(img, weight=max(sigma, 1e-3), channel_axis=-1)
    return _channels_first(out)


def bicubic_upscale(low: np.ndarray, factor: int, size: tuple[int, int] | None = None) -> np.ndarray:
    """Bicubic upsampling of a ``(c, h, w)`` image by ``factor`` (or to ``size``)."""
    t = torch.from_numpy(np.asarray(low, np.float32))[None]
    size = size or tuple(s * factor for s in t.shape[2:])
    return upsample(t, size)[0].numpy()


def make_low_resolution(image: np.ndarray, factor: int) -> np.ndarray:
    """The low-resolution version of ``image`` used for training and evaluation alike."""
    return downsample(torch.from_numpy(np.asarray(image, np.float32))[None], factor)[0].numpy()


def grayscale(image: np.ndarray) -> np.ndarray:
    """The luminance of an RGB ``(3, h, w)`` image on all three channels (colorization's input)."""
    return luminance(torch.from_numpy(np.asarray(image, np.float32))[None])[0].numpy()


def baselines(task: str, corrupted: np.ndarray, sigma: float | None = None) -> dict[str, np.ndarray]:
    """The classical answers to ``task`` for the corrupted input ``(c, h, w)``, by name.

    'denoise': non-local means and TV; 'super_resolve': bicubic (``corrupted`` is the image
    already upsampled bicubically, so it *is* the baseline); 'colorize': the gray input;
    'inpaint' and 'reconstruct': the input itself.

    Examples
    --------
    >>> sorted(baselines("denoise", np.random.default_rng(0).random((1, 16, 16)), sigma=0.1))
    ['non-local means', 'total variation']
    """
    if task == "denoise":
        return {
            "non-local means": nl_means(corrupted, sigma),
            "total variation": tv_chambolle(corrupted, sigma),
        }
    if task == "super_resolve":
        return {"bicubic": np.asarray(corrupted, np.float32)}
    if task == "colorize":
        return {"grayscale input": np.asarray(corrupted, np.float32)}
    return {"input": np.asarray(corrupted, np.float32)}
