"""Figures for reports: loss curves, error against code size, reconstructions, code maps.

Every function builds and returns a :class:`matplotlib.figure.Figure` directly, never through
pyplot, so nothing touches global state: figures can be made from several threads, on a machine
without a display, and are freed by the garbage collector like any object.

The figures live in modules by kind (:mod:`~hourglass.report.curves`,
:mod:`~hourglass.report.histograms`, :mod:`~hourglass.report.image_grids`,
:mod:`~hourglass.report.code_maps`, with the shared style in
:mod:`~hourglass.report.figure_style`); this module gathers them under the one name that report
builders, tests and examples import, ``from hourglass.report import plots``. Callers reach a figure
as ``plots.code_map`` so a test can stand in for it with ``monkeypatch.setattr(plots, ...)``.
"""

from __future__ import annotations

from hourglass.report.code_maps import class_colors, code_map, code_maps
from hourglass.report.curves import error_vs_code_size, loss_curves
from hourglass.report.figure_style import DPI, _new_figure, _style_axes, figure_to_png
from hourglass.report.histograms import histogram, score_histogram
from hourglass.report.image_grids import error_maps, image_grid, reconstruction_grid

__all__ = [
    "DPI",
    "_new_figure",
    "_style_axes",
    "class_colors",
    "code_map",
    "code_maps",
    "error_maps",
    "error_vs_code_size",
    "figure_to_png",
    "histogram",
    "image_grid",
    "loss_curves",
    "reconstruction_grid",
    "score_histogram",
]
