"""``hourglass compress`` / ``decompress``: a VQ model's codes as an entropy-coded file.

A thin layer over :mod:`hourglass.uses.compression`: compress prints the bytes in and out, the
bits per pixel and the reconstruction's PSNR; decompress checks the file against the model
(fingerprint, length, CRC) before anything is written.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from hourglass.cli.app import command, echo
from hourglass.cli.arguments import DataArg, Force, Key, ModelArg, Quiet
from hourglass.cli.inputs import load_model, model_input
from hourglass.data.fileio import atomic_path, check_writable, write_bytes_atomic
from hourglass.exceptions import DataFileError, InvalidInputError

#: Largest compressed file read (a crafted one could otherwise cost its size in memory).
MAX_FILE_BYTES = 2**31
#: Samples decoded at a time by ``decompress``.
DECODE_BATCH = 1024


class Coder(str, Enum):
    auto = "auto"
    range = "range"
    lzma = "lzma"
    zlib = "zlib"
    raw = "raw"


@command()
def compress(
    model: ModelArg,
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="The compressed file to write.")],
    coder: Annotated[
        Coder,
        typer.Option(
            help="Entropy coder: auto (the smaller file of range, when constriction is installed, "
            "and lzma), range, lzma, zlib or raw."
        ),
    ] = Coder.auto,
    key: Key = None,
    force: Force = False,
    quiet: Quiet = False,
):
    """Compress DATA with a VQ model (hourglass fit --arch vq) into one file of entropy-coded indices.

    Prints the bytes in (8-bit values), the bytes out (the whole file), bits per pixel and the
    reconstruction's PSNR. Decompress with the same model.
    """
    from hourglass.uses.compression import check_codec_model, compress, compression_report

    _refuse_data_suffix(output)
    check_writable(output, force)
    estimator = load_model(model)
    check_codec_model(estimator)
    X = estimator._validate_input(model_input(estimator, data, key, quiet=quiet), reset=False)
    blob = compress(estimator, X, None if coder is Coder.auto else coder.value)
    report = compression_report(estimator, X, blob)
    write_bytes_atomic(output, blob)
    echo(f"wrote {len(X)} samples to {output}", quiet)
    typer.echo(
        f"bytes in: {report.bytes_in} ({len(X)} x {'x'.join(map(str, estimator.input_shape_))} "
        "values, 8 bits each)"
    )
    typer.echo(f"bytes out: {report.bytes_out} (coder {report.coder}, header included)")
    from hourglass.uses.codec_metrics import position_word

    where = position_word(tuple(estimator.input_shape_))
    per_value = f"; {report.bits_per_value:.4g} per value" if estimator.input_shape_[0] > 1 else ""
    typer.echo(
        f"bits per {where}: {report.bits_per_pixel:.4g} (all channels{per_value}; ratio {report.ratio:.3g}:1)"
    )
    typer.echo(f"PSNR: {report.psnr:.2f} dB")


def _refuse_data_suffix(output: Path) -> None:
    """Refuse ``-o`` naming an array, table or image file (``codes.npz``): the compressed file is in
    hourglass's own format, which numpy, pandas and image viewers then failed to read."""
    from hourglass.data.images import IMAGE_SUFFIXES
    from hourglass.data.saving import ARRAY_SAVE_SUFFIXES

    suffix = output.suffix.lower()
    if suffix in (*ARRAY_SAVE_SUFFIXES, *IMAGE_SUFFIXES):
        raise InvalidInputError(
            f"--output {str(output)!r}: the compressed file is in hourglass's own format, not a {suffix}; "
            "name it otherwise (e.g. data.hgvq), and 'hourglass decompress' writes .npy, .npz or images"
        )


@command()
def decompress(
    model: ModelArg,
    file: Annotated[
        Path, typer.Argument(help="A file written by 'hourglass compress' with MODEL.", metavar="FILE")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Where to write: a .npy or .npz array, a .png (one image), or a folder of PNGs.",
        ),
    ],
    force: Force = False,
    quiet: Quiet = False,
):
    """Decode FILE (from 'hourglass compress') with MODEL into an array or images."""
    import numpy as np

    from hourglass.uses.compression import check_codec_model, decompress_indices

    check_writable(output, force)
    suffix = output.suffix.lower()
    if suffix not in (".npy", ".npz", ".png", ""):
        raise InvalidInputError(
            f"--output {str(output)!r}: decompress does not write {suffix} files; expected a .npy or .npz "
            "file, a .png file (one image) or a folder"
        )
    if not file.is_file():
        raise DataFileError(f"no such compressed file: {str(file)!r}")
    if file.stat().st_size > MAX_FILE_BYTES:
        raise DataFileError(f"{str(file)!r} is larger than {MAX_FILE_BYTES} bytes")
    estimator = load_model(model)
    check_codec_model(estimator)
    try:
        indices = decompress_indices(estimator, file.read_bytes())
    except DataFileError as exc:
        raise DataFileError(f"{str(file)!r}: {exc}") from None
    n, shape = len(indices), tuple(estimator.input_shape_)
    # Decoded a batch at a time: the images of a file can be many times its indices' size.
    batches = (estimator.decode_indices(indices[i : i + DECODE_BATCH]) for i in range(0, n, DECODE_BATCH))
    if suffix == ".npy":
        from hourglass.data.npy_stream import write_npy_batches

        write_npy_batches(output, n, shape, batches, force=force)
        echo(f"wrote {n} samples of shape {shape} to {output}", quiet)
        return
    if suffix == ".npz":  # compressed whole, as every command writes a .npz: under the key data
        from hourglass.data.saving import save_array

        save_array(output, np.concatenate([np.asarray(batch) for batch in batches]), force=force)
        echo(f"wrote {n} samples of shape {shape} to {output} (key data)", quiet)
        return
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise InvalidInputError(
            f"the samples have shape {shape}, not gray or RGB images; write a .npy instead"
        )
    from hourglass.data.images import save_image

    if suffix == ".png":
        if n != 1:
            raise InvalidInputError(f"the file holds {n} images; write them to a folder or a .npy")
        save_image(output, next(batches)[0], force=force)
        echo(f"wrote the image to {output}", quiet)
        return
    width = len(str(n - 1))
    with atomic_path(output) as tmp:  # the whole folder appears at once, or not at all
        tmp.mkdir()
        i = 0
        for batch in batches:
            for image in batch:
                save_image(tmp / f"{i:0{width}d}.png", np.asarray(image))
                i += 1
    echo(f"wrote {n} images to {output}/", quiet)
