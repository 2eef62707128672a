"""Kept so that ``hourglass.uses.restoration`` still imports: the quality metrics and classical
baselines moved down to :mod:`hourglass.train.restoration`, beside the tasks they score, where the
estimators can reach them."""

from hourglass.train.restoration import (
    baselines,
    bicubic_upscale,
    estimate_sigma,
    grayscale,
    make_low_resolution,
    nl_means,
    psnr,
    quality,
    ssim,
    tv_chambolle,
)

__all__ = [
    "baselines",
    "bicubic_upscale",
    "estimate_sigma",
    "grayscale",
    "make_low_resolution",
    "nl_means",
    "psnr",
    "quality",
    "ssim",
    "tv_chambolle",
]
