"""Writing a command's results: arrays (whole, or batch by batch when streamed) and report paths."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hourglass.cli.app import echo
from hourglass.data.fileio import atomic_path, check_writable
from hourglass.exceptions import InvalidInputError

if TYPE_CHECKING:  # annotations only; the functions import what they use
    import numpy as np
    import pandas as pd


def fitting_columns(array: np.ndarray, columns: Sequence[str] | None) -> list[str] | None:
    """``columns`` as a .csv header for ``array`` when there is one name per column, else None.

    Names of another width (a model whose rows are not its table's columns) would mislabel the
    values: the header is then c0, c1, ... as for data without names.
    """
    fits = columns is not None and array.ndim == 2 and len(columns) == array.shape[1]
    return list(columns) if fits else None


def write_array(
    path: Path,
    array: np.ndarray,
    force: bool,
    quiet: bool,
    what: str,
    columns: Sequence[str] | None = None,
    keyed: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> None:
    """Write ``array`` to ``path`` (.npy, .npz, .csv or .parquet); a table's columns are ``columns`` when
    they fit, behind the key columns ``keyed`` adds (:func:`~hourglass.cli.inputs.keyed_model_input`)."""
    import pandas as pd

    from hourglass.data.saving import TABLE_SAVE_SUFFIXES, save_array, save_table

    if keyed is not None and Path(path).suffix.lower() in TABLE_SAVE_SUFFIXES and array.ndim == 2:
        names = fitting_columns(array, columns) or [f"c{i}" for i in range(array.shape[1])]
        table = keyed(pd.DataFrame(array, columns=names))
        save_table(path, table, force)
        echo(f"wrote {what} of shape {tuple(array.shape)} to {path}{_keys_words(table, names)}", quiet)
        return
    save_array(path, array, force=force, columns=fitting_columns(array, columns))
    echo(f"wrote {what} of shape {tuple(array.shape)} to {path}", quiet)


def refuse_csv_of_grids(path: Path, estimator: Any, what: str) -> None:
    """Refuse a table (.csv, .parquet) for the ``what`` of a model of grids (images, series), before any work.

    A table holds rows; a conv model's results are ``(n, c, ...)`` grids, which only failed on
    writing ('a .csv needs 2-D data'), after the work, without saying what to write instead.
    """
    from hourglass.cli.inputs import is_dense
    from hourglass.data.saving import TABLE_SAVE_SUFFIXES

    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_SAVE_SUFFIXES or is_dense(estimator):
        return
    shape = tuple(getattr(estimator, "input_shape_", ()))
    images = len(shape) == 3
    grids = "images" if images else ("series" if len(shape) == 2 else "grids")
    hint = (
        "; or write images: 'hourglass apply MODEL IMAGES -o FOLDER' writes one image per input "
        "at its own size"
        if images
        else ""
    )
    raise InvalidInputError(
        f"-o {str(path)!r}: a {suffix} holds rows (2-D data), but this model's {what} are {grids} of "
        f"shape (n, {', '.join(map(str, shape))}); write a .npy or .npz, which keep any shape{hint}"
    )


def write_result(
    path: Path,
    compute,
    X: Any,
    force: bool,
    quiet: bool,
    what: str,
    columns: Sequence[str] | None = None,
    keyed: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> None:
    """Write ``compute(X)`` (a model method taking ``out=``) to ``path``; a table's columns are ``columns``,
    behind the key columns ``keyed`` adds (:func:`~hourglass.cli.inputs.keyed_model_input`).

    When ``X`` is streamed from a file (:func:`~hourglass.data.sources.streams`) and the output
    is a ``.npy``, the result is written batch by batch into a memory map of the output's
    temporary name, renamed onto ``path`` once complete: neither is held in memory whole, and
    a kill leaves the old file or none, never half of one. Other outputs are computed whole.
    """
    import numpy as np

    from hourglass.data.sources import streams

    if Path(path).suffix.lower() != ".npy" or not streams(X):
        write_array(path, compute(X), force, quiet, what, columns, keyed)
        return
    first = compute(X[:1])  # the shape and dtype of one row's result
    shape = (int(X.shape[0]), *first.shape[1:])
    check_writable(path, force)
    with atomic_path(path) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=first.dtype, shape=shape)
        compute(X, out=out)
        out.flush()
        del out  # unmapped before the rename
    echo(f"wrote {what} of shape {shape} to {path}, batch by batch", quiet)


def _keys_words(table: pd.DataFrame, names: Sequence[str]) -> str:
    """`` after its key columns id, date`` where ``table`` has columns besides ``names``."""
    keys = [str(c) for c in table.columns[: table.shape[1] - len(names)]]
    return f" after its key column{'s' if len(keys) > 1 else ''} {', '.join(keys)}" if keys else ""


def output_path(output: Path | None, old: Path | None, what: str) -> Path:
    """``-o/--output``, or the older ``--out`` it replaced; one of them is required."""
    if output is not None and old is not None and output != old:
        raise InvalidInputError(
            f"--output {str(output)!r} and --out {str(old)!r} disagree; give --output once"
        )
    if output is None and old is None:
        raise InvalidInputError(f"missing option --output (-o), {what} to write; see hourglass fit --help")
    return output if output is not None else old


#: Suffixes of files, not folders: data, tables, images, models of other tools, archives, documents.
#: A folder output named so (``fit -o model.npz``) is what no one typing it meant.
FILE_SUFFIXES = frozenset(
    {
        *(".npy", ".npz", ".csv", ".tsv", ".txt", ".parquet", ".json", ".jsonl", ".h5", ".hdf5", ".mat"),
        *(".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"),
        *(".onnx", ".pt", ".pth", ".pkl", ".pickle", ".joblib", ".safetensors", ".ckpt"),
        *(".gz", ".bz2", ".xz", ".zip", ".tar", ".html", ".htm", ".pdf"),
    }
)


def names_a_file(path: Path) -> bool:
    """Whether ``path`` ends in a file's suffix (:data:`FILE_SUFFIXES`) and is no folder yet.

    A folder of that name that exists already (an earlier run's) is a folder, and stays usable.
    """
    return Path(path).suffix.lower() in FILE_SUFFIXES and not Path(path).is_dir()


def refuse_file_name_for_folder(path: Path, what: str) -> None:
    """Refuse ``-o`` naming a file (``model.npz``) where the command writes ``what``, a folder:
    before any work, rather than a folder ``model.npz`` holding a model.

    Raises
    ------
    InvalidInputError
        If ``path`` ends in a file's suffix and is not an existing folder.
    """
    if names_a_file(path):
        raise InvalidInputError(
            f"--output {str(path)!r} names a {Path(path).suffix} file, but this command writes {what}; "
            "expected a folder name (without a file suffix)"
        )


def report_file(path: str | Path) -> Path:
    """The file a ``--report PATH`` names: PATH when it ends in ``.html``, else ``PATH/report.html``.

    Examples
    --------
    >>> report_file("r.html"), report_file("out")
    (PosixPath('r.html'), PosixPath('out/report.html'))
    """
    path = Path(path)
    return path if path.suffix.lower() in (".html", ".htm") else path / "report.html"
