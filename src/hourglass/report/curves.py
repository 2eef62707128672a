"""Curves of training and of comparisons: loss per epoch, error against code size."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullLocator

from hourglass.exceptions import InvalidInputError
from hourglass.report.figure_style import (
    _AE_COLOR,
    _LINESTYLES,
    _PCA_COLOR,
    _RUN_COLORS,
    _new_figure,
    _plain_log_ticks,
    _spans_decades,
    _style_axes,
)
from hourglass.uses.verdicts import outcome


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
            # A few epochs get markers: a one-epoch run's line of one point drew nothing.
            marker = "o" if values.size <= 5 else None
            ax.plot(
                epochs,
                values,
                color=color,
                linestyle=_LINESTYLES.get(key, ":"),
                lw=1.8,
                label=label,
                marker=marker,
                ms=4,
            )
            all_values.append(values)
        _mark_best_epoch(ax, history, (best_epochs or {}).get(run, 0), color, first=index == 0)
    if not all_values:
        raise InvalidInputError("loss_curves got runs whose histories are all empty")
    log = _spans_decades(np.concatenate(all_values), 2)
    if log:
        ax.set_yscale("log")
        _plain_log_ticks(ax)
    # Epochs are counted, not measured: no 2.5 between 2 and 3 (nor 0.95 around a single one).
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    longest = max(len(values) for values in all_values)
    if longest < 3:
        ax.set_xticks(range(1, longest + 1))
        ax.set_xlim(0.5, longest + 0.5)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (log scale)" if log else "loss")
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
    log_y = _spans_decades(np.concatenate([ae, pca]), 1)
    if log_y:
        ax.set_yscale("log")
        _plain_log_ticks(ax)
    log_x = sizes.min() > 0 and sizes.max() / sizes.min() >= 8
    if log_x:
        # Code sizes are usually powers of two: equal steps read better on a log-2 axis.
        ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [f"{size:g}" for size in sizes])
    ax.xaxis.set_minor_locator(NullLocator())  # only the code sizes themselves get ticks
    ax.set_xlabel("code size (log scale)" if log_x else "code size")
    ax.set_ylabel(f"{ylabel} (log scale)" if log_y else ylabel)
    ax.margins(y=0.15)  # room for the ratio labels above and below the points
    ax.legend(frameon=False, fontsize=9, title="labels: AE error ÷ PCA error", title_fontsize=8)
    _style_axes(ax)
    return fig


# --- helpers -------------------------------------------------------------------------------------


def _annotate_ratio(ax: Axes, x: float, y: float, ratio: float) -> None:
    # Green where the verdict calls it a win, red a loss, grey a tie (0.995 was green "0.99"
    # beside a verdict of a tie); the label sits on the far side of the AE point from the PCA
    # line so the two lines do not run through it.
    judged = outcome(ratio)
    color, offset, va = {
        "win": ("#15803d", -9, "top"),
        "loss": ("#b91c1c", 9, "bottom"),
        "tie": ("#4b5563", 9, "bottom"),
    }[judged]
    ax.annotate(
        # Beyond the usual range as the cards write it: 4.07e+11, not 407318377630.82.
        f"{ratio:.3f}×" if judged == "tie" else f"{ratio:.2f}×" if 0.01 <= ratio < 1000 else f"{ratio:.3g}×",
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
