"""Figures of images: reconstructions beside their originals, error maps, grids of atoms or samples."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hourglass.exceptions import InvalidInputError
from hourglass.report.figure_style import (
    _MAX_WIDTH,
    _new_figure,
)

# Values this close outside [0, 1] are rounding noise of a decoder with a sigmoid-free output.
_UNIT_RANGE_SLACK = 0.1
# Colour maps whose middle colour means zero (also with "_r" appended).
_DIVERGING = {"RdBu", "bwr", "coolwarm", "seismic", "PiYG", "PRGn", "BrBG", "PuOr", "RdGy", "RdYlBu"}


def reconstruction_grid(
    rows: Mapping[str, np.ndarray],
    image_shape: tuple[int, ...],
    value_range: tuple[float, float] | None = None,
) -> Figure:
    """Show rows of images, e.g. originals above their reconstructions, with a label per row.

    Parameters
    ----------
    rows : dict of str to ndarray
        Row label to an ``(n, d)`` array of flattened images, for instance
        ``{"original": X[:10], "AE k=8": X_ae[:10], "PCA k=8": X_pca[:10]}``.
    image_shape : tuple of int
        ``(h, w)`` for gray images or ``(c, h, w)`` with ``c`` in {1, 3}; ``d`` must equal its
        product.
    value_range : (float, float), optional
        Draw every row on this one scale (values outside it are clipped), e.g. the data's range.

    Returns
    -------
    Figure
        One axes per image, without ticks. With ``value_range`` or values roughly in [0, 1],
        every row is drawn on the same scale; otherwise each row gets one scale of its own.

    Examples
    --------
    >>> X = np.random.default_rng(0).random((5, 64))
    >>> len(reconstruction_grid({"original": X, "copy": X}, (8, 8)).axes)
    10
    """
    if not rows:
        raise InvalidInputError("reconstruction_grid needs at least one row, got an empty dict")
    images = {label: _as_images(np.asarray(array), image_shape, label) for label, array in rows.items()}
    unit_range = all(_in_unit_range(batch) for batch in images.values())
    ncols = max(len(batch) for batch in images.values())
    cell = min(1.0, (_MAX_WIDTH - 1.2) / ncols)
    fig = _new_figure(1.2 + cell * ncols, 0.15 + cell * len(images))
    grid = fig.subplots(len(images), ncols, squeeze=False)
    for axes_row, (label, batch) in zip(grid, images.items(), strict=True):
        if value_range is not None:
            vmin, vmax = (float(v) for v in value_range)
        else:
            vmin, vmax = (0.0, 1.0) if unit_range else _finite_range(batch)
        for col, ax in enumerate(axes_row):
            if col >= len(batch):
                fig.delaxes(ax)
                continue
            _show_image(ax, batch[col], vmin, vmax, "gray")
        axes_row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=10)
    return fig


def error_maps(
    inputs: np.ndarray,
    reconstructions: np.ndarray,
    maps: np.ndarray,
    image_shape: tuple[int, ...],
    titles: Sequence[str] | None = None,
) -> Figure:
    """Inputs above their reconstructions above their error maps, with a colour bar for the errors.

    Parameters
    ----------
    inputs, reconstructions : ndarray of shape (n, d)
        Flattened images (see :func:`reconstruction_grid` for ``image_shape``).
    maps : ndarray of shape (n, d)
        The squared error of every pixel (and channel), flattened like the images; colour
        images get one map each, averaged over the channels.
    image_shape : tuple of int
        ``(h, w)`` or ``(c, h, w)`` with ``c`` in {1, 3}.
    titles : list of str, optional
        One title per column, e.g. each sample's mean error.

    Returns
    -------
    Figure
        Three rows of ``n`` images; the maps share one scale from 0, shown by the colour bar.

    Examples
    --------
    >>> X = np.random.default_rng(0).random((4, 64))
    >>> fig = error_maps(X, X * 0.9, (X * 0.1) ** 2, (8, 8))
    >>> fig.axes[-1].get_ylabel()
    'squared error'
    """
    rows = {"input": inputs, "reconstruction": reconstructions}
    images = {label: _as_images(np.asarray(array), image_shape, label) for label, array in rows.items()}
    n = len(images["input"])
    if len(images["reconstruction"]) != n:
        raise InvalidInputError(
            f"error_maps got {n} inputs and {len(images['reconstruction'])} reconstructions"
        )
    heat = _as_images(np.asarray(maps, dtype=float), image_shape, "maps")
    if heat.ndim == 4:
        heat = heat.mean(axis=-1)  # (n, h, w, 3) -> (n, h, w): one map per image
    if len(heat) != n:
        raise InvalidInputError(f"error_maps got {len(heat)} maps for {n} inputs")
    if titles is not None and len(titles) != n:
        raise InvalidInputError(f"error_maps got {len(titles)} titles for {n} images")
    unit_range = all(_in_unit_range(batch) for batch in images.values())
    finite = heat[np.isfinite(heat)]
    # A high percentile rather than the max, so one hot pixel does not darken every other map.
    top = float(np.percentile(finite, 99.5)) if finite.size else 1.0
    top = top if top > 0 else 1.0
    cell = min(1.1, (_MAX_WIDTH - 2.2) / n)
    fig = _new_figure(2.2 + cell * n, 0.5 + cell * 3)
    grid = fig.subplots(3, n, squeeze=False)
    for axes_row, (label, batch) in zip(grid[:2], images.items(), strict=True):
        vmin, vmax = (0.0, 1.0) if unit_range else _finite_range(batch)
        for ax, image in zip(axes_row, batch, strict=True):
            _show_image(ax, image, vmin, vmax, "gray")
        axes_row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=10)
    shown = None
    for ax, image in zip(grid[2], heat, strict=True):
        _show_image(ax, image, 0.0, top, "magma")
        shown = ax.images[-1]
    grid[2][0].set_ylabel("error", rotation=0, ha="right", va="center", fontsize=10)
    if titles is not None:
        for ax, title in zip(grid[0], titles, strict=True):
            ax.set_title(str(title), fontsize=8)
    bar = fig.colorbar(shown, ax=list(grid[2]), shrink=0.9, pad=0.02, extend="max")
    bar.set_label("squared error", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    return fig


def image_grid(
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    cmap: str = "gray",
    *,
    vmin: float | None = None,
    vmax: float | None = None,
) -> Figure:
    """Show images in a grid, with an optional title over each.

    Parameters
    ----------
    images : ndarray
        ``(n, h, w)`` gray images or ``(n, c, h, w)`` with ``c`` in {1, 3}.
    titles : list of str, optional
        One title per image.
    ncols : int, default=8
        Images per row.
    cmap : str, default="gray"
        Colour map of gray images; ignored for colour ones.
    vmin, vmax : float, optional
        Colour scale. By default [0, 1] if the values lie roughly in it, else the range of all
        images, so that panels (error maps, input / baseline / truth) compare directly; with a
        diverging ``cmap`` such as "RdBu_r" the default is symmetric about zero.

    Returns
    -------
    Figure
        One axes per image, without ticks.

    Examples
    --------
    >>> atoms = np.random.default_rng(0).normal(size=(12, 8, 8))
    >>> len(image_grid(atoms, ncols=6, cmap="RdBu_r").axes)
    12
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise InvalidInputError(
            f"image_grid needs (n, h, w) or (n, c, h, w) images, got shape {images.shape}"
        )
    if ncols < 1:
        raise InvalidInputError(f"image_grid needs ncols >= 1, got {ncols}")
    if titles is not None and len(titles) != len(images):
        raise InvalidInputError(f"image_grid got {len(titles)} titles for {len(images)} images")
    batch = _as_images(images.reshape(len(images), -1), images.shape[1:], "images")
    if vmin is None or vmax is None:
        auto_min, auto_max = _auto_scale(batch, cmap)
        vmin = auto_min if vmin is None else vmin
        vmax = auto_max if vmax is None else vmax
    ncols = min(ncols, len(batch))
    nrows = math.ceil(len(batch) / ncols)
    cell = min(1.3, _MAX_WIDTH / ncols)
    title_space = 0.25 if titles is not None else 0.0
    fig = _new_figure(cell * ncols, (cell + title_space) * nrows)
    for index, image in enumerate(batch):
        ax = fig.add_subplot(nrows, ncols, index + 1)
        _show_image(ax, image, vmin, vmax, cmap)
        if titles is not None:
            ax.set_title(str(titles[index]), fontsize=8)
    return fig


