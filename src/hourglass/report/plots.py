"""Figures for reports: loss curves, error against code size, reconstructions, code maps.

Every function builds and returns a :class:`matplotlib.figure.Figure` directly, never through
pyplot, so nothing touches global state: figures can be made from several threads, on a machine
without a display, and are freed by the garbage collector like any object.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

from hourglass.exceptions import InvalidInputError

#: Resolution of the PNGs embedded in reports: sharp on screen, a few tens of kB per figure.
DPI = 110

# Colours from matplotlib's default cycle, named so AE and PCA look the same in every figure.
_AE_COLOR = "#1f77b4"
_PCA_COLOR = "#ff7f0e"
_RUN_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
_LINESTYLES = {"train_loss": "-", "val_loss": "--"}
# Colours for classes a caller left uncoloured (clusters matched to no label): tab20b's, which
# tab10 does not use.
_EXTRA_COLORS = [colormaps["tab20b"](i) for i in range(0, 20, 2)] + [
    colormaps["tab20b"](i) for i in range(1, 20, 2)
]

# Values this close outside [0, 1] are rounding noise of a decoder with a sigmoid-free output.
_UNIT_RANGE_SLACK = 0.1
# Colour maps whose middle colour means zero (also with "_r" appended).
_DIVERGING = {"RdBu", "bwr", "coolwarm", "seismic", "PiYG", "PRGn", "BrBG", "PuOr", "RdGy", "RdYlBu"}
# Widest figure, in inches: at DPI it fills the report's ~1100 px column without scaling.
_MAX_WIDTH = 10.0


def figure_to_png(fig: Figure, dpi: int = DPI) -> bytes:
    """Render ``fig`` to PNG bytes.

    Parameters
    ----------
    fig : Figure
        The figure to render.
    dpi : int, default=DPI
        Dots per inch of the image.

    Returns
    -------
    bytes
        A PNG file, without the "Software" text chunk so its bytes do not depend on the
        matplotlib version.

    Examples
    --------
    >>> png = figure_to_png(histogram(np.arange(10.0), "ten", "value"))
    >>> png[:4]
    b'\\x89PNG'
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def loss_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]], best_epochs: Mapping[str, int] | None = None
) -> Figure:
    """Plot training and validation loss per epoch for one or more runs.

    Parameters
    ----------
    histories : dict of str to dict of str to list of float
        Run name to history, e.g. ``{"AE k=8": {"train_loss": [...], "val_loss": [...]}}``.
        Each run gets one colour; each key one line style (train solid, validation dashed).
    best_epochs : dict of str to int, optional
        Run name to the epoch (from 1) whose weights were kept, e.g. ``history_.best_epoch``;
        marked on the run's validation curve (its training curve when it has none). 0 or a
        missing run: no marker.

    Returns
    -------
    Figure
        One axes with a line per run and key, whole epochs on the x axis; the y axis is
        logarithmic when the losses span more than two decades.

    Examples
    --------
    >>> history = {"train_loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.6, 0.7]}
    >>> fig = loss_curves({"AE k=2": history}, best_epochs={"AE k=2": 2})
    >>> len(fig.axes[0].lines)  # train, validation and the best-epoch marker
    3
    """
    if not histories:
        raise InvalidInputError("loss_curves needs at least one run, got an empty dict")
    fig = _new_figure(8.5, 4.2)
    ax = fig.add_subplot()
    all_values = []
    for index, (run, history) in enumerate(histories.items()):
        color = _RUN_COLORS[index % len(_RUN_COLORS)]
        for key, values in history.items():
            values = np.asarray(values, dtype=float)
            if values.size == 0:
                continue
            epochs = np.arange(1, values.size + 1)
            label = f"{run} · {key.removesuffix('_loss')}" if len(histories) > 1 else key.replace("_", " ")
            ax.plot(epochs, values, color=color, linestyle=_LINESTYLES.get(key, ":"), lw=1.8, label=label)
            all_values.append(values)
        _mark_best_epoch(ax, history, (best_epochs or {}).get(run, 0), color, first=index == 0)
    if not all_values:
        raise InvalidInputError("loss_curves got runs whose histories are all empty")
    if _spans_decades(np.concatenate(all_values), 2):
        ax.set_yscale("log")
        _plain_log_ticks(ax)
    # Epochs are counted, not measured: no 2.5 between 2 and 3.
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(frameon=False, fontsize=9, ncols=2 if len(ax.lines) > 6 else 1)
    _style_axes(ax)
    return fig


