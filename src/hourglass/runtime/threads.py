"""How many CPU threads a training run uses: the CPUs this process may use, less those busy elsewhere.

PyTorch starts one intra-op thread per core it sees, whatever else the machine runs. Its threads
meet at a barrier after every parallel kernel, so one descheduled thread stalls all of them: on
2 cores with two other CPU-bound processes, a fit at torch's default ran 0.16x its idle speed
(its fair share is a third of the machine), 0.04x under a heavier load, while one thread keeps
its share. ``threads='auto'`` therefore counts

* the CPUs this process may run on: its affinity mask, bounded by a cgroup CPU quota
  (containers, job schedulers, per-user limits; cgroup v2 ``cpu.max`` or a v1 CFS quota, at the
  hierarchy's root, at the process's own cgroup and above it), which ``os.cpu_count()`` ignores;
* the CPUs other processes keep busy right now: the runnable tasks the kernel counts in
  ``/proc/loadavg``, less this one;
* ``OMP_NUM_THREADS``, where set: the user's limit for the process, never exceeded;
* the work of a step: below :data:`PARALLEL_MIN_FLOPS` of forward matrix work, a second thread
  costs more in synchronisation than it saves (the digits network runs faster on one).

Prediction (``transform``, ``reconstruct``, the detector's scores...) follows the same rule per
batch, through :func:`call_threads`, which keeps what it reads for :data:`SNAPSHOT_SECONDS` so
that a call of a few rows pays no file reads.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import time
from collections.abc import Mapping
from pathlib import Path

from hourglass.exceptions import InvalidInputError

#: Forward FLOPs of one step from which a second thread pays.
PARALLEL_MIN_FLOPS = 50e6
LOADAVG = "/proc/loadavg"
CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"
#: How long :func:`call_threads` trusts what it read of the machine (CPUs, load): reading it
#: costs about 0.2 ms, as much as a prediction of a few rows.
SNAPSHOT_SECONDS = 1.0
#: ``(when, what)`` of the last reads of :func:`call_threads`, by what was read.
_SEEN: dict[str, tuple[float, int]] = {}


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


def _with_ancestors(path: str) -> list[str]:
    """A cgroup's path relative to the hierarchy's root, and those of the cgroups above it.

    Examples
    --------
    >>> _with_ancestors("/user.slice/user-1000.slice/session-3.scope")
    ['user.slice/user-1000.slice/session-3.scope', 'user.slice/user-1000.slice', 'user.slice']
    """
    parts = [part for part in path.split("/") if part]
    return ["/".join(parts[:end]) for end in range(len(parts), 0, -1)]


def cgroup_limits(root: str | os.PathLike = "/sys/fs/cgroup") -> list[int]:
    """The CPU quotas that bound this process: cgroup v2 ``cpu.max`` and v1 CFS quotas, at the
    hierarchy's root, at this process's own cgroup and at every cgroup above it (a container's
    quota sits at the root or at its own cgroup, depending on how its cgroup namespace is
    mounted; a shared login node's per-user quota sits on ``user-UID.slice``, above the session's
    scope, where a process's own ``cpu.max`` reads 'max')."""
    v2, v1 = _own_cgroups()
    root = Path(root)
    places = [(root / "cpu.max", None), (root / "cpu", "v1")]
    places += [(root / path / "cpu.max", None) for path in _with_ancestors(v2 or "")]
    places += [(root / "cpu" / path, "v1") for path in _with_ancestors(v1 or "")]
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
    rule = f"auto: {cpus} CPU(s) available to this process, {others} busy with other work"
    asked = omp_threads()
    if asked is not None and asked < free:
        # The user's limit for this process (a job script's, a sweep's running one per core).
        return asked, f"{rule}, and OMP_NUM_THREADS={asked} in the environment"
    return free, rule


def omp_threads(environ: Mapping[str, str] = os.environ) -> int | None:
    """The thread count ``OMP_NUM_THREADS`` asks for (its first level), or None where unset or unreadable.

    Examples
    --------
    >>> omp_threads({"OMP_NUM_THREADS": "2,1"}), omp_threads({"OMP_NUM_THREADS": "many"}), omp_threads({})
    (2, None, None)
    """
    try:
        count = int(environ.get("OMP_NUM_THREADS", "").split(",")[0])
    except ValueError:
        return None
    return count if count >= 1 else None


def _recent(what: str, read) -> int:
    """``read()``, or its value of less than :data:`SNAPSHOT_SECONDS` ago."""
    now = time.monotonic()
    seen = _SEEN.get(what)
    if seen is None or now - seen[0] > SNAPSHOT_SECONDS:
        seen = _SEEN[what] = (now, read())
    return seen[1]


def call_threads(threads: int | str, work_flops: float | None) -> int:
    """The intra-op threads for one call outside training (a prediction): as :func:`resolve_threads`
    decides them for a step of ``work_flops``, cheaply enough for a call of a few rows.

    Below :data:`PARALLEL_MIN_FLOPS` ``'auto'`` is one thread without reading anything; above,
    what it read of the machine is kept for :data:`SNAPSHOT_SECONDS`. A number above the CPUs
    available (a model saved on a larger machine) is capped at them rather than refused: the
    number was checked when the model was fitted, and a prediction is no place to fail on it.

    Parameters
    ----------
    threads : int or 'auto'
        The estimator's ``threads``.
    work_flops : float or None
        Forward FLOPs of one batch of the call; None when unknown.

    Returns
    -------
    int

    Examples
    --------
    >>> call_threads("auto", 1e6), call_threads(1, None)
    (1, 1)
    """
    if isinstance(threads, numbers.Integral) and not isinstance(threads, bool) and threads >= 1:
        return min(int(threads), _recent("cpus", available_cpus))
    if threads != "auto":
        resolve_threads(threads)  # refuses it in its words
    if work_flops is not None and work_flops < PARALLEL_MIN_FLOPS:
        return 1
    return _recent("auto", lambda: resolve_threads("auto")[0])


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
