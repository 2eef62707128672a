"""One label per sample, read from whatever file a person would keep them in.

``.npy`` arrays, IDX label files, text files with one value per line (numbers or words), and
one-column CSV or TSV files with or without a header. A text file is read line by line, never
by guessing a delimiter from inside its values (which split ``"3.5"`` or ``"red, dark"``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from hourglass.data.loading import is_number
from hourglass.exceptions import DataFileError, HourglassError, InvalidInputError

LABEL_SUFFIXES = (".npy", ".txt", ".csv", ".tsv")


def _values(cells: list[str]) -> np.ndarray:
    """Text cells as integers, floats or (if any is not a number) strings."""
    try:
        numbers = np.array([float(c) for c in cells], dtype=np.float64)
    except ValueError:
        return np.array(cells, dtype=object)
    if np.all(np.isfinite(numbers)) and np.all(numbers == np.round(numbers)):
        return numbers.astype(np.int64)
    return numbers


def _text_cells(path: Path) -> list[str]:
    """The one value of every non-blank line of a text file; a one-column CSV or TSV's cells."""
    suffix = path.suffix.lower()
    lines = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    lines = [line for line in lines if line]
    if suffix in (".csv", ".tsv"):
        table = pd.read_csv(path, sep="," if suffix == ".csv" else "\t", header=None, dtype=str)
        if table.shape[1] != 1:
            raise DataFileError(
                f"labels file {str(path)!r} has {table.shape[1]} columns; expected one label per line "
                "(or name a column of the data with --labels COL)"
            )
        lines = [str(v).strip() for v in table.iloc[:, 0]]
    return lines


def read_labels(path: str | os.PathLike, n: int, data_name: str = "the data") -> np.ndarray:
    """One label per sample from a ``.npy``, IDX, text, CSV or TSV file.

    A text file holds one value per line (numbers or words); a CSV or TSV file one column,
    whose first row is a header when it is not a number while the rest are, or when the file
    holds one line more than there are samples.

    Parameters
    ----------
    path : str or PathLike
        The labels file.
    n : int
        The number of samples the labels are for.
    data_name : str, default="the data"
        What the samples are, for the message when the count differs.

    Returns
    -------
    ndarray of shape (n,)
        Integers, floats or strings.

    Raises
    ------
    DataFileError
        A missing, unreadable or multi-column file.
    InvalidInputError
        A count other than ``n``, or an empty value.

    Examples
    --------
    >>> Path("labels.txt").write_text("a\\nb\\na\\n")  # doctest: +SKIP
    >>> read_labels("labels.txt", 3).tolist()  # doctest: +SKIP
    ['a', 'b', 'a']
    """
    from hourglass.data.loading import read_idx

    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"no such labels file: {str(path)!r}")
    suffix = path.suffix.lower()
    try:
        if path.name.removesuffix(".gz").endswith("-ubyte"):
            labels = np.asarray(read_idx(path))
        elif suffix == ".npy":
            labels = np.load(path, allow_pickle=False)
        elif suffix in (".csv", ".tsv", ".txt"):
            cells = _text_cells(path)
            body_numeric = len(cells) > 1 and all(is_number(c) for c in cells[1:] if c)
            if cells and (len(cells) == n + 1 or (body_numeric and not is_number(cells[0]))):
                cells = cells[1:]  # a header row
            empty = [i for i, c in enumerate(cells) if c in ("", "nan", "NaN")]
            if empty:
                raise InvalidInputError(
                    f"labels file {str(path)!r} has no label on line {empty[0] + 1} of its values; "
                    "expected a label on every line"
                )
            labels = _values(cells)
        else:
            raise DataFileError(
                f"labels file {str(path)!r}: expected .npy, .txt (one label per line), a one-column "
                ".csv / .tsv, or an IDX labels file"
            )
    except HourglassError:
        raise  # already one line naming the file
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise DataFileError(f"cannot read labels from {str(path)!r}: {reason}") from None
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise InvalidInputError(
            f"labels in {str(path)!r} have shape {labels.shape}; expected one label per sample"
        )
    if len(labels) != n:
        raise InvalidInputError(
            f"labels file {str(path)!r} holds {len(labels)} labels for the {n} samples of {data_name}; "
            "expected one label per sample"
        )
    if labels.dtype.kind == "f" and np.isnan(labels).any():
        first = int(np.flatnonzero(np.isnan(labels))[0])
        raise InvalidInputError(
            f"labels file {str(path)!r} holds NaN (at position {first}); expected a label on every line"
        )
    return labels


__all__ = ["LABEL_SUFFIXES", "read_labels"]