def error_vs_code_size(table: pd.DataFrame, ylabel: str = "held-out MSE") -> Figure:
    """Plot held-out reconstruction error of the autoencoder and PCA against the code size.

    Parameters
    ----------
    table : DataFrame
        Columns ``code_size``, ``ae_mse`` and ``pca_mse``, one row per code size.
    ylabel : str, default="held-out MSE"
        The error's name and units.

    Returns
    -------
    Figure
        Two lines with markers; each autoencoder point is annotated with its error as a
        fraction of PCA's (below 1 means the autoencoder wins).

    Examples
    --------
    >>> table = pd.DataFrame({"code_size": [2, 8], "ae_mse": [0.04, 0.01], "pca_mse": [0.05, 0.02]})
    >>> len(error_vs_code_size(table).axes[0].lines)
    2
    """
    missing = {"code_size", "ae_mse", "pca_mse"} - set(table.columns)
    if missing:
        raise InvalidInputError(
            f"error_vs_code_size needs columns {sorted(missing)}; got {list(table.columns)}"
        )
    if table.empty:
        raise InvalidInputError("error_vs_code_size got an empty table")
    table = table.sort_values("code_size")
    sizes = table["code_size"].to_numpy(dtype=float)
    ae = table["ae_mse"].to_numpy(dtype=float)
    pca = table["pca_mse"].to_numpy(dtype=float)

    fig = _new_figure(8.5, 4.2)
    ax = fig.add_subplot()
    ax.plot(sizes, pca, "s--", color=_PCA_COLOR, lw=1.8, ms=6, label="PCA")
    ax.plot(sizes, ae, "o-", color=_AE_COLOR, lw=1.8, ms=6, label="autoencoder")
    for size, ae_value, pca_value in zip(sizes, ae, pca, strict=True):
        if np.isfinite(ae_value) and np.isfinite(pca_value) and pca_value > 0:
            _annotate_ratio(ax, size, ae_value, ae_value / pca_value)
    if _spans_decades(np.concatenate([ae, pca]), 1):
        ax.set_yscale("log")
        _plain_log_ticks(ax)
    if sizes.min() > 0 and sizes.max() / sizes.min() >= 8:
        # Code sizes are usually powers of two: equal steps read better on a log-2 axis.
        ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [f"{size:g}" for size in sizes])
    ax.xaxis.set_minor_locator(NullLocator())  # only the code sizes themselves get ticks
    ax.set_xlabel("code size")
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=9, title="labels: AE error ÷ PCA error", title_fontsize=8)
    _style_axes(ax)
    return fig


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


def code_map(
    codes: np.ndarray,
    labels: np.ndarray | None = None,
    title: str = "",
    colors: Mapping[Any, Any] | None = None,
    legend_title: str | None = None,
) -> Figure:
    """Scatter the codes in 2-D, coloured by label.

    Parameters
    ----------
    codes : ndarray of shape (n, k)
        Codes of ``n`` samples. With ``k == 2`` they are plotted as they are; with ``k > 2`` they
        are projected on their first two principal components (the axis labels say so); with
        ``k == 1`` the code is plotted against the sample index.
    labels : ndarray of shape (n,), optional
        Class or value per sample. Up to 20 distinct integer or text labels are drawn as classes
        with a legend; continuous values with a colour bar.
    title : str, default=""
        Title of the axes.
    colors : dict of label to colour, optional
        The colour of each class, so that two maps can show the same group in the same colour
        (see :func:`class_colors`); classes it leaves out get other colours.
    legend_title : str, optional
        Title of the legend, e.g. "cluster" or "label".

    Returns
    -------
    Figure
        One scatter axes (plus a colour bar axes for continuous labels).

    Examples
    --------
    >>> codes = np.random.default_rng(0).normal(size=(100, 8))
    >>> code_map(codes).axes[0].get_xlabel()
    'PC 1 of the code (PCA, 19% of variance)'
    """
    codes, labels = _check_codes(codes, labels)
    fig = _new_figure(6.8, 5.0)
    _draw_code_map(fig, fig.add_subplot(), codes, labels, title, colors, legend_title, legend=True)
    return fig


