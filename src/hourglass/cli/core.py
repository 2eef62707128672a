"""Core commands: fit, encode, decode, reconstruct, compare, info, demo."""

from __future__ import annotations

import importlib
import json
import shutil
from contextlib import contextmanager, nullcontext
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hourglass import registry
from hourglass.cli.app import command, echo
from hourglass.cli.options import (
    MAX_SEED,
    declared_annotations,
    estimator_params,
    flags_in_errors,
    parse_ints,
    with_declared_options,
)
from hourglass.data.builtin import BUILTIN_DATASETS
from hourglass.data.fileio import atomic_path, check_writable, output_lock
from hourglass.exceptions import HourglassError, InvalidInputError, OutputExistsError, TrainingDivergedError
from hourglass.train.budget import parse_duration

if TYPE_CHECKING:  # annotations only; the commands import what they use
    import numpy as np

    from hourglass.data.loading import Dataset
    from hourglass.data.table import TableSchema


#: ``hourglass demo``'s training time, shared by its code sizes: it finishes in about this, plus
#: PCA, the report and start-up.
DEMO_TIME = "30s"

DATA_HELP = (
    "A .npy, .npz (with --key), .csv/.tsv/.txt or .parquet file (numeric columns; header detected), "
    "a folder of IDX files, a folder of images (with --arch conv), or a built-in set: "
    + ", ".join(BUILTIN_DATASETS)
)


#: ``--arch``: the kinds of :mod:`hourglass.registry` that ``fit`` trains, in its order.
Arch = Enum("Arch", {name: name for name in registry.FIT_ARCHS}, type=str)


class CompareArch(str, Enum):
    """The autoencoders ``compare`` sets against PCA (both deterministic, like PCA)."""

    dense = "dense"
    conv = "conv"


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

    columns = [name.strip() for name in drop.split(",") if name.strip()] if drop else None
    try:
        return load_data(source, key, flat=flat, drop=columns, label=label, table=table)
    except InvalidInputError as exc:
        # Name the flag the user typed rather than the Python parameter.
        message = str(exc)
        for option in ("drop", "label"):
            if message.startswith(option + " "):
                message = "--" + message
        raise InvalidInputError(message) from None


def is_image_folder(source: str) -> bool:
    """True for a folder that holds pictures rather than IDX files."""
    path = Path(source)
    return path.is_dir() and not any(p.name.removesuffix(".gz").endswith("-ubyte") for p in path.iterdir())


def write_array(path: Path, array: np.ndarray, force: bool, quiet: bool, what: str) -> None:
    from hourglass.data.loading import save_array

    save_array(path, array, force=force)
    echo(f"wrote {what} of shape {tuple(array.shape)} to {path}", quiet)


def write_result(path: Path, compute, X: Any, force: bool, quiet: bool, what: str) -> None:
    """Write ``compute(X)`` (a model method taking ``out=``) to ``path``.

    When ``X`` is streamed from a file (:func:`~hourglass.data.sources.streams`) and the output
    is a ``.npy``, the result is written batch by batch into a memory map of the output's
    temporary name, renamed onto ``path`` once complete: neither is held in memory whole, and
    a kill leaves the old file or none, never half of one. Other outputs are computed whole.
    """
    import numpy as np

    from hourglass.data.sources import streams

    if Path(path).suffix.lower() != ".npy" or not streams(X):
        write_array(path, compute(X), force, quiet, what)
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


def report_sample(dataset: Dataset, quiet: bool) -> tuple[np.ndarray, np.ndarray | None, str]:
    """The data a report or a comparison uses: all of it, or a stated sample of streamed data.

    Returns the rows, their labels and the data's name (saying the sample when there is one).
    """
    from hourglass.data.sources import sample_rows, streams

    if not streams(dataset.X):
        return dataset.X, dataset.y, dataset.name
    rows, picks, how = sample_rows(dataset.X)
    echo(f"{dataset.name} is streamed from disk; the report and comparison use {how}", quiet)
    labels = dataset.y[picks] if dataset.y is not None else None
    return rows, labels, f"{dataset.name} ({how})"


