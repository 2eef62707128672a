"""Reading a command's DATA: built-in sets, array and table files, IDX and image folders, models.

Every command that reads data or a saved model goes through here, so that DATA means the same
to each of them and a table is read by the columns its model was fitted on.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from hourglass.cli.app import echo
from hourglass.data.builtin import BUILTIN_DATASETS, missing_builtin
from hourglass.exceptions import IdentifierColumnWarning, InvalidInputError

if TYPE_CHECKING:  # annotations only; the functions import what they use
    import numpy as np
    import pandas as pd

    from hourglass.data.loading import Dataset
    from hourglass.data.table import TableSchema


DATA_HELP = (
    "A .npy, .npz (with --key), .csv/.tsv/.txt (also .gz, .bz2, .xz) or .parquet file (numeric "
    "columns; header detected), "
    "a folder of IDX files, a folder of images (with --arch conv), or a built-in set: "
    + ", ".join(BUILTIN_DATASETS)
)


def existing_source(data: str) -> str:
    """``DATA`` as given, once it names a built-in set, an address or a path that exists.

    Checked while the command line is read, before the command imports torch and scikit-learn:
    a mistyped file name waited 3-13 s for them to say so, and so did a built-in set whose files
    are not installed (Fashion-MNIST without its Debian package).
    """
    from hourglass.cli.app import fail

    if data in BUILTIN_DATASETS:
        missing = missing_builtin(data)
        if missing is not None:
            raise fail(missing)
        return data
    if "://" in data or Path(data).exists():
        return data  # an address is refused by the loader, with its reason
    raise fail(f"no such file or folder: {data!r}")


def load_input(
    source: str,
    key: str | None = None,
    flat: bool = True,
    drop: str | None = None,
    label: str | None = None,
    table: TableSchema | None = None,
) -> Dataset:
    """Load DATA for a command (built-in name, array or table file, IDX folder).

    ``drop`` is the ``--drop`` option's comma-separated column list and ``label`` the
    ``--label`` column, both for tables only; ``table`` the schema of the table a model was
    fitted on, whose columns a table's features are then selected by.
    """
    from hourglass.data.loading import load_data
    from hourglass.data.table_files import split_column_list, table_header

    # By the table's header: a name may hold a comma ('name, full').
    columns = split_column_list(drop, table_header(source)) if drop else None
    try:
        return load_data(source, key, flat=flat, drop=columns, label=label, table=table)
    except InvalidInputError as exc:
        # Name the flag the user typed rather than the Python parameter.
        message = str(exc)
        for option in ("drop", "label"):
            if message.startswith(option + " "):
                message = "--" + message
        message = message.replace("among the columns to drop", "among the --drop columns")
        message = message.replace("remove it from drop", "remove it from --drop")
        raise InvalidInputError(message) from None


@contextmanager
def identifiers_said(dataset: Dataset | None) -> Iterator[None]:
    """Keep an estimator from warning again of columns that look like identifiers in a table:
    reading it named them, with ``--drop`` (the estimator gets its values without their names)."""
    with warnings.catch_warnings():
        if dataset is not None and dataset.schema is not None:
            warnings.filterwarnings("ignore", category=IdentifierColumnWarning)
        yield


def is_image_folder(source: str) -> bool:
    """True for a folder that holds pictures rather than IDX files."""
    path = Path(source)
    return path.is_dir() and not any(p.name.removesuffix(".gz").endswith("-ubyte") for p in path.iterdir())


def report_sample(
    dataset: Dataset, quiet: bool, among: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None, str]:
    """The data a report or a comparison uses: all of it, or a stated sample of streamed data.

    ``among``: only these rows (a fit's training rows). Returns the rows, their labels and the
    data's name (saying the sample when there is one).
    """
    from hourglass.data.sources import sample_rows, streams

    if not streams(dataset.X):
        if among is None:
            return dataset.X, dataset.y, dataset.name
        return dataset.X[among], None if dataset.y is None else dataset.y[among], dataset.name
    rows, picks, how = sample_rows(dataset.X)
    labels = dataset.y[picks] if dataset.y is not None else None
    if among is not None:
        import numpy as np

        keep = np.isin(picks, among)
        rows, labels = rows[keep], None if labels is None else labels[keep]
        how += f", the {int(keep.sum())} of them the model trained on"
    echo(f"{dataset.name} is streamed from disk; the report and comparison use {how}", quiet)
    return rows, labels, f"{dataset.name} ({how})"


def load_model(model: Path):
    """Load a saved model folder (any registered estimator)."""
    from hourglass.estimators.persistence import load

    return load(model)


def is_dense(estimator) -> bool:
    """True when the model reads rows of features rather than images or series."""
    architecture = getattr(estimator, "architecture_", None)
    # A dense config has input_dim (the plain and the variational one); a conv config input_shape.
    return architecture is None or hasattr(architecture, "input_dim")


def table_of(estimator) -> TableSchema | None:
    """The schema of the table a model (or the autoencoder inside a detector) was fitted on."""
    inner = getattr(estimator, "estimator_", estimator)
    return getattr(inner, "table_", None)


def feature_names(estimator) -> list[str] | None:
    """The names of the columns a model reads (and writes back, decoded), when it has them.

    A model fitted on a DataFrame keeps them in ``feature_names_in_``; one fitted on a table
    through the CLI, which reads the table itself, in its table's schema.
    """
    inner = getattr(estimator, "estimator_", estimator)
    names = getattr(inner, "feature_names_in_", None)
    if names is None:
        schema = table_of(inner)
        names = schema.features if schema is not None else None
    return None if names is None else [str(name) for name in names]


def load_for_model(
    estimator,
    data: str,
    key: str | None,
    drop: str | None = None,
    label: str | None = None,
    quiet: bool = False,
) -> Dataset:
    """DATA shaped for the model: rows for dense models, images for convolutional ones.

    A table's features are the columns the model was fitted on, selected by name (ids, the
    label and any other column are ignored); ``drop`` and ``label`` say more for a table laid
    out otherwise. A folder of images is read at the size and in the colours the model was
    fitted on (a notice on stderr says what that changed, unless ``quiet``), keyed by the
    files' paths in the folder.
    """
    if is_dense(estimator):
        if is_image_folder(data) and any(_image_paths(data)):
            inner = getattr(estimator, "estimator_", estimator)
            raise InvalidInputError(
                f"{data!r} is a folder of images, which only a convolutional model reads; this model is "
                f"dense, fitted on rows of {inner.n_features_in_} features"
            )
        dataset = load_input(data, key, flat=True, drop=drop, label=label, table=table_of(estimator))
        _check_width(estimator, data, dataset)
        return dataset
    if is_image_folder(data):
        return _image_folder(estimator, data, quiet)
    dataset = load_input(data, key, flat=False, drop=drop, label=label)
    _check_sample_shape(estimator, data, tuple(getattr(dataset.X, "shape", ())))
    return dataset


def _check_width(estimator, data: str, dataset: Dataset) -> None:
    """Refuse rows of another width than the dense model's, naming the file DATA: scikit-learn's
    "X has 10 features, but AutoEncoder is expecting 64" named neither the file nor the option."""
    expected = getattr(getattr(estimator, "estimator_", estimator), "n_features_in_", None)
    shape = getattr(dataset.X, "shape", ())
    if expected is not None and len(shape) == 2 and shape[1] != expected:
        raise InvalidInputError(
            f"{data!r} has {shape[1]} features per row; this model was fitted on {expected}"
        )


def _check_sample_shape(estimator, data: str, shape: tuple[int, ...]) -> None:
    """Refuse samples of another shape than the conv model's, naming the file DATA: the model's own
    "X has samples of shape (3, 8, 8) ... (use apply_image ...)" named neither the file nor a command."""
    expected = tuple(int(s) for s in getattr(getattr(estimator, "estimator_", estimator), "input_shape_", ()))
    if not expected or len(shape) < 2:
        return
    sample = shape[1:]
    if len(sample) == len(expected) - 1 and expected[0] == 1:
        sample = (1, *sample)  # one channel given without its axis: (n, h, w) gray images, read as fitted
    if sample == expected:
        return
    hint = ""
    if len(expected) == 3 and len(sample) == 3 and sample[0] == expected[0]:
        hint = "; 'hourglass apply MODEL IMAGES -o FOLDER' processes images of another size in tiles"
    elif len(sample) == 1 and sample[0] == math.prod(expected):
        hint = f"; save them reshaped to (n, {', '.join(map(str, expected))})"
    what = f"rows of {sample[0]} values" if len(sample) == 1 else f"samples of shape {sample}"
    raise InvalidInputError(
        f"{data!r} has {what}; this model was fitted on samples of shape {expected}" + hint
    )


def _check_image_size(estimator, data: str) -> None:
    """Refuse one image file of another size than the conv model's images, naming the file (a folder's
    images are resized; one image is not, and the model's own error named neither file nor command)."""
    from hourglass.data.images import load_image

    expected = tuple(int(s) for s in getattr(getattr(estimator, "estimator_", estimator), "input_shape_", ()))
    if len(expected) != 3:
        return  # refused with its reason by _read_as_fitted
    # Read as the model reads it (a phone photo's EXIF turn swaps its sides); one image, read twice.
    height, width = load_image(data, mode="L").shape[1:]
    if (height, width) != expected[1:]:
        raise InvalidInputError(
            f"{data!r} is a {height}x{width} image; this model was fitted on {expected[1]}x{expected[2]} "
            "images; for images of another size, 'hourglass apply MODEL IMAGES -o FOLDER' processes them "
            "in tiles"
        )


