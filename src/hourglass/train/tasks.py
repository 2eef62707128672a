"""Image tasks as corrupted input -> clean target: what the network sees instead of the truth.

Every task is a corruption ``(clean_batch, generator) -> input_batch`` like the noises of
:mod:`hourglass.train.corruptions`, drawn afresh for every batch by the training loop. Batches are
channels first, ``(b, c, *spatial)``. A task that must see pixel values (luminance weights,
masks) works in the data's units when given the scaler's ``offset`` and ``scale``.

Each task is also an object (:class:`Task`, one subclass per name of :data:`TASKS`) that knows
what the task changes for an estimator: its corruption and input noise, the input ``apply``
and an exported model take, the network's shape, the classical baselines it is judged against,
and its wording in reports. Estimators keep ``task`` as a string parameter and ask
:func:`task_of` for the object; no module but this one compares task names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np
import torch

from hourglass.data.images import first_colour_photo, is_gray
from hourglass.exceptions import ExportError, InvalidInputError
from hourglass.nn.pixels import (  # noqa: F401  (the tasks' pixel transforms, by their old names too)
    CHROMA_TO_RGB,
    LUMA,
    RGB_TO_CHROMA,
    chroma_to_rgb,
    downsample,
    luma,
    luminance,
    rgb_to_chroma,
    upsample,
)
from hourglass.nn.portable import Luminance, Upsample
from hourglass.registry import TASK_HELP, TASKS
from hourglass.train.corruptions import make_noise

SCALE_FACTORS = (2, 3, 4)


@dataclass
class SuperResolve:
    """Input: the batch downsampled by ``factor`` and interpolated back to its own size."""

    factor: int = 2

    def __call__(self, batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return upsample(downsample(batch, self.factor), batch.shape[2:])


@dataclass
class Colorize:
    """Input: the luminance of an RGB batch, on all three channels."""

    def __call__(self, batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return luminance(batch)


@dataclass
class Inpaint:
    """Input: the batch with ``holes`` random boxes per sample set to ``fill``.

    Each box spans the share ``size`` of every spatial axis.
    """

    holes: int = 2
    size: float = 0.25
    fill: float = 0.0

    def __call__(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        hole = self.hole_mask(batch.shape, generator).unsqueeze(1).to(batch.device)  # in every channel
        return torch.where(hole, torch.full_like(batch, self.fill), batch)

    def hole_mask(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """The holes, ``(b, *spatial)`` booleans on the CPU, that :meth:`__call__` draws from
        ``generator`` for a batch of ``shape`` ``(b, c, *spatial)``.

        The same draws in the same order: the classical inpainter is given the holes the network saw.
        """
        n, spatial = shape[0], tuple(shape[2:])
        extent = [max(1, int(round(s * self.size))) for s in spatial]
        hole = torch.zeros((n, *spatial), dtype=torch.bool)
        for _ in range(self.holes):
            box = torch.ones((n, *spatial), dtype=torch.bool)
            for axis, (s, e) in enumerate(zip(spatial, extent, strict=True)):
                # One corner per sample and axis, drawn on the loop's seeded generator.
                start = torch.randint(0, s - e + 1, (n,), generator=generator, device=generator.device).cpu()
                pos = torch.arange(s)
                inside = (pos >= start[:, None]) & (pos < start[:, None] + e)  # (b, s)
                view = [n] + [1] * len(spatial)
                view[axis + 1] = s
                box &= inside.view(view)
            hole |= box
        return hole


@dataclass
class InDataUnits:
    """Run ``task`` on pixel values: undo the scaling, corrupt, scale again.

    Luminance weights and hole fills mean something only in the data's own units.
    """

    task: object
    offset: torch.Tensor
    scale: torch.Tensor

    def __call__(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        offset, scale = self.offset.to(batch.device, batch.dtype), self.scale.to(batch.device, batch.dtype)
        return (self.task(batch * scale + offset, generator) - offset) / scale


@dataclass
class Compose:
    """Apply corruptions in order (e.g. a task, then input noise)."""

    steps: tuple

    def __call__(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for step in self.steps:
            batch = step(batch, generator)
        return batch


# -- the tasks as objects ----------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """What one task changes for an estimator; subclasses fill in the hooks that differ.

    A task is built from the estimator's parameters (:func:`task_of`): its dataclass fields are
    the parameters it reads, e.g. ``scale_factor``. The base class is a restoration task whose
    input is the corrupted image itself, judged against that input.

    Attributes
    ----------
    name : str
        The value of the ``task`` parameter (one of :data:`TASKS`).
    restoration : bool
        Whether the network maps a corrupted input to a clean target (every task but
        'reconstruct'). A restoration network adds its correction to its input, has U-Net skips
        by default, learns from patches of photos and is judged against classical baselines,
        not PCA.
    channels : tuple of int or None
        The encoder's channels when the user gives none (None: the estimator's default).
    baselines : tuple of str
        The classical answers it is compared with, by their names in
        :func:`hourglass.uses.restoration.baselines`.
    any_channels : bool
        Whether ``apply`` takes gray and colour images alike.

    Examples
    --------
    >>> task = task_for("super_resolve", scale_factor=4)
    >>> task.network_input(torch.zeros(1, 1, 8, 8)).shape
    torch.Size([1, 1, 32, 32])
    >>> task.baselines, task.restoration
    (('bicubic',), True)
    """

    name: ClassVar[str]
    restoration: ClassVar[bool] = True
    channels: ClassVar[tuple[int, ...] | None] = None
    baselines: ClassVar[tuple[str, ...]] = ("input",)
    any_channels: ClassVar[bool] = False
    # Reads images only: a 3-D array (n, h, w) of sides 8 or more is gray images, not series.
    images_only: ClassVar[bool] = False

    @property
    def help(self) -> str:
        """One line on what goes in and what comes out (the CLI's help)."""
        return TASK_HELP[self.name]

    @property
    def convs_per_block(self) -> int:
        """The default convolutions per block: restoration works longer at each resolution."""
        return 2 if self.restoration else 1

    @property
    def patch_scale(self) -> int:
        """How many times larger than the network's view the patches cut from photos are."""
        return 1

    # -- training ----------------------------------------------------------------------------
    def corruption(self) -> Callable | None:
        """The task's own corruption in pixel units (None: the input is the clean data)."""
        return None

    def input_noise(self, noise: Callable | None) -> Callable | None:
        """The input noise the estimator's ``noise`` parameter asks for, or the task's own."""
        return noise

    def training_corruption(self, noise: Callable | None, scaler: Any) -> Callable | None:
        """What the network sees instead of the scaled clean batch; None for the batch itself.

        The task's corruption runs in the data's units (``scaler``'s, unless it is 'none'),
        then the input noise in the network's.
        """
        own = self.corruption()
        if own is not None and scaler.kind != "none":
            own = InDataUnits(own, torch.from_numpy(scaler.offset), torch.from_numpy(scaler.scale))
        steps = tuple(s for s in (own, self.input_noise(noise)) if s is not None)
        if not steps:
            return None
        return steps[0] if len(steps) == 1 else Compose(steps)

    def config_fields(self, scaler: Any) -> dict[str, Any]:
        """Fields of the network's config (:class:`hourglass.nn.config.ConvConfig`) the task sets."""
        return {}

    def check_samples(self, shape: tuple[int, ...]) -> None:
        """Refuse training samples of ``shape`` ``(c, ...)`` the task cannot learn from."""

    def check_photos(self, paths: list, folder: str) -> None:
        """Refuse a folder of photos (``paths``) the task cannot learn from."""

    def check_source(self, source: Any, shape: tuple[int, ...]) -> None:
        """Refuse training items (a :class:`~hourglass.data.sources.TrainingSource`) it cannot learn from."""

    # -- using and exporting a fitted model ---------------------------------------------------
    def network_input(self, batch: torch.Tensor) -> torch.Tensor:
        """The network's input for the user's ``(b, c, ...)`` batch given to ``apply``."""
        return batch

    def export_input(self, input_shape: tuple[int, ...]) -> torch.nn.Module | None:
        """:meth:`network_input` as a module for an exported model (None: the input as it is)."""
        return None

    def export_input_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """One sample's shape at an exported model's input, for a network of ``input_shape``."""
        return tuple(input_shape)

    # -- judging and describing it ------------------------------------------------------------
    def baseline_sigma(self, scaling: str) -> float | None:
        """The noise level the classical denoisers are given (None: they estimate it)."""
        return None

    def baseline_mask(self, shape: tuple[int, ...], seed: int) -> np.ndarray | None:
        """The pixels a classical inpainter fills, ``(n, *spatial)``, in a batch of ``shape``
        corrupted with a generator seeded ``seed`` (None: the task blanks none)."""
        return None

    def describe(self) -> str | None:
        """The task and its settings, for a report's subtitle (None for plain reconstruction)."""
        return f"task {self.name}"


@dataclass(frozen=True)
class ReconstructTask(Task):
    """The plain autoencoder: the clean input is the target."""

    name: ClassVar[str] = "reconstruct"
    restoration: ClassVar[bool] = False

    def describe(self) -> str | None:
        return None


@dataclass(frozen=True)
class DenoiseTask(Task):
    """Noisy in, clean out: the estimator's input noise, Gaussian when it names none."""

    name: ClassVar[str] = "denoise"
    noise: str | None = None
    noise_level: float = 0.1

    @property
    def baselines(self) -> tuple[str, ...]:  # type: ignore[override]
        # A 3 x 3 median is the classical answer to impulse noise: 40.5 dB on moon at a 5 % rate,
        # where TV gave 21.4 dB. Gaussian noise blurs under it, so only salt and pepper gets it.
        smoothers = ("non-local means", "total variation")
        return (*smoothers, "median filter") if self.noise == "salt_pepper" else smoothers

    def input_noise(self, noise: Callable | None) -> Callable | None:
        # Denoising is the input noise; it needs one even when the user names none.
        return noise if noise is not None else make_noise(self.noise or "gaussian", self.noise_level)

    def baseline_sigma(self, scaling: str) -> float | None:
        # The true sigma is known in pixel units only: Gaussian noise on data that is not rescaled.
        if (self.noise or "gaussian") == "gaussian" and scaling == "none":
            return float(self.noise_level)
        return None

    def describe(self) -> str | None:
        noise = self.noise or "gaussian"
        level = "sigma" if noise == "gaussian" else "rate"
        return f"task {self.name} ({noise} noise, {level} {self.noise_level:.4g})"


@dataclass(frozen=True)
class ColorizeTask(Task):
    """Luminance in, colour out: the network predicts chroma at 1/``chroma_subsampling`` resolution."""

    name: ClassVar[str] = "colorize"
    #: Four blocks (on the luminance already shrunk by ``chroma_subsampling``), so that the
    #: deepest sees a large part of the photo; narrow, so that it costs no more.
    channels: ClassVar[tuple[int, ...] | None] = (16, 32, 64, 128)
    # The gray input is the answer to beat: a colorizer must not make colour worse than none.
    baselines: ClassVar[tuple[str, ...]] = ("grayscale input",)
    any_channels: ClassVar[bool] = True
    chroma_subsampling: int = 4

    @property
    def patch_scale(self) -> int:
        return int(self.chroma_subsampling)

    def corruption(self) -> Callable | None:
        return Colorize()

    def config_fields(self, scaler: Any) -> dict[str, Any]:
        # The model rebuilds RGB on the exact luminance, which it reads in pixel units.
        return {
            "chroma": True,
            "pixel_offset": tuple(float(v) for v in np.ravel(scaler.offset)),
            "pixel_scale": tuple(float(v) for v in np.ravel(scaler.scale)),
            "chroma_subsampling": int(self.chroma_subsampling),
        }

    def check_samples(self, shape: tuple[int, ...]) -> None:
        if len(shape) != 3 or shape[0] != 3:
            raise InvalidInputError(
                f"task={self.name!r} needs RGB images (n, 3, h, w) to learn colour from; X has samples of "
                f"shape {tuple(shape)}"
            )

    def check_photos(self, paths: list, folder: str) -> None:
        if first_colour_photo(paths) is None:
            raise InvalidInputError(
                f"task={self.name!r} needs colour photos to learn colour from, but every image in {folder!r} "
                "is gray (one channel, or red = green = blue); expected RGB photos in colour"
            )

    def check_source(self, source: Any, shape: tuple[int, ...]) -> None:
        if len(shape) != 3 or shape[0] != 3:
            return  # not RGB images: check_samples refuses them with its own message
        # Up to 256 items spread over the data: gray photos teach no colour.
        picks = np.unique(np.linspace(0, len(source) - 1, num=min(len(source), 256)).astype(np.int64))
        if is_gray(source.read(picks)):
            raise InvalidInputError(
                f"task={self.name!r} needs colour images to learn colour from, but the {len(picks)} images "
                "checked are all gray (red = green = blue); expected RGB images in colour"
            )

    def network_input(self, batch: torch.Tensor) -> torch.Tensor:
        if batch.ndim == 4 and batch.shape[1] not in (1, 3) and batch.shape[3] in (1, 3):
            # PIL, imageio and scikit-image give (h, w, 3): say so, not "got 40 channel(s)".
            raise InvalidInputError(
                f"image has shape {tuple(batch.shape[1:])}, channels last; a colorizer reads channels first "
                "(3, h, w) or (1, h, w): pass np.moveaxis(image, -1, 0) (np.moveaxis(X, -1, 1) for a batch)"
            )
        # A gray image is its own luminance; a colour one gives its luma.
        return luminance(batch.expand(-1, 3, *batch.shape[2:]) if batch.shape[1] == 1 else batch)

    def export_input(self, input_shape: tuple[int, ...]) -> torch.nn.Module | None:
        return Luminance()

    def describe(self) -> str | None:
        return f"task {self.name} (chroma from luminance)"


@dataclass(frozen=True)
class SuperResolveTask(Task):
    """Low resolution in (``scale_factor`` times smaller, interpolated back), full resolution out."""

    name: ClassVar[str] = "super_resolve"
    # The input is the bicubic upsampling already: it is the baseline.
    baselines: ClassVar[tuple[str, ...]] = ("bicubic",)
    images_only: ClassVar[bool] = True
    scale_factor: int = 2

    def __post_init__(self) -> None:
        if self.scale_factor not in SCALE_FACTORS:
            raise InvalidInputError(f"scale_factor={self.scale_factor!r}; expected one of {SCALE_FACTORS}")

    def corruption(self) -> Callable | None:
        return SuperResolve(int(self.scale_factor))

    def check_samples(self, shape: tuple[int, ...]) -> None:
        # Series and video trained, but apply, which takes the low-resolution sample, could never
        # be called on them ("X has samples of shape (2, 37); this model needs (2, 37)").
        if len(shape) != 3:
            raise InvalidInputError(
                f"task={self.name!r} needs images (n, c, h, w) to upscale; X has samples of shape "
                f"{tuple(shape)} (series and video are not super-resolved)"
            )

    def network_input(self, batch: torch.Tensor) -> torch.Tensor:
        # apply takes the low-resolution image; the network sees it interpolated to full size.
        return upsample(batch, [s * int(self.scale_factor) for s in batch.shape[2:]])

    def export_input(self, input_shape: tuple[int, ...]) -> torch.nn.Module | None:
        self.export_input_shape(input_shape)  # refuses a training size the factor does not divide
        return Upsample(input_shape[1:])

    def export_input_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        factor = int(self.scale_factor)
        if any(s % factor for s in input_shape[1:]):
            raise ExportError(
                f"a super-resolver trained on {tuple(input_shape[1:])} patches takes low-resolution inputs "
                f"of 1/{factor} that size, which {factor} does not divide; train on patches a multiple "
                f"of {factor} to export it"
            )
        return (input_shape[0], *(s // factor for s in input_shape[1:]))

    def describe(self) -> str | None:
        return f"task {self.name} (x{self.scale_factor})"


@dataclass(frozen=True)
class InpaintTask(Task):
    """Random boxes blanked in, the whole image out (the boxes of :class:`Inpaint`'s defaults)."""

    name: ClassVar[str] = "inpaint"
    # Beside the holed input, biharmonic inpainting of its holes (a rocket hole: 49.1 dB, input 13.2).
    baselines: ClassVar[tuple[str, ...]] = ("input", "biharmonic inpainting")

    def corruption(self) -> Callable | None:
        return Inpaint()

    def baseline_mask(self, shape: tuple[int, ...], seed: int) -> np.ndarray | None:
        # The holes come first in the corruption (input noise after them): the same seed draws them again.
        return Inpaint().hole_mask(shape, torch.Generator().manual_seed(seed)).numpy()

    def describe(self) -> str | None:
        holes = Inpaint()
        return f"task {self.name} ({holes.holes} boxes of {holes.size:.0%} of each side)"


#: The task objects by name, in the order of :data:`TASKS`.
TASK_CLASSES: dict[str, type[Task]] = {
    cls.name: cls for cls in (ReconstructTask, DenoiseTask, ColorizeTask, SuperResolveTask, InpaintTask)
}


def _task_class(name: Any) -> type[Task]:
    cls = TASK_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise InvalidInputError(f"task={name!r}; expected one of {TASKS}")
    return cls


def task_for(name: str, **settings: Any) -> Task:
    """The task called ``name``, with those of ``settings`` it reads (the rest are ignored).

    Raises
    ------
    InvalidInputError
        If ``name`` is not one of :data:`TASKS`, or a setting it reads is out of range.

    Examples
    --------
    >>> task_for("denoise", noise_level=0.2, scale_factor=3)
    DenoiseTask(noise=None, noise_level=0.2)
    """
    cls = _task_class(name)
    wanted = {f.name for f in fields(cls)}
    return cls(**{key: value for key, value in settings.items() if key in wanted})


def task_of(estimator: Any) -> Task:
    """The task of ``estimator``, from its ``task`` parameter and the settings that task reads.

    Estimators without a ``task`` (the dense ones) reconstruct.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> task_of(SimpleNamespace(task="super_resolve", scale_factor=4))
    SuperResolveTask(scale_factor=4)
    >>> task_of(object()).restoration
    False
    """
    name = getattr(estimator, "task", None)
    if name is None:
        return ReconstructTask()
    cls = _task_class(name)
    return cls(**{f.name: getattr(estimator, f.name) for f in fields(cls)})


def check_task(task: str, scale_factor: int = 2) -> None:
    """Raise InvalidInputError unless ``task`` and ``scale_factor`` are known."""
    task_for(task, scale_factor=scale_factor)


def make_task(task: str, scale_factor: int = 2):
    """The corruption of ``task`` ('reconstruct' and 'denoise' have none of their own: None).

    Denoising's corruption is the input noise (:func:`hourglass.train.corruptions.make_noise`).

    Examples
    --------
    >>> make_task("super_resolve", 4)
    SuperResolve(factor=4)
    >>> make_task("denoise") is None
    True
    """
    return task_for(task, scale_factor=scale_factor).corruption()