def output_path(output: Path | None, old: Path | None, what: str) -> Path:
    """``-o/--output``, or the older ``--out`` it replaced; one of them is required."""
    if output is not None and old is not None and output != old:
        raise InvalidInputError(
            f"--output {str(output)!r} and --out {str(old)!r} disagree; give --output once"
        )
    if output is None and old is None:
        raise InvalidInputError(f"missing option --output (-o), {what} to write; see hourglass fit --help")
    return output if output is not None else old


# Options shared by several commands.
#: ``--out``, the older name of ``-o/--output`` on fit and demo: still accepted, not shown.
OldOut = Annotated[Path | None, typer.Option("--out", hidden=True)]
Force = Annotated[bool, typer.Option("--force", help="Overwrite outputs that exist already.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or messages.")]
Key = Annotated[str | None, typer.Option("--key", help="Array name inside a .npz file.")]
#: Help of every --report: one rule, so that a PATH means the same to every command.
REPORT_HELP = (
    "Also write an HTML report: to PATH itself when it ends in .html, else to PATH/report.html "
    "(the folder is made)."
)
ReportPath = Annotated[Path | None, typer.Option("--report", help=REPORT_HELP, metavar="PATH")]


def report_file(path: str | Path) -> Path:
    """The file a ``--report PATH`` names: PATH when it ends in ``.html``, else ``PATH/report.html``.

    Examples
    --------
    >>> report_file("r.html"), report_file("out")
    (PosixPath('r.html'), PosixPath('out/report.html'))
    """
    path = Path(path)
    return path if path.suffix.lower() in (".html", ".htm") else path / "report.html"


Drop = Annotated[
    str | None,
    typer.Option(
        "--drop",
        metavar="COL[,COL]",
        help="Tables: columns that are not features (names from the header, or 0-based positions).",
    ),
]
Label = Annotated[
    str | None,
    typer.Option(
        "--label",
        metavar="COL",
        help="Tables: the column holding each row's label; it colours the code map and is never a feature.",
    ),
]
ModelArg = Annotated[Path, typer.Argument(help="A model folder written by 'hourglass fit'.", metavar="MODEL")]
DataArg = Annotated[str, typer.Argument(help=DATA_HELP, metavar="DATA")]
OutFile = Annotated[Path, typer.Option("--output", "-o", help="Output file: .npy, .npz or .csv.")]


