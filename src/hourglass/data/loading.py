"""Data loading: tables, arrays, IDX files and built-in sets, checked once at the door.

Everything a model sees passes :func:`validate_finite_2d` (or its N-D twin for images), so a
NaN, a text column or a 1-D array is reported here, naming the file and the value, and never
surfaces later as a cryptic shape error or a NaN loss.
"""

from __future__ import annotations

import csv
import gzip
import os
import shutil
import tempfile
import weakref
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hourglass.data import sources
from hourglass.data.builtin import BUILTIN_DATASETS
from hourglass.data.fileio import atomic_path, check_writable
from hourglass.data.table import TableSchema, schema_of, select_features
from hourglass.exceptions import DataFileError, HourglassError, InvalidInputError

#: Where the Debian package ``dataset-fashion-mnist`` puts its files.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet")
#: Values the finiteness check looks at in one block (64 MB of float32).
FINITE_CHECK_VALUES = 1 << 24
ARRAY_SUFFIXES = (".npy", ".npz")
SUPPORTED_FORMATS = ARRAY_SUFFIXES + TABLE_SUFFIXES + ("IDX (*-idx3-ubyte[.gz] or a folder of them)",)

# IDX type codes -> big-endian numpy dtypes (http://yann.lecun.com/exdb/mnist/).
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass
class Dataset:
    """Samples ready for a model: ``X`` float32 ``(n, d)``, or ``(n, c, h, w)`` for images loaded
    with ``flat=False``; labels ``y`` if known; ``image_shape``, how one row reshapes into an image
    for figures (``(8, 8)``, or ``(1, 28, 28)`` when not flat); a short ``name`` for reports;
    the table's ``feature_names`` when it had a header; and for a table, its ``schema`` (the
    feature columns with their dtypes, the label and the dropped columns) for a model to keep."""

    X: np.ndarray
    y: np.ndarray | None = None
    image_shape: tuple[int, ...] | None = None
    name: str = "data"
    feature_names: list[str] | None = None
    schema: TableSchema | None = None


