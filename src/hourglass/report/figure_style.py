"""The house style of every report figure: a blank figure, axes, colours, log ticks, PNG bytes.

Figures are built directly, never through pyplot, so nothing touches global state: they can be
made from several threads, on a machine without a display, and are freed like any object.
"""

from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

#: Resolution of the PNGs embedded in reports: sharp on screen, a few tens of kB per figure.
DPI = 110

# Colours from matplotlib's default cycle, named so AE and PCA look the same in every figure.
_AE_COLOR = "#1f77b4"
_PCA_COLOR = "#ff7f0e"
_RUN_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
_LINESTYLES = {"train_loss": "-", "val_loss": "--"}


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
    >>> from hourglass.report.plots import histogram
    >>> png = figure_to_png(histogram(np.arange(10.0), "ten", "value"))
    >>> png[:4]
    b'\\x89PNG'
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


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