def fit(
    data: DataArg,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Model folder to write. [required]",
            metavar="FOLDER",
            rich_help_panel="Output",
        ),
    ] = None,
    out: OldOut = None,
    arch: Annotated[
        Arch,
        typer.Option(
            help="dense (tables, vectors), conv (series, images, video), vq (a conv codec with "
            "quantized codes, for 'hourglass compress') or vae (a dense variational one; "
            "--variational --arch conv for a conv one).",
            rich_help_panel="Data",
        ),
    ] = Arch.dense,
    variational: Annotated[
        bool,
        typer.Option(
            "--variational",
            help="A variational autoencoder (--arch vae is --arch dense --variational).",
            rich_help_panel="Data",
        ),
    ] = False,
    key: Key = None,
    drop: Drop = None,
    label: Label = None,
    report: Annotated[
        Path | None, typer.Option(help=REPORT_HELP, metavar="PATH", rich_help_panel="Output")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", help="Continue an interrupted run from its checkpoint.", rich_help_panel="Output"
        ),
    ] = False,
    force: Force = False,
    quiet: Quiet = False,
    **options: Any,
) -> None:
    """Train an autoencoder on DATA and save it to a model folder.

    A checkpoint is written to OUTPUT.checkpoint after every epoch; if the run is interrupted,
    the same command with --resume continues from it (and refuses a checkpoint of other data,
    settings or seed). --force replaces OUTPUT and an old checkpoint only once the new run has
    checked its data, its settings and its output path; OUTPUT.lock keeps a second run off OUTPUT.
    """
    out = output_path(output, out, "a model folder")
    from hourglass.runtime import distributed

    checkpoint = _check_fit_outputs(out, report, resume, force)
    # Under torchrun every process runs this command; rank 0 alone holds the lock and writes.
    main_process = distributed.is_main()
    lock = output_lock(out) if main_process else nullcontext()
    keep = resume or checkpoint.exists() or not main_process
    with lock, _discard_on_failure(checkpoint, keep=keep):
        if variational and arch is Arch.vq:
            raise InvalidInputError("--variational takes --arch dense or conv, not vq (a quantized code)")
        variational = variational or arch is Arch.vae
        kind = "vae" if variational else arch.value
        params = estimator_params(kind, options)
        if isinstance(params.get("encoder"), str) and "code_size" not in params:
            from hourglass.estimators.parts import source_architecture

            # The reused encoder decides the code's width; the model's parameters say so.
            params["code_size"] = source_architecture(params["encoder"]).code_size
        if variational:
            params["arch"] = "conv" if arch is Arch.conv else "dense"
        # The CLI seeds with 0 unless told: a command run twice gives the same model.
        params.setdefault("random_state", 0)
        params.update(checkpoint_dir=str(checkpoint), verbose=0 if quiet else 1)
        entry = registry.kind(kind)
        Estimator = getattr(importlib.import_module(entry.module), entry.estimator)  # noqa: N806
        if arch in (Arch.dense, Arch.vae):
            dataset = load_input(data, key, flat=True, drop=drop, label=label)
            fit_data: Any = dataset.X
        else:
            if is_image_folder(data):
                dataset, fit_data = None, data
            else:
                dataset = load_input(data, key, flat=False, drop=drop, label=label)
                fit_data = dataset.X
        estimator = Estimator(**params)
        with flags_in_errors():
            estimator.fit(fit_data, resume=resume)
        if not main_process:
            return
        if dataset is not None and dataset.schema is not None and is_dense(estimator):
            # The CLI reads the table itself: the model keeps its columns for the commands to come.
            estimator.table_ = dataset.schema
        # The checkpoint folder is gone once the model is saved; don't record it as a parameter.
        estimator.set_params(checkpoint_dir=None)
        estimator.save(out, force=force)
        shutil.rmtree(checkpoint, ignore_errors=True)
        echo(fit_summary(estimator), quiet)
        echo(estimator.history_.recipe_summary(), quiet)
        echo(f"saved the model to {out}", quiet)
        if report is not None:
            from hourglass.estimators.fitting import held_out_sample, training_sample
            from hourglass.report.build import model_report
            from hourglass.train.tasks import task_of

            X, labels, name = report_sample(dataset, quiet) if dataset is not None else (None, None, "")
            if X is None:
                X = training_sample(estimator)
                name = Path(data).name
            if X is not None:
                shape = dataset.image_shape if dataset is not None else None
                # A restoration task is judged on the validation split, never on what it trained on.
                held_out = held_out_sample(estimator) if task_of(estimator).restoration else None
                source = None
                if held_out is not None:
                    what = "random patches of the training photos" if dataset is None else "samples"
                    source = f"the validation split ({what} that training never used)"
                path = model_report(
                    estimator, X, name, shape, labels, held_out=held_out, held_out_source=source
                ).save(report_file(report), force)
                echo(f"wrote the report to {path}", quiet)


fit.__signature__ = with_declared_options(fit)  # type: ignore[attr-defined]
fit.__annotations__ = {**fit.__annotations__, **declared_annotations()}
fit = command()(fit)


