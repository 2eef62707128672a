"""``hourglass apply``: run a convolutional model's task on photos (or arrays) of any size.

A thin layer over :meth:`hourglass.ConvAutoEncoder.apply_image`: read each input, run the task
tile by tile, write the result into the folder -o under the input's name (or, for one input,
to the file -o when it has an image or array suffix).
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
from hourglass.exceptions import HourglassError, InvalidInputError
from hourglass.exceptions import with_article as _a
from hourglass.registry import TASK_HELP

#: Smallest side of an image worth processing; smaller ones are reported as bad.
MIN_SIDE = 8
ARRAY_SUFFIXES = (".npy",)
#: Suffixes of the one file -o may name for the result of one array: a .npz holds it as ``data``,
#: as every command writes one.
_ARRAY_RESULT_SUFFIXES = (".npy", ".npz")
#: Suffixes of the image files a result is written as.
_RESULT_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

_TASKS_TEXT = "\n\n".join(f"{name}: {text}." for name, text in TASK_HELP.items())


def _inputs(sources: list[Path], left_out: list[Path] | None = None) -> list[tuple[Path, Path]]:
    """Every file to process with the path of its result in the output folder: the files named
    (by their names), and the images inside the folders named (by their paths in the folder).
    The folders' files of other types are added to ``left_out``."""
    from hourglass.data.images import IMAGE_SUFFIXES, list_files, other_types

    files: list[tuple[Path, Path]] = []
    for source in sources:
        if source.is_dir():
            found, others = list_files(source)
            if left_out is not None:
                left_out += others
            if not found:
                holds = f"; it holds {other_types(others)}" if others else ""
                raise InvalidInputError(
                    f"folder {str(source)!r} holds no images ({', '.join(IMAGE_SUFFIXES)}){holds}"
                )
            # Subfolders are mirrored: a/x.png and b/x.png are two results, not one written twice.
            files += [(path, _result_name(path.relative_to(source))) for path in found]
        elif source.exists():
            files.append((source, _result_name(Path(source.name))))
        elif source.is_symlink():
            raise InvalidInputError(f"{str(source)!r} is a broken symbolic link to {os.readlink(source)!r}")
        else:
            raise InvalidInputError(f"no such file or folder: {str(source)!r}")
    return files


def _result_name(path: Path) -> Path:
    """Where the result of the input at ``path`` (relative) goes in the output folder."""
    suffix = path.suffix.lower()
    if suffix in ARRAY_SUFFIXES:
        return path.with_suffix(".npy")
    return path if suffix in _RESULT_IMAGE_SUFFIXES else path.with_suffix(".png")


