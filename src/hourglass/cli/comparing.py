"""``hourglass compare`` and ``hourglass demo``: PCA against an autoencoder at each code size.

Both print the held-out table and write its report; ``demo`` runs it on the built-in digits
within a time budget and keeps one of the models.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hourglass import registry
from hourglass.cli.app import command, echo
from hourglass.cli.arguments import DataArg, Drop, Force, Key, Label, OldOut, Quiet, ReportPath, Threads
from hourglass.cli.inputs import identifiers_said, is_image_folder, load_input, report_sample
from hourglass.cli.options import MAX_SEED, flags_in_errors, parse_ints
from hourglass.cli.outputs import refuse_file_name_for_folder, report_file
from hourglass.data.fileio import check_writable
from hourglass.data.saving import TABLE_SAVE_SUFFIXES, check_save_suffix, save_table
from hourglass.estimators.code_width import DEFAULT_CODE_SIZES, default_code_sizes
from hourglass.exceptions import InvalidInputError
from hourglass.train.budget import parse_duration

if TYPE_CHECKING:  # annotations only; the commands import what they use
    from hourglass.data.loading import Dataset


#: ``hourglass demo``'s training time, shared by its code sizes: it finishes in about this, plus
#: PCA, the report and start-up.
DEMO_TIME = "30s"


#: ``compare --arch``: the autoencoders of :mod:`hourglass.registry` set against PCA.
CompareArch = Enum("CompareArch", {name: name for name in registry.COMPARE_ARCHS}, type=str)


def _time_per_model(text: str, n_models: int) -> float:
    """Seconds of training for each of ``n_models`` autoencoders sharing the budget ``text``.

    A total budget, split evenly: the command's training ends in about ``text``, whatever the
    number of code sizes. Raises fit's one-line error, naming ``--time``, for a bad value.
    """
    try:
        budget = parse_duration(text)
    except InvalidInputError as exc:
        raise InvalidInputError(str(exc).replace("max_time=", "--time ", 1)) from None
    return budget / n_models


def _threads(text: str) -> int | str:
    """``--threads`` as the estimators take it, refused in their words before torch loads
    (compare had no --threads: under 'auto' its figures followed the machine's load)."""
    from hourglass.runtime.threads import resolve_threads  # free of torch

    if text == "auto":
        return text
    try:
        count = int(text)
    except ValueError:
        raise InvalidInputError(f"--threads {text!r}: expected an integer or 'auto'") from None
    return resolve_threads(count)[0]  # threads=0 is said as --threads 0 by the error handler


def _print_comparison(result, quiet: bool) -> None:
    """The comparison's table, its units and any note about them."""
    from hourglass.uses.comparison import UNITS_TEXT

    # The table is the result, not chatter: --quiet drops the messages around it, never the table
    # or the units it is in.
    echo(f"held-out MSE {UNITS_TEXT[result.units]}:")
    typer.echo(result.shown_table().to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    echo(result.verdict(), quiet)
    if result.note:
        echo(f"note: {result.note}", quiet)


@command()
def compare(
    data: DataArg,
    code_sizes: Annotated[
        str | None,
        typer.Option(help="Comma-separated code sizes (default: those of 2,8,16 below the features)."),
    ] = None,
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
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the table to a .csv or .parquet.")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs per autoencoder.")] = None,
    time_budget: Annotated[
        str | None,
        typer.Option(
            "--time",
            help="Training time for the whole comparison, split evenly among the code sizes' "
            "autoencoders: seconds, or '90s', '10min', '1h', 'DD:HH:MM:SS'.",
            metavar="DURATION",
        ),
    ] = None,
    threads: Threads = "auto",
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
    each size flat, meets PCA on the flattened pixels. --time bounds the training of all the
    autoencoders together: each code size gets an equal share (20s over 2,8,16: about 6.7 s each).
    """
    # The options are checked before the imports below, which load torch: seconds on a loaded machine.
    sizes = DEFAULT_CODE_SIZES if code_sizes is None else parse_ints(code_sizes, "--code-sizes")
    max_time = None if time_budget is None else _time_per_model(time_budget, len(sizes))
    params: dict[str, Any] = {
        "random_state": seed,
        "verbose": 0 if quiet else 1,
        "threads": _threads(threads),
    }
    if channels is not None and arch is not CompareArch.conv:
        raise InvalidInputError("--channels sets the conv encoder's blocks; it needs --arch conv")
    if output is not None:
        check_save_suffix(output, TABLE_SAVE_SUFFIXES)  # before any training
    for path in (report, output):
        if path is not None:
            check_writable(path if path == output else report_file(path), force, file=True)
    from hourglass.data.loading import Dataset
    from hourglass.uses.comparison import compare as run_compare

    if epochs is not None:
        params["epochs"] = epochs
    if max_time is not None:
        params["max_time"] = max_time
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
    read, dataset = dataset, Dataset(rows, labels, dataset.image_shape, name, dataset.feature_names)
    X: Any = dataset.X
    if dataset.feature_names and arch is not CompareArch.conv:  # so that notes about columns name them
        import pandas as pd

        X = pd.DataFrame(dataset.X, columns=dataset.feature_names)
    if code_sizes is None and arch is not CompareArch.conv:
        # The default sizes narrower than the table (wine's 13 columns: 2 and 8), the budget
        # shared among those.
        sizes = default_code_sizes(dataset.X.shape[1])
        if max_time is not None:
            max_time = _time_per_model(time_budget, len(sizes))
            estimator.set_params(max_time=max_time)
    if max_time is not None:
        in_all = max_time * len(sizes)
        echo(f"training time: at most {in_all:g} s in all, {max_time:.3g} s per code size", quiet)
    with flags_in_errors(), identifiers_said(read):
        result = run_compare(X, sizes, estimator, test_size=test_size, random_state=seed, y=dataset.y)
    _print_comparison(result, quiet)
    if output is not None:
        # The units go with the numbers: a file read later has no printed line beside it.
        save_table(output, result.table.assign(units=result.units), force)
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
    threads: Threads = "auto",
    force: Force = False,
    quiet: Quiet = False,
):
    """Train on the built-in digits, compare with PCA, print the table and write the report."""
    threads_asked = _threads(threads)  # refused before anything is written or torch loads
    out = output if output is not None or out is None else out
    if out is None:
        folder = _fresh_folder(Path("hourglass-demo"))  # never touch an earlier demo's folder
    else:
        folder = check_writable(out, force)
        refuse_file_name_for_folder(out, "a folder for the report and model")
    sizes = parse_ints(code_sizes, "--code-sizes")
    max_time = _time_per_model(time_budget, len(sizes))
    from hourglass.estimators.dense import AutoEncoder  # after the checks: these load torch
    from hourglass.uses.comparison import compare as run_compare

    dataset = load_input("digits")
    echo(f"digits: {dataset.X.shape[0]} images of 8x8 pixels in [0, 1]; comparing code sizes {sizes}", quiet)
    echo(f"training time: at most {max_time * len(sizes):g} s in all, {max_time:.3g} s per code size", quiet)
    params: dict[str, Any] = {
        "random_state": 0,
        "verbose": 0 if quiet else 1,
        "max_time": max_time,
        "threads": threads_asked,
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
