"""Image quality metrics and the classical baselines an autoencoder must beat.

PSNR and SSIM come from :mod:`skimage.metrics`; the baselines are what a user would otherwise
reach for: non-local means and total-variation denoising (:mod:`skimage.restoration`), bicubic
upsampling for super-resolution, and the grayscale input itself for colorization. Images are
channels first, ``(c, h, w)``, with values in [0, 1]. Each task names its baselines
(:attr:`hourglass.train.tasks.Task.baselines`); :func:`hourglass.uses.restoration.task_summary`
scores a fitted model against them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.ndimage import convolve, median_filter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, inpaint_biharmonic
from sklearn.utils.validation import check_is_fitted

from hourglass.exceptions import InvalidInputError
from hourglass.nn.pixels import downsample, luminance, upsample
from hourglass.train.tasks import task_for, task_of


def _check_pair(truth: np.ndarray, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    truth, image = np.asarray(truth, np.float64), np.asarray(image, np.float64)
    if truth.shape != image.shape or truth.ndim not in (2, 3):
        raise InvalidInputError(
            f"images of shape {image.shape} and {truth.shape} cannot be compared; expected two (c, h, w) "
            "images or two (c, L) series"
        )
    return truth, image


def psnr(truth: np.ndarray, image: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of ``image`` against ``truth`` (both in [0, 1]): images
    ``(c, h, w)`` or series ``(c, L)``.

    Values are clipped to [0, 1] first, as when the image is saved.

    Examples
    --------
    >>> round(psnr(np.zeros((1, 4, 4)), np.full((1, 4, 4), 0.1)), 2)
    20.0
    """
    truth, image = _check_pair(truth, image)
    return float(peak_signal_noise_ratio(truth, np.clip(image, 0, 1), data_range=1.0))


def ssim(truth: np.ndarray, image: np.ndarray) -> float:
    """Structural similarity of ``image`` to ``truth`` (mean over channels), in [-1, 1]; over each
    channel's steps for a series ``(c, L)``.

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


def _as_batch(image: Any, name: str) -> tuple[torch.Tensor, tuple[int, ...]]:
    """``image`` as a ``(n, c, h, w)`` tensor, and the leading shape to give the result back in."""
    arr = np.asarray(image, np.float32)
    if arr.ndim not in (2, 3, 4):
        raise InvalidInputError(
            f"{name} has shape {arr.shape}; expected an image (h, w) or (c, h, w), or a batch (n, c, h, w)"
        )
    # A batch taken as one image lost its channels: (1, 3, h, w) came back (1, 1, h/2, w/2).
    batch = torch.from_numpy(arr.reshape((1,) * (4 - arr.ndim) + arr.shape))
    return batch, arr.shape[:-2]


def median3(noisy: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """A 3 x 3 median filter over each channel of a ``(c, h, w)`` image (``sigma`` is not read).

    The classical answer to salt-and-pepper noise, which the smoothing denoisers spread instead.

    Examples
    --------
    >>> speck = np.zeros((1, 5, 5)); speck[0, 2, 2] = 1.0
    >>> float(median3(speck).max())
    0.0
    """
    return median_filter(np.asarray(noisy, np.float32), size=(1, 3, 3), mode="reflect")


def biharmonic(corrupted: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The pixels of a ``(c, h, w)`` image under ``mask`` ``(h, w)`` (True: a hole) filled by
    biharmonic inpainting (:func:`skimage.restoration.inpaint_biharmonic`), the others kept.

    Examples
    --------
    >>> ramp = np.tile(np.linspace(0, 1, 8), (1, 8, 1))
    >>> holes = np.zeros((8, 8), bool); holes[3:5, 3:5] = True
    >>> bool(np.abs(biharmonic(np.where(holes, 0.0, ramp), holes) - ramp).max() < 1e-6)
    True
    """
    img, holes = np.asarray(corrupted, np.float64), np.asarray(mask, bool)
    if holes.shape != img.shape[1:]:
        raise InvalidInputError(f"mask has shape {holes.shape}; expected the image's (h, w), {img.shape[1:]}")
    if not holes.any():
        return img.astype(np.float32)
    return _channels_first(inpaint_biharmonic(img.transpose(1, 2, 0), holes, channel_axis=-1))