def fit_summary(estimator) -> str:
    """The line after training: how it ended, the best epoch, the held-out error, device and precision."""
    history = estimator.history_
    epochs = len(history.epoch)
    if history.stopped_by_callback:
        ended = f"stopped by a callback after {epochs} epochs"
    elif history.stop_reason.startswith("ran all"):
        ended = history.stop_reason
    elif history.stop_reason:
        ended = f"stopped after {epochs} epochs: {history.stop_reason}"
    elif history.stopped_early:  # a model saved before the reason was recorded
        ended = f"stopped early after {epochs} of {estimator.epochs_} epochs (patience {estimator.patience})"
    else:
        ended = f"ran all {epochs} epochs"
    threads = history.recipe.get("threads")
    where = f"{estimator.device_}" + (f", {threads} thread(s)" if threads else "")
    line = f"trained in {estimator.fit_seconds_:.1f} s on {where}"
    line += f" in {history.recipe.get('precision', 'fp32')}: {ended}, best epoch {history.best_epoch}"
    line += validation_text(estimator)
    return line + f" (loss {estimator.loss_}: {estimator.loss_reason_})"


def validation_text(estimator) -> str:
    """``; validation MSE 0.38 in standardized units (916 in the data's raw units)``, or nothing."""
    from hourglass.data.units import headline, units_of

    raw = getattr(estimator, "validation_mse_", None)
    if raw is None:
        return ""
    scaled = getattr(estimator, "validation_mse_scaled_", None)
    if scaled is None:  # a model saved before the scaled figure existed
        return f"; validation MSE {raw:.5g} per value, in the data's units"
    return f"; validation MSE per value {headline(scaled, raw, units_of(estimator.scaler_))}"


def _check_fit_outputs(out: Path, report: Path | None, resume: bool, force: bool) -> Path:
    """Check, before any work, that fit may write OUT (and the report); return the checkpoint folder."""
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"--output {str(out)!r} is a file; a model is saved as a folder")
    if out.exists() and not force:
        raise OutputExistsError(f"{str(out)!r} exists already; pass --force to overwrite it")
    check_writable(out, force)
    if report is not None:
        check_writable(report_file(report), force)
    checkpoint = out.with_name(out.name + ".checkpoint")
    if checkpoint.exists() and not checkpoint.is_dir():
        raise InvalidInputError(f"{str(checkpoint)!r} is a file; the checkpoint of {str(out)!r} goes there")
    if checkpoint.exists() and not resume and not force:
        raise OutputExistsError(
            f"a checkpoint of an interrupted run is in {str(checkpoint)!r}; pass --resume to continue it "
            "or --force to start afresh"
        )
    return checkpoint


@contextmanager
def _discard_on_failure(checkpoint: Path, keep: bool):
    """Remove the checkpoint a run made if it fails on its data or settings (unless ``keep``).

    An interrupted run (KeyboardInterrupt, a kill) keeps it for --resume; with --force, an old
    run's checkpoint stays until the new run's first epoch replaces it.
    """
    try:
        yield
    except TrainingDivergedError:
        raise  # its checkpoint holds the best weights the run reached: the user's to keep
    except HourglassError:
        if not keep:
            shutil.rmtree(checkpoint, ignore_errors=True)
        raise


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


def load_for_model(
    estimator, data: str, key: str | None, drop: str | None = None, label: str | None = None
) -> Dataset:
    """DATA shaped for the model: rows for dense models, images for convolutional ones.

    A table's features are the columns the model was fitted on, selected by name (ids, the
    label and any other column are ignored); ``drop`` and ``label`` say more for a table laid
    out otherwise.
    """
    if is_dense(estimator):
        return load_input(data, key, flat=True, drop=drop, label=label, table=table_of(estimator))
    return load_input(data, key, flat=False, drop=drop, label=label)


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


def _model_input(estimator, data: str, key: str | None, drop: str | None = None, label: str | None = None):
    """DATA as the model takes it (see :func:`load_for_model`); a conv model reads an image folder itself."""
    if not is_dense(estimator) and is_image_folder(data):
        return data
    return model_rows(estimator, load_for_model(estimator, data, key, drop, label))


