"""``hourglass apply``: run a convolutional model's task on photos (or arrays) of any size.

A thin layer over :meth:`hourglass.ConvAutoEncoder.apply_image`: read each input, run the task
tile by tile, write the result into the folder -o under the input's name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from hourglass.cli.app import command, echo, fail
from hourglass.data.fileio import check_writable, make_parents, remove_empty
from hourglass.exceptions import HourglassError, InvalidInputError, OutputExistsError
from hourglass.exceptions import with_article as _a
from hourglass.registry import TASK_HELP

#: Smallest side of an image worth processing; smaller ones are reported as bad.
MIN_SIDE = 8
ARRAY_SUFFIXES = (".npy",)

_TASKS_TEXT = "\n\n".join(f"{name}: {text}." for name, text in TASK_HELP.items())


def _inputs(sources: list[Path]) -> list[Path]:
    """Every file to process: the files named, and the images inside the folders named."""
    from hourglass.data.images import IMAGE_SUFFIXES, _list_images

    files: list[Path] = []
    for source in sources:
        if source.is_dir():
            found = _list_images(source)
            if not found:
                raise InvalidInputError(
                    f"folder {str(source)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})"
                )
            files += found
        elif source.exists():
            files.append(source)
        else:
            raise InvalidInputError(f"no such file or folder: {str(source)!r}")
    return files


def _result_name(path: Path) -> str:
    """The file name the result of ``path`` gets in the output folder."""
    suffix = path.suffix.lower()
    if suffix in ARRAY_SUFFIXES:
        return f"{path.stem}.npy"
    return path.stem + (path.suffix if suffix in (".png", ".jpg", ".jpeg") else ".png")


def _process(estimator, path: Path, staging: Path, self_ensemble: bool = False) -> Path:
    """Run the model on one file and write the result into ``staging``; raise HourglassError
    naming the file."""
    from hourglass.data.images import IMAGE_SUFFIXES, load_image, save_image
    from hourglass.train.tasks import task_of

    suffix = path.suffix.lower()
    if suffix in ARRAY_SUFFIXES:
        from hourglass.data.loading import load_data, save_array

        result = estimator.apply(load_data(path, flat=False).X, self_ensemble=self_ensemble)
        return save_array(staging / _result_name(path), result, force=True)
    if suffix not in IMAGE_SUFFIXES:
        raise InvalidInputError(
            f"{str(path)!r} is neither an image ({', '.join(IMAGE_SUFFIXES)}) nor an array (.npy)"
        )
    channels = estimator.input_shape_[0]
    # A colorizer reads every photo in colour (it uses the luminance of gray and colour alike).
    mode = "L" if channels == 1 and not task_of(estimator).any_channels else "RGB"
    image = load_image(path, mode=mode)
    if min(image.shape[1:]) < MIN_SIDE:
        raise InvalidInputError(
            f"image {str(path)!r} is {image.shape[1]}x{image.shape[2]}, too small; expected at least "
            f"{MIN_SIDE}x{MIN_SIDE} pixels"
        )
    result = estimator.apply_image(image, self_ensemble=self_ensemble)
    return save_image(staging / _result_name(path), result, force=True)


@command(
    "apply",
    help="Run a convolutional model's task on photos of any size (or .npy arrays); write the results to "
    "the folder -o.\n\n"
    "The task is the one the model was trained for (hourglass fit --arch conv --task ...):\n\n"
    + _TASKS_TEXT
    + "\n\nPhotos larger than the training size are processed in overlapping tiles blended back together.",
)
def apply(
    model: Annotated[Path, typer.Argument(help="A model folder written by 'hourglass fit --arch conv'.")],
    inputs: Annotated[list[Path], typer.Argument(help="Images, folders of images, or .npy arrays.")],
    out_dir: Annotated[Path, typer.Option("--output", "-o", help="Folder to write the results to.")],
    skip_bad: Annotated[
        bool,
        typer.Option("--skip-bad", help="Report unreadable or too small images and go on with the rest."),
    ] = False,
    self_ensemble: Annotated[
        bool,
        typer.Option(
            "--self-ensemble",
            help="Average over the 8 flips and quarter turns of each photo: 8x slower, a little sharper "
            "(typically +0.1-0.2 dB PSNR).",
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite results that exist already.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No messages.")] = False,
) -> None:
    from hourglass.estimators.persistence import load

    estimator = load(model)
    if not hasattr(estimator, "apply_image"):
        raise InvalidInputError(
            f"{str(model)!r} holds {_a(type(estimator).__name__)}; 'apply' needs a conv model"
        )
    files = _inputs(inputs)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidInputError(f"{str(out_dir)!r} is a file; expected a folder for the results")
    check_writable(out_dir, force=True)
    for name in {_result_name(path) for path in files}:
        check_writable(out_dir / name, force)  # before any work: results are never overwritten
    # The folders made for the results go again if no result is written.
    created = make_parents(out_dir / "result")
    # Results wait in a hidden folder beside their places and move in once every input is done:
    # a bad input (without --skip-bad) or an interruption leaves no results of this run behind.
    staging = Path(tempfile.mkdtemp(prefix=".hourglass-apply-", dir=out_dir))
    done, bad, staged = 0, [], {}
    try:
        for path in files:
            name = _result_name(path)
            if name in staged and not force:
                raise OutputExistsError(
                    f"{str(path)!r} and {str(staged[name])!r} both give {str(out_dir / name)!r}; "
                    "pass --force to keep the last"
                )
            try:
                _process(estimator, path, staging, self_ensemble)
            except HourglassError as exc:
                if not skip_bad:
                    raise
                bad.append(path)
                typer.echo(f"hourglass: skipped {' '.join(str(exc).split())}", err=True)
                continue
            done += 1
            staged[name] = path
            echo(f"{path} -> {out_dir / name}", quiet)
        for name in staged:
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not done:
            remove_empty(created)
    echo(
        f"{estimator.task}: wrote {done} result(s) to {out_dir}"
        + (f"; skipped {len(bad)} bad file(s)" if bad else ""),
        quiet,
    )
    if not done:
        raise fail("no input could be processed")


__all__ = ["apply"]
