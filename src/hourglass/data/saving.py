"""Saving arrays and tables: the suffixes a result may be written to, checked before any work.

A command that writes a result checks its output's suffix with :func:`check_save_suffix` first,
so that a wrong one is refused in one line before minutes of training, and never written as
bytes of another format under a misleading name. Tables (``.csv``, ``.parquet``) are written by
:func:`save_table`, which :func:`save_array` uses for 2-D data: one place knows those formats.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hourglass.data.fileio import atomic_path, check_writable
from hourglass.exceptions import InvalidInputError, MissingDependencyError

if TYPE_CHECKING:  # annotations only; pandas is imported where a table is written
    import pandas as pd

#: What :func:`save_table` writes: rows under named columns.
TABLE_SAVE_SUFFIXES = (".csv", ".parquet")
#: What :func:`save_array` writes.
ARRAY_SAVE_SUFFIXES = (".npy", ".npz", *TABLE_SAVE_SUFFIXES)
#: The libraries pandas writes Parquet with, in the order it tries them.
PARQUET_ENGINES = ("pyarrow", "fastparquet")


def check_save_suffix(path: str | os.PathLike, suffixes: Sequence[str] = ARRAY_SAVE_SUFFIXES) -> str:
    """The lower-case suffix of ``path`` when it is one of ``suffixes``; else InvalidInputError.

    A ``.parquet`` is also refused, with MissingDependencyError, where no Parquet engine is
    installed: before any work, rather than at the write that ends it.

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
    if suffix == ".parquet":
        parquet_engine(path)
    return suffix


def parquet_engine(path: str | os.PathLike) -> str:
    """The first of :data:`PARQUET_ENGINES` installed; MissingDependencyError naming ``path`` if none.

    pyarrow is a dependency of hourglass (it reads Parquet tables too), so only a broken or
    trimmed installation lacks it; found without importing it, to stay quick at start-up.

    Examples
    --------
    >>> parquet_engine("codes.parquet")
    'pyarrow'
    """
    for engine in PARQUET_ENGINES:
        if importlib.util.find_spec(engine) is not None:
            return engine
    raise MissingDependencyError(
        f"cannot save {str(path)!r}: writing Parquet needs pyarrow (a dependency of hourglass-ae: "
        "pip install pyarrow) or fastparquet, and neither is installed; or write a .csv"
    )


def save_table(path: str | os.PathLike, table: pd.DataFrame, force: bool = False) -> Path:
    """Write a DataFrame to ``.csv`` or ``.parquet`` (by ``path``'s suffix), atomically, without its index.

    Returns ``path``. Raises OutputExistsError if it exists and ``force`` is False,
    InvalidInputError for another suffix, MissingDependencyError for a ``.parquet`` without
    pyarrow or fastparquet.

    Examples
    --------
    >>> save_table("scores.parquet", pd.DataFrame({"score": [0.5]}), force=True)  # doctest: +SKIP
    PosixPath('scores.parquet')
    """
    path = Path(path)
    suffix = check_save_suffix(path, TABLE_SAVE_SUFFIXES)
    check_writable(path, force)
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            table.to_csv(tmp, index=False)
        else:
            # Parquet names columns by strings only (pyarrow refuses a column named 0).
            named = table.set_axis([str(c) for c in table.columns], axis=1)
            named.to_parquet(tmp, index=False, engine=parquet_engine(path))
    return path


def save_array(
    path: str | os.PathLike, array, force: bool = False, columns: Sequence[str] | None = None
) -> Path:
    """Write an array to ``.npy``, ``.npz`` (key ``"data"``), ``.csv`` or ``.parquet``, atomically.

    The suffix of ``path`` picks the format; a table (``.csv``, ``.parquet``) needs 2-D data and
    names its columns: the ``columns`` when given (one name per column), else ``c0, c1, ...``.
    Returns ``path``. Raises OutputExistsError if it exists and ``force`` is False,
    InvalidInputError for another suffix or a table of data that is not 2-D.

    Examples
    --------
    >>> save_array("codes.npy", np.zeros((3, 2)), force=True)  # doctest: +SKIP
    PosixPath('codes.npy')
    """
    path = Path(path)
    suffix = check_save_suffix(path)
    array = np.asarray(array)
    if suffix in TABLE_SAVE_SUFFIXES and array.ndim != 2:
        raise InvalidInputError(
            f"a {suffix} needs 2-D data; got shape {array.shape} for {str(path)!r}; write a .npy or .npz, "
            "which keep any shape"
        )
    if columns is not None and suffix in TABLE_SAVE_SUFFIXES and len(columns) != array.shape[1]:
        raise InvalidInputError(
            f"{len(columns)} column names for {array.shape[1]} columns of data in {str(path)!r}"
        )
    if suffix in TABLE_SAVE_SUFFIXES:
        import pandas as pd  # here: the command line's start imports this module, not pandas

        names = [str(c) for c in columns] if columns is not None else [f"c{i}" for i in range(array.shape[1])]
        return save_table(path, pd.DataFrame(array, columns=names), force)
    check_writable(path, force)
    with atomic_path(path) as tmp:
        if suffix == ".npy":
            np.save(tmp, array)
        else:
            np.savez(tmp, data=array)
    return path


__all__ = [
    "ARRAY_SAVE_SUFFIXES",
    "PARQUET_ENGINES",
    "TABLE_SAVE_SUFFIXES",
    "check_save_suffix",
    "parquet_engine",
    "save_array",
    "save_table",
]