@command()
def encode(
    model: ModelArg,
    data: DataArg,
    output: OutFile,
    key: Key = None,
    drop: Drop = None,
    label: Label = None,
    float16: Annotated[
        bool, typer.Option("--float16", help="Write the codes as float16: half the bytes of float32.")
    ] = False,
    force: Force = False,
    quiet: Quiet = False,
):
    """Write the codes of DATA (one row per sample), and say how many bytes went in and came out.

    --float16 halves the codes' bytes; the line printed gives the input's bytes, the codes'
    bytes and the ratio (a VQ model's 'hourglass compress' writes entropy-coded indices instead).
    """
    check_writable(output, force)
    estimator = load_model(model)
    X = _model_input(estimator, data, key, drop, label)
    if float16:
        import numpy as np

        write_array(output, estimator.transform(X).astype(np.float16), force, quiet, "float16 codes")
    else:
        write_result(output, estimator.transform, X, force, quiet, "codes")
    echo(code_bytes_line(estimator, X, 2 if float16 else 4), quiet)


def code_bytes_line(estimator, X: Any, code_itemsize: int) -> str:
    """``input N bytes, codes M bytes, ratio R:1`` for DATA as read and codes of ``code_itemsize`` bytes."""
    import numpy as np

    if isinstance(X, (str, Path)):  # a folder of images, read as the model's float32 input
        n_values = len(estimator._validate_input(X, reset=False)) * estimator.n_features_in_
        in_bytes, in_what = 4 * n_values, "float32"
    else:
        array = np.asarray(X) if not hasattr(X, "dtype") else X
        in_bytes, in_what = int(array.size) * array.dtype.itemsize, str(array.dtype)
        n_values = int(array.size)
    n_samples = n_values // max(1, int(estimator.n_features_in_))
    out_bytes = n_samples * int(estimator._n_features_out) * code_itemsize
    ratio = in_bytes / max(1, out_bytes)
    return (
        f"input {in_bytes} bytes ({n_values} {in_what} values), codes {out_bytes} bytes "
        f"({n_samples} x {estimator._n_features_out} float{8 * code_itemsize}), ratio {ratio:.3g}:1"
    )


@command()
def decode(
    model: ModelArg,
    codes: Annotated[str, typer.Argument(help="Codes: .npy, .npz or .csv, one row per sample.")],
    output: OutFile,
    key: Key = None,
    drop: Drop = None,
    label: Label = None,
    force: Force = False,
    quiet: Quiet = False,
):
    """Decode CODES back to data, in the units of the training data."""
    check_writable(output, force)
    estimator = load_model(model)
    codes_in = load_input(codes, key, drop=drop, label=label).X
    write_array(output, estimator.inverse_transform(codes_in), force, quiet, "decoded data")


@command()
def reconstruct(
    model: ModelArg,
    data: DataArg,
    output: OutFile,
    key: Key = None,
    drop: Drop = None,
    label: Label = None,
    force: Force = False,
    quiet: Quiet = False,
):
    """Encode and decode DATA: its reconstruction, in the units of the input."""
    check_writable(output, force)
    estimator = load_model(model)
    X = _model_input(estimator, data, key, drop, label)
    write_result(output, estimator.reconstruct, X, force, quiet, "reconstruction")


