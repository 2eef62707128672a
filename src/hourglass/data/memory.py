"""How much memory an output may take, checked before it is allocated.

An allocation that does not fit fails late and badly: torch raises a bare ``RuntimeError``
("can't allocate memory"), numpy a ``MemoryError``, and under memory overcommit the kernel may
kill the process instead. Outputs whose size the user chooses (``sample(n)``, a decompressed
file) are therefore compared first with the memory this process can still get: the system's
available memory, and the room left under an address-space limit (``ulimit -v``), whichever is
smaller.
"""

from __future__ import annotations

import os
import resource
from typing import Any

import numpy as np

from hourglass.exceptions import InvalidInputError


def _meminfo_available() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes (Linux), or None elsewhere."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _address_space_left() -> int | None:
    """Room left under ``RLIMIT_AS`` (virtual memory already mapped counts against it), or None."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
    return max(0, soft - mapped)


def available_memory() -> int | None:
    """Bytes this process can still allocate, as far as the system says; None if it cannot tell.

    Examples
    --------
    >>> available_memory() > 0  # doctest: +SKIP
    True
    """
    known = [m for m in (_meminfo_available(), _address_space_left()) if m is not None]
    return min(known) if known else None


def format_bytes(n: float) -> str:
    """``n`` bytes in the largest unit that keeps a number >= 1: '3.1 TB', '512 B'.

    Examples
    --------
    >>> format_bytes(3.2e12)
    '3.2 TB'
    """
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    raise AssertionError("unreachable")


def check_fits_in_memory(
    n_bytes: int, what: str, advice: str = "ask for fewer, or write them to a file batch by batch"
) -> None:
    """Raise unless ``n_bytes`` fit in the memory this process can still allocate.

    Parameters
    ----------
    n_bytes : int
        The size of the output about to be built.
    what : str
        The output, for the message ("1000000000000 samples of 784 float32 values").
    advice : str
        What to do instead, for the message.

    Raises
    ------
    InvalidInputError
        Naming the size and the memory available.

    Examples
    --------
    >>> check_fits_in_memory(10**18, "10**18 bytes")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hourglass.exceptions.InvalidInputError: 10**18 bytes would take 1e+03 PB ...
    """
    available = available_memory()
    if available is not None and n_bytes > available:
        raise InvalidInputError(
            f"{what} would take {format_bytes(n_bytes)} of memory; {format_bytes(available)} is available "
            f"({advice})"
        )


def dense_rows(X: Any, what: str = "X") -> np.ndarray:
    """A SciPy sparse matrix or array as dense rows in its own dtype, if they fit in memory.

    An autoencoder reads every value of a row (a zero is a value it must reconstruct), so sparse
    rows train as dense ones; the whole matrix is made dense once rather than batch by batch.

    Raises
    ------
    InvalidInputError
        Naming the dense size against the memory available, and what to do instead.

    Examples
    --------
    >>> import scipy.sparse
    >>> dense_rows(scipy.sparse.eye(3, format="csr")).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    rows, cols = X.shape
    check_fits_in_memory(
        rows * cols * X.dtype.itemsize,
        f"{what}, a sparse {rows} x {cols} matrix of {X.dtype}, as dense rows",
        "reduce its columns first, e.g. with sklearn's TruncatedSVD",
    )
    return X.toarray()
