"""Kept so that ``hourglass.uses.restoration`` still imports: the quality metrics, the classical
baselines and a fitted model's task panels, scores and summary live in
:mod:`hourglass.train.restoration`, beside the tasks they score, where the estimators reach them.
"""

from hourglass.train.restoration import (
    CLASSICAL,
    baselines,
    bicubic_upscale,
    estimate_sigma,
    grayscale,
    make_low_resolution,
    nl_means,
    psnr,
    quality,
    ssim,
    task_panels,
    task_scores,
    task_summary,
    tv_chambolle,
)

__all__ = [
    "CLASSICAL",
    "baselines",
    "bicubic_upscale",
    "estimate_sigma",
    "grayscale",
    "make_low_resolution",
    "nl_means",
    "psnr",
    "quality",
    "ssim",
    "task_panels",
    "task_scores",
    "task_summary",
    "tv_chambolle",
]
