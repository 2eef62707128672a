"""Typed configurations, one per concern, saved as JSON next to the weights.

An architecture config holds everything needed to rebuild the PyTorch module (and nothing
about data or training); a training config holds everything the loop needs.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

from hourglass.choices import ACTIVATIONS, DOWNSAMPLINGS, LOSSES  # noqa: F401 (LOSSES: still importable here)
from hourglass.exceptions import InvalidInputError

# -- limits ---------------------------------------------------------------------------------------
# The largest architectures hourglass builds, far beyond any that trains in reasonable time, so
# that a crafted config cannot ask for terabytes (a layer of 10**9 units) or millions of modules.
#: Units of a dense layer, a code, or channels of a conv block.
MAX_WIDTH = 2**20
#: Layers of a dense encoder or decoder, blocks of a conv encoder, convolutions per block.
MAX_LAYERS = 64
#: Values in one input sample (features, or channels x pixels).
MAX_INPUT_VALUES = 2**28
#: Side of a convolution kernel.
MAX_KERNEL = 63

OUTPUT_ACTIVATIONS = ("identity", "sigmoid", "clip")
CODE_ACTIVATIONS = ("identity", "relu", "sigmoid")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidInputError(message)


def check_skip_connections(code_size: int | None, downsampling: str) -> None:
    """Raise unless U-Net skips fit: they need a spatial code and max-pool/upsample blocks."""
    _require(
        code_size is None and downsampling == "pool",
        f"skip_connections=True needs code_size=None and downsampling='pool' (got "
        f"code_size={code_size}, downsampling={downsampling!r})",
    )


def _int_tuple(name: str, value: Any) -> tuple[int, ...]:
    """``value`` as a tuple of ints, or InvalidInputError naming ``name`` (a string is no sequence
    of sizes, though Python would iterate over its characters)."""
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        sizes = tuple(value)
        # Whole numbers only: 8.0 (from JSON or a float array) is 8, but 2.5 and True are no size.
        if not all(
            isinstance(s, numbers.Real) and not isinstance(s, bool) and float(s).is_integer() for s in sizes
        ):
            raise TypeError
        return tuple(int(s) for s in sizes)
    except (TypeError, OverflowError):
        raise InvalidInputError(
            f"{name}={value!r}; expected a sequence of positive integers, e.g. (256, 128)"
        ) from None


def _check_limits(name: str, sizes, limit: int, count_limit: int | None = MAX_LAYERS) -> None:
    """Refuse more than ``count_limit`` sizes, or a size above ``limit`` (see the limits above)."""
    sizes = tuple(sizes or ())
    _require(
        count_limit is None or len(sizes) <= count_limit,
        f"{name} has {len(sizes)} entries; at most {count_limit} are supported",
    )
    # One size reads as the number it is (chroma_subsampling=1000), not as a tuple "(1000,)".
    shown = sizes[0] if len(sizes) == 1 else sizes
    _require(all(s <= limit for s in sizes), f"{name}={shown} exceeds the supported maximum of {limit}")


def _json_type_matches(value: Any, hint: Any, scalar_for_tuple: bool) -> bool:
    if hint is Any or isinstance(hint, typing.TypeVar):
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(_json_type_matches(value, a, scalar_for_tuple) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (tuple, list):
        homogeneous = origin is list or (len(args) == 2 and args[1] is Ellipsis)
        if scalar_for_tuple and homogeneous and args and _json_type_matches(value, args[0], False):
            return True  # e.g. hidden_layers=16, which the estimators read as (16,)
        if not isinstance(value, (list, tuple)):
            return False
        if homogeneous:
            return not args or all(_json_type_matches(v, args[0], False) for v in value)
        return len(value) == len(args) and all(
            _json_type_matches(v, a, False) for v, a in zip(value, args, strict=True)
        )
    if origin is dict:
        return isinstance(value, dict) and all(
            isinstance(k, str) and (not args or _json_type_matches(v, args[1], False))
            for k, v in value.items()
        )
    return True  # a type JSON cannot hold (a user's module, a RandomState): saved as None


def check_json_types(owner: str, data: dict[str, Any], hints: dict[str, Any], scalar_for_tuple: bool = False):
    """Raise InvalidInputError naming the first value of ``data`` whose JSON type is not its hint's.

    Parameters
    ----------
    owner : str
        What ``data`` describes, for the message (``'DenseConfig'``).
    data : dict
        Values read from JSON.
    hints : dict
        Type hints by name (``typing.get_type_hints`` of a dataclass or an ``__init__``);
        names without a hint are not checked.
    scalar_for_tuple : bool, default=False
        Accept a single value where a homogeneous tuple is expected.

    Examples
    --------
    >>> check_json_types("DenseConfig", {"code_size": "8"}, {"code_size": int})
    Traceback (most recent call last):
    ...
    hourglass.exceptions.InvalidInputError: DenseConfig field code_size='8' has the wrong type; expected int
    """
    for name, value in data.items():
        hint = hints.get(name, Any)
        if not _json_type_matches(value, hint, scalar_for_tuple):
            text = repr(value)
            text = text if len(text) <= 60 else text[:57] + "..."
            expected = str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")
            raise InvalidInputError(f"{owner} field {name}={text} has the wrong type; expected {expected}")


def layer_widths(value: Any) -> tuple | None:
    """Layer widths as a tuple of ints, however given: one whole number or a sequence of them
    (a list, an array, a JSON list); None where ``value`` is not a sequence (the parameter checks
    refuse it in their own words).

    Examples
    --------
    >>> layer_widths(64), layer_widths([256, 128]), layer_widths(None)
    ((64,), (256, 128), None)
    """
    if isinstance(value, numbers.Integral):
        return (int(value),)
    try:
        return tuple(int(v) if isinstance(v, numbers.Integral) else v for v in value)
    except TypeError:
        return None


def _check_layers_and_code(config, code_width: int) -> None:
    """Checks every architecture shares: activations, dropout and the sparse-code fields."""
    _require(
        config.activation in ACTIVATIONS, f"activation={config.activation!r}; expected one of {ACTIVATIONS}"
    )
    _require(
        config.output_activation in OUTPUT_ACTIVATIONS,
        f"output_activation={config.output_activation!r}; expected one of {OUTPUT_ACTIVATIONS}",
    )
    _require(0.0 <= config.dropout < 1.0, f"dropout={config.dropout} must lie in [0, 1)")
    _require(
        config.code_activation in CODE_ACTIVATIONS,
        f"code_activation={config.code_activation!r}; expected one of {CODE_ACTIVATIONS}",
    )
    _require(
        config.topk is None or 1 <= config.topk <= code_width,
        f"topk={config.topk} must lie in [1, code width={code_width}]",
    )
    _require(int(config.topk_aux_k) >= 0, f"topk_aux_k={config.topk_aux_k} must be non-negative")
    _check_limits("topk_aux_k", (int(config.topk_aux_k),), MAX_INPUT_VALUES, None)
    _require(int(config.topk_dead_after) >= 1, f"topk_dead_after={config.topk_dead_after} must be positive")


class _JSONConfig:
    """Round-trip a dataclass through plain JSON types (tuples become lists and back)."""

    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - set(names) - {"kind"}
        if unknown:
            raise InvalidInputError(f"unknown {cls.__name__} fields {sorted(unknown)}")
        hints = typing.get_type_hints(cls)
        check_json_types(cls.__name__, {k: v for k, v in data.items() if k != "kind"}, hints)
        missing = [f.name for f in names.values() if f.name not in data and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]  # fmt: skip
        if missing:
            raise InvalidInputError(f"{cls.__name__} lacks the fields {missing}")
        kwargs = {}
        for name, value in data.items():
            if name == "kind":
                continue
            kwargs[name] = tuple(value) if isinstance(value, list) else value
        return cls(**kwargs)


@dataclass
class DenseConfig(_JSONConfig):
    """Architecture of a dense (fully connected) autoencoder.

    Parameters
    ----------
    input_dim : int
        Number of input features.
    code_size : int
        Width of the bottleneck.
    hidden_layers : tuple of int
        Nodes per encoder layer, outermost first; the number of layers is its length.
    decoder_layers : tuple of int or None
        Nodes per decoder layer, innermost first; ``None`` mirrors ``hidden_layers``.
    activation : str
        Non-linearity after every hidden layer, one of :data:`ACTIVATIONS`.
    output_activation : {'identity', 'sigmoid', 'clip'}
        Applied to the decoder's last layer (``sigmoid`` goes with binary cross-entropy;
        ``clip`` is the identity in training and clamps to [0, 1] in eval mode).
    dropout : float
        Dropout rate after every hidden activation.
    code_activation : {'identity', 'relu', 'sigmoid'}
        Non-linearity of the bottleneck: ReLU gives the exact zeros an L1-sparse code needs,
        sigmoid the rates in (0, 1) the KL sparsity penalty needs.
    topk : int or None
        Keep only the ``topk`` largest code units per sample (the TopK bottleneck).
    topk_aux_k : int
        Dead units the TopK auxiliary loss uses (0: no auxiliary code).
    topk_dead_after : int
        Training samples without firing after which a TopK unit counts as dead.
    pca_encoder, pca_decoder : bool
        The encoder / decoder adds a fixed linear path (set to PCA's projection / reconstruction
        before training, :mod:`hourglass.nn.pca_path`) to its layers' output.
    """

    kind: ClassVar[str] = "dense"

    input_dim: int
    code_size: int
    hidden_layers: tuple[int, ...] = (256, 128)
    decoder_layers: tuple[int, ...] | None = None
    activation: str = "relu"
    output_activation: str = "identity"
    dropout: float = 0.0
    code_activation: str = "identity"
    topk: int | None = None
    topk_aux_k: int = 0
    topk_dead_after: int = 10_000
    pca_encoder: bool = False
    pca_decoder: bool = False

    def __post_init__(self) -> None:
        self.hidden_layers = _int_tuple("hidden_layers", self.hidden_layers)
        if self.decoder_layers is not None:
            self.decoder_layers = _int_tuple("decoder_layers", self.decoder_layers)
        _require(self.input_dim >= 1, f"input_dim={self.input_dim} must be at least 1")
        _require(self.code_size >= 1, f"code_size={self.code_size} must be a positive integer")
        _check_limits("input_dim", (self.input_dim,), MAX_INPUT_VALUES)
        _check_limits("code_size", (self.code_size,), MAX_WIDTH)
        for name in ("hidden_layers", "decoder_layers"):
            sizes = getattr(self, name) or ()
            _require(all(h >= 1 for h in sizes), f"{name}={sizes} must hold positive integers")
            _check_limits(name, sizes, MAX_WIDTH)
        _check_layers_and_code(self, self.code_size)

    @property
    def resolved_decoder_layers(self) -> tuple[int, ...]:
        """Decoder sizes, innermost first: the given ones, or the encoder's mirrored."""
        if self.decoder_layers is not None:
            return self.decoder_layers
        return tuple(reversed(self.hidden_layers))


