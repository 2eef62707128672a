"""IDX files, the format of MNIST and Fashion-MNIST: a typed header, then big-endian values."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from hourglass.data.validation import _reason
from hourglass.exceptions import DataFileError

# IDX type codes -> big-endian numpy dtypes (http://yann.lecun.com/exdb/mnist/).
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an array from an IDX file (the MNIST format), plain or gzipped.

    Returns the array in its stored dtype (native byte order). Raises DataFileError if the file
    is not IDX, is truncated, or has bytes left over.

    Examples
    --------
    >>> read_idx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").shape  # doctest: +SKIP
    (10000,)
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":  # gzip magic: trust the content, not the suffix
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise DataFileError(f"could not read IDX file {str(path)!r}: {_reason(exc)}") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in _IDX_DTYPES:
        raise DataFileError(f"{str(path)!r} is not an IDX file (bad magic number {raw[:4].hex()!r})")
    ndim = raw[3]
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFileError(f"IDX file {str(path)!r} is truncated inside its header")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataFileError(
            f"IDX file {str(path)!r} holds {len(raw) - header} data bytes; its header "
            f"(shape {shape}, {dtype.name}) says {expected}: truncated or corrupt"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))
