"""Carrying a fitted model elsewhere: a plain PyTorch module, or an ONNX file, with the scaling inside.

:func:`to_torch` wraps the estimator's deterministic network (:func:`export_encoder`,
:func:`export_decoder`, :func:`export_autoencoder`; the task object says what a restoration
model's exported input is) and its fitted scaler into a module of :mod:`hourglass.nn.portable`
that takes raw input in the user's units. :func:`export_onnx`
traces that module with PyTorch's ONNX exporter, names the inputs and outputs, makes the batch
axis dynamic, records what the file holds in its ``metadata_props``, checks the file with
onnxruntime against PyTorch, and writes it atomically.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import io
import json
import logging
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from hourglass._version import __version__
from hourglass.data.fileio import check_writable, write_bytes_atomic
from hourglass.data.saving import check_save_suffix
from hourglass.estimators.code_distance import DISTANCE_WEIGHT
from hourglass.exceptions import ExportError, InvalidInputError, MissingDependencyError
from hourglass.nn.conv_model import ResidualAutoEncoder
from hourglass.nn.portable import (
    PARTS,
    CodeDistanceScore,
    Decode,
    Encode,
    EncodeDecode,
    Forward,
    PortableAutoEncoder,
    PortableDecoder,
    PortableEncoder,
    portable_input_name,
    portable_output_names,
)
from hourglass.train.tasks import task_of

#: What the ONNX export needs beyond hourglass's own dependencies: the ``onnx`` extra.
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")
#: Rows of the example batch the exporter traces with and the check runs on. Two, not one: the
#: exporter would specialize a batch axis of size 1 to a constant.
EXAMPLE_ROWS = 8
#: Protocol buffers, which ONNX files are, serialize at most 2 GiB.
ONNX_FILE_LIMIT = 2**31 - 1
#: The largest disagreement between onnxruntime and PyTorch an exported file may show on the
#: example batch, relative to the largest output value (at least 1): float32 rounding is ~1e-7.
CHECK_TOLERANCE = 1e-4


@dataclass
class ExportResult:
    """What :func:`export_onnx` wrote.

    Attributes
    ----------
    path : Path
        The ONNX file.
    part : str
        'autoencoder', 'encoder' or 'decoder'.
    inputs, outputs : dict of str to list
        Name -> shape of each graph input and output; the batch axis is the string ``'batch'``.
    n_bytes : int
        The file's size.
    max_difference : float
        The largest difference between onnxruntime and PyTorch on the example batch.
    metadata : dict of str to str
        The file's ``metadata_props``.
    """

    path: Path
    part: str
    inputs: dict[str, list]
    outputs: dict[str, list]
    n_bytes: int
    max_difference: float
    metadata: dict[str, str] = field(default_factory=dict)


def _inner(estimator: Any) -> tuple[Any, bool]:
    """The autoencoder estimator behind ``estimator``, and whether a detector's score is wanted."""
    inner = getattr(estimator, "estimator_", None)
    if inner is not None and hasattr(estimator, "threshold_"):  # an AnomalyDetector
        return inner, True
    return estimator, False


def check_part(part: Any) -> str:
    """Refuse a part that is not one of :data:`~hourglass.nn.portable.PARTS`."""
    if part not in PARTS:
        raise InvalidInputError(f"part={part!r}; expected one of {', '.join(map(repr, PARTS))}")
    return part


def input_shape(estimator: Any) -> tuple[int, ...]:
    """One sample's shape as the fitted estimator takes it (features, or channels first)."""
    shape = getattr(estimator, "input_shape_", None)
    return tuple(int(s) for s in shape) if shape is not None else (int(estimator.n_features_in_),)


# -- the network's deterministic pieces, in its scaled units ----------------------------------
def export_encoder(estimator: Any) -> torch.nn.Module:
    """Scaled input -> code: the network's ``encode`` in eval mode (a sampled code's mean)."""
    return Encode(estimator.module_)


def export_decoder(estimator: Any) -> torch.nn.Module:
    """Code ``(batch, *_code_shape())`` -> reconstruction in scaled units, where there is one.

    A restoration task's decoder gives a correction to its input (or a colorizer's chroma), not
    data, and a U-Net's decoder also reads the encoder's feature maps: neither stands alone.
    """
    if task_of(estimator).restoration:
        raise ExportError(
            f"a model with task={estimator.task!r} has no decoder to export on its own: its decoder gives "
            "a correction to its input (or a colorizer's chroma), not data; export part='autoencoder'"
        )
    if not getattr(estimator.module_, "decodes_codes_alone", True):
        raise ExportError(
            f"this {type(estimator).__name__} has no decoder to export on its own: its decoder also "
            "reads the encoder's feature maps of the input (skip connections); export part='autoencoder'"
        )
    return Decode(estimator.module_)


