"""Identical rows kept on one side of a split, so that held-out errors stay held out.

A table that repeats its rows (a CSV concatenated with itself, a log with repeated events, a
sensor stuck on one reading) puts copies of most held-out rows among the training rows when it
is split row by row. The autoencoder then reconstructs the "held-out" rows it has memorised, and
its error against PCA's reads far better than on new data (wine written out three times:
0.25x PCA's error against 0.81x on the rows once each). :func:`duplicate_groups` finds the
identical rows and :func:`split_rows` splits by group, as scikit-learn's ``GroupShuffleSplit``
would, while leaving a table without repeats exactly as a row-by-row split leaves it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd


def duplicate_groups(X: Any) -> np.ndarray | None:
    """One group number per row, identical rows sharing one; None when no row repeats.

    Rows are compared by a 64-bit hash of their values (pandas' for a DataFrame, BLAKE2's of
    the row's bytes for an array: 0.3 s for Fashion-MNIST's 60,000 x 784), so two different
    rows share a group with a chance of about ``n**2 / 2**64``: none in practice. Both hashes
    are the same in every process, and the groups are numbered in the order of their hashes,
    so a seeded split is the same from run to run. Anything else (a stream, sparse data) gives None.

    Parameters
    ----------
    X : ndarray or DataFrame
        The samples, one per row (or along the first axis).

    Returns
    -------
    ndarray of int or None
        Group numbers ``0 .. n_groups - 1``, or None if every row is unique.

    Examples
    --------
    >>> duplicate_groups(np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0]])).tolist()
    [0, 1, 0]
    >>> duplicate_groups(np.eye(3)) is None
    True
    """
    if isinstance(X, pd.DataFrame):
        try:
            keys = pd.util.hash_pandas_object(X, index=False).to_numpy()
        except TypeError:  # cells pandas cannot hash (lists): the reader refuses them later
            return None
    elif isinstance(X, np.ndarray) and X.ndim >= 1 and not isinstance(X, np.memmap):
        rows = np.ascontiguousarray(X).reshape(len(X), -1)
        keys = np.fromiter(_row_keys(rows), dtype=np.int64, count=len(rows))
    else:
        return None
    _, groups = np.unique(keys, return_inverse=True)
    if groups.max(initial=-1) + 1 == len(groups):
        return None
    return groups.ravel()


#: Values whose rows are hashed at a time: a block's copy (to fold -0.0 into 0.0) costs 8 MiB of
#: float32 rather than a copy of the whole array, which an in-memory fit otherwise never makes.
KEY_BLOCK_VALUES = 1 << 21


def _row_keys(rows: np.ndarray) -> Iterator[int]:
    """:func:`_row_key` of each row of a 2-D array, a block of rows at a time."""
    step = max(1, KEY_BLOCK_VALUES // max(1, rows.shape[1]))
    for start in range(0, len(rows), step):
        block = rows[start : start + step]
        if block.dtype.kind == "f":
            block = block + 0.0  # -0.0 and 0.0 are the same value; their bytes differ
        yield from (_row_key(row) for row in block)


def _row_key(row: np.ndarray) -> int:
    """A 64-bit hash of a row's bytes, the same in every process (Python's own ``hash`` of bytes
    is salted per process, which would draw another split for the same seed)."""
    return int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little", signed=True)


def repeats_note(groups: np.ndarray | None, noun: str, split: str) -> str | None:
    """The words a result carries on its repeated rows (None without any): how many, and that
    identical ones were kept on one side of ``split``.

    Examples
    --------
    >>> repeats_note(np.array([0, 1, 0]), "rows", "the split")
    '1 of 3 rows repeat another; identical rows were kept on one side of the split'
    """
    repeats = repeated_rows(groups)
    if not repeats:
        return None
    return (
        f"{repeats} of {len(groups)} {noun} repeat another; identical {noun} were kept on one side of {split}"
    )


def repeated_rows(groups: np.ndarray | None) -> int:
    """How many rows repeat an earlier one (0 for None).

    Examples
    --------
    >>> repeated_rows(np.array([0, 1, 0, 0])), repeated_rows(None)
    (2, 0)
    """
    return 0 if groups is None else int(len(groups) - (groups.max() + 1))


def split_rows(
    n: int, n_held: int, rng: np.random.Generator | np.random.RandomState, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out) sorted row indices: ``n_held`` held out, or about as many with ``groups``.

    The plain shuffled split (``rng.permutation(n)``, the first ``n_held`` held out), then
    :func:`keep_together` with ``groups``.

    Examples
    --------
    >>> groups = np.array([0, 0, 0, 1, 2, 3])
    >>> kept, held = split_rows(6, 2, np.random.default_rng(0), groups)
    >>> groups[kept].tolist(), groups[held].tolist()
    ([0, 0, 0, 2, 3], [1])
    """
    order = rng.permutation(n)
    kept, held = np.sort(order[n_held:]), np.sort(order[:n_held])
    if groups is None:
        return kept, held
    kept, held = keep_together(kept, held, groups)
    return np.sort(kept), np.sort(held)


def keep_together(kept: np.ndarray, held: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A split of rows with each group of identical rows moved whole to the side of its first row.

    Rows that do not repeat stay where they were, in their order (the moved rows follow), so a
    table with a few repeats is split as before unless a repeated row straddled the split
    (iris, one repeated row), and each group is held out with the split's own chance: about as
    many rows are held out. Each side keeps one group at least.

    Examples
    --------
    >>> keep_together(np.array([0, 1, 2]), np.array([3, 4]), np.array([0, 1, 2, 0, 3]))
    (array([0, 1, 2, 3]), array([4]))
    """
    is_held = np.zeros(len(groups), dtype=bool)
    is_held[held] = True
    first_row = np.full(groups.max() + 1, len(groups))
    np.minimum.at(first_row, groups, np.arange(len(groups)))
    group_held = is_held[first_row]
    if not group_held.any():  # every group's first row was kept: hold out the first held row's
        group_held[groups[held[0]]] = True
    if group_held.all():
        group_held[groups[kept[0]]] = False
    stays_kept, stays_held = ~group_held[groups[kept]], group_held[groups[held]]
    return (
        np.concatenate([kept[stays_kept], held[~stays_held]]),
        np.concatenate([held[stays_held], kept[~stays_kept]]),
    )


__all__ = ["duplicate_groups", "keep_together", "repeated_rows", "repeats_note", "split_rows"]
