"""Training sources: where ``fit`` reads its items from, in memory or streamed.

The estimators have one fit (:meth:`hourglass.estimators.base.BaseAutoEncoder.fit`); what differs
between an array, a ``.npy`` file larger than RAM and a folder of photos is only how items are
read. A :class:`TrainingSource` says that, and nothing else:

* ``len(source)`` and ``source.read(indices)``: raw items (float32, the data's units);
* ``source.statistics(train_indices)``: a :class:`~hourglass.data.scaling.DataSummary` of the
  training items, from one streaming pass (or, for photos, a stated sample);
* ``source.training_data(indices, scaler)``: what the Trainer iterates, scaled batch by batch.

Sources
    :class:`ArraySource`
        An array in memory: the fast path. Batches are indexed straight out of the caller's
        array and scaled one batch at a time, so training adds no copy of the data.
    :class:`NpyFileSource`
        A ``.npy`` file (or a memory map of one) read by rows with ``pread``: the pages read
        are not kept mapped, so the process's memory stays flat however large the file.
    :class:`DatasetSource`
        Any torch ``Dataset`` of tensors: an image folder, random patches, a user's dataset.

:func:`~hourglass.data.batches.iterate_batches` is the one loop over any of the three kinds of training data.

Memory maps outside training
    Prediction, checks and samples read a memory map block by block with :func:`row_blocks`,
    which hands each block back to the kernel (``madvise(MADV_DONTNEED)``) once it is used: the
    pages stay in the page cache, but the process's resident memory stays at a block instead of
    growing to the file. :func:`streams` says whether an array is one that is streamed (a memory
    map whose float32 data would exceed :data:`IN_MEMORY_BYTES`), :func:`sample_rows` reads a
    stated sample of one (reports and comparisons on data larger than memory).
"""

from __future__ import annotations

import math
import mmap
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hourglass.data.batches import ScaledRows, first_items, iterate_batches
from hourglass.data.duplicates import duplicate_groups
from hourglass.data.scaling import AffineScaler, DataSummary, summarize
from hourglass.exceptions import DataFileError, InvalidInputError

#: Memory-mapped ``.npy`` data up to this size are read into memory (the fast path); larger
#: files are streamed. 512 MiB: well within any machine that trains networks, and the point
#: above which a copy of the data is a cost a user notices.
IN_MEMORY_BYTES = 512 * 2**20
#: Values per block of a streaming pass (statistics): 2 M float32 = 8 MiB read at a time. The
#: statistics work on a block in float64 with two temporaries, so a block costs ~50 MB at its
#: peak; blocks of 16 M values added 400 MB to the peak of every fit.
BLOCK_VALUES = 1 << 21
#: Items sampled for the statistics of a source that is slow to read (photos, a user's Dataset).
STATISTICS_SAMPLE = 2048
#: Rows a report or a comparison reads from data that are streamed: enough for figures and
#: held-out errors to two digits, and 31 MB for 784 float32 features.
SAMPLE_ROWS = 10_000


class NotFiniteInFile(ValueError):
    """A NaN or infinite value met in a streamed file's statistics pass; the file is ``data``.

    :func:`hourglass.data.validation.checked_statistics` words it as an array in memory is
    worded (that module reads this one, so the words cannot come from here).
    """

    def __init__(self, data: np.memmap) -> None:
        super().__init__("the file holds values that are not finite")
        self.data = data


def memory_map_of(X: Any) -> np.memmap | None:
    """The ``np.memmap`` that ``X`` is (or is a view of), else None.

    ``np.asarray`` and scikit-learn's checks turn a memory map into a plain ndarray whose
    ``base`` is the map, so the chain of bases is followed.
    """
    while isinstance(X, np.ndarray):
        if isinstance(X, np.memmap) and getattr(X, "_mmap", None) is not None:
            return X
        X = X.base
    return None


