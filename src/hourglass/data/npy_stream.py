"""A ``.npy`` file written batch by batch, so its size is not bounded by memory.

``np.save`` needs the whole array in memory. Here the header is written for the final shape
first, then each batch's bytes as it comes, into the atomic temporary of
:func:`~hourglass.data.fileio.atomic_path`: the file appears complete or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from hourglass.data.fileio import atomic_path, check_writable
from hourglass.exceptions import InvalidInputError


def write_npy_batches(
    path: str | Path,
    n: int,
    sample_shape: tuple[int, ...],
    batches: Iterable[np.ndarray],
    force: bool = False,
) -> Path:
    """Write ``n`` rows of shape ``sample_shape`` (float32), given in ``batches``, to ``path``.

    Parameters
    ----------
    path : str or Path
        A ``.npy`` file.
    n : int
        Rows the batches hold together.
    sample_shape : tuple of int
        The shape of one row.
    batches : iterable of ndarray
        Arrays of shape ``(k, *sample_shape)``, their ``k`` adding up to ``n``.
    force : bool, default=False
        Replace an existing file.

    Raises
    ------
    InvalidInputError
        If a batch has another shape, or the batches hold another number of rows than ``n``.

    Examples
    --------
    >>> write_npy_batches("s.npy", 4, (2,), [np.zeros((3, 2)), np.ones((1, 2))])  # doctest: +SKIP
    PosixPath('s.npy')
    """
    path = check_writable(path, force)
    dtype = np.dtype("<f4")
    shape = (n, *sample_shape)
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    written = 0
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        for batch in batches:
            if tuple(batch.shape[1:]) != tuple(sample_shape) or written + len(batch) > n:
                raise InvalidInputError(
                    f"a batch of shape {batch.shape} after {written} rows; expected {shape} in all"
                )
            f.write(np.ascontiguousarray(batch, dtype).tobytes())
            written += len(batch)
        if written != n:
            raise InvalidInputError(f"the batches hold {written} rows; expected {n}")
    return path
