"""The estimators' parameters, declared once: name, type, default, CLI flag and help.

The options of ``hourglass fit`` are built from :data:`PARAMS`, and each estimator's ``__init__``
(and so ``get_params``, ``clone`` and the parameter types that persistence checks when loading
a model) declares the same names, order, types and defaults, written out so that type checkers
read them (tests/test_params.py holds the two together). A parameter whose default differs
between the estimators says so here, in one place, with the reason.

Examples
--------
>>> defaults("dense")["batch_size"], defaults("conv")["batch_size"]
(256, 64)
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from hourglass import registry

# The allowed values live beside nothing heavy: the CLI's help reads this table without torch.
from hourglass.choices import (
    ACTIVATIONS,
    DOWNSAMPLINGS,
    LOSSES,
    MODES,
    NOISE_SCHEDULES,
    NOISES,
    PRECISIONS,
    QUANTIZERS,
    SCALINGS,
)

#: The estimator kinds (from :mod:`hourglass.registry`): :class:`~hourglass.AutoEncoder`,
#: :class:`~hourglass.ConvAutoEncoder` and :class:`~hourglass.VariationalAutoEncoder` (dense or
#: conv, with the options of both).
KINDS = registry.PARAMETER_KINDS
#: Estimators that take every parameter of another kind, its per-kind defaults too, and their
#: own besides: :class:`~hourglass.VQAutoEncoder` is a ConvAutoEncoder with a quantized code.
EXTENDS = dict(registry.EXTENDS)
#: The deterministic autoencoders: the guards against the identity and pretrained parts are theirs.
_AE = ("dense", "conv")

#: Help panels of ``hourglass fit --help``, in order.
PANELS = (
    "Architecture",
    "Training",
    "Guards against the identity",
    "Pretrained parts",
    "Convolutional and tasks",
    "Vector quantization",
    "Variational",
)


@dataclass(frozen=True)
class Param:
    """One estimator parameter.

    Attributes
    ----------
    name : str
        The Python name (``AutoEncoder(name=...)``).
    type : type hint
        Its type, as ``__init__`` declares it (persistence checks saved values against it).
    default : object
        The default, or for estimators that differ, ``{kind: default}`` in ``per_kind``.
    help : str
        One line for ``hourglass fit --help``.
    kinds : tuple of str
        The estimators that take it.
    per_kind : dict
        Defaults that differ by estimator kind, overriding ``default``.
    flags : tuple of str
        The CLI option names, first the one shown; empty: not a CLI option.
    panel : str
        The help panel of the CLI option.
    metavar : str or None
        How the CLI shows the option's value.
    choices : tuple or None
        The allowed values: the CLI's (a usage error names the flag) and, with ``aliases``, the
        ``_parameter_constraints`` that ``fit`` checks (:mod:`hourglass.estimators.constraints`).
    aliases : tuple
        Other spellings the Python API takes for one of the choices, not offered by the CLI.
    hints : dict
        Annotations of estimator kinds whose ``__init__`` takes less than ``type`` (the union
        that loading and the constraints accept).
    """

    name: str
    type: Any
    default: Any
    help: str
    kinds: tuple[str, ...] = KINDS
    per_kind: dict[str, Any] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    panel: str = "Training"
    metavar: str | None = None
    choices: tuple[Any, ...] | None = None
    aliases: tuple[Any, ...] = ()
    hints: dict[str, Any] = field(default_factory=dict)

    def default_for(self, kind: str) -> Any:
        if kind not in self.per_kind and kind in EXTENDS:
            return self.default_for(EXTENDS[kind])
        return self.per_kind.get(kind, self.default)

    def hint_for(self, kind: str) -> Any:
        """The annotation of an estimator kind's ``__init__``: ``type`` unless ``hints`` narrows it
        for that kind (type checkers then refuse, say, a dense model's ``code_size='8'``)."""
        if kind not in self.hints and kind in EXTENDS:
            return self.hint_for(EXTENDS[kind])
        return self.hints.get(kind, self.type)

    @property
    def flag(self) -> str | None:
        return self.flags[0] if self.flags else None


def _flag(name: str) -> tuple[str, ...]:
    return ("--" + name.replace("_", "-"),)


_ARCH, _TRAIN, _GUARD, _PRE, _CONV, _VQ, _VAE = PANELS
#: ``(height, width)`` of the images (or patches) a conv model trains on from a folder when
#: ``image_size=None``; images of other sizes are resized to it.
DEFAULT_IMAGE_SIZE = (64, 64)
_IMAGE_SIZE = "x".join(map(str, DEFAULT_IMAGE_SIZE))
_RESTORATION = "restoration tasks use 2, reconstruct 1"

PARAMS: tuple[Param, ...] = (
    # -- architecture (dense first, then conv, in each estimator's positional order) -----------
    # conv 'auto': a flat code a quarter of a sample's values, at most 16, where the model
    # reconstructs; the spatial code (the last feature map) where a task, noise or sparsity guard
    # keeps a wide code from the identity (hourglass.estimators.code_width).
    Param("code_size", int | str | None, 2,
          "Width of the code (conv auto: a quarter of a sample's values, at most 16, or the spatial "
          "feature map for tasks and noise; spatial: always the map).",
          per_kind={"conv": "auto", "vq": None, "vae": 16}, flags=_flag("code_size"), panel=_ARCH,
          metavar="INT|auto|spatial", hints={"dense": int | None, "vae": int | None}),
    Param("hidden_layers", tuple[int, ...] | str, "auto",
          "Nodes per encoder layer, e.g. 256,128 (auto: 256,128; 512,256 above 512 features; "
          "64,32 where the PCA path is on: under 100 training rows, more than the code size).",
          per_kind={"vae": (256, 128)}, kinds=("dense", "vae"), flags=("--hidden-layers", "--hidden"),
          panel=_ARCH, metavar="INT[,INT]|auto"),
    Param("decoder_layers", tuple[int, ...] | None, None, "Decoder layers, innermost first (none: mirror).",
          kinds=("dense", "vae"), flags=("--decoder-layers", "--decoder-hidden"), panel=_ARCH,
          metavar="INT[,INT]"),
    Param("channels", tuple[int, ...] | None, None,
          "Channels per encoder block, e.g. 32,64 (none: 32,64; colorize 16,32,64,128).",
          kinds=("conv", "vae"), flags=_flag("channels"), panel=_CONV, metavar="INT[,INT]"),
    Param("kernel_size", int, 3, "Odd kernel size of every convolution.",
          kinds=("conv", "vae"), flags=_flag("kernel_size"), panel=_CONV, metavar="INT"),
    Param("downsampling", str, "pool", "pool (max-pool / upsample) or stride (strided / transposed conv).",
          kinds=("conv", "vae"), flags=_flag("downsampling"), panel=_CONV, choices=DOWNSAMPLINGS),
    Param("convs_per_block", int | None, None, f"Convolutions per block ({_RESTORATION}).",
          kinds=("conv", "vae"), flags=_flag("convs_per_block"), panel=_CONV, metavar="INT"),
    Param("skip_connections", bool | str, "auto",
          "U-Net skips for restoration tasks (auto: on with a spatial code and pooling).",
          kinds=("conv",), flags=("--skip-connections", "--no-skip-connections"), panel=_CONV),
    # Dense nets train best with GELU (smooth, no dead units); conv blocks keep the field's ReLU.
    Param("activation", str, "gelu", "relu, leaky_relu, elu, gelu, silu, tanh, sigmoid or identity.",
          per_kind={"conv": "relu"}, flags=_flag("activation"), panel=_ARCH,
          choices=ACTIVATIONS),
    # Starting at PCA's solution, the network learns only the non-linear correction: lower
    # held-out error in fewer steps on digits, Fashion-MNIST and faces (hourglass.nn.pca_path);
    # by default on tables of fewer than 100 training rows, where random weights miss PCA's subspace,
    # and under a time budget that cuts the planned run to under a quarter, half for data in [0, 1]
    # (estimators.pca_budget).
    Param("pca_path", bool | str, "auto",
          "A fixed PCA path beside the layers (auto: on below 100 training rows, or where the time "
          "budget holds under a quarter of the planned steps, half for data in [0, 1]).",
          kinds=("dense",), flags=("--pca-path", "--no-pca-path"), panel=_ARCH),
    Param("task", str, "reconstruct",
          "reconstruct, or a restoration: denoise, colorize, super_resolve, inpaint.",
          kinds=("conv",), flags=_flag("task"), panel=_CONV,
          choices=registry.TASKS),
    Param("scale_factor", int, 2, "super_resolve's factor: 2, 3 or 4.",
          kinds=("conv",), flags=_flag("scale_factor"), panel=_CONV, choices=(2, 3, 4)),
    Param("chroma_subsampling", int, 4,
          "colorize: the network works at 1/N resolution, its chroma upsampled onto the exact luminance.",
          kinds=("conv",), flags=_flag("chroma_subsampling"), panel=_CONV, metavar="INT"),
    Param("image_size", tuple[int, int] | None, None,
          f"Image folders: HxW to resize to / cut patches of (none: {_IMAGE_SIZE}; colorize: "
          f"{_IMAGE_SIZE} times --chroma-subsampling).",
          kinds=("conv", "vae"), flags=_flag("image_size"), panel=_CONV, metavar="HxW"),
    Param("color_mode", str | None, None, "Image folders: L (gray) or RGB (default).",
          kinds=("conv", "vae"), flags=_flag("color_mode"), panel=_CONV, choices=MODES),
    # -- training -----------------------------------------------------------------------------
    Param("loss", str, "auto", "auto (BCE for binary data, else MSE), mse or bce.",
          flags=_flag("loss"), panel=_ARCH, choices=LOSSES),
    Param("scaling", str, "auto",
          "auto (none for [0, 1] data, else standard), none, standard, minmax, shrunk (standard with "
          "each variance plus the mean one).",
          flags=_flag("scaling"), panel=_ARCH, choices=SCALINGS),
    # The conv defaults are the restoration benchmarks' tuned recipe (issue 13 revisits them).
    Param("epochs", int | str, "auto",
          "Epochs (auto: until learning stalls, then a decay; at most ~12,000 steps, 30 to 300 epochs).",
          per_kind={"vq": 100}, flags=_flag("epochs"), metavar="INT|auto"),
    Param("max_time", float | str | datetime.timedelta | dict | None, None,
          "Training time budget: seconds, or '90s', '10min', '1h', 'DD:HH:MM:SS'; the schedule ends at it "
          "(none: no limit).",
          flags=("--time", "--max-time"), metavar="DURATION"),
    Param("threads", int | str, "auto",
          "CPU threads (auto: the CPUs this process may use that are not busy; 1 for small steps).",
          flags=_flag("threads"), metavar="INT|auto"),
    Param("batch_size", int, 256, "Samples per optimizer step.",
          per_kind={"conv": 64}, flags=_flag("batch_size"), metavar="INT"),
    Param("learning_rate", float | str, "auto", "Peak AdamW rate (auto: 1e-2 scaled for width and batch).",
          per_kind={"conv": 3e-3, "vae": 1e-3}, flags=("--learning-rate", "--lr"), metavar="FLOAT|auto"),
    Param("weight_decay", float, 1e-2, "AdamW's decoupled weight decay.",
          per_kind={"conv": 1e-4, "vae": 0.0}, flags=_flag("weight_decay"), metavar="FLOAT"),
    Param("validation_fraction", float, 0.1, "Share held out for early stopping (0: none).",
          flags=_flag("validation_fraction"), metavar="FLOAT"),
    Param("patience", int, 30, "Epochs without improvement before stopping (0: never).",
          per_kind={"conv": 15}, flags=_flag("patience"), metavar="INT"),
    Param("random_state", Any, None, "Seed (same seed, threads and precision: same weights on CPU).",
          flags=("--seed", "--random-state"), metavar="INT"),
    Param("device", str, "auto", "auto (CUDA when available), cpu, cuda or cuda:N.",
          flags=_flag("device"), metavar="DEVICE"),
    Param("precision", str, "auto", "auto (bf16 where faster, TF32 on CUDA), fp32, tf32 or bf16.",
          flags=_flag("precision"), choices=PRECISIONS),
    Param("compile", bool, False, "Train through torch.compile (pays on GPUs for long runs).",
          flags=_flag("compile")),
    Param("checkpoint_dir", str | None, None, "Folder for checkpoints as training goes (see AutoEncoder)."),
    # Quiet in Python, as scikit-learn's estimators are; the CLI shows its progress bar.
    Param("verbose", int, 0, "1 shows a progress bar."),
    Param("warm_start", bool, False, "fit continues from the weights of the previous fit."),
    Param("callbacks", Any, None, "Objects with on_epoch_end(estimator, epoch, logs) -> stop?"),
    # -- guards against the identity ------------------------------------------------------------
    # Dense: a fading Gaussian noise is part of the default recipe (it lowers held-out error on
    # digits at codes 2 and 8); conv reconstruct keeps clean inputs unless asked. The Python API
    # also takes noise='none' for None (make_noise), which the CLI does not offer.
    Param("noise", str | None, "gaussian", "Input noise kind: gaussian, masking or salt_pepper.",
          kinds=_AE, per_kind={"conv": None}, flags=("--noise-type",), panel=_GUARD,
          choices=NOISES, aliases=("none",)),
    Param("noise_level", float, 0.3, "Noise sigma (gaussian, in scaled units) or share of entries hit.",
          kinds=_AE, per_kind={"conv": 0.1}, flags=("--noise-level", "--noise"), panel=_GUARD,
          metavar="FLOAT"),
    Param("noise_schedule", str, "cosine", "cosine (the noise fades out; a regularizer) or constant.",
          kinds=("dense",), flags=_flag("noise_schedule"), panel=_GUARD, choices=NOISE_SCHEDULES),
    Param("dropout", float, 0.0, "Dropout rate after every hidden layer (block).",
          flags=_flag("dropout"), panel=_GUARD, metavar="FLOAT"),
    Param("l1_penalty", float, 0.0, "Weight of mean |code| (sparse code, ReLU units).",
          kinds=_AE, flags=("--l1-penalty", "--l1"), panel=_GUARD, metavar="FLOAT"),
    Param("kl_penalty", float, 0.0, "Weight of the KL sparsity penalty (sigmoid units).",
          kinds=_AE, flags=("--kl-penalty", "--kl"), panel=_GUARD, metavar="FLOAT"),
    Param("sparsity_target", float, 0.05, "Target activation rate rho of the KL penalty.",
          kinds=_AE, flags=_flag("sparsity_target"), panel=_GUARD, metavar="FLOAT"),
    Param("topk", int | None, None, "Keep the k largest code units per sample (TopK).",
          kinds=_AE, flags=_flag("topk"), panel=_GUARD, metavar="INT"),
    Param("topk_aux_penalty", float, 1 / 32, "Weight of the AuxK loss that revives dead TopK units.",
          kinds=_AE, flags=("--topk-aux-penalty", "--topk-aux"), panel=_GUARD, metavar="FLOAT"),
    Param("contractive_penalty", float, 0.0, "Weight of the encoder Jacobian's squared norm.",
          kinds=_AE, flags=("--contractive-penalty", "--contractive"), panel=_GUARD, metavar="FLOAT"),
    # -- variational -----------------------------------------------------------------------------
    Param("arch", str, "auto", "dense or conv (auto: dense for rows (n, features), conv otherwise).",
          kinds=("vae",), choices=("auto", "dense", "conv")),
    Param("beta", float, 1.0, "Weight of the KL term (1: the ELBO; above 1: a beta-VAE).",
          kinds=("vae",), flags=_flag("beta"), panel=_VAE, metavar="FLOAT"),
    Param("kl_warmup", int, 10, "Epochs over which the KL weight rises linearly to beta (0: none).",
          kinds=("vae",), flags=_flag("kl_warmup"), panel=_VAE, metavar="INT"),
    Param("free_bits", float, 0.0, "Nats per code unit whose KL is free in training (0: off).",
          kinds=("vae",), flags=_flag("free_bits"), panel=_VAE, metavar="FLOAT"),
    # -- pretrained parts -----------------------------------------------------------------------
    Param("encoder", Any, None, "Reuse the encoder of a saved model folder.",
          kinds=_AE, flags=("--encoder", "--encoder-from"), panel=_PRE, metavar="MODEL"),
    Param("freeze_encoder", bool, False, "Keep a reused encoder (weights and scaling) fixed.",
          kinds=_AE, flags=_flag("freeze_encoder"), panel=_PRE),
    Param("decoder", Any, None, "Reuse the decoder of a saved model folder.",
          kinds=_AE, flags=("--decoder", "--decoder-from"), panel=_PRE, metavar="MODEL"),
    Param("freeze_decoder", bool, False, "Keep a reused decoder's weights fixed.",
          kinds=_AE, flags=_flag("freeze_decoder"), panel=_PRE),
    Param("pretrain", str | None, None, "layerwise: greedy layer-wise pretraining first.",
          kinds=("dense",), flags=_flag("pretrain"), panel=_PRE, choices=("layerwise",)),
    # -- vector quantization (VQAutoEncoder) ------------------------------------------------------
    Param("codebook_size", int, 256, "Codes in the codebook: log2 of it is the bits of one index.",
          kinds=("vq",), flags=_flag("codebook_size"), panel=_VQ, metavar="INT"),
    Param("embedding_dim", int, 16, "Channels of each code vector (vq; fsq sets its own).",
          kinds=("vq",), flags=_flag("embedding_dim"), panel=_VQ, metavar="INT"),
    Param("quantizer", str, "vq", "vq (codebook, EMA updates, dead-code restarts) or fsq (finite scalar).",
          kinds=("vq",), flags=_flag("quantizer"), panel=_VQ, choices=QUANTIZERS),
    Param("commitment_cost", float, 0.25, "Weight of the loss keeping encoder outputs near their codes.",
          kinds=("vq",), flags=_flag("commitment_cost"), panel=_VQ, metavar="FLOAT"),
    Param("codebook_decay", float, 0.99, "Decay of the codebook's moving averages (vq).",
          kinds=("vq",), flags=_flag("codebook_decay"), panel=_VQ, metavar="FLOAT"),
)  # fmt: skip

BY_NAME = {p.name: p for p in PARAMS}


def params_of(kind: str) -> tuple[Param, ...]:
    """The parameters of the estimator ``kind``, in its positional order."""
    if kind in EXTENDS:
        inherited = params_of(EXTENDS[kind])
        return inherited + tuple(p for p in PARAMS if kind in p.kinds and p not in inherited)
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}; expected one of {KINDS + tuple(EXTENDS)}")
    return tuple(p for p in PARAMS if kind in p.kinds)


