"""A lock per output: two runs never write one model folder at once.

:func:`output_lock` keeps two runs from writing one output: a lock file ``NAME.lock`` beside it
holds the writer's pid, host and start time, and is held with ``flock``, which the kernel
releases when the writer dies, so a lock left by a killed run is stale by construction and
taken over. :func:`lock_holder` asks, without taking it, who holds it now.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hourglass.data.fileio import make_parents, remove_empty
from hourglass.exceptions import OutputError, OutputLockedError


def lock_path(path: str | Path) -> Path:
    """The lock file that guards the output ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


def _holder(fd: int) -> str:
    """Who holds a lock, from its file: 'pid N on HOST since TIME'."""
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {int(info['pid'])} on {info['host']} since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"  # it has the lock but has not written its name yet


def _acquire(lock: Path) -> int:
    """Open and lock ``lock``; return its descriptor, or raise OutputLockedError."""
    import fcntl

    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise _locked(lock, holder) from None
        # The holder we waited on may have removed the file as we opened it: then we locked a
        # name nobody else will find; start again on the current file.
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


@contextmanager
def output_lock(path: str | Path) -> Iterator[Path]:
    """Hold the lock of the output ``path`` (the file ``NAME.lock`` beside it) while writing it.

    A second writer gets :class:`~hourglass.exceptions.OutputLockedError` naming the first
    one's pid, host and start time. A lock file left by a killed writer is not held by anyone
    (the kernel drops ``flock`` locks with their process) and is taken over. The lock file is
    removed when the block ends.

    Examples
    --------
    >>> with output_lock("model"):  # doctest: +SKIP
    ...     train_and_save("model")
    """
    lock = lock_path(path)
    created = make_parents(lock)
    try:
        fd = _acquire(lock)
    except OSError as exc:
        remove_empty(created)
        if isinstance(exc, OutputLockedError):
            raise
        raise OutputError(f"cannot create the lock {str(lock)!r}: {exc.strerror}") from None
    since = time.strftime("%Y-%m-%d %H:%M:%S")
    info = {"pid": os.getpid(), "host": socket.gethostname(), "since": since}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    try:
        yield lock
    finally:
        try:
            lock.unlink()  # while still holding it, so no one locks a file about to vanish
        except OSError:
            pass
        os.close(fd)
        remove_empty(created)


def _locked(lock: Path, holder: str) -> OutputLockedError:
    """The error for an output whose ``lock`` ``holder`` holds: who writes it, and what to do."""
    return OutputLockedError(
        f"{str(lock.with_suffix(''))!r} is being written by {holder}; wait for that run to end "
        f"(the lock {str(lock)!r} goes with it)"
    )


def refuse_if_locked(path: str | Path) -> None:
    """Raise OutputLockedError, as :func:`output_lock` would, while a live run writes ``path``."""
    holder = lock_holder(path)
    if holder is not None:
        raise _locked(lock_path(path), holder)


def lock_holder(path: str | Path) -> str | None:
    """Who holds the lock of the output ``path`` now ('pid N on HOST since TIME'), or None.

    Asks without taking the lock, so a command can say that a run is live before it says
    anything about what that run left (its checkpoint reads like an interrupted one's).
    """
    import fcntl

    try:
        fd = os.open(lock_path(path), os.O_RDONLY)
    except OSError:
        return None  # no lock file: nobody writes it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(fd)
    except OSError:
        return None
    finally:
        os.close(fd)  # also releases the shared lock just taken
    return None


__all__ = ["lock_holder", "lock_path", "output_lock", "refuse_if_locked"]
