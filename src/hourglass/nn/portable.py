"""Plain modules that carry a fitted model elsewhere: raw input in, the user's units out.

A fitted estimator scales its input before the network sees it and unscales what comes back
(:class:`hourglass.data.scaling.AffineScaler`), and the network returns a dict of named pieces.
The wrappers here fold the scaling into the module as buffers and return plain tensors, so
that ``torch.export``, ``torch.jit.trace`` and the ONNX exporter take them, and a user who
loads them needs nothing of hourglass. This file knows nothing of files or estimators: it gets
a deterministic network (scaled units in, scaled units out) and the scaler's two arrays.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hourglass.nn.pixels import luminance, upsample

#: The parts of a model that can be carried elsewhere.
PARTS = ("autoencoder", "encoder", "decoder")


class Encode(nn.Module):
    """``network.encode`` as a module: scaled input -> code (the eval-mode bottleneck output)."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network.encode(x)


class Decode(nn.Module):
    """``network.decode`` as a module: code -> reconstruction in scaled units (activated)."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.network.decode(code)


class EncodeDecode(nn.Module):
    """Scaled input -> ``(code, reconstruction)`` through an encoder step, then a decoder step.

    What a plain autoencoder's ``forward`` computes, built from the two deterministic steps (a
    variational model's mean code, say) so that a model supplying those gets the whole.
    """

    def __init__(self, encode: nn.Module, decode: nn.Module) -> None:
        super().__init__()
        self.encode = encode
        self.decode = decode

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encode(x)
        return code, self.decode(code)


class Forward(nn.Module):
    """Scaled input -> ``(code, reconstruction)`` from the network's own ``forward`` (its named dict).

    For networks whose output is not ``decode(encode(x))``: restoration models add the input
    back, U-Nets feed the encoder's feature maps to the decoder.
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.network(x)
        return out["code"], out["reconstruction"]


def _buffer(values: np.ndarray) -> torch.Tensor:
    # float32, the dtype the estimators scale in, shaped like one sample (broadcast over the batch).
    return torch.as_tensor(np.asarray(values, dtype=np.float32)).unsqueeze(0).clone()