def bicubic_upscale(low: np.ndarray, factor: int, size: tuple[int, int] | None = None) -> np.ndarray:
    """Bicubic upsampling of an image ``(h, w)`` or ``(c, h, w)``, or a batch ``(n, c, h, w)``, by
    ``factor`` (or to ``size``); the result has the same axes."""
    t, lead = _as_batch(low, "image")
    size = size or tuple(s * factor for s in t.shape[2:])
    out = upsample(t, size).numpy()
    return out.reshape(*lead, *out.shape[2:])


def make_low_resolution(image: np.ndarray, factor: int) -> np.ndarray:
    """The low-resolution version of ``image`` used for training and evaluation alike: an image
    ``(h, w)`` or ``(c, h, w)``, or a batch ``(n, c, h, w)``, shrunk ``factor`` times on each side.

    Examples
    --------
    >>> make_low_resolution(np.zeros((2, 3, 16, 12)), 2).shape
    (2, 3, 8, 6)
    """
    t, lead = _as_batch(image, "image")
    out = downsample(t, factor).numpy()
    return out.reshape(*lead, *out.shape[2:])


def grayscale(image: np.ndarray) -> np.ndarray:
    """The luminance of an RGB ``(3, h, w)`` image on all three channels (colorization's input)."""
    return luminance(torch.from_numpy(np.asarray(image, np.float32))[None])[0].numpy()


def _as_given(corrupted: np.ndarray, sigma: float | None = None) -> np.ndarray:
    return np.asarray(corrupted, np.float32)


#: The classical methods by the names the tasks give them: ``(corrupted, sigma) -> restored``.
#: A super-resolver's input is already the bicubic upsampling and a colorizer's the gray image,
#: so for them the input is the answer.
CLASSICAL = {
    "non-local means": nl_means,
    "total variation": tv_chambolle,
    "median filter": median3,
    "bicubic": _as_given,
    "grayscale input": _as_given,
    "input": _as_given,
}

#: The classical methods that also need to know where the holes are: ``(corrupted, mask) -> restored``.
MASKED = {"biharmonic inpainting": biharmonic}