def export_autoencoder(estimator: Any) -> torch.nn.Module:
    """Scaled input -> ``(code, reconstruction)``.

    The encoder and decoder chained, unless the network adds more to its output than its decoder
    gives (a restoration model's input, a U-Net's skips): then its ``forward``.
    """
    module = estimator.module_
    if isinstance(module, ResidualAutoEncoder) or not getattr(module, "decodes_codes_alone", True):
        return Forward(module)
    return EncodeDecode(export_encoder(estimator), export_decoder(estimator))


def export_task_input(estimator: Any) -> torch.nn.Module | None:
    """Raw input of the exported autoencoder -> the network's input, in raw units (None: as is).

    What the task's ``apply`` does to raw input before the network: luminance, or upsampling.
    """
    return task_of(estimator).export_input(input_shape(estimator))


def task_input_shape(estimator: Any) -> tuple[int, ...]:
    """One sample's shape at the exported autoencoder's input (a super-resolver's is smaller)."""
    return task_of(estimator).export_input_shape(input_shape(estimator))


def to_torch(estimator: Any, part: str = "autoencoder") -> torch.nn.Module:
    """The fitted ``estimator``'s ``part`` as a plain module on raw input (``BaseAutoEncoder.to_torch``)."""
    check_part(part)
    inner, score = _inner(estimator)
    check_is_fitted(inner, "module_")
    was_training = inner.module_.training
    inner.module_.eval()
    try:
        # The pieces see the estimator's own module; the copy keeps the estimator untouched.
        with _on_cpu_copy(inner):
            offset, scale, inverse = inner.scaler_.offset, inner.scaler_.scale, inner.scaler_.unscale
            if part == "encoder":
                module = PortableEncoder(export_encoder(inner), offset, scale)
            elif part == "decoder":
                module = PortableDecoder(export_decoder(inner), offset, scale, inner._code_shape(), inverse)
            else:
                module = PortableAutoEncoder(
                    export_autoencoder(inner),
                    offset,
                    scale,
                    task_input=export_task_input(inner),
                    score=score and part == "autoencoder",
                    scaled_score=getattr(estimator, "score_units_", "raw") == "scaled",
                    code_distance=code_distance_score(estimator) if score else None,
                    inverse_scale=inverse,
                )
    finally:
        inner.module_.train(was_training)
    module.eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module


def code_distance_score(detector: Any) -> CodeDistanceScore | None:
    """The code-distance half of a detector's combined score, as a module; None for another score."""
    if getattr(detector, "score_kind_", "reconstruction") != "combined":
        return None
    distance = detector.code_distance_
    return CodeDistanceScore(
        distance.center, distance.precision, detector.error_scale_, detector.distance_scale_, DISTANCE_WEIGHT
    )


@contextlib.contextmanager
def _on_cpu_copy(estimator: Any):
    """Let the export pieces build on a CPU, float32, eval-mode copy of ``module_``."""
    original = estimator.module_
    estimator.module_ = copy.deepcopy(original).to("cpu", torch.float32).eval()
    try:
        yield
    finally:
        estimator.module_ = original


def example_input(estimator: Any, part: str, rows: int = EXAMPLE_ROWS, seed: int = 0) -> torch.Tensor:
    """A batch in the input's units to trace and check with: ``offset + scale * N(0, 1)``.

    For the decoder, codes drawn from N(0, 1); for a super-resolver, low-resolution images.
    """
    inner, _ = _inner(estimator)
    generator = np.random.default_rng(seed)
    if part == "decoder":
        return torch.from_numpy(generator.standard_normal((rows, inner._n_features_out)).astype(np.float32))
    shape = export_input_shape(estimator, part)
    noise = generator.standard_normal((rows, *shape)).astype(np.float32)
    offset, scale = inner.scaler_.offset, inner.scaler_.scale
    if shape == input_shape(inner):
        noise = noise * scale + offset
    return torch.from_numpy(np.ascontiguousarray(noise, dtype=np.float32))


def export_input_shape(estimator: Any, part: str) -> tuple[int, ...]:
    """One sample's shape at the exported graph's input."""
    inner, _ = _inner(estimator)
    if part == "decoder":
        return (int(inner._n_features_out),)
    if part == "autoencoder":
        return task_input_shape(inner)
    return input_shape(inner)