class _Scaled(nn.Module):
    """Holds the scaler as buffers: ``scaled = (x - offset) / scale``, ``x = scaled * inverse_scale +
    offset`` (:attr:`~hourglass.data.scaling.AffineScaler.inverse_scale`: ``scale``, but 0 where a
    feature was constant in training, which then comes back as its constant)."""

    def __init__(
        self, offset: np.ndarray, scale: np.ndarray, inverse_scale: np.ndarray | None = None
    ) -> None:
        super().__init__()
        self.register_buffer("offset", _buffer(offset))  # (1, *sample) with singleton shared axes
        self.register_buffer("scale", _buffer(scale))
        self.register_buffer("inverse_scale", _buffer(scale if inverse_scale is None else inverse_scale))

    def _scale(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.offset) / self.scale

    def _unscale(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.inverse_scale + self.offset


class PortableEncoder(_Scaled):
    """Raw input ``(batch, *input_shape)`` -> code ``(batch, code_size)``, as ``transform`` gives it.

    Parameters
    ----------
    encode : nn.Module
        Scaled input -> code (any shape per sample; flattened here).
    offset, scale : ndarray
        The fitted scaler's arrays, shaped like one sample.
    """

    def __init__(self, encode: nn.Module, offset: np.ndarray, scale: np.ndarray) -> None:
        super().__init__(offset, scale)
        self.encode = encode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code = self.encode(self._scale(x))  # (b, *code_shape)
        return code.reshape(code.shape[0], -1)  # (b, code_size)


class PortableDecoder(_Scaled):
    """Code ``(batch, code_size)`` -> reconstruction in the data's units, as ``inverse_transform`` gives it.

    Parameters
    ----------
    decode : nn.Module
        Code shaped ``(batch, *code_shape)`` -> reconstruction in scaled units.
    offset, scale : ndarray
        The fitted scaler's arrays.
    code_shape : tuple of int
        One sample's code in the network (a feature map ``(c, h, w)`` for a spatial code).
    inverse_scale : ndarray, optional
        The scaler's factor on the way back (default ``scale``).
    """

    def __init__(
        self,
        decode: nn.Module,
        offset: np.ndarray,
        scale: np.ndarray,
        code_shape: tuple[int, ...],
        inverse_scale: np.ndarray | None = None,
    ) -> None:
        super().__init__(offset, scale, inverse_scale)
        self.decode = decode
        self.code_shape = tuple(int(s) for s in code_shape)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        h = code.reshape(code.shape[0], *self.code_shape)  # (b, code_size) -> (b, *code_shape)
        return self._unscale(self.decode(h))


class PortableAutoEncoder(_Scaled):
    """Raw input -> ``(code, reconstruction)``, plus the per-sample ``score`` for a detector.

    The reconstruction is in the data's units, as ``reconstruct`` gives it (for a restoration
    model, as ``apply`` gives it: ``task_input`` prepares the raw input first, e.g. the luminance
    for a colorizer or the bicubic upsampling for a super-resolver).

    Parameters
    ----------
    network : nn.Module
        Scaled input -> ``(code, reconstruction)`` in scaled units.
    offset, scale : ndarray
        The fitted scaler's arrays.
    task_input : nn.Module, optional
        Raw input -> what the network takes, in raw units.
    score : bool, default=False
        Also return the mean squared reconstruction error of each sample (an anomaly score).
    scaled_score : bool, default=False
        Measure that error in the scaler's units (z-scores for standardized data), as an
        :class:`~hourglass.AnomalyDetector` scores; else in the input's units.
    code_distance : CodeDistanceScore, optional
        With ``score``: add the code's distance from normal codes to the error, as a detector's
        combined score does (:mod:`hourglass.estimators.code_distance`).
    inverse_scale : ndarray, optional
        The scaler's factor on the way back (default ``scale``).
    """

    def __init__(
        self,
        network: nn.Module,
        offset: np.ndarray,
        scale: np.ndarray,
        task_input: nn.Module | None = None,
        score: bool = False,
        scaled_score: bool = False,
        code_distance: CodeDistanceScore | None = None,
        inverse_scale: np.ndarray | None = None,
    ) -> None:
        super().__init__(offset, scale, inverse_scale)
        self.network = network
        self.task_input = task_input if task_input is not None else nn.Identity()
        self.score = bool(score)
        self.scaled_score = bool(scaled_score)
        self.code_distance = code_distance

    def forward(self, x: torch.Tensor):
        inputs = self.task_input(x)  # raw units, shaped like the training data
        code, scaled = self.network(self._scale(inputs))
        reconstruction = self._unscale(scaled)
        code = code.reshape(code.shape[0], -1)  # (b, code_size)
        if not self.score:
            return code, reconstruction
        if self.scaled_score:
            # The reconstruction's error over scale, as reconstruction_error(scaled=True) measures
            # it: a constant feature's comes back exact, not as the network's output there.
            error = ((reconstruction - inputs) / self.scale).reshape(reconstruction.shape[0], -1)
        else:
            error = (reconstruction - inputs).reshape(reconstruction.shape[0], -1)
        error = (error * error).mean(dim=1)  # (b,)
        if self.code_distance is not None:
            return code, reconstruction, self.code_distance(error, code)
        return code, reconstruction, error


class CodeDistanceScore(nn.Module):
    """``(error, code)`` -> a detector's combined score: ``error / error_scale + weight * distance /
    distance_scale``, the distance being the squared Mahalanobis distance of the code from the
    nearest of the ``center`` rows under its ``precision``, over the code's width (one cloud:
    ``center`` of shape ``(d,)``, ``precision`` ``(d, d)``; a mixture of k: ``(k, d)``, ``(k, d, d)``).
    """

    def __init__(
        self,
        center: np.ndarray,
        precision: np.ndarray,
        error_scale: float,
        distance_scale: float,
        weight: float,
    ) -> None:
        super().__init__()
        width = np.shape(center)[-1]
        centers = np.reshape(np.asarray(center), (-1, width))
        precisions = np.reshape(np.asarray(precision), (-1, width, width))
        self.register_buffer("center", torch.as_tensor(centers, dtype=torch.float32))
        self.register_buffer("precision", torch.as_tensor(precisions, dtype=torch.float32))
        self.error_scale = float(error_scale)
        self.distance_scale = float(distance_scale)
        self.weight = float(weight)

    def forward(self, error: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        diff = code.unsqueeze(1) - self.center  # (batch, k, d)
        per_component = torch.einsum("bkd,kde,bke->bk", diff, self.precision, diff)
        distance = per_component.amin(dim=1) / diff.shape[2]
        return error / self.error_scale + self.weight * distance / self.distance_scale


def portable_output_names(part: str, score: bool = False) -> tuple[str, ...]:
    """The names of what the portable module of ``part`` returns, in order."""
    if part == "encoder":
        return ("code",)
    if part == "decoder":
        return ("reconstruction",)
    return ("code", "reconstruction", "score") if score else ("code", "reconstruction")


def portable_input_name(part: str) -> str:
    """The name of the portable module's input: ``code`` for the decoder, ``input`` otherwise."""
    return "code" if part == "decoder" else "input"


class Luminance(nn.Module):
    """A colorizer's input from an RGB batch ``(b, 3, h, w)``: its luma on all three channels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return luminance(x)


class Upsample(nn.Module):
    """A super-resolver's input: the low-resolution batch interpolated to ``size`` (bicubic for images)."""

    def __init__(self, size: tuple[int, ...]) -> None:
        super().__init__()
        self.size = tuple(int(s) for s in size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upsample(x, self.size)
