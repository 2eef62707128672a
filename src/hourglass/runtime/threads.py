"""How many CPU threads a training run uses: the CPUs this process may use, less those busy elsewhere.

PyTorch starts one intra-op thread per core it sees, whatever else the machine runs. Its threads
meet at a barrier after every parallel kernel, so one descheduled thread stalls all of them: on
2 cores with two other CPU-bound processes, a fit at torch's default ran 0.16x its idle speed
(its fair share is a third of the machine), 0.04x under a heavier load, while one thread keeps
its share. ``threads='auto'`` therefore counts

* the CPUs this process may run on: its affinity mask, bounded by a cgroup CPU quota
  (containers, job schedulers; cgroup v2 ``cpu.max`` or a v1 CFS quota, at the hierarchy's root
  and at the process's own cgroup), which ``os.cpu_count()`` ignores;
* the CPUs other processes keep busy right now: the runnable tasks the kernel counts in
  ``/proc/loadavg``, less this one;
* the work of a step: below :data:`PARALLEL_MIN_FLOPS` of forward matrix work, a second thread
  costs more in synchronisation than it saves (the digits network runs faster on one).
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
from pathlib import Path

from hourglass.exceptions import InvalidInputError

#: Forward FLOPs of one step from which a second thread pays.
PARALLEL_MIN_FLOPS = 50e6
LOADAVG = "/proc/loadavg"
CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"


def cgroup_v1_cpu_limit(directory: str | os.PathLike) -> int | None:
    """CPUs allowed by a cgroup v1 quota (``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``; -1: none).

    Examples
    --------
    >>> cgroup_v1_cpu_limit("/nonexistent") is None
    True
    """
    try:
        quota = int(Path(directory, "cpu.cfs_quota_us").read_text())
        period = int(Path(directory, "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    if quota <= 0 or period <= 0:
        return None
    return max(1, math.ceil(quota / period))


def _own_cgroups(table: str | os.PathLike = "/proc/self/cgroup") -> tuple[str | None, str | None]:
    """This process's cgroup v2 path and its v1 ``cpu`` controller's path (None where absent)."""
    v2 = v1 = None
    try:
        lines = Path(table).read_text().splitlines()
    except OSError:
        return None, None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            v2 = parts[2]
        elif "cpu" in parts[1].split(","):
            v1 = parts[2]
    return v2, v1


def cgroup_limits(root: str | os.PathLike = "/sys/fs/cgroup") -> list[int]:
    """The CPU quotas that bound this process: cgroup v2 ``cpu.max`` and v1 CFS quotas, at the
    hierarchy's root and at this process's own cgroup (a container's quota sits at one or the
    other, depending on how its cgroup namespace is mounted)."""
    v2, v1 = _own_cgroups()
    root = Path(root)
    places = [(root / "cpu.max", None), (root / "cpu", "v1")]
    if v2 and v2 != "/":
        places.append((root / v2.lstrip("/") / "cpu.max", None))
    if v1 and v1 != "/":
        places.append((root / "cpu" / v1.lstrip("/"), "v1"))
    limits = [cgroup_v1_cpu_limit(p) if kind == "v1" else cgroup_cpu_limit(p) for p, kind in places]
    return [limit for limit in limits if limit is not None]


def cgroup_cpu_limit(path: str | os.PathLike = CGROUP_CPU_MAX) -> int | None:
    """CPUs allowed by a cgroup v2 quota (``cpu.max``: quota and period in µs), or None without one.

    Examples
    --------
    >>> cgroup_cpu_limit("/nonexistent") is None
    True
    """
    try:
        quota, period = Path(path).read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, bounded by a cgroup quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        cpus = os.cpu_count() or 1
    return max(1, min([cpus, *cgroup_limits()]))


def _running_here(tasks: str | os.PathLike = "/proc/self/task") -> int:
    """Threads of this process that are runnable right now (this one at least)."""
    count = 0
    try:
        for task in Path(tasks).iterdir():
            with contextlib.suppress(OSError, IndexError):
                # The state follows the command name in parentheses, which may hold spaces.
                if (task / "stat").read_text().rsplit(")", 1)[1].split()[0] == "R":
                    count += 1
    except OSError:
        return 1
    return max(1, count)


def busy_elsewhere(path: str | os.PathLike = LOADAVG) -> int:
    """Runnable tasks on the machine right now outside this process (0 where unknown).

    The kernel's count includes this process's own threads (torch's pool spins a while after
    each parallel region): those are not load from elsewhere.

    Examples
    --------
    >>> busy_elsewhere("/nonexistent")
    0
    """
    try:
        running = int(Path(path).read_text().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return 0
    return max(0, running - _running_here())


def resolve_threads(threads: int | str, step_flops: float | None = None) -> tuple[int, str]:
    """The intra-op threads for a run, and why.

    Parameters
    ----------
    threads : int or 'auto'
        A number is used as it is (from 1 to the CPUs available); ``'auto'`` decides (see the
        module's docstring).
    step_flops : float, optional
        Forward FLOPs of one training step; None when unknown.

    Returns
    -------
    threads : int
    reason : str

    Examples
    --------
    >>> resolve_threads(1)
    (1, 'set by the user')
    """
    cpus = available_cpus()
    if isinstance(threads, numbers.Integral) and not isinstance(threads, bool):
        threads = int(threads)  # numpy's integers too
    if threads != "auto":
        if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= cpus:
            raise InvalidInputError(
                f"threads={threads!r}; expected 'auto' or an integer from 1 to {cpus} "
                f"(the CPUs this process may use)"
            )
        return threads, "set by the user"
    if step_flops is not None and step_flops < PARALLEL_MIN_FLOPS:
        return 1, (
            f"auto: a step does {step_flops / 1e6:,.0f} MFLOP of forward matrix work, below the "
            f"{PARALLEL_MIN_FLOPS / 1e6:,.0f} from which a second thread pays"
        )
    others = busy_elsewhere()
    free = max(1, min(cpus, (os.cpu_count() or cpus) - others))
    return free, f"auto: {cpus} CPU(s) available to this process, {others} busy with other work"


@contextlib.contextmanager
def thread_limit(threads: int):
    """Run the block with ``threads`` intra-op threads, then restore the caller's setting."""
    # Imported here: the command line checks --threads with resolve_threads before torch loads.
    import torch

    previous = torch.get_num_threads()
    if threads == previous:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
