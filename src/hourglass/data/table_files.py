"""Table files (CSV, TSV, TXT, Parquet): reading them, the numeric and finite checks, drop and label.

The pieces :func:`~hourglass.data.loading.load_data` reads a table with, whole or in chunks. A
text table may come compressed (``data.csv.gz``, ``.bz2``, ``.xz``), as public data sets often
do: pandas reads those itself. How a text table is written (encoding, delimiter, decimal mark,
header) is :mod:`hourglass.data.text_tables`' to find out.
"""

from __future__ import annotations

import decimal
import lzma
import re
import shlex
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from hourglass.data.identifiers import table_advice, warn_if_identifier_columns
from hourglass.data.table import TableSchema, select_features
from hourglass.data.text_tables import (
    COMPRESSIONS,
    TEXT_TABLE_SUFFIXES,
    check_unique_names,
    comma_thousands,
    regional_numbers,
    sniff,
    table_suffix,
    tidy,
)
from hourglass.data.validation import _reason, non_finite_columns
from hourglass.exceptions import DataFileError, HourglassError, InvalidInputError

#: How many times its size on disk a compressed table is taken to hold, for the choice between
#: reading it whole and streaming it (CSVs of numbers compress 3-10 fold; a table streamed
#: that would have fitted costs a conversion to a .npy, one that is read whole past memory
#: costs the run).
COMPRESSED_GROWTH = 10
#: What a damaged compressed file raises while it is read (a cut gzip: EOFError).
READ_ERRORS = (ValueError, OSError, EOFError, lzma.LZMAError, pd.errors.ParserError)


#: A text column whose text cells are at most this share of its values is a column of numbers
#: with stray text in it (a typo, 'n/a'): the error names the first such cell's row.
STRAY_TEXT_SHARE = 0.01


def _check_numeric(
    df: pd.DataFrame,
    name: str,
    types: dict[str, str] | None = None,
    first_row: int = 0,
    table: TableSchema | None = None,
) -> None:
    """Refuse a column that does not hold numbers, naming it, an example value and its type.

    ``types`` maps column names to the file's own type names (Parquet's schema: ``string``,
    ``timestamp[ms]``), which say more than pandas' ``object``. A column of numbers with a few
    text cells (:data:`STRAY_TEXT_SHARE`) is named with the row of the first (``first_row``: the
    row of ``df``'s first in the file), which is what needs fixing, not the column. With
    ``table``, the schema of the model's training table, every column of ``df`` is one of its
    features: dropping it is no way out (the model reads it), writing it as at fit time is.
    """
    text = [col for col in df.columns if not _numeric(df[col])]
    if not text:
        return
    col = text[0]
    values = df[col].dropna()
    failed = pd.to_numeric(values, errors="coerce").isna()
    # A regional number ('-132,10' in a semicolon table) is not what stops the column: name a
    # cell that is text in any spelling ('n/a'), where there is one.
    unread = failed & regional_numbers(values).isna() if failed.any() else failed
    bad = values[unread] if unread.any() else values[failed]
    example = bad.iloc[0] if len(bad) else values.iloc[0] if len(values) else None
    label = f"column {col!r}" if isinstance(col, str) else f"column {col}"
    if len(bad) and len(bad) <= STRAY_TEXT_SHARE * len(values):
        row = first_row + int(np.flatnonzero(df.index.isin(bad.index[:1]))[0])
        # A model's feature cannot be dropped (the model reads it): only the rows can be fixed.
        fix = (
            "fix those rows"
            if table is not None
            else f"fix or drop those rows, or drop the column (--drop {shlex.quote(str(col))})"
        )
        raise InvalidInputError(
            f"{label} of {name!r} holds numbers but also text at row {row} ({example!r}; {len(bad)} "
            f"such cell(s) of {len(values)}); {fix}"
        )
    signs = _signs_hint(df, text)
    if table is not None:
        fitted = dict(zip(table.features or (), table.dtypes, strict=False)).get(str(col))
        more = f" (and {len(text) - 1} more such column(s))" if len(text) > 1 else ""
        raise InvalidInputError(
            f"{label} of {name!r} is a feature the model was fitted on as numbers"
            f"{f' ({fitted})' if fitted else ''} but holds text here (e.g. {example!r}){more}{signs}; "
            "write it as at fit time"
        )
    kind = (types or {}).get(str(col), str(df[col].dtype))
    # Every column to drop, named once, in both spellings: fixing them one error at a time
    # would take a run per column.
    which = "it" if len(text) == 1 else f"the {len(text)} that are not"
    flag = shlex.quote(",".join(str(c) for c in text))
    raise InvalidInputError(
        f"{label} of {name!r} is not numeric (e.g. {example!r}) but of type {kind}{signs}; every column "
        f"must hold numbers: drop or encode {which} (--drop {flag} on the command line, "
        f"drop={[str(c) for c in text]!r} in load_data)"
    )