def _make_target(path: Path) -> Path:
    """``path``, with the folders that hold it made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _check_one_input_per_result(files: list[tuple[Path, Path]], out_dir: Path) -> None:
    """Refuse, before any work, two inputs whose results would take one name (x.bmp and x.webp)."""
    first: dict[Path, Path] = {}
    for path, name in files:
        if name in first:
            raise InvalidInputError(
                f"{str(first[name])!r} and {str(path)!r} both give {str(out_dir / name)!r}; apply them "
                "in two runs, to two output folders"
            )
        first[name] = path


def _read_mode(estimator) -> str:
    """How photos are read for the model: gray for one channel (a colorizer reads colour)."""
    from hourglass.train.tasks import task_of

    channels = estimator.input_shape_[0]
    return "L" if channels == 1 and not task_of(estimator).any_channels else "RGB"


def _say_what_changes(
    estimator, files: list[tuple[Path, Path]], left_out: list[Path], one_file: Path | None, quiet: bool
) -> None:
    """Say on stderr (unless ``quiet``), a line each, what the results do not keep of the inputs:
    colour read in gray for a gray model (as encode and the other commands say it: silently, a
    colour result looks lost), files of other types left out, transparency (flattened for the
    model, put back on results that can hold it), pages after the first, 16 bits. ``one_file``:
    the -o file of one result. The headers are read once, for all of them."""
    from hourglass.data.images import ALPHA_SUFFIXES, IMAGE_SUFFIXES, header_counts, other_types

    if quiet:
        return
    images = {
        path: (one_file or name).suffix for path, name in files if path.suffix.lower() in IMAGE_SUFFIXES
    }
    counts = header_counts(list(images), _read_mode(estimator))  # colour counted in gray mode only
    lines = []
    if counts["coloured"]:
        n = counts["coloured"]
        lines.append(
            f"converted {n} colour image{'' if n == 1 else 's'} to gray: the model reads one channel"
        )
    if left_out:
        lines.append(f"left out {other_types(left_out)}")
    if counts["transparent"]:
        flat = sorted({images[p] for p in counts["transparent"] if images[p].lower() not in ALPHA_SUFFIXES})
        n = len(counts["transparent"])
        lines.append(
            f"flattened {n} image(s) with transparency onto white for the model and put it back on the "
            "results" + (f", except those written as {', '.join(flat)}, which cannot hold it" if flat else "")
        )
    if counts["multi_page"]:
        lines.append(f"read only the first page of {counts['multi_page']} multi-page file(s)")
    if counts["high_bit"]:
        lines.append(f"{counts['high_bit']} 16-bit input(s) written at 8 bits per channel")
    for line in lines:
        typer.echo(line, err=True)


def _process(estimator, path: Path, target: Path, self_ensemble: bool = False) -> Path:
    """Run the model on one file and write the result to ``target``; raise HourglassError
    naming the file. An input's transparency is put back on a result that can hold it."""
    from PIL import Image

    from hourglass.data.images import ALPHA_SUFFIXES, IMAGE_SUFFIXES, load_image_and_alpha, save_image

    suffix = path.suffix.lower()
    if suffix in ARRAY_SUFFIXES:
        from hourglass.data.loading import load_data, save_array

        try:
            result = estimator.apply(load_data(path, flat=False).X, self_ensemble=self_ensemble)
        except InvalidInputError as exc:  # the model's "X has samples ..." named no file
            message = " ".join(str(exc).split())
            named = message[2:] if message.startswith("X ") else f": {message}"
            raise InvalidInputError(f"{str(path)!r} {named}".replace(" :", ":")) from None
        return save_array(target, result, force=True)
    if suffix not in IMAGE_SUFFIXES:
        if suffix in Image.registered_extensions() or suffix in (".heic", ".heif", ".avif"):
            raise InvalidInputError(
                f"{str(path)!r}: {path.suffix} images are not read; expected an image "
                f"({', '.join(IMAGE_SUFFIXES)}) or an array (.npy)"
            )
        raise InvalidInputError(
            f"{str(path)!r} is neither an image ({', '.join(IMAGE_SUFFIXES)}) nor an array (.npy)"
        )
    # A colorizer reads every photo in colour (it uses the luminance of gray and colour alike).
    image, alpha = load_image_and_alpha(path, mode=_read_mode(estimator))
    if min(image.shape[1:]) < MIN_SIDE:
        raise InvalidInputError(
            f"image {str(path)!r} is {image.shape[1]}x{image.shape[2]}, too small; expected at least "
            f"{MIN_SIDE}x{MIN_SIDE} pixels"
        )
    result = estimator.apply_image(image, self_ensemble=self_ensemble)
    with Image.open(path) as header:  # the colour profile the values are in, kept on the result
        profile = header.info.get("icc_profile")
    if alpha is None or target.suffix.lower() not in ALPHA_SUFFIXES:
        return save_image(target, result, force=True, icc_profile=profile)
    # The alpha is resized with a super-resolved result.
    return save_image(target, result, force=True, alpha=alpha, icc_profile=profile)


def _names_one_file(files: list[tuple[Path, Path]], out: Path) -> bool:
    """Whether -o names the file of the one result (``-o clean.png``) rather than a folder.

    A name with an image or array suffix that is no folder yet is read as a file: a folder
    ``clean.png`` holding ``photo.png`` is not what anyone typing it expects.
    """
    from hourglass.data.images import SAVE_FORMATS

    suffix = out.suffix.lower()
    if out.is_dir():
        return False
    if suffix not in (*SAVE_FORMATS, *_ARRAY_RESULT_SUFFIXES):
        _refuse_unwritable_image(out)
        _refuse_other_file(out)
        return False
    if len(files) != 1:
        raise InvalidInputError(
            f"-o {str(out)!r} names one file, but the {len(files)} inputs give {len(files)} results; "
            "pass a folder to -o for them"
        )
    path = files[0][0]
    if (path.suffix.lower() in ARRAY_SUFFIXES) != (suffix in _ARRAY_RESULT_SUFFIXES):
        wanted = (
            "a .npy or .npz file"
            if path.suffix.lower() in ARRAY_SUFFIXES
            else f"an image file ({_writable()})"
        )
        raise InvalidInputError(
            f"-o {str(out)!r}: the result of {str(path)!r} is written to {wanted}, or into a folder"
        )
    return True


