"""``hourglass export``: a saved model as an ONNX file that takes raw input in the data's units."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from hourglass.cli.app import command, echo
from hourglass.cli.arguments import Force, ModelArg, Quiet
from hourglass.cli.inputs import load_model


class Part(str, Enum):
    autoencoder = "autoencoder"
    encoder = "encoder"
    decoder = "decoder"


@command("export")
def export(
    model: ModelArg,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The ONNX file to write.", metavar="FILE.onnx")
    ],
    part: Annotated[
        Part,
        typer.Option(
            help="autoencoder: input -> code and reconstruction (and score, for a detector); "
            "encoder: input -> code; decoder: code -> reconstruction."
        ),
    ] = Part.autoencoder,
    force: Force = False,
    quiet: Quiet = False,
):
    """Export MODEL to ONNX, with its input scaling inside: the graph takes raw data.

    Inputs and outputs are named input, code and reconstruction; the batch axis is dynamic. The
    file is checked with onnxruntime against PyTorch before it is written. Needs the onnx
    extra: pip install "hourglass-ae[onnx]".
    """
    from hourglass.estimators.export import check_onnx_path, describe, export_onnx

    check_onnx_path(output, force)  # before loading the model: fail fast, write nothing
    estimator = load_model(model)
    result = export_onnx(estimator, output, part=part.value, force=force)
    for line in describe(result):
        echo(line, quiet)
