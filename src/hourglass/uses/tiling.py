"""Kept so that ``hourglass.uses.tiling`` still imports: tiling moved down to
:mod:`hourglass.data.tiling`, where the convolutional estimator that trains on patches and
restores whole photos can reach it."""

from hourglass.data.tiling import PatchDataset, blend_window, process_tiled, tile_starts

__all__ = ["PatchDataset", "blend_window", "process_tiled", "tile_starts"]
