"""How a text table is written: its encoding, delimiter, decimal mark, header and index column.

Tables come from many tools: ``np.savetxt`` (no header, runs of spaces), pandas' ``to_csv()``
(an unnamed index column), Excel in Europe (semicolons, decimal commas, thousands points,
Windows-1252, or UTF-16 "Unicode text"), instruments (a header of wavelengths, all numbers).
:func:`sniff` reads a table's first lines and says how :func:`pandas.read_csv` should read it;
:func:`tidy` mends what the first lines could not show.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import lzma
import re
import warnings
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from hourglass.exceptions import DataFileError, InvalidInputError

#: Rows after the first that :func:`sniff` reads for the delimiter, a decimal comma, the header.
SNIFFED_ROWS = 50
#: Bytes of a text table whose decoding as UTF-8 decides its encoding (:func:`_encoding`).
SNIFFED_BYTES = 1 << 20
#: Text tables' suffixes, and the compressions they may come in (the opener of each).
TEXT_TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
COMPRESSIONS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


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


def _open_text(path: Path, encoding: str = "utf-8-sig"):
    """``path`` opened for reading text, through its decompressor where its suffix names one."""
    opener = COMPRESSIONS.get(path.suffix.lower(), open)
    return opener(path, "rt", newline="", encoding=encoding, errors="replace")


def _encoding(path: Path) -> str:
    """The text encoding of a table: UTF-8 (with or without a byte-order mark), UTF-16 with its
    byte-order mark, or Windows-1252.

    Excel on Windows saves "CSV" in the system's code page, Windows-1252 in most of Europe and
    the Americas; its accented names then fail to decode as UTF-8. The first
    :data:`SNIFFED_BYTES` decide; a file that is UTF-8 there and not further on is refused
    where it fails, by a message that says so (:func:`_reason`).
    """
    opener = COMPRESSIONS.get(path.suffix.lower(), open)
    with opener(path, "rb") as f:
        head = f.read(SNIFFED_BYTES)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # Excel's "Unicode text"
    if b"\x00" in head:
        raise DataFileError(
            f"could not read {str(path)!r} as a {table_suffix(path)} table: it holds NUL bytes, which "
            "text does not (cannot decode it as UTF-8, UTF-16 or Windows-1252 text)"
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        warnings.warn(
            f"{path.name!r} is not UTF-8 text (byte {head[exc.start]:#04x} at offset {exc.start}); read "
            "it as Windows-1252, the encoding Excel saves CSV in on Windows (save it as UTF-8 to be sure)",
            UserWarning,
            stacklevel=4,
        )
        return "cp1252"
    return "utf-8-sig"


class TextLayout(NamedTuple):
    """How a text table is laid out: what :func:`pandas.read_csv` needs to read it."""

    #: The delimiter; None for runs of spaces (np.savetxt's default).
    sep: str | None
    #: Whether the first row names the columns.
    header: bool
    #: The decimal mark: ',' in the semicolon-separated CSV that spreadsheets write where the
    #: comma is the decimal mark (Excel in most of Europe).
    decimal: str
    #: The thousands separator such a file may use beside a decimal comma ('1.065,5'), or None.
    thousands: str | None = None
    #: Whether the first column is a row index without a name (pandas' ``to_csv()``, R's
    #: ``write.csv``): read as the index, never as a feature.
    index: bool = False
    encoding: str = "utf-8-sig"
    #: Whether the first line is Excel's ``sep=;``, which names the delimiter and is skipped.
    sep_line: bool = False

    def read_csv_options(self) -> dict:
        """Keyword arguments of :func:`pandas.read_csv` for this layout."""
        options = {
            "sep": self.sep or r"\s+",
            "header": 0 if self.header else None,
            "decimal": self.decimal,
            "encoding": self.encoding,
        }
        if self.thousands is not None:
            options["thousands"] = self.thousands
        if self.index:
            options["index_col"] = 0
        if self.sep_line:
            options["skiprows"] = 1
        return options


def sniff(path: Path) -> TextLayout:
    """Delimiter, header, decimal mark and index column of a text table, from its first lines.

    A .txt may use tabs, commas, semicolons or runs of spaces. A .csv is semicolon-separated
    where its first line is (:func:`_semicolon_separated`), or where its rows hold as many
    semicolons as that line and commas in other numbers (a comma inside a column's name); a
    comma then is the decimal mark where its first :data:`SNIFFED_ROWS` rows write one
    (:func:`_decimal_mark`). Excel's first line ``sep=;`` names the delimiter and is skipped.
    The first row is a header if one of its cells is not a number (an empty cell is a missing
    number), or if it reads as names that are numbers (:func:`_numbers_as_names`).
    """
    encoding = _encoding(path)
    with _open_text(path, encoding) as f:
        line = f.readline()
        named = _SEP_LINE.fullmatch(line.rstrip("\r\n").strip(" "))  # keeps 'sep=\t' its tab
        if named:
            line = f.readline()
        following = [row for row in (f.readline() for _ in range(SNIFFED_ROWS)) if row.strip()]
    sep = {".csv": ",", ".tsv": "\t"}.get(table_suffix(path))
    if named:
        sep = named.group(1)
    elif sep in (None, ",") and "\t" in line and "," not in line:
        sep = "\t"  # also a .csv that holds tabs only (Excel's "Unicode text", renamed)
    elif sep in (None, ",") and _semicolon_separated(line, following):
        sep = ";"
    elif sep is None and "," in line:
        sep = ","
    decimal, thousands, ambiguous = _decimal_mark(line, following) if sep == ";" else (".", None, None)
    if ambiguous:
        warnings.warn(
            f"read numbers such as {ambiguous!r} in {path.name!r} as decimals, with a decimal point: "
            "no cell of its first rows writes a decimal comma, beside which a point would group "
            f"thousands ('1.065,5'); if {ambiguous!r} means {ambiguous.replace('.', '')}, remove the "
            "points from the file",
            UserWarning,
            stacklevel=4,
        )
    cells, rows = _cells(line, sep), [_cells(row, sep) for row in following]
    header = any(cell.strip() and not is_number(_as_point(cell, decimal, thousands)) for cell in cells)
    if not header and _numbers_as_names(cells, rows, decimal, thousands):
        header = True
        shown = ", ".join(cell.strip() for cell in cells[:4]) + (", ..." if len(cells) > 4 else "")
        warnings.warn(
            f"read the first row of {path.name!r} ({shown}) as column names: its numbers rise or fall "
            "across the columns and lie outside the rows below; if it is data, give the file a header line",
            UserWarning,
            stacklevel=4,
        )
    if header:
        check_unique_names([cell.strip() for cell in cells], path.name)
    index = header and _unnamed_index(cells, rows)
    if index:
        warnings.warn(
            f"the first column of {path.name!r} has no name and holds a whole number per row, none twice "
            "(the index pandas' to_csv writes without index=False): it is read as the row index, not as "
            "a feature",
            UserWarning,
            stacklevel=4,
        )
    return TextLayout(sep, header, decimal, thousands, index, encoding, bool(named))


def _cells(line: str, sep: str | None) -> list[str]:
    return line.split() if sep is None else next(csv.reader([line.rstrip("\r\n")], delimiter=sep), [])


def _semicolon_separated(line: str, following: list[str] = ()) -> bool:
    """Whether a first line is semicolon-separated: names or numbers between semicolons, and any
    comma in it a decimal mark ('a;b;c', '1,5;2;0,25'), not a comma-separated line ('a,b;c'); or,
    where a name holds a comma ('Gewicht (kg, netto);Länge'), the rows below hold as many
    semicolons as the first line and not as many commas."""
    if ";" not in line:
        return False
    cells = [cell for cell in line.strip().split(";") if cell]
    if "," not in line or all(is_number(cell.replace(",", ".")) for cell in cells):
        return True
    return (
        bool(following)
        and all(row.count(";") == line.count(";") for row in following)
        and not all(row.count(",") == line.count(",") for row in following)
    )


_COMMA_DECIMAL = re.compile(r"[-+]?\d*,\d+(?:[eE][-+]?\d+)?")
_POINT_DECIMAL = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?")
# No leading zero: '0.200' is a decimal, as no one groups thousands after a 0.
_POINT_THOUSANDS = re.compile(r"[-+]?[1-9]\d{0,2}(?:\.\d{3})+(?:,\d*)?")
# French and SI thousands: a space, a no-break space or a narrow one ('1 042,51').
_SPACE_THOUSANDS = re.compile(r"[-+]?[1-9]\d{0,2}(?:[ \u00a0\u202f]\d{3})+(?:[,.]\d*)?")
# US and UK thousands: commas between groups of three digits, a point before any decimals
# ('1,103.7', '-12,500'), what pandas reads with thousands=','.
_COMMA_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
#: Excel's first line naming the delimiter ('sep=;'), which some tools pad with more of it.
_SEP_LINE = re.compile(r'"?sep=([^"\r\n])"?\1*')


def _decimal_mark(line: str, following: list[str]) -> tuple[str, str | None, str | None]:
    """A semicolon-separated table's decimal mark and thousands separator, and a cell whose point
    might be either (else None), from its first lines.

    A comma where a cell writes a decimal comma, or where points group more than one thousand
    ('1.065.300'); points between groups of three digits beside a decimal comma ('1.065,5')
    separate thousands. Otherwise a point: '5.100' in a table without a comma is 5.1, as Python
    and pandas read it, and a table whose first rows hold whole numbers has its decimal marks,
    whichever, further down (:func:`tidy`). Where the only points are such as '5.100' (no '0.2',
    no '5.1'), that cell is returned for a warning.
    """
    rows = (line, *following)
    cells = [_without_space_groups(cell.strip().strip('"')) for row in rows for cell in row.split(";")]
    grouped = [cell for cell in cells if _POINT_THOUSANDS.fullmatch(cell)]
    comma = any(_COMMA_DECIMAL.fullmatch(cell) for cell in cells) or any("," in cell for cell in grouped)
    point = any(_POINT_DECIMAL.fullmatch(cell) for cell in cells if cell not in grouped)
    if comma:
        return ",", "." if grouped and not point else None, None
    if point or not grouped:
        return ".", None, None
    if any(cell.count(".") > 1 for cell in grouped):
        return ",", ".", None
    return ".", None, grouped[0]


def _without_space_groups(cell: str) -> str:
    """``cell`` without the spaces that group its thousands ('1 042,51' -> '1042,51')."""
    return re.sub(r"[ \u00a0\u202f]", "", cell) if _SPACE_THOUSANDS.fullmatch(cell) else cell


def regional_numbers(values: pd.Series, thousands: bool = False) -> pd.Series:
    """Text cells read as numbers as a spreadsheet in Europe writes them: a decimal comma or
    point, thousands grouped by spaces ('1 042,51') or, with ``thousands`` or beside a decimal
    comma in ``values``, by points ('1.065,5', '1.065'); NaN where a cell is not a number.

    Points group thousands only where the column or the table (``thousands``) shows decimal
    commas: without them '6.508' is 6.508, as Python reads it.
    """
    text = values.astype("string").str.strip()
    spaced = text.str.fullmatch(_SPACE_THOUSANDS.pattern).fillna(False).astype(bool)
    text = text.where(~spaced, text.str.replace(r"[ \u00a0\u202f]", "", regex=True))
    grouped = text.str.fullmatch(_POINT_THOUSANDS.pattern).fillna(False).astype(bool)
    commas = text.str.fullmatch(_COMMA_DECIMAL.pattern).fillna(False).astype(bool) | (
        grouped & text.str.contains(",", regex=False).fillna(False).astype(bool)
    )
    if thousands or commas.any():
        text = text.where(~grouped, text.str.replace(".", "", regex=False))
    return pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")


def _as_point(cell: str, decimal: str, thousands: str | None) -> str:
    """``cell`` written as Python reads numbers (no thousands separator, a decimal point); in a
    table with a decimal point, a number with thousands commas ('1,103.7') is one (:func:`tidy`)."""
    if thousands:
        cell = cell.replace(thousands, "")
    elif decimal == "." and _COMMA_THOUSANDS.fullmatch(cell.strip().strip('"')):
        return cell.strip().strip('"').replace(",", "")
    return cell.replace(decimal, ".")


def _numbers_as_names(cells: list[str], rows: list[list[str]], decimal: str, thousands: str | None) -> bool:
    """Whether a first row of numbers names the columns: wavelengths, years, frequencies.

    Such a row rises (or falls) across at least three columns, in most columns lies outside the
    range of the rows below (spectra of values near 5 under '400, 410, ...' nm), and is written
    as names are: on a regular grid (wavelengths, years), or in whole numbers above decimals. A
    data row that rises across its columns lies among its neighbours; the largest row of a
    table sorted by size (cumulative sales, their first row above all the others) is neither
    regular nor written otherwise than the rows below.
    """
    if len(cells) < 3 or not all(cell.strip() for cell in cells):
        return False
    first = np.array([float(_as_point(cell, decimal, thousands)) for cell in cells])
    steps = np.diff(first)
    if not (np.all(steps > 0) or np.all(steps < 0)):
        return False
    below = []
    for row in rows:
        if len(row) != len(cells):
            continue
        values = [_as_point(cell, decimal, thousands) for cell in row]
        if all(is_number(value) for value in values if value.strip()):
            below.append([float(value) if value.strip() else np.nan for value in values])
    if len(below) < 2:
        return False
    below_array = np.array(below)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-empty column
        low, high = np.nanmin(below_array, axis=0), np.nanmax(below_array, axis=0)
    outside = (first < low) | (first > high)
    if not outside.mean() > 0.5:
        return False
    regular = bool(np.allclose(steps, steps[0], rtol=1e-3, atol=0.0))
    whole = all(re.fullmatch(r"[-+]?\d+", cell.strip()) for cell in cells)
    decimals = np.isfinite(below_array) & (below_array != np.round(below_array))
    return regular or (whole and bool(decimals.mean() > 0.5))


def _unnamed_index(cells: list[str], rows: list[list[str]]) -> bool:
    """Whether the first column is an unnamed row index: an empty name over whole numbers, none
    twice (0, 1, 2, ...; or a slice's 100, 101, ...; or a shuffled split's 37, 5, 120, ...)."""
    if not cells or cells[0].strip() or len(rows) < 2:
        return False
    first = [row[0].strip() if row else "" for row in rows]
    if not all(re.fullmatch(r"-?\d+", value) for value in first):
        return False
    return len({int(value) for value in first}) == len(first)


def is_number(text: str) -> bool:
    """Whether ``text`` reads as a number (a header cell does not)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_unique_names(names: list[str], source: str) -> None:
    """Refuse a table whose columns repeat a name, as a DataFrame's are refused: pandas would read
    the second ``a`` of a CSV as ``a.1``, and a drop or a model's column of that name would mean
    the first one only."""
    counts = Counter(name for name in names if name)
    repeated = [name for name, count in counts.items() if count > 1]
    if repeated:
        raise InvalidInputError(
            f"{source!r} has columns with the same name ({', '.join(map(repr, repeated[:5]))}); "
            "expected unique column names (the model finds its columns by name)"
        )


def tidy(df: pd.DataFrame, layout: TextLayout, source: str = "the table") -> pd.DataFrame:
    """Column names without the spaces around them (' a , b '), and in a semicolon-separated
    table, numbers written in a way the first rows did not show ('0,5' far down, below whole
    numbers; '1 042,51') read as numbers (:func:`regional_numbers`); in another table with a
    decimal point, numbers with thousands commas ('1,103.7') too (:func:`_read_comma_thousands`).
    ``source`` names the file, for a warning."""
    if layout.header:
        df.columns = [name.strip() if isinstance(name, str) else name for name in df.columns]
    if layout.sep != ";" and layout.decimal == ".":
        _read_comma_thousands(df, source)
    elif layout.sep == ";":
        for column in df.columns:
            values = df[column]
            if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
                continue
            numbers = regional_numbers(values, thousands=layout.decimal == ",")
            if numbers.notna().sum() == values.notna().sum():
                df[column] = numbers.astype(np.float64)
    return df


def comma_thousands(values: pd.Series) -> pd.Series | None:
    """A text column of numbers written with thousands commas ('1,103.7', '12,500'), beside plain
    numbers, as numbers; None where a cell is neither, or none has a thousands comma.

    Examples
    --------
    >>> comma_thousands(pd.Series(["1,103.7", "950", None])).tolist()
    [1103.7, 950.0, nan]
    >>> comma_thousands(pd.Series(["1,5", "2"])) is None
    True
    """
    text = values.dropna().astype(str).str.strip()
    grouped = text.str.fullmatch(_COMMA_THOUSANDS.pattern)
    if not len(text) or not grouped.any() or not (grouped | text.str.fullmatch(_PLAIN_NUMBER.pattern)).all():
        return None
    return pd.to_numeric(values.where(values.isna(), values.astype(str).str.strip().str.replace(",", "")))


def _read_comma_thousands(df: pd.DataFrame, name: str) -> None:
    """Read in place the text columns of ``df`` (a table with a decimal point) that hold numbers
    with thousands commas ('1,103.7'), as pandas' ``thousands=','`` would.

    Column by column, not with ``thousands=','`` for the whole file: that would also read a
    quoted '1,5' (a decimal comma some exports write in a comma-separated file) as 15. A comma
    is a thousands separator beyond doubt where a cell groups more than one thousand
    ('1,234,567') or writes decimals after its groups ('1,103.7'), or the table writes decimal
    points elsewhere ('0.054'): its decimal mark is the point. A column of cells such as '1,234'
    only is read the same way, as the semicolon rule reads '5.100' in the table's own convention:
    a comma-separated file comes from where the point is the decimal mark (spreadsheets that
    write decimal commas separate by semicolons); with a warning, as there. Unless another
    column writes decimal commas ('0,5'): then '1,234' may be 1.234, and is left as text, which
    the numeric check refuses.
    """
    texts = [
        c for c in df.columns if pd.api.types.is_object_dtype(df[c]) or pd.api.types.is_string_dtype(df[c])
    ]
    for column in texts:
        numbers = comma_thousands(df[column])
        if numbers is None:
            continue
        cells = df[column].dropna().astype(str).str.strip()
        grouped = cells[cells.str.fullmatch(_COMMA_THOUSANDS.pattern)]
        sure = bool((grouped.str.count(",") > 1).any() or cells.str.contains(".", regex=False).any())
        # The rest of the table is read only for a column that leaves it open (its cells alone).
        sure = sure or any(
            pd.api.types.is_float_dtype(df[c]) and bool((df[c].dropna() % 1 != 0).any()) for c in df.columns
        )
        if not sure and any(_comma_decimals(df[c]) for c in texts if c != column):
            continue
        df[column] = numbers.astype(np.float64)
        if not sure:
            example = grouped.iloc[0]
            warnings.warn(
                f"read numbers such as {example!r} in column {column!r} of {name!r} as thousands grouped "
                f"by commas ({example.replace(',', '')}): no cell of the table writes a decimal point or "
                f"comma; if {example!r} means {example.replace(',', '.')}, write its decimal mark as a point",
                UserWarning,
                stacklevel=5,
            )


def _comma_decimals(values: pd.Series) -> bool:
    """Whether a text column writes a decimal comma ('0,5', '12,34'), not thousands ('1,234')."""
    cells = values.dropna().astype(str).str.strip()
    return bool(
        (cells.str.fullmatch(_COMMA_DECIMAL.pattern) & ~cells.str.fullmatch(_COMMA_THOUSANDS.pattern)).any()
    )
