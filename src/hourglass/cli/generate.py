"""Generative commands: ``hourglass sample`` draws new items from a variational model."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from hourglass.cli.app import command, echo
from hourglass.cli.arguments import Force, ModelArg, Quiet
from hourglass.cli.inputs import feature_names, load_model
from hourglass.cli.options import MAX_SEED
from hourglass.cli.outputs import fitting_columns
from hourglass.data.fileio import check_writable
from hourglass.exceptions import InvalidInputError
from hourglass.exceptions import with_article as _a

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ARRAY_SUFFIXES = (".npy", ".npz", ".csv", ".parquet")
#: Width in pixels below which a grid of samples is enlarged (nearest neighbour) to be readable.
MIN_GRID_WIDTH = 256


def sample_images_shape(input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """How one sample shows as an image: ``(c, h, w)`` as it is, a row of a square number of
    values as a gray square; anything else cannot be drawn.

    Examples
    --------
    >>> sample_images_shape((784,))
    (1, 28, 28)
    """
    if len(input_shape) == 3 and input_shape[0] in (1, 3):
        return tuple(input_shape)
    if len(input_shape) == 1:
        side = math.isqrt(input_shape[0])
        if side * side == input_shape[0]:
            return (1, side, side)
    shown = "x".join(map(str, input_shape))
    raise InvalidInputError(
        f"this model's samples have shape {shown}, which is no image (a square number of values or "
        f"(c, h, w)); write them to {', '.join(ARRAY_SUFFIXES)} instead"
    )


def upscale_factor(width: int, ncols: int) -> int:
    """How many times to enlarge samples ``width`` pixels wide, ``ncols`` to a row, so that the grid
    is at least :data:`MIN_GRID_WIDTH` pixels wide (1: wide enough already).

    Examples
    --------
    >>> upscale_factor(8, 4), upscale_factor(64, 8)
    (8, 1)
    """
    return max(1, -(-MIN_GRID_WIDTH // max(1, width * ncols)))


def tile(images, ncols: int, scale: int = 1):
    """Lay ``(n, c, h, w)`` images out in one ``(c, H, W)`` grid with a 1-pixel white border,
    each enlarged ``scale`` times (nearest neighbour: every pixel a ``scale`` x ``scale`` block)."""
    import numpy as np

    if scale > 1:
        images = images.repeat(scale, axis=2).repeat(scale, axis=3)
    n, c, h, w = images.shape
    rows = math.ceil(n / ncols)
    grid = np.ones((c, rows * (h + 1) + 1, ncols * (w + 1) + 1), dtype=np.float32)
    for i, image in enumerate(images):
        r, q = divmod(i, ncols)
        grid[:, 1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + q * (w + 1) : 1 + q * (w + 1) + w] = image
    return grid


@command()
def sample(
    model: ModelArg,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="A .png grid of images, or .npy, .npz, .csv or .parquet values."),
    ],
    n: Annotated[int, typer.Option("-n", "--n-samples", help="How many samples.", min=1)] = 64,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the draws.", min=0, max=MAX_SEED)] = 0,
    force: Force = False,
    quiet: Quiet = False,
):
    """Draw N new samples from a variational MODEL (hourglass fit --arch vae / --variational)."""
    suffix = output.suffix.lower()
    if suffix not in IMAGE_SUFFIXES + ARRAY_SUFFIXES:
        raise InvalidInputError(
            f"--output {str(output)!r}: expected a suffix in {list(IMAGE_SUFFIXES + ARRAY_SUFFIXES)}"
        )
    check_writable(output, force)
    estimator = load_model(model)
    if not callable(getattr(estimator, "sample", None)):
        raise InvalidInputError(
            f"{str(model)!r} holds {_a(type(estimator).__name__)}, which cannot sample; fit a variational "
            "model (hourglass fit --arch vae, or --variational) to draw new samples"
        )
    values = math.prod(estimator.input_shape_)
    if suffix == ".npy":
        # Batch by batch into the atomic temporary: the memory this takes does not grow with N.
        from hourglass.data.npy_stream import write_npy_batches

        shape = tuple(estimator.input_shape_)
        write_npy_batches(output, n, shape, estimator.iter_samples(n, random_state=seed), force=force)
        echo(f"wrote {n} samples of shape {shape} to {output}", quiet)
        return
    from hourglass.data.memory import check_fits_in_memory

    # Every other format is built in memory whole: say so now, not after minutes of sampling.
    check_fits_in_memory(
        4 * n * values, f"-n {n} samples of {values} values", "a .npy output is written batch by batch"
    )
    if suffix in IMAGE_SUFFIXES:
        shape = sample_images_shape(tuple(estimator.input_shape_))
        drawn = estimator.sample(n, random_state=seed).reshape(n, *shape)
        from hourglass.data.images import save_image

        ncols = min(n, max(1, math.isqrt(n - 1) + 1))
        # An 8x8 digit is a speck on screen: small samples are enlarged to a grid one can read.
        scale = upscale_factor(shape[2], ncols)
        save_image(output, tile(drawn, ncols, scale), force=force)
        enlarged = f", each enlarged {scale}x" if scale > 1 else ""
        echo(f"wrote {n} samples of shape {'x'.join(map(str, shape))} as a grid to {output}{enlarged}", quiet)
        return
    from hourglass.data.saving import save_array

    drawn = estimator.sample(n, random_state=seed)
    columns = None
    if suffix in (".csv", ".parquet"):
        drawn = drawn.reshape(n, -1)
        columns = fitting_columns(drawn, feature_names(estimator))  # a table's samples keep its names
    save_array(output, drawn, force=force, columns=columns)
    echo(f"wrote {n} samples of shape {tuple(drawn.shape[1:])} to {output}", quiet)
