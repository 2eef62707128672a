"""Saving arrays and tables: the suffixes a result may be written to, checked before any work.

A command that writes a result checks its output's suffix with :func:`check_save_suffix` first,
so that a wrong one is refused in one line before minutes of training, and never written as
bytes of another format under a misleading name.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hourglass.data.fileio import atomic_path, check_writable
from hourglass.exceptions import InvalidInputError

#: What :func:`save_array` writes.
ARRAY_SAVE_SUFFIXES = (".npy", ".npz", ".csv")


def check_save_suffix(path: str | os.PathLike, suffixes: Sequence[str] = ARRAY_SAVE_SUFFIXES) -> str:
    """The lower-case suffix of ``path`` when it is one of ``suffixes``; else InvalidInputError.

    Examples
    --------
    >>> check_save_suffix("codes.CSV")
    '.csv'
    >>> check_save_suffix("model.onnx", (".onnx",))
    '.onnx'
    """
    suffix = Path(path).suffix.lower()
    if suffix not in suffixes:
        *rest, last = suffixes
        expected = f"{', '.join(rest)} or {last}" if rest else last
        raise InvalidInputError(
            f"cannot save {str(path)!r}: unsupported suffix {suffix!r}; expected {expected}"
        )
    return suffix


def save_array(
    path: str | os.PathLike, array, force: bool = False, columns: Sequence[str] | None = None
) -> Path:
    """Write an array to ``.npy``, ``.npz`` (key ``"data"``) or ``.csv``, atomically.

    The suffix of ``path`` picks the format; a ``.csv`` needs 2-D data and gets a header: the
    ``columns`` when given (one name per column), else ``c0, c1, ...``. Returns ``path``. Raises
    OutputExistsError if it exists and ``force`` is False, InvalidInputError for another suffix
    or a ``.csv`` of data that is not 2-D.

    Examples
    --------
    >>> save_array("codes.npy", np.zeros((3, 2)), force=True)  # doctest: +SKIP
    PosixPath('codes.npy')
    """
    path = Path(path)
    suffix = check_save_suffix(path)
    array = np.asarray(array)
    if suffix == ".csv" and array.ndim != 2:
        raise InvalidInputError(
            f"a .csv needs 2-D data; got shape {array.shape} for {str(path)!r}; write a .npy or .npz, "
            "which keep any shape"
        )
    if columns is not None and suffix == ".csv" and len(columns) != array.shape[1]:
        raise InvalidInputError(
            f"{len(columns)} column names for {array.shape[1]} columns of data in {str(path)!r}"
        )
    check_writable(path, force)
    with atomic_path(path) as tmp:
        if suffix == ".npy":
            np.save(tmp, array)
        elif suffix == ".npz":
            np.savez(tmp, data=array)
        else:
            names = list(columns) if columns is not None else [f"c{i}" for i in range(array.shape[1])]
            import pandas as pd  # here: the command line's start imports this module, not pandas

            pd.DataFrame(array, columns=names).to_csv(tmp, index=False)
    return path


__all__ = ["ARRAY_SAVE_SUFFIXES", "check_save_suffix", "save_array"]
