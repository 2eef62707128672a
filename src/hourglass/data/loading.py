"""Data loading: tables, arrays, IDX files and built-in sets, checked once at the door.

Everything a model sees passes :func:`validate_finite_2d` (or its N-D twin for images), so a
NaN, a text column or a 1-D array is reported here, naming the file and the value, and never
surfaces later as a cryptic shape error or a NaN loss.

The checks it uses live in :mod:`~hourglass.data.validation`, the readers of IDX and table files in
:mod:`~hourglass.data.idx` and :mod:`~hourglass.data.table_files`; this module picks the reader
for a source, streams tables larger than memory into a ``.npy``, and saves arrays.
"""

from __future__ import annotations

import numbers
import os
import shutil
import tempfile
import weakref
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hourglass.data import sources
from hourglass.data.builtin import (
    BUILTIN_DATASETS,
    FASHION_MNIST_DIR,
    fashion_mnist_images,
    missing_builtin,
)
from hourglass.data.identifiers import mark_judged
from hourglass.data.idx import read_idx
from hourglass.data.memory import check_fits_in_memory
from hourglass.data.saving import save_array
from hourglass.data.table import TableSchema, schema_of
from hourglass.data.table_files import (
    READ_ERRORS,
    _parquet_types,
    _read_table,
    _split_columns,
    _table_bytes,
    _table_chunks,
    check_features,
)
from hourglass.data.text_tables import TEXT_TABLE_SUFFIXES, is_number, table_suffix
from hourglass.data.validation import (
    FINITE_CHECK_VALUES,
    _reason,
    check_finite,
    check_ignored_y,
    validation_reason,
    warn_if_offset_loses_precision,
)
from hourglass.exceptions import DataFileError, HourglassError, InvalidInputError

TABLE_SUFFIXES = (*TEXT_TABLE_SUFFIXES, ".parquet")  # the text ones also .gz, .bz2 or .xz
ARRAY_SUFFIXES = (".npy", ".npz")
SUPPORTED_FORMATS = (
    ARRAY_SUFFIXES
    + TABLE_SUFFIXES
    + (
        ".csv/.tsv/.txt compressed (.gz, .bz2, .xz)",
        "IDX (*-idx3-ubyte[.gz] or a folder of them)",
    )
)


@dataclass
class Dataset:
    """Samples ready for a model: ``X`` float32 ``(n, d)``, or ``(n, c, h, w)`` for images loaded
    with ``flat=False``; labels ``y`` if known; ``image_shape``, how one row reshapes into an image
    for figures (``(8, 8)``, or ``(1, 28, 28)`` when not flat); a short ``name`` for reports;
    the table's ``feature_names`` when it had a header; and for a table, its ``schema`` (the
    feature columns with their dtypes, the label and the dropped columns) for a model to keep,
    and its ``keys``: the columns that are neither features nor the label (an id, a date), for
    results to join back by (a table with a header read whole; None otherwise)."""

    X: np.ndarray
    y: np.ndarray | None = None
    image_shape: tuple[int, ...] | None = None
    name: str = "data"
    feature_names: list[str] | None = None
    schema: TableSchema | None = None
    keys: pd.DataFrame | None = None


#: The advice of the precision warning for data that reach a model through a file or ``compare``.
OFFSET_ADVICE = "subtract the column's mean from it first (a timestamp: the time since the first)"


