"""The report sections of a restoration task: the model against its classical baselines."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hourglass.report import plots
from hourglass.train.restoration import spread
from hourglass.uses.restoration import task_scores

#: Images shown in the panels, of those scored.
SHOWN_IMAGES = 4


def add_task_sections(report, estimator: Any, X: Any, data_role: str = "training") -> None:
    """Add input / baselines / autoencoder / truth panels and their PSNR / SSIM to ``report``.

    Parameters
    ----------
    report : hourglass.report.html.Report
    estimator : fitted ConvAutoEncoder
        With a restoration task, on images.
    X : array-like of shape (n, c, h, w)
        Clean images (up to 64 of them, spread over ``X``, are scored and 4 of those shown).
    data_role : {'training', 'held-out'}, default='training'
        Whether the model trained on ``X``; the captions say so.

    Examples
    --------
    >>> add_task_sections(report, denoiser, held_out_patches, "held-out")  # doctest: +SKIP
    """
    scored, panels, rows = task_scores(estimator, X)
    report.add_table(
        pd.DataFrame(rows),
        heading=f"Task: {estimator.task}",
        caption=f"Mean over {len(scored)} {data_role} images; 'input' is what the network sees, the "
        "others are classical baselines and the autoencoder, each compared with the clean truth.",
        highlight={"PSNR (dB)": "max", "SSIM": "max"},
    )
    pick = spread(len(scored), SHOWN_IMAGES)
    names = list(panels)
    grid = np.concatenate([np.clip(panels[name][pick], 0, 1) for name in names])
    titles = [name for name in names for _ in range(len(pick))]
    report.add_figure(
        plots.image_grid(grid, titles, ncols=len(pick)),
        heading="Input, baselines, autoencoder and truth",
        caption=f"{len(pick)} of the {len(scored)} {data_role} images scored, one row per method, top to "
        "bottom: " + ", ".join(names) + ".",
    )
