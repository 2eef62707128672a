"""Data-parallel training across processes with torch.distributed, as launched by torchrun.

hourglass starts nothing itself: ``torchrun --nproc-per-node N -m hourglass fit ...`` (or a
script that calls ``fit``) starts N processes with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the
rendezvous address in their environment, on one machine or several. :func:`setup` joins the
process group they form (gloo on CPUs, NCCL on GPUs, one GPU a process); the trainer then wraps
the model in ``DistributedDataParallel``, each process computes its share of every batch, and
only rank 0 writes checkpoints, models and reports.
"""

from __future__ import annotations

import atexit
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist

from hourglass.exceptions import InvalidInputError


def launched() -> bool:
    """True in a process that torchrun (or another launcher) started as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    """True once this process is part of an initialised group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank: the group's, or before it is joined the launcher's ``RANK`` (0 alone)."""
    return dist.get_rank() if active() else int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """The number of processes training together (1 when not distributed)."""
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """True in the process that writes files: rank 0, or the only process."""
    return rank() == 0


def setup(device: torch.device) -> torch.device:
    """Join the launcher's process group if this process is one of several; return its device.

    Parameters
    ----------
    device : torch.device
        The device asked for: on CUDA each process takes the GPU of its ``LOCAL_RANK``.

    Returns
    -------
    torch.device
        The device this process trains on.

    Raises
    ------
    InvalidInputError
        If CUDA is asked for with fewer GPUs on this machine than processes on it.
    """
    if not launched():
        return device
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_size = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))
    if device.type == "cuda":
        available = torch.cuda.device_count()
        if available < local_size:
            raise InvalidInputError(
                f"device='cuda' with {local_size} processes on this machine, but it has {available} "
                "GPU(s); expected one GPU a process: lower --nproc-per-node or use --device cpu"
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", device_id=None)
        atexit.register(_leave_group)
    return device


def _leave_group() -> None:
    """Destroy the process group :func:`setup` joined, while the interpreter is still whole.

    Left to interpreter shutdown, gloo's worker threads free the tensors of their last work
    after Python is torn down, and the process dies of SIGABRT (pytorch/pytorch#179291): a
    torchrun job whose training succeeded then fails on one rank now and then.
    """
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def data_parallel(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` wrapped in DistributedDataParallel, its buffers left to each process after the start.

    Buffers are identical at the start and are not broadcast from rank 0 at every step: the TopK
    bottleneck keeps its dead-unit statistics itself, over every process's share of a batch.
    """
    import inspect

    ddp = torch.nn.parallel.DistributedDataParallel
    if "forward_sync_buffers" in inspect.signature(ddp.__init__).parameters:
        return ddp(model, forward_sync_buffers=False)
    return ddp(model, broadcast_buffers=False)  # PyTorch before forward_sync_buffers


def _all_reduce(values: torch.Tensor, op) -> torch.Tensor:
    """``values`` reduced with ``op`` over the processes, on a copy (``values`` when alone)."""
    if not active():
        return values
    values = values.clone()
    dist.all_reduce(values, op=op)
    return values


def all_reduce_mean(values: torch.Tensor) -> torch.Tensor:
    """The mean of ``values`` over the processes (``values`` itself when not distributed)."""
    return _all_reduce(values, dist.ReduceOp.SUM) / world_size() if active() else values


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """The sum of ``values`` over the processes (``values`` itself when not distributed)."""
    return _all_reduce(values, dist.ReduceOp.SUM)


def all_reduce_max(values: torch.Tensor) -> torch.Tensor:
    """The element-wise maximum of ``values`` over the processes."""
    return _all_reduce(values, dist.ReduceOp.MAX)


def gather(value: Any) -> list[Any]:
    """``value`` of every process, in rank order (``[value]`` when not distributed): small
    JSON-like objects only (it pickles them across the group, never from a file)."""
    if not active():
        return [value]
    gathered: list[Any] = [None] * world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def barrier() -> None:
    """Wait for every process (no-op when not distributed)."""
    if active():
        dist.barrier()


#: The attribute :func:`every_process` sets on an error: the command line prints it on rank 0 only.
EVERY_PROCESS = "hourglass_every_process"


def every_process(error: BaseException) -> BaseException:
    """``error``, marked as one every process raises alike (a decision they share, such as a loss
    averaged over them): a command prints it once, on rank 0, instead of once a process."""
    setattr(error, EVERY_PROCESS, True)
    return error


#: ``(whole, rows)`` while this process computes the rows ``rows`` of a global batch of ``whole``.
_batch_rows: tuple[int, slice] | None = None


@contextmanager
def batch_rows(whole: int, rows: slice) -> Iterator[None]:
    """Within it, a module's draws (:func:`draw_rows`) are the global batch's, cut to ``rows``.

    Under torchrun each process computes a share of every global batch of ``whole`` rows: the
    slice ``rows`` of it. One process draws a VAE's code noise and dropout's masks for the whole
    batch from the global generator; every process seeding that generator alike and drawing them
    for the whole batch too, then keeping its rows, trains with one process's draws.
    """
    global _batch_rows
    before, _batch_rows = _batch_rows, (whole, rows)
    try:
        yield
    finally:
        _batch_rows = before


def draw_rows(local: torch.Tensor, shape: tuple[int, ...] | None = None) -> torch.Tensor | None:
    """An empty tensor of the global batch for ``local``, this process's share of it; None outside
    :func:`batch_rows` (or for a tensor that is not the share, such as a one-row probe).

    The tensor has the global batch's rows, ``local``'s dtype and device, the trailing ``shape``
    (``local``'s own by default) and the layout ``empty_like`` gives ``local``: the layout one
    process draws into, which sets the order the values are drawn in. Fill it, then keep
    ``[own_rows()]``.
    """
    if _batch_rows is None:
        return None
    whole, rows = _batch_rows
    if local.shape[0] != len(range(whole)[rows]):
        return None
    tail = tuple(local.shape[1:]) if shape is None else tuple(shape)
    like = torch.empty_like(local) if shape is None else local.new_empty((local.shape[0], *tail))
    strides = like.stride()
    if strides and strides[0] == max(strides) == math.prod(tail):
        return torch.empty_strided((whole, *tail), strides, dtype=like.dtype, device=like.device)
    return torch.empty((whole, *tail), dtype=like.dtype, device=like.device)


def own_rows() -> slice:
    """This process's rows of the global batch inside :func:`batch_rows` (all of them outside)."""
    return slice(None) if _batch_rows is None else _batch_rows[1]