@command()
def info(model: ModelArg, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False):
    """Describe a saved model: architecture, loss, scaling, training and metrics."""
    from hourglass.estimators.persistence import read_config

    config = read_config(model)
    estimator = load_model(model)
    history = estimator.history_
    summary = {
        "estimator": config["estimator"],
        "architecture": config["architecture"],
        "loss": f"{config['fitted'].get('loss_')} ({config['fitted'].get('loss_reason_')})",
        "scaling": config["scaling"],
        "n_features_in": config["fitted"].get("n_features_in_"),
        "code_size": config["fitted"].get("n_features_out"),
        "epochs_run": len(history.epoch),
        "best_epoch": history.best_epoch,
        "stopped_early": history.stopped_early,
        "training_recipe": history.recipe_summary(),
        "final_train_loss": history.train_loss[-1] if history.train_loss else None,
        "best_val_loss": min(history.val_loss) if history.val_loss else None,
        "validation_mse": validation_text(estimator).removeprefix("; validation MSE ") or None,
        "table": table_of(estimator).describe() if table_of(estimator) is not None else None,
        "metrics": {name: values[-1] for name, values in history.metrics.items() if values},
        "parameters": sum(p.numel() for p in estimator.module_.parameters()),
        "params": config["params"],
        "saved_with": {"hourglass": config.get("hourglass_version"), "torch": config.get("torch_version")},
    }
    if hasattr(estimator, "codebook_usage"):  # a VQ codec: its code in bits, and how much is used
        summary["codebook"] = {
            "codes": estimator.n_codes_,
            "grid": "x".join(map(str, estimator.grid_shape_)),
            "bits_per_index": estimator.bits_per_index_,
            **estimator.codebook_usage(),
        }
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
        return
    width = max(len(k) for k in summary)
    for name, value in summary.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={_short(v)}" for k, v in value.items())
        typer.echo(f"{name.replace('_', ' '):<{width}}  {_short(value)}")


def _short(value: Any) -> str:
    return f"{value:.5g}" if isinstance(value, float) else str(value)


