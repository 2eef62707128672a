"""Warnings for grids a convolutional model would misread without an error.

Two mistakes train or run silently and wrongly: arrays stored channels-last (PIL, TensorFlow
and most series libraries keep them so), which the model reads as channels-first grids of the
wrong shape, and 0-255 pixels given to a model trained on values in [0, 1], whose every output
pixel then saturates.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from hourglass.data.validation import user_stacklevel

#: What a last axis holds when images are stored channels-last: gray, RGB or RGBA.
IMAGE_CHANNELS = (1, 3, 4)
#: Most channels a channels-last series is taken to have (mono to four-channel recordings).
SERIES_CHANNELS = 4
#: Fewest values the axes before a channels-last axis must hold before the warning speaks: on
#: tiny grids (3 x 3 images, series of a few steps) either reading is plausible.
MIN_SIDE = 8
#: How many times the last axis the axes before it must be to read as channels stored last.
SIDE_RATIO = 4
#: Values of a float array sampled to tell whole numbers (0-255 pixels) from fractions.
WHOLE_SAMPLE = 10_000


def _looks_last(small: int, before: int) -> bool:
    """Whether an axis of ``small`` values after one of ``before`` reads as channels stored last."""
    return before >= max(MIN_SIDE, SIDE_RATIO * small)


def warn_if_channels_last(shape: tuple[int, ...], color_mode: str | None, series_channels: int) -> None:
    """Warn when an array of ``shape`` (as given, before a gray channel axis is added) looks
    stored channels-last: images ``(n, h, w, c)`` or series ``(n, L, c)``.

    ``series_channels`` is the longest middle axis a 3-D array is read as series channels by
    (longer: gray images ``(n, h, w)``); ``color_mode='L'`` says a 3-D array holds gray images,
    which are not checked.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 4 and shape[3] in IMAGE_CHANNELS and _looks_last(shape[3], min(shape[1:3])):
        c = shape[3]
        what = "a gray channel" if c == 1 else "colour channels"
        warnings.warn(
            f"X has shape {shape}: its last axis looks like {what}, stored channels-last as PIL and "
            f"TensorFlow keep images, but hourglass reads images as (n, c, h, w), so this trains "
            f"{shape[1]}-channel images of {shape[2]}x{c}; pass np.moveaxis(X, -1, 1) "
            f"(X.transpose(0, 3, 1, 2)) for {c}-channel images of {shape[1]}x{shape[2]}",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    elif (
        len(shape) == 3
        and color_mode != "L"
        and shape[2] <= SERIES_CHANNELS
        and _looks_last(shape[2], shape[1])
    ):
        length, c = shape[1:]
        series = f"{length}-channel series of {c} steps"
        trains = f"gray {length}x{c} images" if length > series_channels else series
        warnings.warn(
            f"X has shape {shape}: its last axis looks like the channels of series stored channels-last "
            f"(n, L, c), but hourglass reads a 3-D array as series (n, c, L), or as gray images (n, h, w) "
            f"where the middle axis is longer than {series_channels}, so this trains {trains}; pass "
            f"np.moveaxis(X, -1, 1) (X.transpose(0, 2, 1)) for {c}-channel series of length {length}, "
            "or color_mode='L' for gray images",
            UserWarning,
            stacklevel=user_stacklevel(),
        )


def _pixels_as_bytes(est: Any, data: np.ndarray) -> str | None:
    """How ``data`` looks like 0-255 pixels to a model trained on [0, 1], or None.

    Bytes (uint8) whenever the model is unscaled; floats holding whole numbers from 0 to at most
    255 (above 1) where ``scaling='auto'`` left it unscaled, which it does only for data in
    [0, 1]. The command line reads a uint8 ``.npy`` as such floats.
    """
    if data.dtype == np.uint8:
        return "bytes (uint8, 0-255)"
    if data.dtype.kind != "f" or not data.size or getattr(est, "scaling", None) != "auto":
        return None
    top, bottom = float(np.max(data)), float(np.min(data))
    if not (bottom >= 0 and 2 <= top <= 255):  # NaN compares False: check_finite names it
        return None
    flat = data.reshape(-1)
    sample = np.asarray(flat[:: max(1, flat.size // WHOLE_SAMPLE)])
    if not np.array_equal(sample, np.round(sample)):
        return None
    return f"whole numbers from 0 to {top:g}, like 0-255 pixels,"


def warn_if_bytes_for_unit_data(est: Any, data: Any, name: str = "X") -> None:
    """Warn when 0-255 pixels meet a model trained on values in [0, 1] (every pixel would saturate).

    ``name`` is the argument's name in the message.
    """
    if getattr(getattr(est, "scaler_", None), "kind", None) != "none":  # scaled: any units do
        return
    held = _pixels_as_bytes(est, np.asarray(data))
    if held is not None:
        warnings.warn(
            f"{name} holds {held} but the model was trained on values in [0, 1]; divide {name} by 255 "
            "first, or nearly every pixel comes out saturated",
            UserWarning,
            stacklevel=user_stacklevel(),
        )


__all__ = ["warn_if_bytes_for_unit_data", "warn_if_channels_last"]