def _reason(exc: Exception) -> str:
    """A library's error message on one line, short enough for a CLI error."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def check_finite(X: np.ndarray, what: str, first_row: int = 0) -> np.ndarray:
    """Return ``X`` as C-contiguous float32, refusing empty, non-numeric or non-finite data.

    A memory map that is streamed (:func:`hourglass.data.sources.streams`) is checked block by
    block and returned as it is, in its own dtype: converting it would read the whole file
    into memory, and its readers convert a batch at a time. ``first_row`` is the index of
    ``X``'s first row in the data named ``what`` (for a table checked chunk by chunk).
    """
    mapping = sources.memory_map_of(X)
    X = X if mapping is not None else np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise InvalidInputError(f"{what} has dtype {X.dtype}; expected numbers (int, float or bool)")
    if X.size == 0:
        raise InvalidInputError(f"{what} is empty (shape {X.shape}); expected at least one sample")
    streamed = sources.streams(X)
    if streamed and not X.flags.c_contiguous:
        raise InvalidInputError(
            f"{what} is a memory map in Fortran (column) order, shape {X.shape}; expected C (row) order "
            "to stream it by rows (rewrite it with np.save(path, np.ascontiguousarray(X)))"
        )
    original = X
    if not streamed:
        # Cast first, so float64 values too large for float32 are caught as the inf they become.
        # A C-ordered float32 memory map stays one (no copy).
        with np.errstate(over="ignore"):
            X = np.ascontiguousarray(X, dtype=np.float32)
    rows = max(1, FINITE_CHECK_VALUES // max(1, int(np.prod(X.shape[1:]))))
    bad_count, first = 0, None
    # One block at a time, so no mask as large as the data is ever built, and a memory map's
    # pages are released as the check goes.
    for start, block in sources.row_blocks(X, rows):
        with np.errstate(over="ignore"):
            bad = ~np.isfinite(block.astype(np.float32, copy=False))
        if bad.any():
            bad_count += int(bad.sum())
            if first is None:
                index = np.argwhere(bad)[0]
                first = (int(index[0]) + start + first_row, *(int(i) for i in index[1:]))
    if first is not None:
        where = f"(row {first[0]}, column {first[1]})" if X.ndim == 2 else f"index {first}"
        problem, advice = _describe_bad(original, bad_count)
        raise InvalidInputError(f"{what} holds {problem}, the first at {where}; {advice}")
    return X


def _describe_bad(original: np.ndarray, bad_count: int) -> tuple[str, str]:
    """What is wrong with the ``bad_count`` values float32 cannot hold: NaN, infinite, or finite
    but beyond float32's range (which the cast turned into infinities), and what to do."""
    if original.dtype.kind != "f" or original.dtype.itemsize <= 4:
        return f"{bad_count} NaN or infinite value(s)", "fill or drop them first"
    nan = inf = 0
    rows = max(1, FINITE_CHECK_VALUES // max(1, int(np.prod(original.shape[1:]))))
    for _, block in sources.row_blocks(original, rows):
        nan += int(np.isnan(block).sum())
        inf += int(np.isinf(block).sum())
    overflow = bad_count - nan - inf
    if not overflow:
        return f"{bad_count} NaN or infinite value(s)", "fill or drop them first"
    limit = float(np.finfo(np.float32).max)
    parts = [f"{overflow} value(s) that overflow float32 (magnitude above {limit:.3g})"]
    if nan or inf:
        parts.append(f"{nan + inf} NaN or infinite value(s)")
    return " and ".join(parts), "rescale the data (and fill or drop what is not finite) first"


def validation_reason(exc: Exception, X: Any, what: str = "X") -> str:
    """One line saying why scikit-learn's ``check_array`` refused ``X``, without the data.

    Its message for complex input ends with the whole array; only the first line is kept, and
    complex or text input is named by its dtype.

    Examples
    --------
    >>> validation_reason(ValueError("Complex data not supported"), np.ones(1, complex))
    'Complex data not supported: X holds complex numbers (dtype complex128); expected real numbers'
    """
    if X is None:
        return f"{what} is None; expected an array of shape (n_samples, n_features)"
    dtype = getattr(X, "dtype", None)
    kind = getattr(dtype, "kind", None)
    if str(exc).startswith("Expected 2D array"):  # its message goes on to print the array
        return (
            f"{what} has shape {np.shape(X)}; expected a 2D array (n_samples, n_features). Reshape your "
            f"data: {what}.reshape(1, -1) for one sample or {what}.reshape(-1, 1) for one feature"
        )
    if kind == "c" or str(exc).startswith("Complex data"):
        return (
            f"Complex data not supported: {what} holds complex numbers (dtype {dtype}); expected real numbers"
        )
    first = " ".join(str(exc).strip().splitlines()[0].split()) if str(exc).strip() else type(exc).__name__
    if kind in ("U", "S", "O") and "convert" in first:
        return f"{what} has dtype {dtype} and holds text ({first[:120]}); expected numbers"
    return first[:300]


def check_ignored_y(X: Any, y: Any) -> None:
    """Refuse a ``y`` whose length is not ``X``'s: an estimator that ignores ``y`` still says when
    it was given one that cannot belong to ``X`` (a sign of misaligned arrays).

    Examples
    --------
    >>> check_ignored_y(np.zeros((4, 2)), [0, 1, 2])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hourglass.exceptions.InvalidInputError: y has 3 entries but X has 4 samples; expected one per ...
    """
    import scipy.sparse

    # Only for values given for data whose rows are its length: a string y names X's label
    # column, and a sparse matrix is refused by X's own checks.
    if (
        y is None
        or isinstance(y, str)
        or not hasattr(X, "__len__")
        or isinstance(X, (str, os.PathLike))
        or scipy.sparse.issparse(X)
    ):
        return
    try:
        n_y, n_x = len(y), len(X)
    except TypeError:
        return  # no length to compare (a scalar, a sparse matrix): X's own checks say what is wrong
    if n_y != n_x:
        raise InvalidInputError(
            f"y has {n_y} entries but X has {n_x} samples; expected one per sample (or y=None: it is ignored)"
        )


def validate_finite_2d(X, what: str = "data") -> np.ndarray:
    """Check that ``X`` is a non-empty 2-D numeric array of finite values.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data to check.
    what : str, default="data"
        How to name ``X`` in error messages (e.g. a file name).

    Returns
    -------
    ndarray of float32, C-contiguous
        ``X`` converted; a copy only when a conversion was needed.

    Raises
    ------
    InvalidInputError
        If ``X`` is not 2-D, not numeric, empty, or holds NaN or infinite values.

    Examples
    --------
    >>> validate_finite_2d([[0, 1], [2, 3]]).dtype
    dtype('float32')
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise InvalidInputError(
            f"{what} has shape {X.shape}; expected 2-D data (n_samples, n_features); "
            "use X.reshape(-1, 1) for one feature or X.reshape(1, -1) for one sample"
        )
    return check_finite(X, what)


def _as_dataset(arr, name: str, flat: bool, y=None, feature_names=None) -> Dataset:
    """Validate an array; treat 3-D as (n, h, w) and 4-D as (n, c, h, w) images."""
    arr = np.asarray(arr)
    if arr.ndim == 2:
        return Dataset(validate_finite_2d(arr, repr(name)), y, None, name, feature_names)
    if arr.ndim not in (3, 4):
        raise InvalidInputError(
            f"{name!r} has shape {arr.shape}; expected 2-D data (n_samples, n_features) "
            "or images (n, h, w) / (n, c, h, w)"
        )
    if arr.ndim == 3:
        arr = arr[:, None]  # (n, h, w) -> (n, 1, h, w)
    X = check_finite(arr, repr(name))
    if flat:
        # Grayscale images are recorded as (h, w) so that figures can imshow a row directly.
        shape = X.shape[2:] if X.shape[1] == 1 else X.shape[1:]
        return Dataset(X.reshape(len(X), -1), y, tuple(shape), name, feature_names)
    return Dataset(X, y, tuple(X.shape[1:]), name, feature_names)


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


def _load_idx(images: Path, flat: bool, name: str) -> Dataset:
    """Load an images IDX file and, if it lies beside it, its labels file."""
    X = read_idx(images)
    if X.dtype == np.uint8:
        X = X.astype(np.float32) / 255  # pixels as stored by MNIST-like sets
    stem = images.name.removesuffix(".gz").replace("images-idx3", "labels-idx1")
    labels = [p for p in (images.with_name(stem), images.with_name(stem + ".gz")) if p.exists()]
    y = read_idx(labels[0]) if labels and labels[0] != images else None
    if y is not None and len(y) != len(X):
        raise DataFileError(f"{str(labels[0])!r} holds {len(y)} labels for {len(X)} images")
    return _as_dataset(X, name, flat, y=y)


def _idx_images_in(folder: Path) -> Path:
    """Pick the images file of a folder of IDX files: the training split if there are several."""
    found = sorted(p for p in folder.iterdir() if p.name.removesuffix(".gz").endswith("-idx3-ubyte"))
    if not found:
        raise DataFileError(
            f"folder {str(folder)!r} holds no IDX files (*-idx3-ubyte[.gz]); for a folder of "
            "pictures use hourglass.data.images.ImageFolder"
        )
    train = [p for p in found if p.name.startswith("train")]
    return (train or found)[0]


def _load_builtin(name: str, flat: bool) -> Dataset:
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        X = digits.images.astype(np.float32) / 16  # pixels are counts 0..16
        return _as_dataset(X, name, flat, y=digits.target)
    split = "t10k" if name.endswith(":test") else "train"
    images = [FASHION_MNIST_DIR / f"{split}-images-idx3-ubyte{gz}" for gz in (".gz", "")]
    images = [p for p in images if p.exists()]
    if not images:
        raise DataFileError(
            f"{name!r} needs the IDX files in {str(FASHION_MNIST_DIR)!r}: run "
            "'apt-get install dataset-fashion-mnist', or pass the path of a folder of IDX files"
        )
    return _load_idx(images[0], flat, name)


def _sniff(path: Path) -> tuple[str | None, bool]:
    """Delimiter and header of a text table, from its first line.

    A .txt may use tabs, commas or runs of spaces (np.savetxt's default, returned as None). The
    first row is a header if one of its cells is not a number; an empty cell is a missing number.
    """
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        line = f.readline()
    sep = {".csv": ",", ".tsv": "\t"}.get(path.suffix.lower())
    sep = sep or ("\t" if "\t" in line else "," if "," in line else None)
    cells = line.split() if sep is None else next(csv.reader([line], delimiter=sep), [])
    return sep, any(cell.strip() and not is_number(cell) for cell in cells)


def is_number(text: str) -> bool:
    """Whether ``text`` reads as a number (a header cell does not)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_numeric(df: pd.DataFrame, name: str, types: dict[str, str] | None = None) -> None:
    """Refuse a column that does not hold numbers, naming it, an example value and its type.

    ``types`` maps column names to the file's own type names (Parquet's schema: ``string``,
    ``timestamp[ms]``), which say more than pandas' ``object``.
    """
    for col in df.columns:
        if pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            continue
        values = df[col].dropna()
        bad = values[pd.to_numeric(values, errors="coerce").isna()]
        example = bad.iloc[0] if len(bad) else values.iloc[0] if len(values) else None
        label = f"column {col!r}" if isinstance(col, str) else f"column {col}"
        kind = (types or {}).get(str(col), str(df[col].dtype))
        raise InvalidInputError(
            f"{label} of {name!r} is not numeric (e.g. {example!r}) but of type {kind}; every column "
            "must hold numbers: drop it or encode it first"
        )


def _parquet_types(path: Path) -> dict[str, str]:
    import pyarrow.parquet as pq

    return {field.name: str(field.type) for field in pq.read_schema(path)}


def _read_table(path: Path) -> tuple[pd.DataFrame, bool]:
    """Read a table; also say whether it had column names."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path), True
        sep, header = _sniff(path)
        return pd.read_csv(path, sep=sep or r"\s+", header=0 if header else None), header
    except pd.errors.EmptyDataError:
        raise DataFileError(f"{str(path)!r} is empty") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataFileError(f"could not read {str(path)!r} as a {suffix} table: {_reason(exc)}") from None


def _load_npy(path: Path, key: str | None) -> np.ndarray:
    is_npy = path.suffix.lower() == ".npy"
    if is_npy:
        # np.load takes any file without the .npy magic for a pickle: say what it really is.
        with open(path, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise DataFileError(f"{str(path)!r} is not a NumPy .npy file (no .npy header)")
        sources.NpyFileSource.header(path)  # a truncated file: say so, not numpy's mmap error
    try:
        # allow_pickle=False: loading a pickle runs arbitrary code from the file.
        if is_npy:
            # Memory-mapped: pages are read as they are used, so a file larger than RAM can
            # be encoded, reconstructed or scored batch by batch.
            return np.load(path, mmap_mode="r", allow_pickle=False)
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.files)
            key = keys[0] if key is None and len(keys) == 1 else key
            if key in keys:
                return archive[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        reason = _reason(exc)
        if "Python objects" in reason:  # numpy's word for an object array, stored as a pickle
            reason = "it holds Python objects (a pickle), which are never loaded; expected numbers"
        raise DataFileError(f"could not read {str(path)!r} as a NumPy {path.suffix} file: {reason}") from None
    if key is None:
        raise DataFileError(f"{str(path)!r} holds arrays {keys}; choose one with key=")
    raise DataFileError(f"{str(path)!r} has no array {key!r}; it holds {keys}")


def _column_index(df: pd.DataFrame, name: str, option: str, source: str) -> object:
    """The column of ``df`` that ``name`` means: a header name, or a 0-based position."""
    columns = list(df.columns)
    if name in [str(c) for c in columns]:
        return columns[[str(c) for c in columns].index(name)]
    if name.lstrip("-").isdigit() and 0 <= int(name) < len(columns):
        return columns[int(name)]
    shown = ", ".join(map(str, columns[:12])) + (", ..." if len(columns) > 12 else "")
    raise InvalidInputError(
        f"{option} {name!r}: {source!r} has no such column; expected one of its columns ({shown}) "
        f"or a 0-based position below {len(columns)}"
    )


def _split_columns(
    df: pd.DataFrame,
    drop: list[str],
    label: str | None,
    source: str,
    first_row: int = 0,
    table: TableSchema | None = None,
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Remove the ``drop`` columns and the ``label`` column from a table; return (features, labels).

    ``first_row`` is the index of ``df``'s first row in the file (a chunk of a large table).
    With ``table``, the schema of a model's training table, the features are its columns by
    name (everything else is ignored), and its label column is read when the table has it.
    """
    drop, label = list(drop), label
    columns = [str(c) for c in df.columns]
    if table is not None and table.features is None and not drop and label is None:
        # No names to go by: a table as wide as the training one loses the same columns again.
        extra = len(table.dropped) + (table.label is not None)
        if extra and df.shape[1] == table.n_features + extra:
            drop, label = list(table.dropped), table.label
    elif table is not None and label is None and table.label is not None and table.label in columns:
        label = table.label
    dropped = [_column_index(df, name, "drop", source) for name in drop]
    y = None
    if label is not None:
        column = _column_index(df, label, "label", source)
        values = df[column]
        if values.isna().any():
            first = int(np.flatnonzero(values.isna().to_numpy())[0]) + first_row
            raise InvalidInputError(
                f"label column {label!r} of {source!r} holds {int(values.isna().sum())} missing value(s), "
                f"the first in row {first}; expected a label on every row"
            )
        y = values.to_numpy()
        dropped.append(column)
    features = df.drop(columns=list(dict.fromkeys(dropped)))
    features = select_features(features, table, source)
    if features.shape[1] == 0:
        raise InvalidInputError(f"no feature columns of {source!r} are left after drop and label")
    return features, y


def load_data(
    source: str | os.PathLike,
    key: str | None = None,
    *,
    flat: bool = True,
    drop: list[str] | tuple[str, ...] | None = None,
    label: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    table: TableSchema | None = None,
) -> Dataset:
    """Load a built-in data set or a data file into a checked :class:`Dataset`.

    Parameters
    ----------
    source : str or PathLike
        A name from :data:`BUILTIN_DATASETS`, or a ``.npy``, ``.npz``, ``.csv``, ``.tsv``,
        ``.txt``, ``.parquet`` or IDX file, or a folder of IDX files (training split first).
        A table's first row is a header if one of its cells is not a number.
    key : str, optional
        The array to take from a ``.npz`` holding several.
    flat : bool, default=True
        Return images as rows ``(n, h*w)``; if False, as ``(n, c, h, w)``.
    drop : list of str, optional
        Table columns (CSV, TSV, TXT, Parquet) that are not features, by header name or 0-based
        position: identifiers, timestamps, targets.
    label : str, optional
        A table column holding each row's label: it becomes ``Dataset.y`` (colours the code map,
        scores clustering) and is never a feature.
    cache_dir : str or PathLike, optional
        Where a table too large to read whole (more than
        :data:`~hourglass.data.sources.IN_MEMORY_BYTES` of float32 features, or a text file of
        that size) is converted to a float32 ``.npy`` that is then streamed; default: the
        system's temporary folder (``TMPDIR``). The copy is removed once ``Dataset.X`` is
        garbage collected, or at exit.
    table : TableSchema, optional
        The schema of the table a model was fitted on (its ``table_``): a table's features are
        then its columns by name, in the model's order, whatever else the table holds; its
        label column is read when present. A table lacking a feature column is refused.

    Returns
    -------
    Dataset

    Raises
    ------
    DataFileError
        If the file is missing, empty, corrupt, or of an unsupported format.
    InvalidInputError
        If the data is not numeric, not 2-D (or images), or holds NaN or infinite values.

    Examples
    --------
    >>> data = load_data("digits")
    >>> data.X.shape, data.image_shape
    ((1797, 64), (8, 8))

    A ``.npy`` file is memory-mapped: ``data.X`` is then a ``np.memmap``, which the estimators
    stream from the file when it is larger than
    :data:`~hourglass.data.sources.IN_MEMORY_BYTES` (and which is then kept in its own dtype).
    """
    drop = list(drop or [])
    is_table = Path(str(source)).suffix.lower() in TABLE_SUFFIXES
    if (drop or label is not None) and not is_table:
        option = "drop" if drop else "label"
        raise InvalidInputError(
            f"{option} applies to table files (CSV, TSV, TXT, Parquet) only, not {str(source)!r}"
        )
    if isinstance(source, str) and source in BUILTIN_DATASETS:
        return _load_builtin(source, flat)
    path = Path(source)
    if not path.exists():
        raise DataFileError(f"no such file or folder: {str(path)!r}")
    if path.is_dir():
        return _load_idx(_idx_images_in(path), flat, path.name)
    suffix = path.suffix.lower()
    if path.name.removesuffix(".gz").endswith("-ubyte"):
        return _load_idx(path, flat, path.name)
    if suffix not in ARRAY_SUFFIXES + TABLE_SUFFIXES:
        raise DataFileError(
            f"unsupported file type {suffix or path.name!r} for {str(path)!r}; expected one of "
            f"{', '.join(SUPPORTED_FORMATS)}, or a built-in set: {', '.join(BUILTIN_DATASETS)}"
        )
    if key is not None and suffix != ".npz":
        raise InvalidInputError(f"key={key!r} only applies to .npz files, not {str(path)!r}")
    if path.stat().st_size == 0:
        raise DataFileError(f"{str(path)!r} is empty")
    if suffix in ARRAY_SUFFIXES:
        arr = _load_npy(path, key)
        if arr.ndim >= 1 and arr.shape[0] == 0:
            raise DataFileError(f"{str(path)!r} holds no rows (shape {arr.shape})")
        return _as_dataset(arr, path.name, flat)
    if _table_bytes(path) > sources.IN_MEMORY_BYTES:
        return _stream_table(path, drop, label, cache_dir, table)
    df, has_header = _read_table(path)
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise DataFileError(f"{str(path)!r} holds no rows of data (shape {df.shape})")
    df, y = _split_columns(df, drop, label, path.name, table=table)
    _check_numeric(df, path.name, _parquet_types(path) if suffix == ".parquet" else None)
    names = [str(c) for c in df.columns] if has_header else None
    dataset = _as_dataset(df.to_numpy(), path.name, flat, y=y, feature_names=names)
    dataset.schema = schema_of(df, label=label, dropped=tuple(drop), has_header=has_header)
    return dataset


# -- tables larger than memory ------------------------------------------------------------------
#
# Training draws random batches, which needs random access to rows. A Parquet file gives it only
# a row group at a time (compressed, often 100 MB+) and a CSV not at all, so a large table is
# converted once, in one sequential pass, into a float32 .npy that NpyFileSource reads by rows.
# Batches then are exactly those of the in-memory path (same shuffles, same weights for a seed),
# at the price of one read of the table and 4 bytes of disk per value. A source that read row
# groups directly would have to shuffle within a window of groups: other batches, other weights,
# and a scan of the file per epoch.

#: Rows per chunk of the conversion: 65,536 rows of 784 columns are 200 MB of float32, less for
#: narrower tables; pandas' own parse of a chunk holds about three times that.
TABLE_CHUNK_ROWS = 1 << 16


def _table_bytes(path: Path) -> int:
    """What reading the table whole would cost, judged without reading it.

    Parquet: rows x columns x 4 bytes (its float32 data), from the file's metadata. A text
    table: its size on disk, which its parse in pandas (float64 and more) exceeds.
    """
    if path.suffix.lower() != ".parquet":
        return path.stat().st_size
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
    except (OSError, ValueError) as exc:
        raise DataFileError(f"could not read {str(path)!r} as a .parquet table: {_reason(exc)}") from None
    return int(meta.num_rows) * int(meta.num_columns) * 4


def _table_chunks(path: Path, rows: int) -> tuple[Iterator[pd.DataFrame], bool]:
    """The table as DataFrames of up to ``rows`` rows, and whether it has column names."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        batches = pq.ParquetFile(path).iter_batches(batch_size=rows)
        return (batch.to_pandas() for batch in batches), True
    sep, header = _sniff(path)
    reader = pd.read_csv(path, sep=sep or r"\s+", header=0 if header else None, chunksize=rows)
    return iter(reader), header


def _stream_table(
    path: Path, drop: list[str], label: str | None, cache_dir, table: TableSchema | None = None
) -> Dataset:
    """Convert a large table chunk by chunk into a float32 ``.npy`` cache; return its memory map.

    The cache is written in a fresh temporary folder, which is removed on any error (a text
    value in the last chunk leaves nothing behind) and otherwise when the returned array is
    garbage collected or the interpreter exits.
    """
    folder = Path(tempfile.mkdtemp(prefix=".hourglass-table-", dir=cache_dir))
    cache = folder / (path.stem + ".npy")
    types = _parquet_types(path) if path.suffix.lower() == ".parquet" else None
    labels: list[np.ndarray] = []
    names, n, width, header_bytes, schema = None, 0, 0, 0, None
    try:
        chunks, has_header = _table_chunks(path, TABLE_CHUNK_ROWS)
        with open(cache, "wb") as f:
            for chunk in chunks:
                features, y = _split_columns(chunk, drop, label, path.name, first_row=n, table=table)
                _check_numeric(features, path.name, types)
                block = check_finite(
                    features.to_numpy(dtype=np.float64, na_value=np.nan), repr(path.name), first_row=n
                )
                if names is None:
                    names, width = [str(c) for c in features.columns], block.shape[1]
                    schema = schema_of(features, label=label, dropped=tuple(drop), has_header=has_header)
                    header_bytes = _write_npy_header(f, 0, width)
                f.write(block.tobytes())
                labels += [y] if y is not None else []
                n += block.shape[0]
            if names is None or n == 0:
                raise DataFileError(f"{str(path)!r} holds no rows of data")
            # numpy pads the header so the row count can grow to 21 digits in place: the final
            # header has the length of the first.
            f.seek(0)
            if _write_npy_header(f, n, width) != header_bytes:
                raise DataFileError(f"could not write the header of the cache of {str(path)!r}")
    except pd.errors.EmptyDataError:
        shutil.rmtree(folder, ignore_errors=True)
        raise DataFileError(f"{str(path)!r} is empty") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(exc, HourglassError):
            raise
        reason = _reason(exc)
        raise DataFileError(f"could not read {str(path)!r} as a {path.suffix} table: {reason}") from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    X = np.load(cache, mmap_mode="r")
    weakref.finalize(X, shutil.rmtree, folder, ignore_errors=True)
    y_all = np.concatenate(labels) if labels else None
    return Dataset(X, y_all, None, path.name, names if has_header else None, schema)


def _write_npy_header(f, n_rows: int, width: int) -> int:
    """Write a float32 ``(n_rows, width)`` ``.npy`` header at ``f``'s position; return its length."""
    start = f.tell()
    header = {"descr": "<f4", "fortran_order": False, "shape": (n_rows, width)}
    np.lib.format.write_array_header_1_0(f, header)
    return f.tell() - start


def save_array(path: str | os.PathLike, array, force: bool = False) -> Path:
    """Write an array to ``.npy``, ``.npz`` (key ``"data"``) or ``.csv``, atomically.

    The suffix of ``path`` picks the format; a ``.csv`` needs 2-D data and gets a header
    ``c0, c1, ...``. Returns ``path``. Raises OutputExistsError if it exists and ``force`` is
    False, InvalidInputError for another suffix or a ``.csv`` of data that is not 2-D.

    Examples
    --------
    >>> save_array("codes.npy", np.zeros((3, 2)), force=True)  # doctest: +SKIP
    PosixPath('codes.npy')
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz", ".csv"):
        raise InvalidInputError(
            f"cannot save {str(path)!r}: unsupported suffix {suffix!r}; expected .npy, .npz or .csv"
        )
    array = np.asarray(array)
    if suffix == ".csv" and array.ndim != 2:
        raise InvalidInputError(f"a .csv needs 2-D data; got shape {array.shape} for {str(path)!r}")
    check_writable(path, force)
    with atomic_path(path) as tmp:
        if suffix == ".npy":
            np.save(tmp, array)
        elif suffix == ".npz":
            np.savez(tmp, data=array)
        else:
            columns = [f"c{i}" for i in range(array.shape[1])]
            pd.DataFrame(array, columns=columns).to_csv(tmp, index=False)
    return path
