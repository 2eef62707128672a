"""Histograms of one quantity (unit activity, anomaly scores), with a log axis when it spans decades."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from hourglass.exceptions import InvalidInputError
from hourglass.report.figure_style import (
    _AE_COLOR,
    _RUN_COLORS,
    _new_figure,
    _plain_log_ticks,
    _spans_decades,
    _style_axes,
)


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
    ax.set_ylabel("count (log scale)" if log else "count")
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
        Drawn as a dashed line: scores to its right are flagged. A quantile at the threshold
        (within 1 % of the axis) is drawn as a pale band behind it, and the legend names both.
    xlabel : str, default="reconstruction error (MSE)"
        What the scores are, with their units, e.g. from
        :func:`hourglass.report.anomaly.score_axis_label`.

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
    >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()][1:]
    ['calibration 50% 0.7', 'threshold 4.6 = calibration 99%']
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
    entries = []
    for index, (name, values) in enumerate(groups.items()):
        color = _RUN_COLORS[index % len(_RUN_COLORS)]
        _, _, bars = ax.hist(np.clip(values, low, high), bins=bins, alpha=0.6, color=color)
        entries.append((bars, f"{name} ({len(values):,})"))
    entries += _reference_lines(ax, quantiles, threshold, _near(low, high, log))
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(f"{xlabel} (log scale)" if log else xlabel)
    ax.set_ylabel("samples")
    # Outside the axes, on the right: inside, the threshold line and its band ran through it.
    ax.legend(
        handles=[handle for handle, _ in entries],
        labels=[label for _, label in entries],
        frameon=False,
        fontsize=9,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
    )
    _style_axes(ax)
    return fig


def _near(low: float, high: float, log: bool):
    """Whether two x values would be drawn within 1 % of the axis's span of each other."""

    def near(a: float, b: float) -> bool:
        if log:
            if a <= 0 or b <= 0:
                return a == b
            return abs(math.log(a / b)) <= 0.01 * math.log(high / low)
        return abs(a - b) <= 0.01 * (high - low)

    return near


def _reference_lines(ax, quantiles: Mapping[str, float], threshold: float | None, near) -> list:
    """Draw the quantiles (dotted) and the threshold (dashed); return their legend entries.

    A quantile at the threshold (the usual case: the threshold is the 99 % quantile) would be
    hidden under it, so it is drawn as a wide pale band behind the dashed line and the two
    share one legend entry that says they coincide.
    """
    entries = []
    at_threshold = []
    for index, (name, value) in enumerate(quantiles.items()):
        # Gray shades from light to dark: higher quantiles read as "further out".
        shade = str(0.65 - 0.45 * index / max(len(quantiles) - 1, 1))
        if threshold is not None and near(value, threshold):
            band = ax.axvline(value, color=shade, lw=7, alpha=0.35, solid_capstyle="butt", zorder=1.5)
            at_threshold.append((band, name))
            continue
        line = ax.axvline(value, color=shade, linestyle=":", lw=1.6)
        entries.append((line, f"{name} {value:.3g}"))
    if threshold is not None:
        line = ax.axvline(threshold, color="#b91c1c", linestyle="--", lw=1.4, zorder=3)
        label = f"threshold {threshold:.3g}"
        if at_threshold:
            label += " = " + " = ".join(name for _, name in at_threshold)
        bands = tuple(band for band, _ in at_threshold)
        entries.append(((*bands, line) if bands else line, label))
    return entries