def validate_finite_2d(X, what: str = "data", names=None) -> np.ndarray:
    """Check that ``X`` is a non-empty 2-D numeric array of finite values; warn, before the cast
    to float32, of a column float32 cannot resolve
    (:func:`~hourglass.data.validation.warn_if_offset_loses_precision`).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data to check.
    what : str, default="data"
        How to name ``X`` in error messages (e.g. a file name).
    names : list of str, optional
        The columns' names, for the warning.

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
    warn_if_offset_loses_precision(X, names, what, OFFSET_ADVICE)
    return check_finite(X, what)


def _as_dataset(arr, name: str, flat: bool, y=None, feature_names=None) -> Dataset:
    """Validate an array: rows (n, features), or samples with axes for a convolutional model.

    Flat (a dense model): 3-D is (n, h, w) gray images, 4-D (n, c, h, w) images, both flattened
    with their image shape kept for figures. Not flat: 3-D to 5-D samples are kept as they are
    stored, so that a convolutional model reads a file as it reads the same array ((n, c, L)
    series or (n, h, w) images by its own rule, (n, c, t, h, w) video).
    """
    arr = np.asarray(arr)
    if arr.ndim == 2:
        return Dataset(validate_finite_2d(arr, repr(name), feature_names), y, None, name, feature_names)
    if arr.ndim not in ((3, 4) if flat else (3, 4, 5)):
        raise InvalidInputError(
            f"{name!r} has shape {arr.shape}; expected 2-D data (n_samples, n_features), images "
            "(n, h, w) / (n, c, h, w)" + ("" if flat else ", series (n, c, L) or video (n, c, t, h, w)")
        )
    if not flat:
        X = check_finite(arr, repr(name))
        return Dataset(X, y, tuple(X.shape[1:]), name, feature_names)
    if arr.ndim == 3:
        arr = arr[:, None]  # (n, h, w) -> (n, 1, h, w)
    X = check_finite(arr, repr(name))
    if flat:
        # Grayscale images are recorded as (h, w) so that figures can imshow a row directly.
        shape = X.shape[2:] if X.shape[1] == 1 else X.shape[1:]
        return Dataset(X.reshape(len(X), -1), y, tuple(shape), name, feature_names)
    return Dataset(X, y, tuple(X.shape[1:]), name, feature_names)


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
    return _as_dataset(_gray_images(X, flat), name, flat, y=y)


def _gray_images(X: np.ndarray, flat: bool) -> np.ndarray:
    """Images (n, h, w) of a source that holds nothing else, with their channel axis for a conv model."""
    return X[:, None] if X.ndim == 3 and not flat else X


def _idx_images_in(folder: Path) -> Path:
    """Pick the images file of a folder of IDX files: the training split if there are several."""
    found = sorted(p for p in folder.iterdir() if p.name.removesuffix(".gz").endswith("-idx3-ubyte"))
    if not found:
        raise DataFileError(
            f"folder {str(folder)!r} holds no IDX files (*-idx3-ubyte[.gz]); a folder of images trains a "
            "convolutional model (hourglass fit --arch conv, or ConvAutoEncoder); a table is one file"
        )
    train = [p for p in found if p.name.startswith("train")]
    return (train or found)[0]


def _load_builtin(name: str, flat: bool) -> Dataset:
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        X = digits.images.astype(np.float32) / 16  # pixels are counts 0..16
        return _as_dataset(_gray_images(X, flat), name, flat, y=digits.target)
    # FASHION_MNIST_DIR as this module has it (the CLI checked builtin's before any import).
    images = fashion_mnist_images(name, FASHION_MNIST_DIR)
    if not images:
        raise DataFileError(missing_builtin(name, FASHION_MNIST_DIR))
    return _load_idx(images[0], flat, name)


#: The arrays of a matrix that ``scipy.sparse.save_npz`` wrote (CSR or CSC; COO has row and col).
SPARSE_NPZ_KEYS = {"format", "shape", "data"}


def _dense_from_sparse_npz(path: Path, archive) -> np.ndarray:
    """A matrix ``scipy.sparse.save_npz`` wrote, as a dense float32 array (if it fits in memory).

    scipy's reader, like this module's, never unpickles.
    """
    import scipy.sparse

    rows, cols = (int(n) for n in archive["shape"])
    check_fits_in_memory(
        rows * cols * 4,
        f"the sparse matrix in {str(path)!r} ({rows} x {cols}) as dense float32",
        "reduce its columns first, e.g. with sklearn's TruncatedSVD",
    )
    return scipy.sparse.load_npz(path).toarray().astype(np.float32, copy=False)


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
            if key is None and SPARSE_NPZ_KEYS <= set(keys):
                return _dense_from_sparse_npz(path, archive)
            key = keys[0] if key is None and len(keys) == 1 else key
            if key in keys:
                return archive[key]
    except InvalidInputError:
        raise  # already says what is wrong (a sparse matrix too large to densify)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        reason = _reason(exc)
        if "Python objects" in reason:  # numpy's word for an object array, stored as a pickle
            reason = "it holds Python objects (a pickle), which are never loaded; expected numbers"
        raise DataFileError(f"could not read {str(path)!r} as a NumPy {path.suffix} file: {reason}") from None
    if key is None:
        raise DataFileError(
            f"{str(path)!r} holds arrays {keys}; choose one with key= (--key on the command line)"
        )
    raise DataFileError(f"{str(path)!r} has no array {key!r}; it holds {keys}")


def _column_name(name: object, option: str) -> str:
    """A column named in ``drop``/``label``: a header name, or a 0-based position as an int or text."""
    if isinstance(name, numbers.Integral) and not isinstance(name, bool):
        return str(int(name))
    if isinstance(name, str):
        return name
    raise InvalidInputError(f"{option}={name!r}; expected a column name or a 0-based position (str or int)")


def load_data(
    source: str | os.PathLike,
    key: str | None = None,
    *,
    flat: bool = True,
    drop: str | int | list[str | int] | tuple[str | int, ...] | None = None,
    label: str | int | None = None,
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
    drop : list of str or int, optional
        Table columns (CSV, TSV, TXT, Parquet) that are not features, by header name or 0-based
        position: identifiers, timestamps, targets. One column may be given alone.
    label : str or int, optional
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
    if not isinstance(source, (str, os.PathLike)):
        raise InvalidInputError(
            f"load_data reads a file, a folder or a built-in name ({', '.join(BUILTIN_DATASETS)}), "
            f"not a {type(source).__name__}; give data in memory to fit, transform or compare directly"
        )
    alone = isinstance(drop, (str, numbers.Integral))  # one column, not a list of them
    drop = [_column_name(name, "drop") for name in ([drop] if alone else drop or [])]
    label = None if label is None else _column_name(label, "label")
    is_table = table_suffix(str(source)) in TABLE_SUFFIXES
    if (drop or label is not None) and not is_table:
        option = "drop" if drop else "label"
        raise InvalidInputError(
            f"{option} applies to table files (CSV, TSV, TXT, Parquet) only, not {str(source)!r}"
        )
    if isinstance(source, str) and source in BUILTIN_DATASETS:
        return _load_builtin(source, flat)
    if isinstance(source, str) and "://" in source:
        # Path() would fold 'https://' into 'https:/' and report a missing file.
        raise DataFileError(f"{source!r} is an address; hourglass reads local files: download it first")
    path = Path(source)
    if not path.exists():
        raise DataFileError(f"no such file or folder: {str(path)!r}")
    if path.is_dir():
        return _load_idx(_idx_images_in(path), flat, path.name)
    suffix = table_suffix(path)
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
        return mark_judged(_stream_table(path, drop, label, cache_dir, table), table is None)
    df, has_header = _read_table(path)
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise DataFileError(f"{str(path)!r} holds no rows of data (shape {df.shape})")
    df, y, keys = _split_columns(df, drop, label, path.name, table=table)
    check_features(df, path.name, _parquet_types(path) if suffix == ".parquet" else None, table=table)
    names = [str(c) for c in df.columns] if has_header else None
    values = df.to_numpy()
    if values.dtype == object:  # True/False beside numbers, or pandas' nullable types: all numbers
        values = df.to_numpy(dtype=np.float64, na_value=np.nan)
    dataset = _as_dataset(values, path.name, flat, y=y, feature_names=names)
    dataset.schema = schema_of(df, label=label, dropped=tuple(drop), has_header=has_header)
    dataset.keys = keys.reset_index(drop=True) if has_header and keys.shape[1] else None
    # Reading the table judged its columns for identifiers: fit(ds.X) does not warn again.
    return mark_judged(dataset, table is None)


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
    types = _parquet_types(path) if table_suffix(path) == ".parquet" else None
    labels: list[np.ndarray] = []
    names, n, width, header_bytes, schema, warned = None, 0, 0, 0, None, False
    chunks = None
    try:
        chunks, has_header = _table_chunks(path, TABLE_CHUNK_ROWS)
        with open(cache, "wb") as f:
            for chunk in chunks:
                features, y, _ = _split_columns(chunk, drop, label, path.name, first_row=n, table=table)
                check_features(features, path.name, types, first_row=n, table=table)
                values = features.to_numpy(dtype=np.float64, na_value=np.nan)
                if not warned:  # before the cast to float32, once: each chunk, until one warns
                    columns = [str(c) for c in features.columns] if has_header else None
                    warned = warn_if_offset_loses_precision(values, columns, repr(path.name), OFFSET_ADVICE)
                block = check_finite(values, repr(path.name), first_row=n)
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
    except READ_ERRORS as exc:
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(exc, HourglassError):
            raise
        reason, kind = _reason(exc), table_suffix(path)
        raise DataFileError(f"could not read {str(path)!r} as a {kind} table: {reason}") from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        if chunks is not None:
            chunks.close()  # the file, also when a chunk is refused
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


# The names this module has always offered, some now defined in validation, idx, table_files and
# saving:
# callers keep importing them from here.
__all__ = [
    "ARRAY_SUFFIXES",
    "BUILTIN_DATASETS",
    "FASHION_MNIST_DIR",
    "FINITE_CHECK_VALUES",
    "SUPPORTED_FORMATS",
    "TABLE_CHUNK_ROWS",
    "TABLE_SUFFIXES",
    "Dataset",
    "check_finite",
    "check_ignored_y",
    "is_number",
    "load_data",
    "read_idx",
    "save_array",
    "validate_finite_2d",
    "validation_reason",
]