def baselines(
    task: Any, corrupted: np.ndarray, sigma: float | None = None, mask: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """The classical answers to ``task`` for the corrupted input ``(c, h, w)``, by name.

    'denoise': non-local means and TV, and a 3 x 3 median for salt-and-pepper noise (``task``
    given as the estimator's task object, :func:`hourglass.train.tasks.task_of`); 'super_resolve':
    bicubic (``corrupted`` is the image already upsampled bicubically, so it *is* the baseline);
    'colorize': the gray input; 'inpaint': the input itself and biharmonic inpainting of the
    holes ``mask`` ``(h, w)``; 'reconstruct': the input itself.

    Examples
    --------
    >>> sorted(baselines("denoise", np.random.default_rng(0).random((1, 16, 16)), sigma=0.1))
    ['non-local means', 'total variation']
    """
    names = (task_for(task) if isinstance(task, str) else task).baselines
    out = {}
    for name in names:
        if name not in MASKED:
            out[name] = CLASSICAL[name](corrupted, sigma)
        elif mask is None:
            raise InvalidInputError(f"the {name!r} baseline needs mask, the (h, w) holes to fill; got None")
        else:
            out[name] = MASKED[name](corrupted, mask)
    return out


def task_panels(estimator: Any, X: Any, seed: int = 0) -> dict[str, np.ndarray]:
    """Input / baselines / autoencoder / truth for clean images ``X``, corrupted like in training.

    Parameters
    ----------
    estimator : fitted ConvAutoEncoder
    X : array-like of shape (n, c, h, w)
        Clean images in data units.
    seed : int, default=0
        Seed of the corruption's random draws.

    Returns
    -------
    dict
        ``(n, c, h, w)`` arrays in data units: 'input' (what the network sees), one entry per
        classical baseline (:func:`baselines`), 'autoencoder' and 'truth'.

    Examples
    --------
    >>> list(task_panels(super_resolver, patches))  # doctest: +SKIP
    ['input', 'bicubic', 'autoencoder', 'truth']
    """
    truth = estimator._validate_input(X, reset=False)
    corruption = estimator._corruption()
    scaled = torch.from_numpy(estimator.scaler_.transform(truth))
    if corruption is not None:
        scaled = corruption(scaled, torch.Generator().manual_seed(seed))
    inputs = estimator.scaler_.inverse_transform(scaled.numpy())
    task = task_of(estimator)
    sigma = task.baseline_sigma(estimator.scaler_.kind)
    # The classical answers are 2-D image filters: series (c, L), and video, are set against their
    # corrupted input alone (non-local means on a series failed: "axes don't match array").
    images = inputs.ndim == 4
    masks = task.baseline_mask(truth.shape, seed) if images else None  # the holes the network saw
    per_image = [
        baselines(task, img, sigma, None if masks is None else masks[i]) if images else {}
        for i, img in enumerate(inputs)
    ]
    panels = {"input": inputs}
    for name in per_image[0]:
        panels[name] = np.stack([b[name] for b in per_image])
    panels["autoencoder"] = estimator.reconstruct(inputs)  # the network on what it was trained on
    panels["truth"] = truth
    return panels


#: A restoration headline is the mean over up to this many images. Over 4, as it was, non-local
#: means' PSNR on 32 x 32 photo patches ran from 27.0 to 33.5 dB with the patches drawn (sd 2.0
#: dB over 16 draws), the gain it is set against moving with it; 64 such patches score in 0.7 s
#: on one core (both baselines take 3 ms a 32 x 32 patch, 0.11 s a 256 x 256 image).
SCORED_IMAGES = 64


def spread(n: int, count: int) -> np.ndarray:
    """Up to ``count`` indices of ``n`` items, spread evenly over them (first and last included).

    Examples
    --------
    >>> spread(10, 4).tolist(), spread(3, 4).tolist()
    ([0, 3, 6, 9], [0, 1, 2])
    """
    return np.unique(np.linspace(0, n - 1, num=min(count, n)).astype(int))


def task_scores(estimator: Any, X: Any) -> tuple[np.ndarray, dict[str, np.ndarray], list[dict[str, Any]]]:
    """Up to :data:`SCORED_IMAGES` images of ``X`` spread over it, their :func:`task_panels`, and
    each method's mean PSNR / SSIM over them."""
    data = estimator._validate_input(X, reset=False)
    shown = data[spread(len(data), SCORED_IMAGES)]
    panels = task_panels(estimator, shown)
    rows = []
    for name, images in panels.items():
        if name == "truth":
            continue
        scores = [quality(t, i) for t, i in zip(panels["truth"], images, strict=True)]
        rows.append(
            {
                "method": name,
                "PSNR (dB)": float(np.mean([s["psnr"] for s in scores])),
                "SSIM": float(np.mean([s["ssim"] for s in scores])),
            }
        )
    return shown, panels, rows


def task_summary(estimator: Any, X: Any, data_role: str = "training") -> dict[str, float]:
    """A restoration model's headline on images ``X``: its PSNR against its classical baseline.

    Parameters
    ----------
    estimator : fitted ConvAutoEncoder
        With a restoration task (any ``task`` but 'reconstruct').
    X : array-like of shape (n, c, h, w)
        Clean images, corrupted as in training (up to :data:`SCORED_IMAGES` of them, spread
        over ``X``).
    data_role : {'training', 'held-out'}, default='training'
        Whether the model trained on ``X``; every label says so.

    Returns
    -------
    dict
        ``autoencoder PSNR``, the strongest classical baseline's PSNR (non-local means, TV
        or, for salt-and-pepper noise, the 3 x 3 median; bicubic; the gray image; biharmonic
        inpainting), the gain in dB, and both SSIMs, labels naming the data.

    Examples
    --------
    >>> task_summary(denoiser, held_out_patches, "held-out")  # doctest: +SKIP
    {'autoencoder PSNR, held-out data (dB)': 31.2, 'non-local means PSNR (dB)': 30.1, ...}
    """
    check_is_fitted(estimator, "module_")
    if not task_of(estimator).restoration:
        raise InvalidInputError(
            f"task_summary needs a restoration task; task={estimator.task!r} has no baseline"
        )
    shown, _, rows = task_scores(estimator, X)
    psnr = {row["method"]: row["PSNR (dB)"] for row in rows}
    ssim = {row["method"]: row["SSIM"] for row in rows}
    # The strongest classical baseline on these images (non-local means, TV or the median for
    # denoising; biharmonic inpainting, not the holed input, for inpainting).
    classical = [m for m in psnr if m not in ("input", "autoencoder")] or ["input"]
    baseline = max(classical, key=psnr.get)
    return {
        f"autoencoder PSNR, {data_role} data (dB)": psnr["autoencoder"],
        f"{baseline} PSNR (dB)": psnr[baseline],
        f"gain over {baseline} (dB)": psnr["autoencoder"] - psnr[baseline],
        f"autoencoder SSIM, {data_role} data": ssim["autoencoder"],
        f"{baseline} SSIM": ssim[baseline],
        f"{data_role} images scored": len(shown),
    }