def _image_paths(folder: str) -> list[Path]:
    from hourglass.data.images import _list_images

    return _list_images(Path(folder))


def _read_as_fitted(estimator, data: str) -> tuple[tuple[int, ...], str]:
    """The ``(c, h, w)`` a conv model reads images as, and the colour mode that gives ``c``."""
    from hourglass.estimators.inputs.grids import GridPart

    inner = getattr(estimator, "estimator_", estimator)
    shape = tuple(int(s) for s in inner.input_shape_)
    if len(shape) != 3:
        raise InvalidInputError(
            f"{data!r} holds images, but this model reads samples of shape "
            f"{'x'.join(map(str, shape))}, not images (c, h, w)"
        )
    return shape, GridPart.folder_mode(inner)


def announce_resizing(estimator, data: str, quiet: bool) -> None:
    """Say on stderr (unless ``quiet``) when the images of the folder DATA are resized or turned
    gray to be read as the model was fitted: silently, a wrong folder looks like a working one.

    One image file is not resized (one of another size is refused), only turned gray."""
    if quiet:
        return
    from hourglass.data.images import list_files

    shape, mode = _read_as_fitted(estimator, data)
    if Path(data).is_file():
        _say_changes([Path(data)], shape, mode, resized=False)
        return
    paths, left_out = list_files(Path(data))  # the files of other types are counted too
    _say_changes(paths, shape, mode, left_out=left_out)