def _require_onnx() -> dict[str, Any]:
    modules, missing = {}, []
    for name in ONNX_PACKAGES:
        try:
            modules[name] = importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingDependencyError(
            f"exporting to ONNX needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
            'not installed; install the extra: pip install "hourglass-ae[onnx]"'
        )
    return modules


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the exporter's chatter (warnings, log lines, graph dumps) that says nothing to a user.

    What went wrong reaches the user as the one-line :class:`ExportError` instead.
    """
    names = ["torch", *(n for n in logging.root.manager.loggerDict if n.startswith("torch"))]
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _first_line(exc: BaseException) -> str:
    """The first line of the innermost cause of ``exc``, where the exporter says what it met."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    lines = [line.strip() for line in _ANSI.sub("", str(exc)).splitlines() if line.strip()]
    text = " ".join(lines[0].split())[:240] if lines else "no message"
    return f"{type(exc).__name__}: {text}"


def _metadata(estimator: Any, part: str, shapes: dict[str, Any]) -> dict[str, str]:
    inner, score = _inner(estimator)
    meta: dict[str, Any] = {
        "hourglass_version": __version__,
        "torch_version": torch.__version__.split("+")[0],
        "estimator": type(estimator).__name__,
        "part": part,
        "code_size": int(inner._n_features_out),
        "code_shape": list(inner._code_shape()),
        "input_shape": list(input_shape(inner)),
        "graph_input_shape": list(export_input_shape(estimator, part)),
        "scaling": inner.scaler_.kind,
        "inputs": shapes["inputs"],
        "outputs": shapes["outputs"],
        "dtype": "float32",
    }
    task = getattr(inner, "task", None)
    if task is not None:
        meta["task"] = task
    names = getattr(inner, "feature_names_in_", None)
    table = getattr(inner, "table_", None)
    if names is None and table is not None:  # fitted on a table file by the command line
        names = table.features
    if names is not None and part != "decoder":
        meta["feature_names"] = [str(n) for n in names]
    if score and part == "autoencoder" and code_distance_score(estimator) is not None:
        meta["score"] = (
            "anomaly score per sample (as threshold): the reconstruction MSE in the model's scaled "
            f"units over {estimator.error_scale_:.6g}, plus {DISTANCE_WEIGHT} x the code's squared "
            f"Mahalanobis distance from normal codes (per code unit) over {estimator.distance_scale_:.6g}"
        )
    elif score and part == "autoencoder":
        scaled = getattr(estimator, "score_units_", "raw") == "scaled"
        meta["score"] = "mean squared reconstruction error per sample, " + (
            "in the model's scaled units (as threshold)" if scaled else "in the input's units"
        )
    if score and part == "autoencoder":
        meta["threshold"] = float(estimator.threshold_)
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}


def check_onnx_path(path: str | Path, force: bool = False) -> Path:
    """``path`` as a Path once it names a ``.onnx`` file that can be written; else the error.

    A folder is named as such: "'.' refused a new file: Is a directory" said it at the end.
    """
    if Path(path).is_dir():
        raise InvalidInputError(f"cannot save {str(path)!r}: it is a folder; expected a .onnx file path")
    check_save_suffix(path, (".onnx",))
    return check_writable(path, force, file=True)


