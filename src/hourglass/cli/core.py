"""Commands that apply a saved model: encode, decode, reconstruct, info.

``fit`` lives in :mod:`hourglass.cli.fitting`, ``compare`` and ``demo`` in
:mod:`hourglass.cli.comparing`, the reading of DATA in :mod:`hourglass.cli.inputs`, the writing
of results in :mod:`hourglass.cli.outputs` and the shared options in
:mod:`hourglass.cli.arguments`; the names of all but ``compare`` and ``demo`` stay importable
from here, where they were first (importing those here would list them before ``encode`` in
``hourglass --help``).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hourglass.cli.app import command, echo
from hourglass.cli.arguments import (
    REPORT_HELP,
    DataArg,
    Drop,
    Force,
    Key,
    Label,
    ModelArg,
    OldOut,
    OutFile,
    Quiet,
    ReportPath,
)
from hourglass.cli.fitting import Arch, fit, fit_summary, validation_text
from hourglass.cli.inputs import (
    DATA_HELP,
    feature_names,
    is_dense,
    is_image_folder,
    keyed_model_input,
    load_for_model,
    load_input,
    load_model,
    model_input,
    model_rows,
    report_sample,
    table_of,
    with_key_columns,
)
from hourglass.cli.options import MAX_SEED
from hourglass.cli.outputs import output_path, refuse_csv_of_grids, report_file, write_array, write_result
from hourglass.data.fileio import check_writable
from hourglass.data.saving import check_save_suffix
from hourglass.exceptions import InvalidInputError

if TYPE_CHECKING:  # annotations only
    from hourglass.data.table import TableSchema

__all__ = [
    "DATA_HELP",
    "MAX_SEED",
    "REPORT_HELP",
    "Arch",
    "DataArg",
    "Drop",
    "Force",
    "Key",
    "Label",
    "ModelArg",
    "OldOut",
    "OutFile",
    "Quiet",
    "ReportPath",
    "code_bytes_line",
    "decode",
    "encode",
    "fit",
    "fit_summary",
    "info",
    "is_dense",
    "is_image_folder",
    "load_for_model",
    "load_input",
    "load_model",
    "model_rows",
    "output_path",
    "reconstruct",
    "report_file",
    "report_sample",
    "table_of",
    "validation_text",
    "write_array",
    "write_result",
]

#: The older private name of :func:`~hourglass.cli.inputs.model_input`.
_model_input = model_input


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
    check_save_suffix(output)
    check_writable(output, force)
    estimator = load_model(model)
    X, keyed = keyed_model_input(estimator, data, key, drop, label, quiet)
    if float16:
        import numpy as np

        codes = estimator.transform(X).astype(np.float16)
        write_array(output, codes, force, quiet, "float16 codes", keyed=keyed)
    else:
        write_result(output, estimator.transform, X, force, quiet, "codes", keyed=keyed)
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
    codes: Annotated[
        str, typer.Argument(help="Codes: .npy, .npz, .csv or .parquet, one row per sample.", metavar="CODES")
    ],
    output: OutFile,
    key: Key = None,
    drop: Drop = None,
    label: Label = None,
    force: Force = False,
    quiet: Quiet = False,
):
    """Decode CODES back to data, in the units of the training data (a table named by its columns)."""
    check_save_suffix(output)
    check_writable(output, force)
    estimator = load_model(model)
    refuse_csv_of_grids(output, estimator, "decoded data")
    codes_in = load_input(codes, key, drop=drop, label=label, table=code_columns(estimator, codes, drop))
    _check_code_width(estimator, codes, tuple(getattr(codes_in.X, "shape", ())))
    decoded = estimator.inverse_transform(codes_in.X)
    keyed = functools.partial(with_key_columns, estimator, codes_in)
    write_array(output, decoded, force, quiet, "decoded data", feature_names(estimator), keyed)


def _check_code_width(estimator, codes: str, shape: tuple[int, ...]) -> None:
    """Refuse CODES of another width than the model's code, naming the file: the model's own
    "codes have shape (50, 6); expected (n_samples, 2)" named neither the file nor where codes come from."""
    width = int(getattr(estimator, "_n_features_out", 0) or 0)
    if width and (len(shape) != 2 or shape[1] != width):
        raise InvalidInputError(
            f"{codes!r} holds codes of shape {shape}; this model's codes have {width} values per sample: "
            f"expected (n_samples, {width}), as 'hourglass encode' writes them with this model"
        )


def code_columns(estimator, codes: str, drop: str | None) -> TableSchema | None:
    """The code columns of a table 'hourglass encode' wrote (``c0, c1, ...``) as the features to read,
    where the table CODES has them beside others (the key columns encode put first: an id); else None.

    Without it, the id was read as one more code ('2 columns expected') or refused as text.
    """
    from hourglass.data.table import TableSchema
    from hourglass.data.table_files import table_header

    width = int(getattr(estimator, "_n_features_out", 0) or 0)
    header = table_header(codes) if width and drop is None else None
    names = tuple(f"c{i}" for i in range(width))
    if header is None or len(header) <= width or not set(names) <= set(header):
        return None
    return TableSchema(features=names, dtypes=("float32",) * width, n_features=width)


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
    """Encode and decode DATA: its reconstruction in the units of the input (a table named by its columns)."""
    check_save_suffix(output)
    check_writable(output, force)
    estimator = load_model(model)
    refuse_csv_of_grids(output, estimator, "reconstructions")
    X, keyed = keyed_model_input(estimator, data, key, drop, label, quiet)
    names = feature_names(estimator)
    write_result(output, estimator.reconstruct, X, force, quiet, "reconstruction", names, keyed)


@command()
def info(model: ModelArg, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False):
    """Describe a saved model: architecture, loss, scaling, training and metrics."""
    from hourglass.estimators.persistence import read_config

    config = read_config(model)
    estimator = load_model(model)
    # A detector describes the autoencoder it wraps (whose settings may be another model's, as
    # after 'hourglass calibrate'), then its own threshold.
    inner = getattr(estimator, "estimator_", estimator)
    history = estimator.history_
    summary = {
        "estimator": config["estimator"],
        "architecture": config["architecture"],
        "loss": f"{config['fitted'].get('loss_')} ({config['fitted'].get('loss_reason_')})",
        "scaling": config["scaling"],
        "n_features_in": config["fitted"].get("n_features_in_"),
        # A U-Net's skips carry the detail past the code, so its width says nothing of what it keeps.
        "code_size": None if _is_unet(inner) else config["fitted"].get("n_features_out"),
        "task": restoration_summary(inner, config),
        "epochs_run": len(history.epoch),
        "best_epoch": history.best_epoch,
        "stopped_early": history.stopped_early,
        "why_it_ended": history.stop_reason or None,  # a budget's end is no early stop, but a reason
        "training_recipe": history.recipe_summary(),
        "final_train_loss": history.train_loss[-1] if history.train_loss else None,
        "best_val_loss": min(history.val_loss) if history.val_loss else None,
        "validation_mse": validation_text(inner).removeprefix("; validation MSE ") or None,
        "table": table_of(estimator).describe() if table_of(estimator) is not None else None,
        "metrics": {name: values[-1] for name, values in history.metrics.items() if values},
        "parameters": sum(p.numel() for p in estimator.module_.parameters()),
        "params": config["params"] if inner is estimator else _simple_params(inner),
        "saved_with": {"hourglass": config.get("hourglass_version"), "torch": config.get("torch_version")},
    }
    if hasattr(estimator, "codebook_usage"):  # a VQ codec: its code in bits, and how much is used
        summary["codebook"] = {
            "codes": estimator.n_codes_,
            "grid": "x".join(map(str, estimator.grid_shape_)),
            "bits_per_index": estimator.bits_per_index_,
            **estimator.codebook_usage(),
        }
    if inner is not estimator:
        summary["detector"] = detector_summary(estimator, config["params"])
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
        return
    # What a model does not have (a table, metrics, a validation split) is left out of the text,
    # which printed "None" and empty rows for it; --json keeps every key, as null.
    text = {**summary, "code_size": UNET_CODE if _is_unet(inner) else summary["code_size"]}
    text["task"] = _task_words(summary["task"])
    shown = {name: value for name, value in text.items() if not _empty(value)}
    width = max(len(k) for k in shown)
    for name, value in shown.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={_short(v)}" for k, v in value.items() if not _empty(v))
        typer.echo(f"{name.replace('_', ' '):<{width}}  {_short(value)}")


#: What ``info`` says of a U-Net's code size (the model report's words).
UNET_CODE = "none: a U-Net (skip connections, so no code size)"


def _is_unet(estimator: Any) -> bool:
    return bool(getattr(getattr(estimator, "architecture_", None), "skip_connections", False))


def _task_words(task: dict[str, Any] | None) -> str | None:
    """:func:`restoration_summary` as ``info`` prints it: ``denoise; validation PSNR 21.79 dB (...)``."""
    if task is None:
        return None
    words = task["name"]
    if task["validation_psnr_db"] is not None:
        words += f"; validation PSNR {task['validation_psnr_db']:.2f} dB ({task['measured_on']})"
    return f"{words}; {task['note']}"


def restoration_summary(estimator: Any, config: dict[str, Any]) -> dict[str, Any] | None:
    """A restoration model's task and headline figure, as far as its fit measured it (None for
    plain reconstruction).

    The PSNR is that of the kept epoch's validation loss, the mean squared error of its
    restorations of the validation images against the clean ones (data in [0, 1], unscaled: the
    report's units); the corrupted input's PSNR is not measured by fit, so none is given.
    """
    import math

    from hourglass.train.tasks import task_of

    task = task_of(estimator)
    if not task.restoration:
        return None
    summary: dict[str, Any] = {"name": task.name, "validation_psnr_db": None}
    history = estimator.history_
    best = history.best_epoch
    mse = history.val_loss[best - 1] if best and len(history.val_loss) >= best else math.nan
    low, high = getattr(estimator, "data_range_", None) or (math.nan, math.nan)
    # Only where the loss is the squared error of values in [0, 1] is it PSNR's (peak 1) error.
    if estimator.loss_ == "mse" and config["scaling"] == "none" and 0 <= low <= high <= 1 and mse > 0:
        summary["validation_psnr_db"] = round(10 * math.log10(1 / mse), 2)
        images = history.recipe.get("validation_rows")
        summary["measured_on"] = (
            f"epoch {best}'s restorations of {images or 'the'} validation images, PSNR of their mean "
            "squared error"
        )
    summary["input_psnr_db"] = None
    summary["note"] = (
        "the corrupted input's PSNR was not measured at fit; 'hourglass fit --report' measures it beside "
        "the classical baselines'"
    )
    return summary


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (dict, str)) and not value)


def _simple_params(estimator: Any) -> dict[str, Any]:
    """An estimator's parameters that read as text (not a nested estimator or callbacks)."""
    simple = (str, int, float, bool, type(None), list, tuple)
    return {
        name: value for name, value in estimator.get_params(deep=False).items() if isinstance(value, simple)
    }


def detector_summary(detector: Any, params: dict[str, Any]) -> dict[str, Any]:
    """A detector's threshold, the rule that set it, its score, and the share of its data it flags."""
    import numpy as np

    from hourglass.estimators.outlier_scores import known_share, score_name, threshold_rule

    rule = threshold_rule(params.get("threshold", "quantile"), params.get("contamination"))
    calibration = len(getattr(detector, "calibration_errors_", ()))
    share = known_share(params.get("contamination")) or 0.01
    how = {
        # Normal rows: held out of the autoencoder's training by fit, but calibrate's NORMAL may
        # be any rows the user gives.
        "quantile": f"the {params.get('quantile')} quantile of {calibration} normal rows' scores",
        "contamination": f"flags contamination={share} of the data given to fit",
        "fixed": "fixed by the user",
    }.get(rule, str(rule))
    scores = np.asarray(getattr(detector, "decision_scores_", ()), dtype=float)
    flagged = f"{np.mean(scores > detector.threshold_):.1%} of {len(scores)}" if len(scores) else None
    own = ("score_kind", "calibration_fraction", "random_state")
    from hourglass.data.units import UNITS_SHORT
    from hourglass.estimators.anomaly import score_units

    units = UNITS_SHORT.get(score_units(detector), "")
    return {
        "threshold": detector.threshold_,
        "units": units or None,  # calibrate and score name them; info showed a bare number
        "rule": how,
        "score": score_name(detector),
        "flagged_at_fit": flagged,
        **{name: params[name] for name in own if name in params},
    }


def _short(value: Any) -> str:
    return f"{value:.5g}" if isinstance(value, float) else str(value)