def code_maps(codes: Mapping[str, np.ndarray], labels: np.ndarray | None = None) -> Figure:
    """Codes of the same samples from several models, side by side, coloured alike.

    Parameters
    ----------
    codes : dict of str to ndarray of shape (n, k)
        Panel title to the codes of the same ``n`` samples, e.g.
        ``{"autoencoder, k=8": ae_codes, "PCA, k=8": pca_codes}``. Each is drawn as by
        :func:`code_map`; the widths ``k`` may differ.
    labels : ndarray of shape (n,), optional
        Class or value per sample, shared by the panels (one legend or colour bar, on the right).

    Returns
    -------
    Figure
        One scatter axes per entry of ``codes``, in a row.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> fig = code_maps({"AE": rng.normal(size=(50, 2)), "PCA": rng.normal(size=(50, 4))}, np.arange(50) % 3)
    >>> [ax.get_title(loc="left") for ax in fig.axes]
    ['AE', 'PCA']
    """
    if not codes:
        raise InvalidInputError("code_maps needs at least one set of codes, got an empty dict")
    checked = {title: _check_codes(panel, labels) for title, panel in codes.items()}
    colors = None
    if labels is not None and _is_categorical(np.asarray(labels)):
        colors = class_colors(_classes(np.asarray(labels)))
    fig = _new_figure(min(_MAX_WIDTH, 1.2 + 4.4 * len(checked)), 4.6)
    axes = fig.subplots(1, len(checked), squeeze=False)[0]
    for index, (ax, (title, (panel, panel_labels))) in enumerate(zip(axes, checked.items(), strict=True)):
        last = index == len(checked) - 1
        _draw_code_map(fig, ax, panel, panel_labels, title, colors, None, legend=last)
    return fig


def class_colors(classes: Sequence[Any]) -> dict[Any, Any]:
    """One colour per class, in the order given: tab10 for up to 10 classes, tab20 beyond.

    Parameters
    ----------
    classes : sequence
        The distinct classes, e.g. ``np.unique(labels)``.

    Returns
    -------
    dict
        Class to an RGBA tuple; pass it to :func:`code_map` as ``colors``.

    Examples
    --------
    >>> colors = class_colors(["cat", "dog"])
    >>> sorted(colors)
    ['cat', 'dog']
    """
    classes = list(classes)
    if len(classes) > 20:
        raise InvalidInputError(f"class_colors has colours for at most 20 classes, got {len(classes)}")
    return dict(zip(classes, _palette(len(classes)), strict=True))


def histogram(values: np.ndarray, title: str, xlabel: str, log: bool = False) -> Figure:
    """Histogram of ``values`` with its median marked.

    Parameters
    ----------
    values : array-like
        Numbers of any shape; NaN and infinite values are left out (their count is shown).
    title : str
        Title of the axes.
    xlabel : str
        What the values are, e.g. "activation frequency" or "anomaly score".
    log : bool, default=False
        Logarithmic count axis, for heavy tails.

    Returns
    -------
    Figure
        One axes with the bars and a dashed median line.

    Examples
    --------
    >>> fig = histogram(np.random.default_rng(0).exponential(size=500), "scores", "score", log=True)
    >>> fig.axes[0].get_yscale()
    'log'
    """
    values = np.asarray(values, dtype=float).ravel()
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise InvalidInputError(f"histogram of {title!r} got no finite values (of {values.size})")
    fig = _new_figure(6.8, 3.8)
    ax = fig.add_subplot()
    bins = min(60, max(10, int(math.sqrt(finite.size))))
    ax.hist(finite, bins=bins, color=_AE_COLOR, alpha=0.85, edgecolor="white", linewidth=0.4, log=log)
    if log:
        _plain_log_ticks(ax)
    median = float(np.median(finite))
    ax.axvline(median, color="#333333", linestyle="--", lw=1.2, label=f"median {median:.4g}")
    dropped = values.size - finite.size
    ax.legend(frameon=False, fontsize=9, title=f"{dropped} non-finite left out" if dropped else None)
    ax.set_title(title, loc="left", fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    _style_axes(ax)
    return fig


def score_histogram(
    scores: Mapping[str, np.ndarray],
    quantiles: Mapping[str, float],
    threshold: float | None = None,
    xlabel: str = "reconstruction error (MSE)",
) -> Figure:
    """Histograms of anomaly scores, one per group, against reference quantiles.

    Parameters
    ----------
    scores : dict of str to ndarray
        Group name to its scores (higher: more abnormal), e.g. ``{"scored data": errors}`` or
        one entry per true label. Overlaid in one axes, on shared bins.
    quantiles : dict of str to float
        Reference values drawn as dotted vertical lines with their names, e.g. the quantiles of
        the errors of the normal data the threshold was calibrated on.
    threshold : float, optional
        Drawn as a dashed line: scores to its right are flagged.
    xlabel : str, default="reconstruction error (MSE)"
        What the scores are.

    Returns
    -------
    Figure
        One axes; the x axis is logarithmic when the positive scores span more than two
        decades.

    Examples
    --------
    >>> errors = np.random.default_rng(0).exponential(size=300)
    >>> fig = score_histogram({"scored": errors}, {"calibration 50%": 0.7, "calibration 99%": 4.6}, 4.6)
    >>> len(fig.axes[0].lines)  # two quantiles and the threshold
    3
    """
    groups = {name: np.asarray(values, dtype=float).ravel() for name, values in scores.items()}
    groups = {name: values[np.isfinite(values)] for name, values in groups.items()}
    if not groups or not any(values.size for values in groups.values()):
        raise InvalidInputError("score_histogram got no finite scores")
    everything = np.concatenate([*groups.values(), np.asarray(list(quantiles.values()), dtype=float)])
    positive = everything[everything > 0]
    log = bool(_spans_decades(everything, 2))
    low, high = (positive.min(), positive.max()) if log else (min(0.0, everything.min()), everything.max())
    if high <= low:
        high = low + 1.0
    bins = np.geomspace(low, high, 50) if log else np.linspace(low, high, 50)
    fig = _new_figure(8.5, 4.0)
    ax = fig.add_subplot()
    for index, (name, values) in enumerate(groups.items()):
        color = _RUN_COLORS[index % len(_RUN_COLORS)]
        ax.hist(
            np.clip(values, low, high), bins=bins, alpha=0.6, color=color, label=f"{name} ({len(values):,})"
        )
    for index, (name, value) in enumerate(quantiles.items()):
        # Gray shades from light to dark: higher quantiles read as "further out".
        shade = str(0.65 - 0.45 * index / max(len(quantiles) - 1, 1))
        ax.axvline(value, color=shade, linestyle=":", lw=1.6, label=f"{name} {value:.3g}")
    if threshold is not None:
        ax.axvline(threshold, color="#b91c1c", linestyle="--", lw=1.4, label=f"threshold {threshold:.3g}")
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("samples")
    ax.legend(frameon=False, fontsize=9, loc="upper right")
    _style_axes(ax)
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


def _new_figure(width: float, height: float) -> Figure:
    # Constrained layout keeps labels and legends inside the canvas without bbox_inches="tight",
    # so the PNG has exactly the size asked for.
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _style_axes(ax: Axes) -> None:
    # A lighter frame than matplotlib's default: the data should carry the ink.
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, which="major", color="#e5e7eb", lw=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=9)