def release_pages(X: Any) -> None:
    """Drop the pages of the memory map behind ``X`` from this process's resident memory.

    The data stay in the kernel's page cache (a later read faults them back in from there);
    only their mapping into this process goes, so its resident memory, which counts mapped
    file pages, does not grow with every block read. Private (copy-on-write, mode ``'c'``)
    maps are left alone: dropping their pages would drop the caller's writes.
    """
    mapping = memory_map_of(X)
    if mapping is None or mapping.mode == "c" or not hasattr(mmap, "MADV_DONTNEED"):
        return
    try:
        mapping._mmap.madvise(mmap.MADV_DONTNEED)
    except (OSError, ValueError):  # a closed map, or a kernel that refuses: nothing to release
        pass


def row_blocks(X: np.ndarray, rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, X[start:start + rows])`` for consecutive blocks of rows.

    Blocks of a memory map are copies in memory, and the map's pages are released after each
    block (:func:`release_pages`): reading a file larger than RAM costs one block of memory.
    Blocks of an array in memory are views.
    """
    mapped = memory_map_of(X) is not None
    for start in range(0, X.shape[0], rows):
        block = X[start : start + rows]
        yield start, (np.array(block) if mapped else block)
        if mapped:
            release_pages(X)


def streams(X: Any) -> bool:
    """Whether ``X`` is a memory map that is streamed rather than read into memory.

    True when its data as float32 (what training holds in memory) exceed
    :data:`IN_MEMORY_BYTES`; the threshold is read at call time, so tests can lower it.
    """
    return memory_map_of(X) is not None and int(np.asarray(X).size) * 4 > IN_MEMORY_BYTES


def sample_rows(X: np.ndarray, limit: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """Up to ``limit`` (default :data:`SAMPLE_ROWS`) rows of ``X`` drawn at random, sorted, read
    into memory as float32.

    Returns the rows, their indices and a phrase stating the sample for a report or a message.

    Examples
    --------
    >>> rows, picks, how = sample_rows(np.zeros((5, 2)), limit=3)
    >>> rows.shape, how
    ((3, 2), '3 rows drawn at random (seed 0) of 5')
    """
    n, limit = int(X.shape[0]), SAMPLE_ROWS if limit is None else int(limit)
    if n <= limit:
        picks = np.arange(n)
        how = f"all {n} rows"
    else:
        # Sorted, so a file is read front to back.
        picks = np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
        how = f"{limit} rows drawn at random (seed {seed}) of {n}"
    rows = np.ascontiguousarray(X[picks], dtype=np.float32)
    release_pages(X)
    return rows, picks, how


def _rows_per_block(sample_shape: tuple[int, ...]) -> int:
    return max(1, BLOCK_VALUES // max(1, math.prod(sample_shape)))


def _check_size(path: Path, offset: int, dtype: np.dtype, shape: tuple) -> None:
    need = offset + dtype.itemsize * math.prod(shape)
    have = Path(path).stat().st_size
    if have < need:
        raise DataFileError(
            f"{str(path)!r} is {have} bytes but its header describes {tuple(shape)} {dtype} values "
            f"({need} bytes); the file is truncated"
        )


class _ScaledItems(torch.utils.data.Dataset):
    """Items ``indices`` of a lazy source, scaled as they are read (whole batches at a time)."""

    def __init__(self, source: TrainingSource, indices: np.ndarray, scaler: AffineScaler) -> None:
        self.source, self.indices = source, np.asarray(indices, dtype=np.int64)
        self.offset, self.scale = scaler.offset, scaler.scale

    def __len__(self) -> int:
        return len(self.indices)

    def __getitems__(self, positions: list[int]) -> torch.Tensor:
        wanted = self.indices[np.asarray(positions, dtype=np.int64)]
        order = np.argsort(wanted, kind="stable")  # read in file order, hand back in batch order
        rows = np.empty((len(wanted), *self.source.sample_shape), np.float32)
        rows[order] = self.source.read(wanted[order])
        return torch.from_numpy(((rows - self.offset) / self.scale).astype(np.float32, copy=False))

    def __getitem__(self, position: int) -> torch.Tensor:
        return self.__getitems__([position])[0]


class TrainingSource:
    """What :meth:`~hourglass.estimators.base.BaseAutoEncoder.fit` trains on (see the module docs)."""

    sample_shape: tuple[int, ...]
    #: Whether reading is slow enough that DataLoader workers pay (photos to decode).
    slow_reads = False

    def __len__(self) -> int:
        raise NotImplementedError

    def read(self, indices: np.ndarray) -> np.ndarray:
        """Raw float32 items at ``indices`` (ascending), shaped ``(len(indices), *sample_shape)``."""
        raise NotImplementedError

    def head(self, n: int = 2) -> np.ndarray:
        """The first ``n`` items: enough to size an architecture."""
        return self.read(np.arange(min(n, len(self))))

    def duplicate_groups(self) -> np.ndarray | None:
        """Identical items' group numbers (:func:`~hourglass.data.duplicates.duplicate_groups`),
        None where none repeats or, for a stream or files, where they are not looked for."""
        return None

    def statistics_indices(self, train: np.ndarray) -> tuple[np.ndarray, str]:
        """The training items the statistics are computed on, and how they were chosen."""
        return train, "all training items"

    def statistics(self, train: np.ndarray, channel_axis: int | None) -> DataSummary:
        """Scaling and loss statistics of the training items, one block at a time."""
        picks, how = self.statistics_indices(np.asarray(train, dtype=np.int64))
        rows = _rows_per_block(self.sample_shape)
        blocks = (self.read(picks[s : s + rows]) for s in range(0, len(picks), rows))
        summary = summarize(blocks, channel_axis, first_index=lambda k: int(picks[k]))
        summary.basis = how
        return summary

    def training_data(self, indices: np.ndarray, scaler: AffineScaler) -> Any:
        """What the Trainer iterates: the items at ``indices``, scaled batch by batch."""
        return _ScaledItems(self, indices, scaler)


class ArraySource(TrainingSource):
    """A float32 array in memory (already validated): the fast path, with no copy of the data."""

    def __init__(self, X: np.ndarray) -> None:
        self.X = X
        self.sample_shape = tuple(int(s) for s in X.shape[1:])

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def read(self, indices: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(self.X[indices], dtype=np.float32)

    def duplicate_groups(self) -> np.ndarray | None:
        return duplicate_groups(self.X)

    def training_data(self, indices: np.ndarray, scaler: AffineScaler) -> ScaledRows:
        # A read-only array (a memory map read in): torch wants a writable buffer, and copying
        # is what reading it into memory means anyway.
        X = self.X if self.X.flags.writeable else np.array(self.X)
        return ScaledRows(
            torch.from_numpy(X),
            torch.from_numpy(np.asarray(indices, dtype=np.int64)),
            torch.from_numpy(scaler.offset),
            torch.from_numpy(scaler.scale),
        )


class NpyFileSource(TrainingSource):
    """Rows of a C-ordered ``.npy`` file, read with ``os.pread`` (nothing stays mapped).

    Reading rows through a memory map would leave every page it touched mapped, counting in the
    process's resident memory until the whole file does; ``pread`` into a batch buffer reads the
    same pages from the page cache and keeps the process's own memory to a batch.

    Parameters
    ----------
    path : path
        The ``.npy`` file.
    offset, dtype, shape
        Where the array starts, its dtype and shape (from the file's header; see :meth:`open`).
    """

    def __init__(self, path: str | os.PathLike, offset: int, dtype: np.dtype, shape: tuple[int, ...]):
        self.path, self.offset, self.dtype = Path(path), int(offset), np.dtype(dtype)
        self.shape = tuple(int(s) for s in shape)
        self.sample_shape = self.shape[1:]
        self.row_bytes = self.dtype.itemsize * math.prod(self.sample_shape)
        self._fd: int | None = None

    @staticmethod
    def header(path: str | os.PathLike) -> tuple[int, np.dtype, tuple[int, ...], bool]:
        """``(offset, dtype, shape, fortran_order)`` of the ``.npy`` file at ``path``, checked.

        Refuses a file shorter than its header promises (a truncated copy or download), naming
        both sizes, before anything maps or reads it.
        """
        path = Path(path)
        try:
            with open(path, "rb") as f:
                version = np.lib.format.read_magic(f)
                # The public readers (numpy 2 dropped the private one); 3.0 differs from 2.0
                # only in UTF-8 field names, which numeric data never have.
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else None
                shape, fortran, dtype = (read or np.lib.format.read_array_header_2_0)(f)
                offset = f.tell()
        except (ValueError, OSError) as exc:
            raise DataFileError(f"could not read {str(path)!r} as a NumPy .npy file: {exc}") from None
        dtype = np.dtype(dtype)
        if not dtype.hasobject:  # a pickled object array has no fixed size to check
            _check_size(path, offset, dtype, shape)
        return offset, dtype, tuple(int(s) for s in shape), bool(fortran)

    @classmethod
    def open(cls, path: str | os.PathLike) -> NpyFileSource:
        """Read the header of the ``.npy`` file at ``path`` and check the file holds the array."""
        return cls.from_layout(Path(path), *cls.header(path))

    @classmethod
    def from_memmap(cls, X: np.ndarray) -> NpyFileSource | None:
        """The file behind a memory map of a whole C-ordered ``.npy`` array; else None.

        ``X`` may be the ``np.memmap`` itself or a view of all of it (``np.asarray`` of it, or
        gray images given a channel axis): what counts is that its rows are the file's rows.
        """
        mapping = memory_map_of(X)
        filename = getattr(mapping, "filename", None)
        if filename is None or not X.flags.c_contiguous or X.ndim < 2:
            return None
        try:
            source = cls.open(filename)
        except DataFileError:
            return None
        whole = (
            X.ctypes.data == mapping.ctypes.data
            and X.shape[0] == source.shape[0]
            and X.size == math.prod(source.shape)
            and mapping.offset == source.offset
        )
        if not whole or source.dtype != X.dtype:
            return None  # a view of part of the file: index the map instead
        # The same bytes per row, read in X's shape.
        return cls(source.path, source.offset, source.dtype, X.shape)

    @classmethod
    def from_layout(cls, path: Path, offset: int, dtype: Any, shape: tuple, fortran: bool) -> NpyFileSource:
        dtype = np.dtype(dtype)
        if fortran and len(shape) > 1:
            raise DataFileError(
                f"{str(path)!r} stores its array in Fortran (column) order; expected C order to read it "
                "by rows (rewrite it with np.save(path, np.ascontiguousarray(X)))"
            )
        if dtype.kind not in "biuf" or dtype.hasobject:
            raise DataFileError(f"{str(path)!r} holds dtype {dtype}; expected numbers (int, float or bool)")
        if len(shape) < 2:
            raise DataFileError(
                f"{str(path)!r} holds an array of shape {tuple(shape)}; expected (n_samples, ...)"
            )
        _check_size(path, offset, dtype, shape)
        return cls(path, offset, dtype, shape)

    def __len__(self) -> int:
        return self.shape[0]

    def statistics(self, train: np.ndarray, channel_axis: int | None) -> DataSummary:
        """The training rows' statistics, from one pass over the whole file that checks every value.

        Validation rows are read too (and left out of the statistics): a NaN there would reach
        PCA's baseline or the validation loss, and reading whole blocks costs no more than reading
        the training rows between them. Data that are not finite are refused as in memory.
        """
        train = np.sort(np.asarray(train, dtype=np.int64))
        rows = _rows_per_block(self.sample_shape)

        def blocks() -> Iterator[np.ndarray]:
            # The training items in the blocks the in-memory pass uses (the same statistics to
            # the bit), each read with the validation rows before it (after it, for the last).
            for start in range(0, len(train), rows):
                picks = train[start : start + rows]
                first = 0 if start == 0 else int(train[start - 1]) + 1
                end = len(self) if start + rows >= len(train) else int(picks[-1]) + 1
                with np.errstate(over="ignore"):  # float64 beyond float32: refused just below
                    block = self.read(np.arange(first, end))
                if not np.isfinite(block).all():
                    raise NotFiniteInFile(self.mapped())
                yield block[picks - first]

        summary = summarize(blocks(), channel_axis, first_index=lambda k: int(train[k]))
        summary.basis = "all training items"
        return summary

    def mapped(self) -> np.memmap:
        """The file as a read-only memory map (checked block by block, its pages released as it goes)."""
        return np.memmap(self.path, dtype=self.dtype, mode="r", offset=self.offset, shape=self.shape)

    def read_all(self) -> np.ndarray:
        """The whole array, read into memory (float32) without mapping the file."""
        return self.read(np.arange(len(self)))

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_fd": None}  # DataLoader workers open their own descriptor

    def _descriptor(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        return self._fd

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)

    def read(self, indices: np.ndarray) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64)
        out = np.empty((len(indices), *self.sample_shape), self.dtype)
        flat = out.reshape(len(indices), -1).view(np.uint8).reshape(len(indices), self.row_bytes)
        fd, start = self._descriptor(), 0
        # Consecutive rows are read in one call: a streaming pass reads blocks, a batch of
        # random rows reads row by row.
        breaks = np.flatnonzero(np.diff(indices) != 1) + 1
        for run in np.split(np.arange(len(indices)), breaks):
            if not len(run):
                continue
            first, count = int(indices[run[0]]), len(run)
            view = memoryview(flat[start : start + count]).cast("B")
            got = os.preadv(fd, [view], self.offset + first * self.row_bytes)
            if got != count * self.row_bytes:
                raise DataFileError(f"{str(self.path)!r} ended early, at row {first}; the file is truncated")
            start += count
        return out.astype(np.float32, copy=False)


class DatasetSource(TrainingSource):
    """A torch ``Dataset`` of tensors (photos, patches, a user's): statistics from a sample.

    ``slow_reads`` marks datasets whose items cost real work (photos to decode), which then
    read in DataLoader worker processes; a user's dataset is read in the training process,
    where workers started afresh every epoch would cost more than they save.
    """

    def __init__(
        self,
        dataset: torch.utils.data.Dataset,
        sample_limit: int = STATISTICS_SAMPLE,
        slow_reads: bool = False,
    ) -> None:
        self.dataset, self.sample_limit, self.slow_reads = dataset, int(sample_limit), bool(slow_reads)
        if len(dataset) == 0:  # type: ignore[arg-type]
            raise InvalidInputError("the dataset is empty; expected at least one sample")
        self.sample_shape = tuple(int(s) for s in self._item(0).shape)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def _item(self, i: int) -> np.ndarray:
        item = self.dataset[int(i)]
        item = item[0] if isinstance(item, (list, tuple)) else item  # (x, y) pairs: x
        return np.asarray(item.numpy() if isinstance(item, torch.Tensor) else item, dtype=np.float32)

    def read(self, indices: np.ndarray) -> np.ndarray:
        items = [self._item(i) for i in indices]
        for i, item in zip(indices, items, strict=True):
            if item.shape != self.sample_shape:
                raise InvalidInputError(
                    f"dataset item {int(i)} has shape {item.shape}; expected {self.sample_shape} like item 0"
                )
        return np.stack(items) if items else np.empty((0, *self.sample_shape), np.float32)

    def statistics_indices(self, train: np.ndarray) -> tuple[np.ndarray, str]:
        if len(train) <= self.sample_limit:
            return train, "all training items"
        picks = train[np.unique(np.linspace(0, len(train) - 1, num=self.sample_limit).astype(np.int64))]
        return picks, f"{len(picks)} training items, evenly spaced, of {len(train)}"


__all__ = [
    "ArraySource",
    "DatasetSource",
    "IN_MEMORY_BYTES",
    "NpyFileSource",
    "SAMPLE_ROWS",
    "ScaledRows",
    "TrainingSource",
    "first_items",
    "iterate_batches",
    "memory_map_of",
    "release_pages",
    "row_blocks",
    "sample_rows",
    "streams",
]