#: What a spreadsheet writes beside numbers that is not part of them: a percent sign, currency signs.
_SIGNS = re.compile(r"[%$€£¥]")


def _signs_hint(df: pd.DataFrame, text: list) -> str:
    """A clause naming the text columns that hold numbers written with a percent or currency sign
    ('12%', '$5', '€1,103.68'), which are numbers once the signs are removed; '' where none do.

    They are not read as numbers: whether '12%' is 12 or 0.12, and whether '$5' and '€5' are one
    unit, is the user's to say.
    """
    found: set[str] = set()
    columns = []
    for column in text:
        cells = df[column].dropna().astype(str).str.strip()
        marked = cells.str.contains(_SIGNS.pattern)
        if not len(cells) or not marked.any():
            continue
        bare = cells.str.replace(_SIGNS.pattern, "", regex=True).str.strip()
        if pd.to_numeric(bare, errors="coerce").notna().all() or comma_thousands(bare) is not None:
            columns.append(column)
            found.update(_SIGNS.findall("".join(cells[marked])))
    if not columns:
        return ""
    currency = sorted(sign for sign in found if sign != "%")
    what = ["%"] if "%" in found else []
    what += [f"a currency sign ({', '.join(currency)})"] if currency else []
    names = ", ".join(repr(str(c)) for c in columns)
    verb = "looks" if len(columns) == 1 else "look"
    return f"; {names} {verb} like numbers written with {' and '.join(what)}: remove them"


#: Columns a table's refusal for missing values counts one by one; the others are counted together.
SHOWN_COLUMNS = 5


def check_finite_columns(df: pd.DataFrame, source: str, first_row: int = 0, droppable: bool = True) -> None:
    """Refuse a table holding NaN or infinite values, or numbers float32 cannot hold, naming the
    first one's column and row.

    The array check that follows knows positions only, which after ``drop`` are not the
    file's: the column's name is what the user can find. Where several columns hold missing
    values, each is counted (a total over columns hid that one of them was empty); an empty
    column (an Excel export's unnamed last one) is named for ``--drop`` where ``droppable``
    (not a model's feature).
    """
    found = non_finite_columns(df)
    if found:
        total, (column, _, row) = sum(count for _, count, _ in found), found[0]
        rows = len(df)
        counts = ""
        if len(found) > 1:
            shown = ", ".join(
                f"{_column_name(df, c)}: {count}" + (f" of {rows} (empty)" if count == rows else "")
                for c, count, _ in found[:SHOWN_COLUMNS]
            )
            more = f" and {len(found) - SHOWN_COLUMNS} more" if len(found) > SHOWN_COLUMNS else ""
            where = f", in rows {first_row}-{first_row + rows - 1}" if first_row else ""
            counts = f" (per column{where}: {shown}{more})"
        empty = [c for c, count, _ in found if count == rows] if droppable else []
        raise InvalidInputError(
            f"{source!r} holds {total} NaN or infinite value(s), the first in column "
            f"{_column_name(df, column)} at row {row + first_row}{counts}; fill or drop them first"
            f"{_empty_hint(df, empty)}"
        )
    _check_float32_range(df, source, first_row)


