"""The kinds of estimator hourglass builds and the image tasks it trains, each declared once.

Every list of kinds reads :data:`KINDS`: the public names of ``hourglass`` (imported on first use),
the estimator names :func:`hourglass.load` accepts, the parameter table of
:mod:`hourglass.estimators.params`, the choices of ``hourglass fit --arch``, the module that
builds each architecture (:data:`hourglass.nn.model.ARCHITECTURES`) and the API reference (a test
checks it). A new kind is an estimator module, its network module and one entry here.

Names only, no classes: this module sits at the bottom of the layers and imports nothing, so
``import hourglass`` and the command line's help stay free of PyTorch.

Examples
--------
>>> kind("vq").estimator, kind("vq").extends
('VQAutoEncoder', 'conv')
>>> TASKS[:2]
('reconstruct', 'denoise')
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One kind of estimator.

    Attributes
    ----------
    name : str
        The kind's short name: ``hourglass fit --arch NAME`` and the parameter table's key.
    module : str
        The module that defines the estimator class.
    estimator : str
        The class's name: its public name ``hourglass.<estimator>``, and the ``estimator`` entry a
        saved model's ``config.json`` holds (changing it would orphan saved models).
    architectures : tuple of str
        The network kinds (``architecture.kind`` in ``config.json``) it builds; empty for an
        estimator that wraps another one.
    extends : str or None
        The kind whose every parameter it takes, per-kind defaults too, besides its own.
    fit_arch : bool
        Offered by ``hourglass fit --arch``.
    compared : bool
        Offered by ``hourglass compare --arch``: a deterministic autoencoder (a point code, like
        PCA's), set against PCA at the same code size.
    own_parameters : bool
        Its parameters are rows of the table in :mod:`hourglass.estimators.params` (the anomaly
        detector declares its own and forwards the rest).
    """

    name: str
    module: str
    estimator: str
    architectures: tuple[str, ...]
    extends: str | None = None
    fit_arch: bool = True
    compared: bool = False
    own_parameters: bool = True


#: The estimator kinds, in the order the command line offers them.
KINDS: tuple[Kind, ...] = (
    Kind("dense", "hourglass.estimators.dense", "AutoEncoder", ("dense",), compared=True),
    Kind("conv", "hourglass.estimators.conv", "ConvAutoEncoder", ("conv",), compared=True),
    Kind("vq", "hourglass.estimators.vq", "VQAutoEncoder", ("vq",), extends="conv"),
    Kind("vae", "hourglass.estimators.variational", "VariationalAutoEncoder", ("vae_dense", "vae_conv")),
    Kind(
        "anomaly",
        "hourglass.estimators.anomaly",
        "AnomalyDetector",
        (),
        fit_arch=False,
        own_parameters=False,
    ),
)

#: The module that builds each network kind (it registers its builder when imported).
ARCHITECTURE_MODULES: dict[str, str] = {
    "dense": "hourglass.nn.model",
    "conv": "hourglass.nn.conv_model",
    "vq": "hourglass.nn.vq_model",
    "vae_dense": "hourglass.nn.variational",
    "vae_conv": "hourglass.nn.variational",
}

#: The image tasks of a ConvAutoEncoder, with one line each for the command line's help.
TASK_HELP: dict[str, str] = {
    "reconstruct": "plain autoencoder: the input is the target",
    "denoise": "noisy image in (gaussian sigma, salt_pepper or masking rate = --noise-level), clean "
    "image out",
    "colorize": "luminance in (RGB images made gray), its chroma predicted, colour image of the exact "
    "luminance out; needs 3-channel data",
    "super_resolve": "image downsampled by --scale-factor (2, 3 or 4) and upsampled back in, full image out; "
    "apply takes the low-resolution image and returns one scale-factor times larger",
    "inpaint": "image with random rectangles blanked in, whole image out",
}
#: The task names, in the order the command line lists them.
TASKS: tuple[str, ...] = tuple(TASK_HELP)


def kind(name: str) -> Kind:
    """The kind called ``name``.

    Raises
    ------
    ValueError
        If no kind has that name.
    """
    for entry in KINDS:
        if entry.name == name:
            return entry
    raise ValueError(f"kind={name!r}; expected one of {tuple(k.name for k in KINDS)}")


def by_estimator(estimator: str) -> Kind | None:
    """The kind whose class is named ``estimator`` (a saved model's tag), or None."""
    return next((entry for entry in KINDS if entry.estimator == estimator), None)


#: ``{public class name: module}``, what ``hourglass`` imports on first use.
ESTIMATOR_MODULES: dict[str, str] = {entry.estimator: entry.module for entry in KINDS}

#: The kinds of the parameter table that stand alone (:data:`hourglass.estimators.params.KINDS`).
PARAMETER_KINDS: tuple[str, ...] = tuple(
    entry.name for entry in KINDS if entry.own_parameters and entry.extends is None
)
#: ``{kind: the kind it extends}`` (:data:`hourglass.estimators.params.EXTENDS`).
EXTENDS: dict[str, str] = {entry.name: entry.extends for entry in KINDS if entry.extends is not None}
#: The choices of ``hourglass fit --arch``.
FIT_ARCHS: tuple[str, ...] = tuple(entry.name for entry in KINDS if entry.fit_arch)
#: The choices of ``hourglass compare --arch``.
COMPARE_ARCHS: tuple[str, ...] = tuple(entry.name for entry in KINDS if entry.compared)

__all__ = [
    "ARCHITECTURE_MODULES",
    "COMPARE_ARCHS",
    "ESTIMATOR_MODULES",
    "EXTENDS",
    "FIT_ARCHS",
    "KINDS",
    "Kind",
    "PARAMETER_KINDS",
    "TASKS",
    "TASK_HELP",
    "by_estimator",
    "kind",
]