def takes(kind: str, param: Param) -> bool:
    """Whether the estimator ``kind`` takes ``param`` (its own, or inherited through :data:`EXTENDS`)."""
    return kind in param.kinds or (kind in EXTENDS and takes(EXTENDS[kind], param))


def defaults(kind: str) -> dict[str, Any]:
    """``{name: default}`` of the estimator ``kind``."""
    return {p.name: p.default_for(kind) for p in params_of(kind)}


def store_parameters(estimator: object, arguments: dict[str, Any]) -> None:
    """Store an ``__init__``'s arguments (its ``locals()``) as attributes, and nothing else.

    Every estimator's ``__init__`` is an explicit signature that type checkers and IDEs read;
    its body is this one call, so that, as in scikit-learn, a constructor only stores.

    Examples
    --------
    >>> class Estimator:
    ...     def __init__(self, code_size: int = 2) -> None:
    ...         store_parameters(self, locals())
    >>> vars(Estimator(code_size=8))
    {'code_size': 8}
    """
    for name, value in arguments.items():
        if name != "self":
            setattr(estimator, name, value)


__all__ = [
    "DEFAULT_IMAGE_SIZE",
    "EXTENDS",
    "KINDS",
    "PANELS",
    "PARAMS",
    "Param",
    "defaults",
    "params_of",
    "store_parameters",
    "takes",
]
