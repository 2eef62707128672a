"""Maps of codes: points of the code space in 2-D (PCA when wider), coloured by class or value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from hourglass.exceptions import InvalidInputError
from hourglass.report.figure_style import (
    _AE_COLOR,
    _MAX_WIDTH,
    _new_figure,
    _style_axes,
)

# Colours for classes a caller left uncoloured (clusters matched to no label): tab20b's, which
# tab10 does not use.
_EXTRA_COLORS = [colormaps["tab20b"](i) for i in range(0, 20, 2)] + [
    colormaps["tab20b"](i) for i in range(1, 20, 2)
]


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


# --- helpers -------------------------------------------------------------------------------------


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
