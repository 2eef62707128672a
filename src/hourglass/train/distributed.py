"""Kept so that ``from hourglass.train import distributed`` still works: the helpers moved down to
:mod:`hourglass.runtime.distributed`, where the bottlenecks of :mod:`hourglass.nn` can reach them."""

from hourglass.runtime.distributed import (
    active,
    all_reduce_max,
    all_reduce_mean,
    all_reduce_sum,
    barrier,
    data_parallel,
    is_main,
    launched,
    rank,
    setup,
    world_size,
)

__all__ = [
    "active",
    "all_reduce_max",
    "all_reduce_mean",
    "all_reduce_sum",
    "barrier",
    "data_parallel",
    "is_main",
    "launched",
    "rank",
    "setup",
    "world_size",
]