def _print_comparison(result, quiet: bool) -> None:
    """The comparison's table, its units and any note about them."""
    from hourglass.uses.comparison import UNITS_TEXT

    echo(f"held-out MSE {UNITS_TEXT[result.units]}:", quiet)
    # The table is the result, not chatter: --quiet drops the messages around it, never the table.
    typer.echo(result.shown_table().to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if result.note:
        echo(f"note: {result.note}", quiet)


@command()
def compare(
    data: DataArg,
    code_sizes: Annotated[str, typer.Option(help="Comma-separated code sizes.")] = "2,8,16",
    arch: Annotated[
        CompareArch,
        typer.Option(
            help="dense (tables, vectors) or conv (images: IDX folders, image folders read at 64x64, "
            "(n, c, h, w) arrays, fashion-mnist; PCA on their flattened pixels)."
        ),
    ] = CompareArch.dense,
    channels: Annotated[
        str | None,
        typer.Option(
            help="With --arch conv: channels of the encoder blocks, e.g. 32,64.", metavar="INT[,INT]"
        ),
    ] = None,
    report: ReportPath = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the table as CSV.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs per autoencoder.")] = None,
    seed: Annotated[int, typer.Option(help="Seeds the split and the models.", min=0, max=MAX_SEED)] = 0,
    test_size: Annotated[float, typer.Option(help="Share held out for scoring.")] = 0.2,
    key: Key = None,
    drop: Drop = None,
    label: Label = None,
    force: Force = False,
    quiet: Quiet = False,
):
    """Fit PCA and an autoencoder at each code size on one split; print held-out errors.

    Both see the same scaled data. Errors are in the data's units when every value lies in
    [0, 1], otherwise in standardized units (z-scores from the training rows), with the
    raw-unit error beside them. With --arch conv the convolutional autoencoder, its code of
    each size flat, meets PCA on the flattened pixels.
    """
    from hourglass.data.loading import Dataset
    from hourglass.uses.comparison import compare as run_compare

    sizes = parse_ints(code_sizes, "--code-sizes")
    if channels is not None and arch is not CompareArch.conv:
        raise InvalidInputError("--channels sets the conv encoder's blocks; it needs --arch conv")
    for path in (report, output):
        if path is not None:
            check_writable(path if path == output else report_file(path), force)
    params: dict[str, Any] = {"random_state": seed, "verbose": 0 if quiet else 1}
    if epochs is not None:
        params["epochs"] = epochs
    if arch is CompareArch.conv:
        from hourglass.estimators.conv import ConvAutoEncoder

        if channels is not None:
            params["channels"] = parse_ints(channels, "--channels")
        estimator: Any = ConvAutoEncoder(**params)
        if is_image_folder(data):
            dataset = Dataset(estimator._input().load(estimator, data), name=Path(data).name)
        else:
            dataset = load_input(data, key, flat=False, drop=drop, label=label)
    else:
        from hourglass.estimators.dense import AutoEncoder

        estimator = AutoEncoder(**params)
        dataset = load_input(data, key, drop=drop, label=label)
    # PCA and one autoencoder per code size on data larger than memory: a stated sample.
    rows, labels, name = report_sample(dataset, quiet)
    dataset = Dataset(rows, labels, dataset.image_shape, name, dataset.feature_names)
    X: Any = dataset.X
    if dataset.feature_names and arch is not CompareArch.conv:  # so that notes about columns name them
        import pandas as pd

        X = pd.DataFrame(dataset.X, columns=dataset.feature_names)
    with flags_in_errors():
        result = run_compare(X, sizes, estimator, test_size=test_size, random_state=seed, y=dataset.y)
    _print_comparison(result, quiet)
    if output is not None:
        from hourglass.data.fileio import write_text_atomic

        write_text_atomic(output, result.table.to_csv(index=False))
        echo(f"wrote the table to {output}", quiet)
    if report is not None:
        _write_comparison_report(result, dataset, Path(report), force, quiet)


def _write_comparison_report(result, dataset: Dataset, where: Path, force: bool, quiet: bool) -> Path:
    from hourglass.report.build import comparison_report

    path = comparison_report(result, dataset.name, dataset.image_shape).save(report_file(where), force)
    echo(f"wrote the report to {path}", quiet)
    return path


def _fresh_folder(base: Path) -> Path:
    if not base.exists():
        return base
    n = 2
    while base.with_name(f"{base.name}-{n}").exists():
        n += 1
    return base.with_name(f"{base.name}-{n}")


@command()
def demo(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Folder for the report and model (default: hourglass-demo)."),
    ] = None,
    out: OldOut = None,
    code_sizes: Annotated[str, typer.Option(help="Comma-separated code sizes.")] = "2,8,16",
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs per autoencoder.")] = None,
    time_budget: Annotated[
        str,
        typer.Option(
            "--time",
            help="Training time for the whole demo, shared by the code sizes: seconds, or '30s', '2min'.",
        ),
    ] = DEMO_TIME,
    force: Force = False,
    quiet: Quiet = False,
):
    """Train on the built-in digits, compare with PCA, print the table and write the report."""
    from hourglass.estimators.dense import AutoEncoder
    from hourglass.uses.comparison import compare as run_compare

    out = output if output is not None or out is None else out
    if out is None:
        folder = _fresh_folder(Path("hourglass-demo"))  # never touch an earlier demo's folder
    else:
        folder = check_writable(out, force)
    sizes = parse_ints(code_sizes, "--code-sizes")
    try:
        budget = parse_duration(time_budget)
    except InvalidInputError as exc:
        raise InvalidInputError(str(exc).replace("max_time=", "--time ", 1)) from None
    dataset = load_input("digits")
    echo(f"digits: {dataset.X.shape[0]} images of 8x8 pixels in [0, 1]; comparing code sizes {sizes}", quiet)
    echo(f"training time: at most {budget:g} s in all, {budget / len(sizes):.3g} s per code size", quiet)
    params: dict[str, Any] = {
        "random_state": 0,
        "verbose": 0 if quiet else 1,
        "max_time": budget / len(sizes),
    }
    if epochs is not None:
        params["epochs"] = epochs
    with flags_in_errors():
        result = run_compare(dataset.X, sizes, AutoEncoder(**params), random_state=0, y=dataset.y)
    _print_comparison(result, quiet)
    folder.mkdir(parents=True, exist_ok=True)
    report = _write_comparison_report(result, dataset, folder, True, quiet)
    k = sizes[len(sizes) // 2]
    result.models[k]["ae"].save(folder / f"model-k{k}", force=True)
    echo(f"saved the k={k} autoencoder to {folder / f'model-k{k}'}; open {report} in a browser", quiet)
