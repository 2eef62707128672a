"""The grid part: series ``(c, L)``, images ``(c, h, w)`` and video ``(c, t, h, w)``, channels
first, and a convolutional network for them shaped by the task."""

from __future__ import annotations

import math
import numbers
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse
import torch
from sklearn.utils.validation import check_is_fitted

from hourglass.data.images import MODES, ImageFolder, check_photos, folder_notice, load_image
from hourglass.data.loading import check_finite, load_data
from hourglass.data.sources import DatasetSource, NpyFileSource, TrainingSource
from hourglass.data.tiling import PatchDataset
from hourglass.estimators import parts
from hourglass.estimators.code_width import narrow_code
from hourglass.estimators.inputs.grid_checks import warn_if_bytes_for_unit_data, warn_if_channels_last
from hourglass.estimators.inputs.part import InputPart, declared_default, register_input
from hourglass.estimators.params import BY_NAME, DEFAULT_IMAGE_SIZE
from hourglass.exceptions import InvalidInputError
from hourglass.nn.config import (
    DOWNSAMPLINGS,
    MAX_INPUT_VALUES,
    MAX_KERNEL,
    ConvConfig,
    check_skip_connections,
)
from hourglass.nn.conv import code_map_shape
from hourglass.nn.conv_model import build_conv  # noqa: F401  (registers the "conv" architecture)
from hourglass.runtime import distributed
from hourglass.runtime.seeds import as_seed
from hourglass.train.tasks import task_of

#: Images sampled to fit the scaler and choose the loss when training from a folder.
SCALER_SAMPLE = 256
#: Patches cut from each photo of a folder when training a restoration task.
PATCHES_PER_IMAGE = 16
#: Channels of the encoder blocks when ``channels=None`` and the task names none of its own.
DEFAULT_CHANNELS = (32, 64)
#: A 3-D array whose middle axis is longer than this is read as gray images (n, h, w).
MAX_SERIES_CHANNELS = 16
#: The shortest side a 3-D array's samples are read as gray images by, for a task of images only
#: (the smallest photo side ``hourglass apply`` takes); shorter, they are series it refuses.
MIN_IMAGE_SIDE = 8


def is_path(X: Any) -> bool:
    """Whether ``X`` names a file or folder (the grid part reads it) rather than holding data."""
    return isinstance(X, (str, os.PathLike))


def holds_idx(folder: Path) -> bool:
    """Whether ``folder`` holds IDX files (MNIST's format), read as one array, not as photos."""
    return any(p.name.removesuffix(".gz").endswith("-idx3-ubyte") for p in folder.iterdir())


def _check_image_size(est: Any, size: tuple[int, ...]) -> None:
    """Refuse an ``image_size`` whose images no model takes, before any photo is decoded at it."""
    channels = 1 if est.color_mode == "L" else 3
    values = channels * math.prod(int(s) for s in size)
    if values > MAX_INPUT_VALUES:
        raise InvalidInputError(
            f"image_size={int(size[0])}x{int(size[1])} makes images of {values:,} values "
            f"({channels} channel(s)); at most {MAX_INPUT_VALUES:,} are supported, so expected a "
            "smaller height x width"
        )


def _announce(est: Any, folder: ImageFolder, size: tuple[int, int] | None, mode: str) -> None:
    """Say on stderr (when verbose) that the photos of a folder are not trained on as they are:
    resized to ``size`` (None: patches, not resized), turned gray or flattened, or that files of
    other types are left out."""
    if not est.verbose or not distributed.is_main():
        return  # the headers are not even read
    notice = folder_notice(folder.paths, size, mode, folder.left_out)
    if notice is None:
        return
    chosen = size is None or est.image_size is not None
    hint = "" if chosen else "; pass --image-size (Python: image_size) to choose the size"
    print(notice + hint, file=sys.stderr, flush=True)


def _gray_images(est: Any, middle: int) -> bool:
    """Whether a 3-D array whose middle axis is ``middle`` long holds gray images ``(n, h, w)``
    rather than series ``(n, c, L)``: in gray mode, for a middle axis longer than series' channels,
    or, for a task that reads images only, one of :data:`MIN_IMAGE_SIDE` or more (super-resolving
    refused 16 x 16 patches as 16-channel series)."""
    if est.color_mode == "L" or middle > MAX_SERIES_CHANNELS:
        return True
    return middle >= MIN_IMAGE_SIDE and task_of(est).images_only


