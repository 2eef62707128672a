"""Kept so that ``hourglass.uses.restoration`` still imports: the quality metrics, the classical
baselines and a fitted model's task panels, scores and summary live in
:mod:`hourglass.train.restoration`, beside the tasks they score, where the estimators reach them.
"""

from hourglass.train.restoration import (
    CLASSICAL,
    MASKED,
    baselines,
    bicubic_upscale,
    biharmonic,
    estimate_sigma,
    grayscale,
    make_low_resolution,
    median3,
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
    "MASKED",
    "baselines",
    "bicubic_upscale",
    "biharmonic",
    "estimate_sigma",
    "grayscale",
    "make_low_resolution",
    "median3",
    "nl_means",
    "psnr",
    "quality",
    "ssim",
    "task_panels",
    "task_scores",
    "task_summary",
    "tv_chambolle",
]