def _spans_decades(values: np.ndarray, decades: float) -> bool:
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size < 2 or positive.size < np.isfinite(values).sum():
        return False  # a log axis would hide zeros and negatives
    return bool(positive.max() / positive.min() > 10**decades)


def _annotate_ratio(ax: Axes, x: float, y: float, ratio: float) -> None:
    # Green below PCA, red above; the label sits on the far side of the AE point from the PCA
    # line so the two lines do not run through it.
    color, offset, va = ("#15803d", -9, "top") if ratio < 1 else ("#b91c1c", 9, "bottom")
    ax.annotate(
        f"{ratio:.2f}×",
        (x, y),
        xytext=(0, offset),
        textcoords="offset points",
        ha="center",
        va=va,
        fontsize=8,
        color=color,
        bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
    )


def _mark_best_epoch(ax: Axes, history: Mapping[str, Sequence[float]], best: int, color, first: bool) -> None:
    # On the curve that chose the epoch: validation when there is one, else training.
    values = history.get("val_loss")
    if values is None or len(values) == 0:
        values = history.get("train_loss", [])
    if not best or not 1 <= best <= len(values) or not np.isfinite(values[best - 1]):
        return
    ax.plot(
        [best],
        [values[best - 1]],
        marker="*",
        markersize=13,
        linestyle="",
        color=color,
        markeredgecolor="#111827",
        markeredgewidth=0.6,
        zorder=5,
        label="best epoch (weights kept)" if first else "_nolegend_",
    )


def _plain_log_ticks(ax: Axes) -> None:
    # Decimal tick labels (0.02, 0.05) instead of 2x10^-2: easier to compare with the tables.
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: _tick_label(value)))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: _minor_log_label(value)))


def _minor_log_label(value: float) -> str:
    # Label only the 2 and 5 of each decade, or the minor ticks crowd together.
    if value <= 0:
        return ""
    leading = round(value / 10 ** math.floor(math.log10(value)), 6)
    return _tick_label(value) if leading in (2.0, 5.0) else ""


def _tick_label(value: float) -> str:
    if value >= 1 and float(value).is_integer():
        return f"{int(value):,}"  # counts: 1,000 rather than 1e+03
    return f"{value:.3g}"


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