def _writable() -> str:
    from hourglass.data.images import SAVE_FORMATS

    return ", ".join(SAVE_FORMATS)


def _refuse_unwritable_image(out: Path) -> None:
    """Refuse -o naming an image file of a format results are not written in (``x.gif``): it
    became a folder of that name holding the result."""
    from PIL import Image

    suffix = out.suffix.lower()
    if suffix in Image.registered_extensions():
        raise InvalidInputError(
            f"-o {str(out)!r}: results are not written as {suffix!r} images; expected a file ending in "
            f"{_writable()}, .npy or .npz, or a folder"
        )


def _refuse_other_file(out: Path) -> None:
    """Refuse -o naming a file of a format apply does not write (``x.csv``, ``x.json``): it became
    a folder of that name holding the result."""
    from hourglass.cli.outputs import names_a_file

    if names_a_file(out):
        raise InvalidInputError(
            f"-o {str(out)!r}: apply does not write {out.suffix} files; expected a folder, or for one "
            f"input a file ending in {_writable()} (an image) or .npy, .npz (an array)"
        )


def _apply_to_file(estimator, path: Path, out: Path, force: bool, self_ensemble: bool, quiet: bool) -> None:
    """Run the model on the one input ``path`` and write its result to the file ``out``."""
    check_writable(out, force)  # before any work
    created = make_parents(out)
    try:
        _process(estimator, path, out, self_ensemble)  # written atomically: all of it or nothing
    except BaseException:
        remove_empty(created)
        raise
    echo(f"{path} -> {out}", quiet)
    echo(f"{estimator.task}: wrote 1 result to {out}", quiet)


@command(
    "apply",
    help="Run a convolutional model's task on photos of any size (or .npy arrays); write the results to "
    "the folder -o (one result: to the file -o, when it ends in .png, .jpg, .tif, .bmp, .webp, .npy or "
    ".npz; JPEG at quality 95, 4:4:4, the others lossless).\n\n"
    "The task is the one the model was trained for (hourglass fit --arch conv --task ...):\n\n"
    + _TASKS_TEXT
    + "\n\nPhotos larger than the training size are processed in overlapping tiles blended back together.",
)
def apply(
    model: Annotated[
        Path, typer.Argument(help="A model folder written by 'hourglass fit --arch conv'.", metavar="MODEL")
    ],
    inputs: Annotated[
        list[Path], typer.Argument(help="Images, folders of images, or .npy arrays.", metavar="INPUTS")
    ],
    out_dir: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Folder to write the results to; for one input, an image (.png, .jpg, .tif, .bmp, .webp) "
            "or array (.npy, .npz) file to write instead.",
        ),
    ],
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
    left_out: list[Path] = []
    files = _inputs(inputs, left_out)
    if _names_one_file(files, out_dir):
        _say_what_changes(estimator, files, left_out, out_dir, quiet)
        # --skip-bad has nothing to go on with: a bad input is the error it is.
        _apply_to_file(estimator, files[0][0], out_dir, force, self_ensemble, quiet)
        return
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidInputError(f"{str(out_dir)!r} is a file; expected a folder for the results")
    check_writable(out_dir, force=True)
    _check_one_input_per_result(files, out_dir)
    for _, name in files:
        check_writable(out_dir / name, force)  # before any work: results are never overwritten
    _say_what_changes(estimator, files, left_out, None, quiet)
    # The folders made for the results go again if no result is written.
    created = make_parents(out_dir / "result")
    # Results wait in a hidden folder beside their places and move in once every input is done:
    # a bad input (without --skip-bad) or an interruption leaves no results of this run behind.
    staging = Path(tempfile.mkdtemp(prefix=".hourglass-apply-", dir=out_dir))
    done, bad, staged = 0, [], []
    try:
        for path, name in files:
            try:
                _process(estimator, path, _make_target(staging / name), self_ensemble)
            except HourglassError as exc:
                if not skip_bad:
                    raise
                bad.append(path)
                typer.echo(f"hourglass: skipped {' '.join(str(exc).split())}", err=True)
                continue
            done += 1
            staged.append((path, name))
        for path, name in staged:
            os.replace(staging / name, _make_target(out_dir / name))
            echo(f"{path} -> {out_dir / name}", quiet)
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