@dataclass
class ConvConfig(_JSONConfig):
    """Architecture of a convolutional autoencoder for series, images or video.

    Parameters
    ----------
    input_shape : tuple of int
        One sample's shape, channels first: ``(c, L)``, ``(c, h, w)`` or ``(c, t, h, w)``.
    code_size : int or None
        None: the code is the encoder's last feature map; an int: a flat code vector of this
        width, through a linear layer.
    channels : tuple of int
        Output channels of each encoder block, outermost first; the decoder mirrors them.
    kernel_size : int
        Odd kernel size of every convolution.
    downsampling : {'pool', 'stride'}
        'pool': conv -> activation -> max-pool, decoder upsample -> conv -> activation;
        'stride': strided conv, decoder transposed conv.
    convs_per_block : int
        Convolutions (each followed by the activation) in every block, at the block's
        resolution, as in VGG and U-Net blocks: more depth, and for 'pool' more layers that
        work on the full-resolution image.
    skip_connections : bool
        U-Net skips: every decoder block also reads the encoder's feature map of its
        resolution (concatenated after the upsampling), the outermost one the input itself.
        The input then bypasses the code, so this is for restoration tasks only; it needs
        ``downsampling='pool'`` and a spatial code (``code_size=None``).
    activation : str
        Non-linearity after every block, one of :data:`ACTIVATIONS`.
    output_activation : {'identity', 'sigmoid'}
        Applied to the decoder's last layer.
    dropout : float
        Dropout rate after every block activation.
    residual : bool
        Add the input to the decoder's output (a global skip, as in DnCNN and VDSR): the
        network learns the correction a restoration task needs, not the whole image.
    code_activation : {'identity', 'relu', 'sigmoid'}
        Non-linearity of the bottleneck, as in :class:`DenseConfig` (applied element-wise to a
        flat code or to the code map).
    topk : int or None
        Keep only the ``topk`` largest code units per sample (the TopK bottleneck); for a
        spatial code the map of each sample is ranked as one flat vector of
        :attr:`code_width` units. With a spatial code and TopK or a code activation, the last
        encoder block has no activation or dropout: the bottleneck replaces them.
    topk_aux_k : int
        Dead units the TopK auxiliary loss uses (0: no auxiliary code).
    topk_dead_after : int
        Training samples without firing after which a TopK unit counts as dead.
    chroma : bool
        Colorization: the decoder predicts the two chroma channels (Cb, Cr of YCbCr) of RGB
        images ``(3, h, w)``, and the output is the RGB image of the input's exact luminance
        with that chroma. The luminance cannot be lost, and a squared error in RGB is then an
        error of the chroma alone. Needs an unbounded or clipped output (no sigmoid).
    pixel_offset, pixel_scale : tuple of float or None
        With ``chroma``: the per-channel scaling of the network's input and output, ``x =
        (pixels - offset) / scale``, so that the luminance is taken in pixel units. None: the
        identity.
    chroma_subsampling : int
        With ``chroma``: the network works on the luminance shrunk this many times on each
        axis (area average) and its chroma is upsampled (bilinear) onto the exact
        full-resolution luminance. Colour varies slowly (JPEG keeps it at half resolution),
        and what colour a thing has depends on what it is, which a network sees better on a
        smaller image: N times the context for the same work.
    """

    kind: ClassVar[str] = "conv"

    input_shape: tuple[int, ...]
    code_size: int | None = None
    channels: tuple[int, ...] = (32, 64)
    kernel_size: int = 3
    downsampling: str = "pool"
    convs_per_block: int = 1
    skip_connections: bool = False
    activation: str = "relu"
    output_activation: str = "identity"
    dropout: float = 0.0
    residual: bool = False
    code_activation: str = "identity"
    topk: int | None = None
    topk_aux_k: int = 0
    topk_dead_after: int = 10_000
    chroma: bool = False
    pixel_offset: tuple[float, ...] | None = None
    pixel_scale: tuple[float, ...] | None = None
    chroma_subsampling: int = 1

    def __post_init__(self) -> None:
        self.input_shape = tuple(int(s) for s in self.input_shape)
        self.channels = _int_tuple("channels", self.channels)
        if self.chroma:
            _require(
                len(self.input_shape) == 3 and self.input_shape[0] == 3,
                f"chroma=True predicts the colour of RGB images (3, h, w); input_shape={self.input_shape}",
            )
            _require(
                self.output_activation != "sigmoid",
                "chroma=True adds the predicted colour to the exact luminance, which a sigmoid output "
                "cannot keep; use loss='mse'",
            )
        self.chroma_subsampling = int(self.chroma_subsampling)
        _require(
            self.chroma_subsampling >= 1 and (self.chroma or self.chroma_subsampling == 1),
            f"chroma_subsampling={self.chroma_subsampling} must be 1, or a positive integer with chroma=True",
        )
        _check_limits("chroma_subsampling", (self.chroma_subsampling,), MAX_KERNEL)
        for name in ("pixel_offset", "pixel_scale"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, tuple(float(v) for v in value))
                _require(
                    len(getattr(self, name)) == self.input_shape[0],
                    f"{name}={value} needs one value per channel ({self.input_shape[0]})",
                )
        _require(
            2 <= len(self.input_shape) <= 4 and all(s >= 1 for s in self.input_shape),
            f"input_shape={self.input_shape}; expected (c, L), (c, h, w) or (c, t, h, w) of positive sizes",
        )
        _require(
            self.code_size is None or int(self.code_size) >= 1,
            f"code_size={self.code_size} must be None (a spatial code) or a positive integer",
        )
        _require(
            len(self.channels) >= 1 and all(c >= 1 for c in self.channels),
            f"channels={self.channels} must hold at least one positive integer",
        )
        _check_limits("channels", self.channels, MAX_WIDTH)
        _check_limits("input_shape", (math.prod(self.input_shape),), MAX_INPUT_VALUES)
        _check_limits("code_size", (self.code_size or 1,), MAX_WIDTH)
        _check_limits("kernel_size", (int(self.kernel_size),), MAX_KERNEL)
        _check_limits("convs_per_block", (int(self.convs_per_block),), MAX_LAYERS)
        _require(
            int(self.kernel_size) >= 1 and int(self.kernel_size) % 2 == 1,
            f"kernel_size={self.kernel_size} must be a positive odd integer (so 'same' padding is symmetric)",
        )
        _require(
            self.downsampling in DOWNSAMPLINGS,
            f"downsampling={self.downsampling!r}; expected one of {DOWNSAMPLINGS}",
        )
        _require(
            int(self.convs_per_block) >= 1,
            f"convs_per_block={self.convs_per_block} must be a positive integer",
        )
        if self.skip_connections:
            check_skip_connections(self.code_size, self.downsampling)
        _check_layers_and_code(self, self.code_width)

    @property
    def code_width(self) -> int:
        """Units in one sample's code: ``code_size``, or the size of the encoder's last map.

        Examples
        --------
        >>> ConvConfig(input_shape=(1, 28, 28), channels=(8, 16)).code_width
        784
        """
        if self.code_size is not None:
            return int(self.code_size)
        factor = 2 ** len(self.channels)  # each block halves every (padded) axis
        return self.channels[-1] * math.prod(-(-s // factor) for s in self.network_shape[1:])

    @property
    def network_shape(self) -> tuple[int, ...]:
        """One sample's shape where the encoder and decoder work: the input's, or with
        ``chroma_subsampling`` N the input shrunk N times on each spatial axis (rounded up).

        Examples
        --------
        >>> ConvConfig(input_shape=(3, 64, 62), chroma=True, chroma_subsampling=4).network_shape
        (3, 16, 16)
        """
        factor = self.chroma_subsampling
        return (self.input_shape[0], *(-(-s // factor) for s in self.input_shape[1:]))

    @property
    def output_channels(self) -> int:
        """Channels the decoder outputs: 2 (chroma) with ``chroma``, else the input's."""
        return 2 if self.chroma else self.input_shape[0]

    @property
    def spatial_dims(self) -> int:
        """1 for series, 2 for images, 3 for video."""
        return len(self.input_shape) - 1