def _project_2d(codes: np.ndarray) -> tuple[np.ndarray, str, str]:
    k = codes.shape[1]
    if k == 1:
        return np.column_stack([np.arange(len(codes)), codes[:, 0]]), "sample", "code"
    if k == 2:
        return codes, "code unit 1", "code unit 2"
    if len(codes) < 2:
        raise InvalidInputError(f"code_map needs at least 2 codes to project {k}-D codes, got {len(codes)}")
    from sklearn.decomposition import PCA  # imported here: sklearn is slow to import

    pca = PCA(n_components=2).fit(codes)
    share = pca.explained_variance_ratio_ * 100
    return (
        pca.transform(codes),
        f"PC 1 of the code (PCA, {share[0]:.0f}% of variance)",
        f"PC 2 of the code (PCA, {share[1]:.0f}% of variance)",
    )


def _point_style(n: int) -> tuple[float, float]:
    # Small, translucent points once there are enough of them to overlap.
    size = float(np.clip(8000 / max(n, 1), 6, 30))
    alpha = float(np.clip(1000 / max(n, 1), 0.35, 0.9))
    return size, alpha


def _is_categorical(labels: np.ndarray) -> bool:
    if labels.dtype.kind in "OUSb":
        return True
    if labels.dtype.kind in "iu":
        return len(np.unique(labels)) <= 20
    finite = labels[np.isfinite(labels)]
    return len(np.unique(finite)) <= 20 and bool(np.all(finite == np.round(finite)))


def _check_codes(codes: Any, labels: Any) -> tuple[np.ndarray, np.ndarray | None]:
    codes = np.asarray(codes, dtype=float)
    if codes.ndim != 2 or codes.shape[0] == 0:
        raise InvalidInputError(f"code_map needs codes of shape (n, k) with n > 0, got shape {codes.shape}")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (codes.shape[0],):
            raise InvalidInputError(
                f"code_map needs one label per code: labels have shape {labels.shape}, codes {codes.shape}"
            )
    return codes, labels


def _draw_code_map(
    fig: Figure,
    ax: Axes,
    codes: np.ndarray,
    labels: np.ndarray | None,
    title: str,
    colors: Mapping[Any, Any] | None,
    legend_title: str | None,
    legend: bool,
) -> None:
    xy, xlabel, ylabel = _project_2d(codes)
    size, alpha = _point_style(len(xy))
    if labels is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=size, alpha=alpha, color=_AE_COLOR, linewidths=0)
    elif _is_categorical(labels):
        _scatter_classes(ax, xy, labels, size, alpha, colors, legend_title if legend else False)
    else:
        points = ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="viridis", s=size, alpha=alpha, linewidths=0)
        if legend:
            fig.colorbar(points, ax=ax, label=legend_title or "label")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, loc="left", fontsize=11)
    _style_axes(ax)


def _classes(labels: np.ndarray) -> np.ndarray:
    return np.unique(labels.astype(str) if labels.dtype.kind == "O" else labels)


def _scatter_classes(
    ax: Axes,
    xy: np.ndarray,
    labels: np.ndarray,
    size: float,
    alpha: float,
    colors: Mapping[Any, Any] | None,
    legend_title: str | None | bool,
) -> None:
    classes = _classes(labels)
    keys = labels.astype(str) if labels.dtype.kind == "O" else labels
    if len(classes) > 20:
        raise InvalidInputError(f"code_map can colour at most 20 text classes, got {len(classes)}")
    palette = _colors_for(classes, colors or {})
    for color, cls in zip(palette, classes, strict=True):
        mask = keys == cls
        ax.scatter(xy[mask, 0], xy[mask, 1], s=size, alpha=alpha, color=color, linewidths=0)
    if legend_title is False:
        return
    handles = [
        Line2D([], [], marker="o", linestyle="", color=color, label=_label_text(cls))
        for color, cls in zip(palette, classes, strict=True)
    ]
    ax.legend(
        handles=handles,
        frameon=False,
        fontsize=9,
        loc="center left",
        bbox_to_anchor=(1.01, 0.5),
        ncols=2 if len(classes) > 12 else 1,
        handletextpad=0.2,
        title=legend_title or None,
        title_fontsize=9,
    )


def _colors_for(classes: np.ndarray, colors: Mapping[Any, Any]) -> list[Any]:
    """The given colour of each class; the others take colours that no given one uses."""
    given = [colors.get(cls) for cls in classes]
    taken = {to_rgba(color) for color in given if color is not None}
    spare = [c for c in _palette(len(classes)) + _EXTRA_COLORS if to_rgba(c) not in taken]
    return [color if color is not None else spare.pop(0) for color in given]


def _palette(n: int) -> list[Any]:
    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i) for i in range(n)]


def _label_text(value: object) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)
