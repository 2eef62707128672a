"""``hourglass fit``: train an autoencoder on DATA and save it, with its checkpoint and report.

The command checks its outputs before any work, holds a lock on the model folder, keeps a
checkpoint for ``--resume`` and prints how the run ended (:func:`fit_summary`).
"""

from __future__ import annotations

import importlib
import shutil
from contextlib import contextmanager, nullcontext
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from hourglass import registry
from hourglass.cli.app import command, echo
from hourglass.cli.arguments import REPORT_HELP, DataArg, Drop, Force, Key, Label, OldOut, Quiet
from hourglass.cli.inputs import identifiers_said, is_dense, is_image_folder, load_input, report_sample
from hourglass.cli.options import (
    declared_annotations,
    estimator_params,
    flags_in_errors,
    with_declared_options,
)
from hourglass.cli.outputs import output_path, refuse_file_name_for_folder, report_file
from hourglass.data.fileio import check_writable
from hourglass.data.locks import output_lock, refuse_if_locked
from hourglass.exceptions import (
    HourglassError,
    InvalidInputError,
    OutputExistsError,
    TrainingDivergedError,
)

#: ``--arch``: the kinds of :mod:`hourglass.registry` that ``fit`` trains, in its order.
Arch = Enum("Arch", {name: name for name in registry.FIT_ARCHS}, type=str)


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

    A checkpoint is written to OUTPUT.checkpoint as it trains (after every epoch that took long
    enough to pay for it, and the first and last); if the run is interrupted,
    the same command with --resume continues from it (and refuses a checkpoint of other data,
    settings or seed). --force replaces OUTPUT and an old checkpoint only once the new run has
    checked its data, its settings and its output path; OUTPUT.lock keeps a second run off OUTPUT.
    """
    out = output_path(output, out, "a model folder")
    _refuse_existing_output(out, resume, force)  # before torch's import, which took seconds to say it
    from hourglass.runtime import distributed

    # Under torchrun every process runs this command; rank 0 alone holds the lock and writes.
    main_process = distributed.is_main()
    checkpoint = _check_fit_outputs(out, report, resume, force, main_process)
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
        with flags_in_errors(), identifiers_said(dataset), _budget_said_unless(quiet):
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
        echo(fit_summary(estimator, resumed=resume), quiet)
        echo(estimator.history_.recipe_summary(), quiet)
        echo(f"saved the model to {out}", quiet)
        if report is not None:
            _write_report(estimator, dataset, data, report, force, quiet)


def _write_report(estimator, dataset, data: Path, report: Path, force: bool, quiet: bool) -> None:
    """The model report of a fit: on its training rows (the validation rows are the held-out
    figures'), or a restoration task's on validation items."""
    from hourglass.estimators.fitting import held_out_sample, training_rows, training_sample
    from hourglass.report.build import model_report
    from hourglass.train.tasks import task_of

    if dataset is not None:
        # The figures said "training data" of every row, the validation rows among them.
        train = training_rows(estimator, dataset.X)
        X, labels, name = report_sample(dataset, quiet, among=train)
        role = None if train is None else "training"
    else:  # photos read by the model: the training items it kept
        X, labels, name, role = training_sample(estimator), None, Path(data).name, "training"
    if X is None:
        return
    shape = dataset.image_shape if dataset is not None else None
    # A restoration task is judged on the validation split, never on what it trained on.
    held_out = held_out_sample(estimator) if task_of(estimator).restoration else None
    source = None
    if held_out is not None:
        what = (
            # Patches are cut at random from every photo, the validation ones too: they can
            # share pixels with training patches, and the photos are not held out.
            "patches cut at random from the same photos as the training patches"
            if dataset is None
            else "samples that training never used"
        )
        source = f"the validation split ({what})"
    path = model_report(
        estimator, X, name, shape, labels, held_out=held_out, held_out_source=source, data_role=role
    ).save(report_file(report), force)
    echo(f"wrote the report to {path}", quiet)


fit.__signature__ = with_declared_options(fit)  # type: ignore[attr-defined]
fit.__annotations__ = {**fit.__annotations__, **declared_annotations()}
fit = command()(fit)


def fit_summary(estimator, resumed: bool = False) -> str:
    """The line after training: how it ended, the best epoch, the held-out error, device and precision.

    ``resumed``: the run went on from a checkpoint, and the time its earlier part trained is
    said beside this part's (a time budget counts both).
    """
    history = estimator.history_
    epochs = len(history.epoch)
    counted = f"{epochs} epoch" + ("" if epochs == 1 else "s")
    if history.stopped_by_callback:
        ended = f"stopped by a callback after {counted}"
    elif history.stop_reason.startswith(("ran all", "ran its")):
        ended = history.stop_reason
    elif history.stop_reason:
        ended = f"stopped after {counted}: {history.stop_reason}"
    elif history.stopped_early:  # a model saved before the reason was recorded
        ended = f"stopped early after {epochs} of {estimator.epochs_} epochs (patience {estimator.patience})"
    else:
        ended = f"ran all {epochs} epochs"
    threads = history.recipe.get("threads")
    where = f"{estimator.device_}" + (f", {threads} thread(s)" if threads else "")
    total = getattr(history, "trained_seconds", 0.0) or 0.0
    # Not compared with fit_seconds_: that counts this part's training set-up beside its epochs,
    # and on a loaded machine it outgrew the epochs' own seconds of both parts, hiding the total.
    before = f" ({total:.1f} s with the run it resumed)" if resumed and total > 0 else ""
    line = f"trained in {estimator.fit_seconds_:.1f} s{before} on {where}"
    line += f" in {history.recipe.get('precision', 'fp32')}: {ended}, best epoch {history.best_epoch}"
    line += validation_text(estimator)
    return line + f" (loss {estimator.loss_}: {estimator.loss_reason_})"


def validation_text(estimator) -> str:
    """``; validation MSE 0.38 in standardized units (916 in the data's raw units)``, or nothing.

    The figures and their caveat are :func:`~hourglass.estimators.held_out.held_out_error`'s,
    which the model report's summary states too.
    """
    from hourglass.data.units import headline, ratio_text
    from hourglass.estimators.held_out import held_out_error

    raw = getattr(estimator, "validation_mse_", None)
    if raw is None:
        return ""
    figures = held_out_error(estimator)
    if figures is None:  # a model saved before the scaled figure existed
        return f"; validation MSE {raw:.5g} per value, in the data's units"
    text = f"; validation MSE per value {headline(figures.scaled, figures.raw, figures.units)}"
    if figures.ratio is not None:
        text += f", {ratio_text(figures.ratio)} PCA's at the same code size on the same rows"
    if figures.caveat:
        text += f", {figures.caveat}"
    return text


@contextmanager
def _budget_said_unless(quiet: bool):
    """Keep the estimator's warning of a budget shorter than one epoch off stderr when the end-of-fit
    line says it ('stopped after 1 epoch: the time budget ... is shorter than one epoch'); under
    --quiet, which prints no such line, the warning is what says it."""
    import warnings

    from hourglass.exceptions import TimeBudgetWarning

    with warnings.catch_warnings():
        if not quiet:
            warnings.filterwarnings("ignore", category=TimeBudgetWarning)
        yield


def _refuse_existing_output(out: Path, resume: bool, force: bool) -> None:
    """Refuse an OUT that is a file, exists without --force, or cannot be written.

    Checked first, without torch: a model folder left from the last run was refused only after
    torch's import, 5-10 s on a loaded machine.
    """
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"--output {str(out)!r} is a file; a model is saved as a folder")
    if out.exists() and not force:
        if resume and out.with_name(out.name + ".checkpoint").exists():
            # The interrupted run was replacing this model (it had --force); resuming it does too.
            raise OutputExistsError(
                f"{str(out)!r} exists already and the run being resumed replaces it: pass --resume --force"
            )
        raise OutputExistsError(f"{str(out)!r} exists already; pass --force to overwrite it")
    check_writable(out, force)
    refuse_file_name_for_folder(out, "a model folder")  # after: a file above it is the first thing to say


def _check_fit_outputs(out: Path, report: Path | None, resume: bool, force: bool, main: bool = True) -> Path:
    """Check, before any work, that fit may write OUT (and the report); return the checkpoint folder.

    ``main``: this is the process that writes (rank 0 under torchrun); the others must not take
    rank 0's lock, held as they check, for another run's.
    """
    _refuse_existing_output(out, resume, force)  # again: the folder may have appeared meanwhile
    from hourglass.estimators.persistence import refuse_other_folder

    refuse_other_folder(out)  # before training: a run is not thrown away at its save
    if report is not None:
        check_writable(report_file(report), force, file=True)
    checkpoint = out.with_name(out.name + ".checkpoint")
    if checkpoint.exists() and not checkpoint.is_dir():
        raise InvalidInputError(f"{str(checkpoint)!r} is a file; the checkpoint of {str(out)!r} goes there")
    from hourglass.train.checkpoint import foreign_files

    foreign = foreign_files(checkpoint) if checkpoint.is_dir() else []
    if foreign:
        raise InvalidInputError(
            f"{str(checkpoint)!r} holds {foreign[0]!r}{' and more' if len(foreign) > 1 else ''}, which no "
            f"checkpoint writes; fit keeps the checkpoint of {str(out)!r} in that folder and removes it "
            "when done: move your files out of it"
        )
    if checkpoint.exists() and main:
        refuse_if_locked(out)  # a live run's checkpoint, not an interrupted one's
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