def _column_name(df: pd.DataFrame, column: object) -> str:
    return repr(column) if isinstance(column, str) else str(list(df.columns).index(column))


def _empty_hint(df: pd.DataFrame, empty: list) -> str:
    """A clause offering to drop the columns in ``empty``, which hold no value at all; '' for none."""
    if not empty:
        return ""
    names = ", ".join(repr(str(c)) for c in empty)
    # pandas names an empty header cell 'Unnamed: 5'; the last such is a delimiter ending every line.
    trailing = str(empty[-1]).startswith("Unnamed: ") and empty[-1] == df.columns[-1]
    why = " (the last, unnamed: every line ends with a delimiter, as spreadsheet exports may write)"
    flag = shlex.quote(",".join(str(c) for c in empty))
    return (
        f"; {names} {'is' if len(empty) == 1 else 'are'} empty{why if trailing else ''}: leave "
        f"{'it' if len(empty) == 1 else 'them'} out (--drop {flag} on the command line, "
        f"drop={[str(c) for c in empty]!r} in load_data)"
    )


def _check_float32_range(df: pd.DataFrame, source: str, first_row: int) -> None:
    """Refuse finite numbers beyond float32's range, which models hold data in, by column name
    (the array check that would find them, as the infinities they become, knows positions only)."""
    limit = float(np.finfo(np.float32).max)
    for column in df.columns:
        if not pd.api.types.is_float_dtype(df[column]):
            continue  # int64's largest, 9.2e18, is within float32's range
        values = np.abs(df[column].to_numpy(dtype=np.float64, na_value=0.0))
        over = values > limit
        if over.any():
            raise InvalidInputError(
                f"{source!r} holds {int(over.sum())} value(s) in column {_column_name(df, column)} that "
                f"overflow float32 (magnitude above {limit:.3g}), the first at row "
                f"{int(np.flatnonzero(over)[0]) + first_row}; rescale the data first"
            )


def check_features(
    df: pd.DataFrame,
    source: str,
    types: dict[str, str] | None = None,
    first_row: int = 0,
    table: TableSchema | None = None,
) -> None:
    """Check a table's feature columns (``df``, or a chunk of it from ``first_row``): numbers, all finite.

    Then, for a table read to fit on (no ``table``: a model's table was judged when it was
    fitted), warn of a feature that looks like an identifier, from the first chunk
    (:func:`~hourglass.data.identifiers.warn_if_identifier_columns`). The warning comes last: a
    table refused for its text or its NaN gets one line, the error.
    """
    _check_numeric(df, source, types, first_row, table)
    check_finite_columns(df, source, first_row, droppable=table is None)
    if table is None and first_row == 0:
        warn_if_identifier_columns(df, repr(source), table_advice)


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
            _check_parquet_names(path)
            return _decimals_as_floats(pd.read_parquet(path)), True
        layout = sniff(path)
        with warnings.catch_warnings():
            # "Columns (3) have mixed types": pandas' advice for its own options; a column with text
            # in it is named, with the row of the text, by the numeric check that follows.
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            return tidy(pd.read_csv(path, **layout.read_csv_options()), layout, path.name), layout.header
    except pd.errors.EmptyDataError:
        raise DataFileError(f"{str(path)!r} is empty") from None
    except READ_ERRORS as exc:
        if isinstance(exc, HourglassError):
            raise
        raise DataFileError(f"could not read {str(path)!r} as a {suffix} table: {_reason(exc)}") from None