def export_onnx(
    estimator: Any, path: str | Path, part: str = "autoencoder", force: bool = False
) -> ExportResult:
    """Write the fitted ``estimator``'s ``part`` to an ONNX file (see ``BaseAutoEncoder.export_onnx``).

    Nothing is written unless the export, the ONNX checker and the onnxruntime check succeed.
    """
    check_part(part)
    inner, _ = _inner(estimator)
    check_is_fitted(inner, "module_")
    path = check_onnx_path(path, force)
    mods = _require_onnx()
    onnx, ort = mods["onnx"], mods["onnxruntime"]

    module = to_torch(estimator, part)
    example = example_input(estimator, part)
    input_name = portable_input_name(part)
    output_names = portable_output_names(part, score=getattr(module, "score", False))
    # The dynamo exporter (torch.export, then onnxscript), not the TorchScript one: PyTorch has
    # made it the default since 2.9 and deprecated the other, and it exports TopK's scatter and
    # a dynamic batch axis without the tracer's warnings about Python values.
    batch = torch.export.Dim("batch")
    argument = next(iter(_forward_arguments(module)))
    try:
        with _quiet_exporter():
            program = torch.onnx.export(
                module,
                (example,),
                dynamo=True,
                input_names=[input_name],
                output_names=list(output_names),
                dynamic_shapes={argument: {0: batch}},
                verbose=False,
                report=False,
            )
    except Exception as exc:  # the exporter raises many kinds; any means "cannot trace this"
        raise ExportError(
            f"cannot export the {part} of this {type(estimator).__name__} to ONNX: PyTorch's exporter "
            f"could not trace it ({_first_line(exc)}); every layer, a user's "
            "encoder or decoder module included, must be traceable by torch.export"
        ) from exc
    proto = program.model_proto
    shapes = {
        "inputs": {i.name: _shape_of(i) for i in proto.graph.input},
        "outputs": {o.name: _shape_of(o) for o in proto.graph.output},
    }
    onnx.helper.set_model_props(proto, _metadata(estimator, part, shapes))
    if proto.ByteSize() >= ONNX_FILE_LIMIT:
        raise ExportError(
            f"the {part} of this {type(estimator).__name__} takes {proto.ByteSize() / 2**30:.3g} GiB, "
            "beyond the 2 GiB an ONNX file holds without external data; export the encoder or the "
            "decoder alone, or use to_torch() with torch.export"
        )
    data = proto.SerializeToString()
    difference = _check_file(onnx, ort, proto, data, module, estimator, part, input_name, output_names)
    write_bytes_atomic(path, data)
    return ExportResult(
        path=Path(path),
        part=part,
        inputs=shapes["inputs"],
        outputs=shapes["outputs"],
        n_bytes=len(data),
        max_difference=difference,
        metadata={p.key: p.value for p in proto.metadata_props},
    )


def _check_file(onnx, ort, proto, data, module, estimator, part, input_name, output_names) -> float:
    """The largest difference between onnxruntime on ``data`` and PyTorch on ``module``.

    Checked on the traced batch and on a fresh one of another size: a layer that the exporter
    recorded as a constant (a user's module computing through numpy, say) gives itself away
    on inputs it was not traced with.
    """
    name = type(estimator).__name__
    try:
        onnx.checker.check_model(proto)
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        difference, largest = 0.0, 0.0
        for rows, seed in ((EXAMPLE_ROWS, 0), (3, 1)):
            batch = example_input(estimator, part, rows=rows, seed=seed)
            expected = [e.numpy() for e in _outputs_of(module, batch)]
            got = session.run(list(output_names), {input_name: batch.numpy()})
            for g, e in zip(got, expected, strict=True):
                if g.shape != e.shape:
                    raise ExportError(
                        f"the ONNX file of this {name}'s {part} gives shape {g.shape} where PyTorch gives "
                        f"{e.shape}: a layer was recorded as a constant; nothing was written"
                    )
                difference = max(difference, float(np.max(np.abs(g - e), initial=0.0)))
                largest = max(largest, float(np.max(np.abs(e), initial=0.0)))
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(
            f"the ONNX file of this {name}'s {part} does not run in onnxruntime ({_first_line(exc)}); "
            "nothing was written"
        ) from exc
    if not difference <= CHECK_TOLERANCE * max(1.0, largest):
        raise ExportError(
            f"the ONNX file of this {name}'s {part} disagrees with PyTorch by {difference:.3g} (largest "
            f"output {largest:.3g}): a layer was traced as a constant or exported wrongly; nothing written"
        )
    return difference


def _outputs_of(module: torch.nn.Module, example: torch.Tensor) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        out = module(example)
    return out if isinstance(out, tuple) else (out,)


def _forward_arguments(module: torch.nn.Module):
    import inspect

    return inspect.signature(module.forward).parameters


def _shape_of(value_info) -> list:
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_param if d.dim_param else int(d.dim_value) for d in dims]


def describe(result: ExportResult) -> list[str]:
    """Lines saying what an export wrote: path, part, each input and output with its shape, bytes."""
    estimator = result.metadata.get("estimator")
    lines = [f"wrote {result.path} ({result.n_bytes:,} bytes): the {result.part} of {estimator}"]
    width = max(len(n) for n in [*result.inputs, *result.outputs])
    for kind, items in (("input", result.inputs), ("output", result.outputs)):
        for name, shape in items.items():
            dims = ", ".join(str(d) for d in shape)
            lines.append(f"  {kind:<6}  {name:<{width}}  float32 [{dims}]")
    lines.append(f"checked with onnxruntime: largest difference from PyTorch {result.max_difference:.2g}")
    return lines


__all__ = [
    "ExportResult",
    "describe",
    "export_autoencoder",
    "export_decoder",
    "export_encoder",
    "export_onnx",
    "export_task_input",
    "task_input_shape",
    "to_torch",
]