def _say_changes(
    paths: list[Path], shape: tuple[int, ...], mode: str, resized: bool = True, left_out=()
) -> None:
    """The notice of :func:`announce_resizing` for ``paths`` read as ``shape`` in ``mode``
    (``left_out``: the folder's files of other types, counted)."""
    from hourglass.data.images import folder_notice

    notice = folder_notice(paths, shape[1:] if resized else None, mode, left_out)
    if notice is not None:
        typer.echo(f"{notice}: the model reads {'x'.join(map(str, shape))} images", err=True)


def _image_folder(estimator, data: str, quiet: bool) -> Dataset:
    """The images of the folder DATA as the model reads them, keyed by their paths in the folder."""
    import pandas as pd

    from hourglass.data.images import ImageFolder
    from hourglass.data.loading import Dataset

    shape, mode = _read_as_fitted(estimator, data)
    images = ImageFolder(data, size=shape[1:], mode=mode)
    if not quiet:  # the folder as listed once, for the notice and the reading
        _say_changes(images.paths, shape, mode, left_out=images.left_out)
    files = [path.relative_to(images.root).as_posix() for path in images.paths]
    name = Path(data).resolve().name or str(data)
    return Dataset(images.to_array(), image_shape=shape, name=name, keys=pd.DataFrame({"file": files}))


def model_rows(estimator, dataset: Dataset) -> Any:
    """``dataset.X`` as the model takes it: with its column names when the model was fitted on them."""
    from hourglass.data.sources import streams

    names = getattr(estimator, "feature_names_in_", None)
    if names is None or dataset.feature_names is None:
        return dataset.X
    if streams(dataset.X):
        return dataset.X  # selected by name already; a DataFrame would read it all into memory
    import pandas as pd

    return pd.DataFrame(dataset.X, columns=dataset.feature_names)


def model_input(estimator, data: str, *options: Any, **named: Any):
    """DATA as the model takes it (see :func:`load_for_model`); a conv model reads an image folder,
    or one image file, itself (as ``apply`` takes one), after a notice of any resizing. The options
    are :func:`keyed_model_input`'s."""
    return keyed_model_input(estimator, data, *options, **named)[0]


def keyed_model_input(
    estimator,
    data: str,
    key: str | None,
    drop: str | None = None,
    label: str | None = None,
    quiet: bool = False,
):
    """:func:`model_input`, and a function that puts DATA's key columns before a table of its
    results (:func:`with_key_columns`): codes and reconstructions join back by key, as scores do."""
    from hourglass.data.images import IMAGE_SUFFIXES

    one_image = Path(data).suffix.lower() in IMAGE_SUFFIXES and Path(data).is_file()
    if not is_dense(estimator) and (is_image_folder(data) or one_image):
        if one_image:
            _check_image_size(estimator, data)
        announce_resizing(estimator, data, quiet)
        return data, None
    dataset = load_for_model(estimator, data, key, drop, label, quiet)
    return model_rows(estimator, dataset), lambda table: with_key_columns(estimator, dataset, table)


def with_key_columns(estimator, dataset: Dataset, results: pd.DataFrame) -> pd.DataFrame:
    """``results`` behind the columns of the table DATA that the model does not read (an id, a
    date), so that they join back by key rather than by row order.

    Only for a model fitted on a table with column names, and DATA read whole from a table with
    a header (:attr:`~hourglass.data.loading.Dataset.keys`); not a table streamed from disk or
    an array. A conv model's results on a folder of images go behind a ``file`` column, each
    image's path in the folder. Columns named like one of the results' own are left out.
    """
    import pandas as pd

    schema, keys = table_of(estimator), dataset.keys
    # A conv model's keys are those of an image folder (its files' paths), which nothing else has.
    by_name = not is_dense(estimator) or (schema is not None and schema.features is not None)
    if not by_name or keys is None or len(keys) != len(results):
        return results
    taken = {str(c) for c in results.columns}
    keys = keys[[c for c in keys.columns if str(c) not in taken]]
    return pd.concat([keys, results], axis=1) if keys.shape[1] else results