def table_header(path: str | Path) -> list[str] | None:
    """The column names of the table at ``path``, read without its rows; None for a table without
    a header, a file of another kind, or one that cannot be read (reading it whole says why).

    Examples
    --------
    >>> table_header("codes.npy") is None
    True
    """
    path = Path(path)
    suffix = table_suffix(path)
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return [str(name) for name in pq.read_schema(path).names]
        if suffix not in TEXT_TABLE_SUFFIXES or not path.is_file():
            return None
        layout = sniff(path)
        if not layout.header:
            return None
        frame = tidy(pd.read_csv(path, nrows=0, **layout.read_csv_options()), layout)
        return [str(name) for name in frame.columns]
    except (*READ_ERRORS, HourglassError):
        return None


def split_column_list(text: str, header: list[str] | None) -> list[str]:
    """The column names a comma-separated list (``--drop``) gives, a name that holds a comma read
    whole where the table's ``header`` has it: ``'name, full'`` is one column, not two.

    The whole text first, then from each part the longest run of parts that names a column;
    a part no run of which names one stands alone (and is refused, or read as a position, by
    the reader).

    Examples
    --------
    >>> split_column_list("id,name, full", ["id", "name, full", "x"])
    ['id', 'name, full']
    >>> split_column_list("a, b", None)
    ['a', 'b']
    """
    names = set(header or ())
    if text.strip() in names:
        return [text.strip()]
    parts, columns, start = text.split(","), [], 0
    while start < len(parts):
        runs = range(len(parts), start + 1, -1)
        end = next((end for end in runs if ",".join(parts[start:end]).strip() in names), start + 1)
        name = ",".join(parts[start:end]).strip()
        columns += [name] if name else []
        start = end
    return columns


def _check_parquet_names(path: Path) -> None:
    import pyarrow.parquet as pq

    check_unique_names([str(name) for name in pq.read_schema(path).names], path.name)


def _decimals_as_floats(df: pd.DataFrame) -> pd.DataFrame:
    """Parquet's exact decimals (database exports: prices, amounts) as floats, the numbers a model
    trains on; pandas reads them as Python ``Decimal`` objects."""
    for column in df.columns:
        values = df[column]
        if (
            values.dtype == object
            and len(values.dropna())
            and all(isinstance(v, decimal.Decimal) for v in values.dropna().iloc[:100])
        ):
            df[column] = values.astype(np.float64)
    return df


def _column_index(df: pd.DataFrame, name: str, option: str, source: str) -> object:
    """The column of ``df`` that ``name`` means: a header name, or a 0-based position."""
    columns = list(df.columns)
    if name in [str(c) for c in columns]:
        return columns[[str(c) for c in columns].index(name)]
    if name.lstrip("-").isdigit() and 0 <= int(name) < len(columns):
        return columns[int(name)]
    shown = ", ".join(map(repr, map(str, columns[:12]))) + (", ..." if len(columns) > 12 else "")
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
    """Remove the ``drop`` columns and the ``label`` column from a table; return (features, labels,
    keys), the keys being the columns that are neither (an id, a date: results join back by them).

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
    needed = set(table.features or ()) if table is not None else set()
    for name, column in zip(drop, dropped, strict=True):
        if str(column) in needed:
            raise InvalidInputError(
                f"drop {name!r} removes {str(column)!r}, a feature the model was fitted on; drop only "
                "columns the model does not read"
            )
    y, label_column = None, None
    if label is not None:
        column = label_column = _column_index(df, label, "label", source)
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
    keys = [c for c in df.columns if c not in features.columns and c != label_column]
    return features, y, df[keys]


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

        _check_parquet_names(path)
        batches = pq.ParquetFile(path).iter_batches(batch_size=rows)
        return (_decimals_as_floats(batch.to_pandas()) for batch in batches), True
    layout = sniff(path)

    def chunks() -> Iterator[pd.DataFrame]:
        # In a with block: closing the generator (an error in a chunk) closes the file.
        with pd.read_csv(path, **layout.read_csv_options(), chunksize=rows) as reader:
            for chunk in reader:
                yield tidy(chunk, layout, path.name)

    return chunks(), layout.header