# --- helpers -------------------------------------------------------------------------------------


def _as_images(flat: np.ndarray, image_shape: Sequence[int], name: str) -> np.ndarray:
    """Reshape ``(n, d)`` rows to ``(n, h, w)`` gray or ``(n, h, w, 3)`` colour images."""
    shape = tuple(int(size) for size in image_shape)
    if flat.ndim == 1:
        flat = flat[None, :]
    if flat.ndim != 2 or len(flat) == 0:
        raise InvalidInputError(f"{name!r} must be an (n, d) array with n > 0, got shape {flat.shape}")
    if len(shape) == 3 and shape[0] not in (1, 3):
        raise InvalidInputError(f"image_shape (c, h, w) needs c in {{1, 3}}, got {shape}")
    if len(shape) not in (2, 3) or flat.shape[1] != math.prod(shape):
        raise InvalidInputError(
            f"{name!r} has rows of {flat.shape[1]} values, which do not make images of shape {shape}"
        )
    images = flat.reshape(len(flat), *shape).astype(float)
    if len(shape) == 2:
        return images  # (n, h, w)
    if shape[0] == 1:
        return images[:, 0]  # (n, h, w)
    return images.transpose(0, 2, 3, 1)  # (n, h, w, 3)


def _in_unit_range(images: np.ndarray) -> bool:
    finite = images[np.isfinite(images)]
    return finite.size > 0 and finite.min() >= -_UNIT_RANGE_SLACK and finite.max() <= 1 + _UNIT_RANGE_SLACK


def _auto_scale(images: np.ndarray, cmap: str) -> tuple[float, float]:
    low, high = _finite_range(images)
    if cmap.removesuffix("_r") in _DIVERGING and low < 0 < high:
        # White must mean zero, or signed atoms read as biased.
        bound = max(-low, high)
        return -bound, bound
    return (0.0, 1.0) if _in_unit_range(images) else (low, high)


def _finite_range(images: np.ndarray) -> tuple[float, float]:
    finite = images[np.isfinite(images)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    return (low, high) if high > low else (low - 0.5, high + 0.5)


def _show_image(ax: Axes, image: np.ndarray, vmin: float, vmax: float, cmap: str) -> None:
    if image.ndim == 3:
        # imshow takes no vmin/vmax for RGB: scale to [0, 1] by hand.
        image = np.clip((image - vmin) / (vmax - vmin), 0.0, 1.0)
        ax.imshow(image, interpolation="nearest")
    else:
        ax.imshow(np.clip(image, vmin, vmax), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    # A hairline frame, so images with a white background (signed atoms) keep their edges.
    for spine in ax.spines.values():
        spine.set_color("#d1d5db")
        spine.set_linewidth(0.6)
