"""Table files (CSV, TSV, TXT, Parquet): header sniffing, the numeric check, drop and label columns.

The pieces :func:`~hourglass.data.loading.load_data` reads a table with, whole or in chunks. A
text table may come compressed (``data.csv.gz``, ``.bz2``, ``.xz``), as public data sets often
do: pandas reads those itself, and the sniffing here reads their first lines through the
matching module of the standard library.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import lzma
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from hourglass.data.table import TableSchema, select_features
from hourglass.data.validation import _reason
from hourglass.exceptions import DataFileError, InvalidInputError

#: Rows after the first that :func:`_sniff` reads for a decimal comma.
SNIFFED_ROWS = 50
#: Text tables' suffixes, and the compressions they may come in (the opener of each).
TEXT_TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
COMPRESSIONS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
#: How many times its size on disk a compressed table is taken to hold, for the choice between
#: reading it whole and streaming it (CSVs of numbers compress 3-10 fold; a table streamed
#: that would have fitted costs a conversion to a .npy, one that is read whole past memory
#: costs the run).
COMPRESSED_GROWTH = 10
#: What a damaged compressed file raises while it is read (a cut gzip: EOFError).
READ_ERRORS = (ValueError, OSError, EOFError, lzma.LZMAError, pd.errors.ParserError)


def table_suffix(path: str | Path) -> str:
    """The format a file's name says, below a compression suffix: ``'data.csv.gz'`` -> ``'.csv'``.

    Examples
    --------
    >>> table_suffix("a.CSV"), table_suffix("a.tsv.gz"), table_suffix("b.parquet.gz"), table_suffix("c.gz")
    ('.csv', '.tsv', '.gz', '.gz')
    """
    suffixes = [suffix.lower() for suffix in Path(path).suffixes]
    if len(suffixes) >= 2 and suffixes[-1] in COMPRESSIONS and suffixes[-2] in TEXT_TABLE_SUFFIXES:
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


def _open_text(path: Path):
    """``path`` opened for reading text, through its decompressor where its suffix names one."""
    opener = COMPRESSIONS.get(path.suffix.lower(), open)
    return opener(path, "rt", newline="", encoding="utf-8-sig", errors="replace")


class TextLayout(NamedTuple):
    """How a text table is laid out: what :func:`pandas.read_csv` needs to read it."""

    #: The delimiter; None for runs of spaces (np.savetxt's default).
    sep: str | None
    #: Whether the first row names the columns.
    header: bool
    #: The decimal mark: ',' in the semicolon-separated CSV that spreadsheets write where the
    #: comma is the decimal mark (Excel in most of Europe).
    decimal: str

    def read_csv_options(self) -> dict:
        """Keyword arguments of :func:`pandas.read_csv` for this layout."""
        return {"sep": self.sep or r"\s+", "header": 0 if self.header else None, "decimal": self.decimal}


def _sniff(path: Path) -> TextLayout:
    """Delimiter, header and decimal mark of a text table, from its first lines.

    A .txt may use tabs, commas, semicolons or runs of spaces. A .csv whose first line is
    semicolon-separated (:func:`_semicolon_separated`) is read so, and then a comma in its first
    :data:`SNIFFED_ROWS` rows is the decimal mark. The first row is a header if one of its cells
    is not a number; an empty cell is a missing number.
    """
    with _open_text(path) as f:
        line = f.readline()
        following = [f.readline() for _ in range(SNIFFED_ROWS)]
    sep = {".csv": ",", ".tsv": "\t"}.get(table_suffix(path))
    if sep is None and "\t" in line:
        sep = "\t"
    elif sep in (None, ",") and _semicolon_separated(line):
        sep = ";"
    elif sep is None and "," in line:
        sep = ","
    cells = line.split() if sep is None else next(csv.reader([line], delimiter=sep), [])
    # A semicolon-separated file's decimal mark: a comma in its first rows (the first line too,
    # where it holds data rather than names) is one.
    decimal = "," if sep == ";" and any("," in row for row in (line, *following)) else "."
    header = any(cell.strip() and not is_number(cell.replace(decimal, ".")) for cell in cells)
    return TextLayout(sep, header, decimal)


def _semicolon_separated(line: str) -> bool:
    """Whether a first line is semicolon-separated: names or numbers between semicolons, and any
    comma in it a decimal mark ('a;b;c', '1,5;2;0,25'), not a comma-separated line ('a,b;c')."""
    if ";" not in line:
        return False
    cells = [cell for cell in line.strip().split(";") if cell]
    return "," not in line or all(is_number(cell.replace(",", ".")) for cell in cells)


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
    text = [col for col in df.columns if not _numeric(df[col])]
    if not text:
        return
    col = text[0]
    values = df[col].dropna()
    bad = values[pd.to_numeric(values, errors="coerce").isna()]
    example = bad.iloc[0] if len(bad) else values.iloc[0] if len(values) else None
    label = f"column {col!r}" if isinstance(col, str) else f"column {col}"
    kind = (types or {}).get(str(col), str(df[col].dtype))
    # Every column to drop, named once, in both spellings: fixing them one error at a time
    # would take a run per column.
    which = "it" if len(text) == 1 else f"the {len(text)} that are not"
    flag = shlex.quote(",".join(str(c) for c in text))
    raise InvalidInputError(
        f"{label} of {name!r} is not numeric (e.g. {example!r}) but of type {kind}; every column "
        f"must hold numbers: drop or encode {which} (--drop {flag} on the command line, "
        f"drop={[str(c) for c in text]!r} in load_data)"
    )


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _parquet_types(path: Path) -> dict[str, str]:
    import pyarrow.parquet as pq

    return {field.name: str(field.type) for field in pq.read_schema(path)}


def _read_table(path: Path) -> tuple[pd.DataFrame, bool]:
    """Read a table; also say whether it had column names."""
    suffix = table_suffix(path)
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path), True
        layout = _sniff(path)
        return pd.read_csv(path, **layout.read_csv_options()), layout.header
    except pd.errors.EmptyDataError:
        raise DataFileError(f"{str(path)!r} is empty") from None
    except READ_ERRORS as exc:
        raise DataFileError(f"could not read {str(path)!r} as a {suffix} table: {_reason(exc)}") from None


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
    drop, label, given = list(drop), label, label
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
        if given is not None and column in dropped:
            # Either is a mistake for the other; dropping the label silently would hide it.
            raise InvalidInputError(
                f"label {label!r} is also among the columns to drop; a column is either dropped or "
                "the label: remove it from drop, or name another label"
            )
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


def _table_bytes(path: Path) -> int:
    """What reading the table whole would cost, judged without reading it.

    Parquet: rows x columns x 4 bytes (its float32 data), from the file's metadata. A text
    table: its size on disk, which its parse in pandas (float64 and more) exceeds;
    :data:`COMPRESSED_GROWTH` times that for a compressed one.
    """
    if path.suffix.lower() in COMPRESSIONS:
        return path.stat().st_size * COMPRESSED_GROWTH
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
    layout = _sniff(path)
    return iter(pd.read_csv(path, **layout.read_csv_options(), chunksize=rows)), layout.header