def _auto_code(est: Any) -> bool:
    """Whether ``est`` leaves its code's width to the model (``code_size='auto'``)."""
    return isinstance(est.code_size, str) and est.code_size == "auto"


@register_input
class GridPart(InputPart):
    """Grids of values, channels first, with any number of spatial axes: arrays, large ``.npy``
    memory maps, Datasets of ``(c, ...)`` tensors, image and IDX folders, files and single
    images; a convolutional network shaped by the task (:mod:`hourglass.train.tasks`).

    ``learning_rate='auto'`` stands for the convolutional models' default rate: there is no
    width rule for convolutions as there is for dense layers.
    """

    kind = "grid"
    scaler_channel_axis = 1  # an axis of X (n, c, ...): statistics per channel, shared over space

    def check_params(self, est: Any) -> None:
        task = task_of(est)  # refuses an unknown task or scale factor
        if est.downsampling not in DOWNSAMPLINGS:
            raise InvalidInputError(f"downsampling={est.downsampling!r}; expected one of {DOWNSAMPLINGS}")
        cpb = est.convs_per_block
        if cpb is not None and (not isinstance(cpb, numbers.Integral) or isinstance(cpb, bool) or cpb < 1):
            raise InvalidInputError(f"convs_per_block={cpb!r}; expected a positive integer or None")
        if est.skip_connections not in (True, False, "auto"):
            raise InvalidInputError(
                f"skip_connections={est.skip_connections!r}; expected True, False or 'auto'"
            )
        if est.skip_connections is True and not task.restoration:
            raise InvalidInputError(
                "skip_connections=True with task='reconstruct': the skips let the input bypass the code, "
                "so the model would learn the identity; use them with a restoration task"
            )
        if est.skip_connections is True:
            # A restoration task's 'auto' code is the spatial map (checked above: skips need a task).
            check_skip_connections(None if _auto_code(est) else est.code_size, est.downsampling)
        if est.color_mode is not None and est.color_mode not in MODES:
            raise InvalidInputError(f"color_mode={est.color_mode!r}; expected one of {MODES} or None")
        if est.image_size is not None:
            size = tuple(est.image_size) if isinstance(est.image_size, (tuple, list)) else ()
            if len(size) != 2 or not all(isinstance(s, numbers.Integral) and s >= 1 for s in size):
                raise InvalidInputError(
                    f"image_size={est.image_size!r}; expected (height, width), two positive ints"
                )
            _check_image_size(est, size)
        chroma = getattr(est, "chroma_subsampling", 1)
        if (
            not isinstance(chroma, numbers.Integral)
            or isinstance(chroma, bool)
            or not 1 <= chroma <= MAX_KERNEL
        ):
            # The colorizer predicts colour at 1/N of the photo's resolution: N is a small factor.
            raise InvalidInputError(
                f"chroma_subsampling={chroma!r}; expected an integer from 1 to {MAX_KERNEL} (the colorizer "
                "predicts colour at 1/N of the photo's resolution)"
            )

    @staticmethod
    def folder_mode(est: Any) -> str:
        """How photos are read: as the fitted images (gray or colour), else ``color_mode`` or RGB."""
        if hasattr(est, "input_shape_") and len(est.input_shape_) == 3:
            return "L" if est.input_shape_[0] == 1 else "RGB"
        return est.color_mode or "RGB"

    def training_source(self, est: Any, X: Any) -> TrainingSource:
        """An array (in memory or streamed from a large ``.npy``), or a lazy Dataset of photos."""
        if isinstance(X, torch.utils.data.DataLoader):
            X = X.dataset  # batches follow batch_size, as for arrays
        if isinstance(X, torch.utils.data.Dataset):
            return self._learnable(est, self.dataset_source(est, X))
        if not is_path(X) or not Path(X).is_dir() or holds_idx(Path(X)):
            return self._learnable(est, self.array_source(est, self.load(est, X)))
        size = tuple(est.image_size) if est.image_size is not None else self.default_patch_size(est)
        task = task_of(est)
        mode = est.color_mode or "RGB"
        if not task.restoration:
            folder = ImageFolder(X, size=size, mode=mode, fit="resize")
            _announce(est, folder, size, mode)
            check_photos(folder.paths, None)  # every bad file named before training, not the first mid-epoch
            return self.dataset_source(est, folder, sample_limit=SCALER_SAMPLE, slow_reads=True)
        # Restoration learns from the photos' own pixels: patches, not shrunken whole photos.
        folder = ImageFolder(X, size=None, mode=mode)
        paths = folder.paths
        _announce(est, folder, None, mode)
        check_photos(paths, size)
        task.check_photos(paths, str(X))
        patches = PatchDataset(paths, size, mode, PATCHES_PER_IMAGE, as_seed(est.random_state))
        return self.dataset_source(est, patches, sample_limit=SCALER_SAMPLE, slow_reads=True)

    @staticmethod
    def _learnable(est: Any, source: TrainingSource) -> TrainingSource:
        """Refuse training items the task cannot learn from (colorization: all gray)."""
        task_of(est).check_source(source, getattr(est, "input_shape_", ()))
        return source

    def dataset_source(
        self, est: Any, dataset: Any, sample_limit: int | None = None, slow_reads: bool = False
    ) -> DatasetSource:
        """A Dataset of ``(c, ...)`` tensors; its first item sets the input shape.

        Photos decode slowly: their statistics come from ``SCALER_SAMPLE`` of them (stated in
        ``history_.recipe``) and they are read in DataLoader workers.
        """
        limit = {} if sample_limit is None else {"sample_limit": sample_limit}
        source = DatasetSource(dataset, slow_reads=slow_reads, **limit)
        self.set_input_shape(est, source.head(1), source)
        return source

    def check_streamed(self, est: Any, X: np.ndarray, source: NpyFileSource) -> None:
        self.set_input_shape(est, source.head(1), source)

    @staticmethod
    def set_input_shape(est: Any, head: np.ndarray, source: TrainingSource) -> None:
        """Read one item's shape (a 3-D gray-image array gains its channel axis) and keep it."""
        # A streamed .npy or a Dataset: its items may be stored channels-last as an array's are.
        warn_if_channels_last(head.shape, est.color_mode, MAX_SERIES_CHANNELS)
        shape = tuple(int(s) for s in head.shape[1:])
        if len(shape) == 2 and _gray_images(est, shape[0]):
            shape = (1, *shape)
        if len(shape) not in (2, 3, 4):
            raise InvalidInputError(
                f"X has items of shape {shape}; expected (c, L) series, (c, h, w) or (h, w) images, "
                "or (c, t, h, w) video; for tables use hourglass.AutoEncoder"
            )
        source.sample_shape = shape
        est.input_shape_ = shape
        est.n_features_in_ = math.prod(shape)

    def load(self, est: Any, X: Any) -> Any:
        """Read a path (image folder, IDX folder or file, array file, one image) into an array."""
        if not is_path(X):
            return X
        path = Path(X)
        if path.is_dir() and not holds_idx(path):
            size = (
                tuple(est.input_shape_[1:])
                if hasattr(est, "input_shape_")
                else (tuple(est.image_size) if est.image_size is not None else DEFAULT_IMAGE_SIZE)
            )
            return ImageFolder(path, size=size, mode=self.folder_mode(est)).to_array()
        if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"):
            return load_image(path, mode=self.folder_mode(est))[None]
        return load_data(path, flat=False).X

    def validate(self, est: Any, X: Any, reset: bool) -> np.ndarray:
        if scipy.sparse.issparse(X):  # np.asarray would make it a shapeless object
            raise InvalidInputError(
                f"X is a SciPy sparse matrix of shape {X.shape}; a convolutional model reads dense series, "
                "images or video; for sparse rows use hourglass.AutoEncoder"
            )
        data = np.asarray(self.load(est, X))
        if reset:
            warn_if_channels_last(data.shape, est.color_mode, MAX_SERIES_CHANNELS)
            if data.ndim == 3 and _gray_images(est, data.shape[1]):
                data = data[:, None]  # gray images (n, h, w) -> (n, 1, h, w)
            if data.ndim not in (3, 4, 5):
                raise InvalidInputError(
                    f"X has shape {data.shape}; expected (n, c, L) series, (n, c, h, w) or (n, h, w) images, "
                    "or (n, c, t, h, w) video; for tables use hourglass.AutoEncoder"
                )
            data = check_finite(data, "X")
            est.input_shape_ = tuple(int(s) for s in data.shape[1:])
            est.n_features_in_ = math.prod(est.input_shape_)
            return data
        check_is_fitted(est, "module_")
        warn_if_bytes_for_unit_data(est, data)
        if data.ndim == len(est.input_shape_) and est.input_shape_[0] == 1:
            data = data[:, None]
        if tuple(data.shape[1:]) != est.input_shape_:
            # apply_image tiles images only: series and clips of another length have no such way.
            hint = (
                "use apply_image for images of another size"
                if len(est.input_shape_) == 3
                else "crop, pad or resample the samples to that shape first"
            )
            raise InvalidInputError(
                f"X has samples of shape {tuple(data.shape[1:])}; this model was fitted on "
                f"{est.input_shape_} ({hint})"
            )
        return check_finite(data, "X")

    def overcomplete_allowed(self, est: Any) -> bool:
        # A corrupted input (a task or noise) keeps a wide code from the identity, as the code can.
        return task_of(est).restoration or est.noise is not None or super().overcomplete_allowed(est)

    def code_size(self, est: Any, sample_shape: tuple[int, ...]) -> int | None:
        """The code the network gets for samples of ``sample_shape``: ``code_size``, with 'auto'
        resolved: a saved encoder's or decoder's code, else the spatial map (None) where a task,
        noise or sparsity guard allows a wide code, else a quarter of the values, at most 16
        (:mod:`hourglass.estimators.code_width`)."""
        if not _auto_code(est):
            return est.code_size
        for source in (getattr(est, "encoder", None), getattr(est, "decoder", None)):
            if is_path(source):  # a saved part's code: the user chose it when fitting that model
                return getattr(parts.source_architecture(source), "code_size", None)
        if self.overcomplete_allowed(est):
            return None
        return narrow_code(math.prod(sample_shape))

    def check_code_size(self, est: Any, head: np.ndarray) -> None:
        # The first items fit sees: also where colorize learns whether it has colour to learn.
        task_of(est).check_samples(tuple(head.shape[1:]))
        code_size = self.code_size(est, tuple(head.shape[1:]))
        if code_size is None:
            self._warn_if_spatial_code_is_wide(est, tuple(head.shape[1:]))
            return
        if not isinstance(code_size, numbers.Integral) or isinstance(code_size, bool) or code_size < 1:
            raise InvalidInputError(
                f"code_size={code_size!r} must be 'auto', None (a spatial code) or a positive integer"
            )
        n = math.prod(head.shape[1:])
        if code_size >= n and not self.overcomplete_allowed(est):
            raise InvalidInputError(
                f"code_size={code_size} must be smaller than the {n} values of one sample: a code as "
                "wide as the input can learn the identity; lower code_size, pick a task or noise, or add "
                "a sparsity guard (l1_penalty, kl_penalty or topk)"
            )

    def _warn_if_spatial_code_is_wide(self, est: Any, sample_shape: tuple[int, ...]) -> None:
        """Warn where the spatial code holds as many values as a sample: what ``code_size`` of
        that width is refused for (it can learn the identity), here from the channels' defaults
        (32, 64) on gray images (4x the pixels) or series (16x the values of one channel)."""
        if self.overcomplete_allowed(est):
            return
        channels = self.channels(est)
        factor = 2 ** len(channels)
        code = (channels[-1], *(math.ceil(s / factor) for s in sample_shape[1:]))
        n_code, n_input = math.prod(code), math.prod(sample_shape)
        if n_code < n_input:
            return
        warnings.warn(
            f"the spatial code ({'x'.join(map(str, code))} = {n_code:,} values) is as wide as one sample "
            f"({'x'.join(map(str, sample_shape))} = {n_input:,}) or wider, so it can learn the identity; "
            "give code_size='auto' or a width (--code-size auto|INT: a flat code) or fewer channels, or a "
            "task, noise or sparsity guard",
            UserWarning,
            stacklevel=5,
        )

    def auto_learning_rate(self, est: Any) -> tuple[float, str]:
        conv = BY_NAME["learning_rate"].default_for("conv")
        return float(conv), f"auto: the convolutional models' rate {conv:g}"

    @staticmethod
    def default_patch_size(est: Any) -> tuple[int, int]:
        """Training patches from folders: 64 x 64 where the network works (colorize shrinks them)."""
        factor = task_of(est).patch_scale
        return (DEFAULT_IMAGE_SIZE[0] * factor, DEFAULT_IMAGE_SIZE[1] * factor)

    @staticmethod
    def channels(est: Any) -> tuple[int, ...]:
        """Channels of the encoder blocks: ``channels``, else the task's, else :data:`DEFAULT_CHANNELS`."""
        if est.channels is None:
            return task_of(est).channels or DEFAULT_CHANNELS
        return (est.channels,) if isinstance(est.channels, numbers.Integral) else tuple(est.channels)

    @staticmethod
    def skip_connections(est: Any) -> bool:
        """``skip_connections``; 'auto' is on for a restoration task with pooling and a spatial code."""
        if est.skip_connections != "auto":
            return bool(est.skip_connections)
        spatial = est.code_size is None or _auto_code(est)  # a restoration task's 'auto' is the map
        return task_of(est).restoration and est.downsampling == "pool" and spatial

    def architecture(self, est: Any, head: np.ndarray, output_activation: str) -> ConvConfig:
        # A saved part fitted on other images is named here, before torch fails on its weights.
        parts.check_grid_parts(
            tuple(head.shape[1:]), getattr(est, "encoder", None), getattr(est, "decoder", None)
        )
        task = task_of(est)
        cpb = est.convs_per_block
        code_size = self.code_size(est, tuple(head.shape[1:]))
        config = ConvConfig(
            input_shape=tuple(head.shape[1:]),
            code_size=None if code_size is None else int(code_size),
            channels=self.channels(est),
            kernel_size=int(est.kernel_size),
            downsampling=est.downsampling,
            convs_per_block=task.convs_per_block if cpb is None else int(cpb),
            skip_connections=self.skip_connections(est),
            activation=est.activation,
            output_activation=output_activation,
            residual=task.restoration,
            # The network's fields the task sets (colorization's chroma, in pixel units).
            **task.config_fields(est.scaler_),
            # dropout, code activation and TopK; a spatial code's TopK ranks the whole map.
            **est._bottleneck().code_fields(est, math.prod(head.shape[1:])),
        )
        # A saved encoder or decoder brings its layers' settings, as a dense one does.
        return parts.grid_architecture(config, self._given(est), est.encoder, est.decoder)

    @staticmethod
    def _given(est: Any) -> dict[str, Any]:
        """The layer settings the user set, not left at their defaults (a saved part may not
        contradict them)."""
        given: dict[str, Any] = {}
        if est.channels is not None:
            given["channels"] = GridPart.channels(est)
        if est.convs_per_block is not None:
            given["convs_per_block"] = int(est.convs_per_block)
        if est.skip_connections != "auto":
            given["skip_connections"] = bool(est.skip_connections)
        for name in ("kernel_size", "downsampling", "activation"):
            if getattr(est, name) != declared_default(est, name):
                given[name] = getattr(est, name)
        return given

    def code_shape(self, est: Any) -> tuple[int, ...]:
        if est.architecture_.code_size is not None:
            return (int(est.architecture_.code_size),)
        return est._bottleneck().code_shape(est) or code_map_shape(est.architecture_)  # a VQ's map first

    def saved_attributes(self, est: Any) -> dict[str, Any]:
        return {"input_shape_": list(est.input_shape_)}

    def restore(self, est: Any, fitted: dict[str, Any]) -> None:
        est.input_shape_ = tuple(int(s) for s in est.input_shape_)


__all__ = ["GridPart", "holds_idx", "is_path"]
