"""The convolutional autoencoder estimator: series, images and video, and the image tasks.

:class:`ConvAutoEncoder` has the dense estimator's API (fit, transform, inverse_transform,
reconstruct, score_samples, save / load) on arrays shaped ``(n, c, L)``, ``(n, c, h, w)`` or
``(n, c, t, h, w)``, on IDX files, and on folders of photos read lazily. Its ``task`` turns it
into a denoiser, colorizer, super-resolver or inpainter: the network is trained on corrupted
input -> clean target, and :meth:`ConvAutoEncoder.apply_image` runs it on whole photos of any
size, tile by tile.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from hourglass.data.images import MODES, ImageFolder, check_photos, load_image
from hourglass.data.loading import check_finite, load_data
from hourglass.data.sources import DatasetSource, NpyFileSource, TrainingSource
from hourglass.data.tiling import PatchDataset
from hourglass.estimators.base import BaseAutoEncoder, as_seed
from hourglass.estimators.constraints import parameter_constraints
from hourglass.estimators.params import store_parameters
from hourglass.estimators.persistence import register_estimator
from hourglass.estimators.task_part import TaskPart
from hourglass.exceptions import InvalidInputError
from hourglass.nn.config import DOWNSAMPLINGS, ConvConfig, check_skip_connections
from hourglass.nn.conv import code_map_shape
from hourglass.nn.conv_model import build_conv  # noqa: F401  (registers the "conv" architecture)
from hourglass.train.tasks import task_of

DEFAULT_IMAGE_SIZE = (64, 64)
#: Images sampled to fit the scaler and choose the loss when training from a folder.
SCALER_SAMPLE = 256
#: Patches cut from each photo of a folder when training a restoration task.
PATCHES_PER_IMAGE = 16
#: Channels of the encoder blocks when ``channels=None`` and the task names none of its own.
DEFAULT_CHANNELS = (32, 64)
#: A 3-D array whose middle axis is longer than this is read as gray images (n, h, w).
MAX_SERIES_CHANNELS = 16


def _is_path(X: Any) -> bool:
    return isinstance(X, (str, os.PathLike))


def _holds_idx(folder: Path) -> bool:
    return any(p.name.removesuffix(".gz").endswith("-idx3-ubyte") for p in folder.iterdir())


@register_estimator
class ConvAutoEncoder(TaskPart, BaseAutoEncoder):
    """A convolutional autoencoder for series, images and video, and image restoration tasks.

    Encoder blocks are convolution -> activation -> max-pooling (or strided convolutions), the
    decoder mirrors them with upsampling -> convolution; inputs that the pooling does not divide
    are padded and cropped back. With ``task`` other than 'reconstruct' the network learns to
    map a corrupted input (drawn afresh every batch) to the clean target.

    Parameters
    ----------
    code_size : int or None, default=None
        None: the code is the encoder's last feature map (``transform`` flattens it); an int:
        a flat code vector of that width, through a linear layer.
    channels : tuple of int or None, default=None
        Channels of each encoder block, outermost first; the decoder mirrors them. Every block
        halves each spatial axis. None: (32, 64), and (16, 32, 64, 128) for 'colorize', whose
        colours depend on what a thing is, which only a deep stack sees.
    kernel_size : int, default=3
        Odd kernel size of every convolution.
    downsampling : {'pool', 'stride'}, default='pool'
        'pool': conv -> activation -> max-pool, decoder upsample -> conv; 'stride': strided
        conv, decoder transposed conv.
    convs_per_block : int or None, default=None
        Convolutions (each with its activation) per block, at the block's resolution; with
        'pool' the first and last blocks then work longer on the full-resolution image. None:
        2 for restoration tasks (any ``task`` but 'reconstruct'), 1 for 'reconstruct'.
    skip_connections : bool or 'auto', default='auto'
        U-Net skips from each encoder block to the decoder block of the same resolution. The
        input then bypasses the code, so this is for restoration tasks only, with
        ``downsampling='pool'`` and ``code_size=None``; it is what lets the network keep the
        fine detail that denoising and super-resolution must not lose. 'auto': on exactly when
        those conditions hold. With skips, ``inverse_transform`` is unavailable (the decoder
        needs the input's feature maps).
    activation : str, default='relu'
    task : {'reconstruct', 'denoise', 'colorize', 'super_resolve', 'inpaint'}, default='reconstruct'
        'denoise': noisy in (``noise``, default Gaussian, at ``noise_level``), clean out;
        'colorize': luminance in, colour out (RGB data): the network predicts the chroma (Cb, Cr)
        and the output keeps the input's luminance exactly, so only colour is learnt, with the
        squared error in RGB (what PSNR measures), starting from gray; 'super_resolve': downsampled by
        ``scale_factor`` and interpolated back in, full image out; 'inpaint': random boxes
        blanked in, whole image out. For every task but 'reconstruct' the network adds its
        decoded correction to the input (a global skip), so it learns what the task changes.
    scale_factor : {2, 3, 4}, default=2
        Super-resolution factor.
    chroma_subsampling : int, default=4
        'colorize' only: the network sees the luminance shrunk this many times on each axis
        and predicts chroma there, upsampled (bilinear) onto the exact full-resolution
        luminance. Colour varies slowly (JPEG keeps it at half resolution) and depends on what
        a thing is: shrunk, the same work sees N times more of a photo. Train on patches N
        times larger than the network should see (256 x 256 for 64 x 64); 1 switches it off.
    image_size : (int, int) or None, default=None
        ``(height, width)`` for image folders: images are resized to it for 'reconstruct',
        and random patches of it are cut from each photo for the other tasks; (64, 64) if None
        ((256, 256) for 'colorize', which shrinks them ``chroma_subsampling`` times).
    color_mode : {'L', 'RGB'} or None, default=None
        Read folders as gray or colour (RGB if None). 'L' also makes a 3-D array read as gray
        images ``(n, h, w)``; otherwise a 3-D array is a series ``(n, c, L)`` unless its middle
        axis is longer than 16.
    loss : {'auto', 'mse', 'bce'}, default='auto'
        As in :class:`hourglass.AutoEncoder`.
    scaling : {'auto', 'none', 'standard', 'minmax'}, default='auto'
        As in :class:`hourglass.AutoEncoder`, with statistics per channel.
    epochs : int or 'auto', default=100
        Maximum number of epochs ('auto' as in :class:`hourglass.AutoEncoder`).
    batch_size : int, default=64
    learning_rate : float or 'auto', default=3e-3
        Peak learning rate of AdamW ('auto' as in :class:`hourglass.AutoEncoder`).
    weight_decay : float, default=1e-4
        AdamW's decoupled weight decay.
    validation_fraction : float, default=0.1
        Share of the data held out for early stopping (0 trains on everything).
    patience : int, default=15
        Epochs without validation improvement before stopping (0: never stop early).
    random_state : int, RandomState or None, default=None
        Seed for weights, split, shuffling and corruptions.
    device : str, default='auto'
        'auto' (CUDA when available), 'cpu', 'cuda' or 'cuda:N'.
    precision : {'auto', 'fp32', 'tf32', 'bf16'}, default='auto'
        As in :class:`hourglass.AutoEncoder`.
    compile : bool, default=False
        Train the module through ``torch.compile``.
    checkpoint_dir : str or None, default=None
        Folder for a checkpoint after every epoch, as in :class:`hourglass.AutoEncoder`.
    verbose : int, default=0
        1 shows a progress bar.
    warm_start : bool, default=False
        ``fit`` continues from the weights of the previous ``fit``.
    callbacks : list or None, default=None
        Objects with ``on_epoch_end(estimator, epoch, logs)``, as in :class:`hourglass.AutoEncoder`.
    noise : {'gaussian', 'masking', 'salt_pepper'} or None, default=None
        Input noise, added after the task's corruption (``'gaussian'`` for 'denoise' if None).
    noise_level : float, default=0.1
        Sigma of Gaussian noise (in the units the network sees), or the share of entries hit.
    dropout : float, default=0.0
        Dropout rate after every block, as a channel dropout (training only).
    l1_penalty : float, default=0.0
        Weight of ``mean |code|``, as in :class:`hourglass.AutoEncoder`.
    kl_penalty : float, default=0.0
        Weight of the KL sparsity penalty toward ``sparsity_target``; on, the code (flat, or
        every entry of the code map) goes through a sigmoid, as in :class:`hourglass.AutoEncoder`.
    sparsity_target : float, default=0.05
        Target mean activation rho of each code unit (each entry of a spatial code).
    topk : int or None, default=None
        Keep the ``topk`` largest code entries per sample, zero the rest (Gao et al. 2024). With
        ``code_size=None`` the code map ``(c, ...)`` of each sample is ranked as one flat vector,
        so every sample keeps ``topk`` active entries in all; ``topk`` may not exceed the code's
        width. Not combinable with ``kl_penalty``.
    topk_aux_penalty : float, default=1/32
        Weight of the AuxK loss that revives dead code units (0 switches it off); it uses about
        half the input's values as auxiliary units.
    contractive_penalty : float, default=0.0
        Weight of the squared Frobenius norm of the encoder's Jacobian.
    encoder : str, Path, torch.nn.Module or None, default=None
        A pretrained encoder: a saved hourglass model folder or a module, as in
        :class:`hourglass.AutoEncoder`.
    freeze_encoder : bool, default=False
        Keep the pretrained encoder's weights fixed while the rest trains.
    decoder : str, Path, torch.nn.Module or None, default=None
        A pretrained decoder, as for ``encoder``.
    freeze_decoder : bool, default=False
        Keep the pretrained decoder's weights fixed.

    Attributes
    ----------
    module_ : hourglass.nn.model.AutoEncoder
    input_shape_ : tuple of int
        One sample's shape, channels first.
    scaler_, loss_, loss_reason_, history_, n_epochs_, fit_seconds_
        As in :class:`hourglass.AutoEncoder`.

    Notes
    -----
    A sparsity guard (``l1_penalty``, ``kl_penalty`` or ``topk``), a task or noise allows a code
    at least as wide as the input, and a sparsity guard records the sparse-code metrics (L0,
    dead fraction, ...) in ``history_.metrics`` every epoch.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((64, 1, 16, 16)).astype(np.float32)
    >>> ae = ConvAutoEncoder(channels=(4, 8), epochs=1, random_state=0, verbose=0).fit(X)
    >>> ae.reconstruct(X).shape
    (64, 1, 16, 16)
    >>> den = ConvAutoEncoder(channels=(4,), task="denoise", noise_level=0.1, epochs=1, verbose=0).fit(X)
    >>> den.apply_image(np.random.default_rng(1).random((1, 40, 50))).shape
    (1, 40, 50)
    """

    _scaler_channel_axis = 1  # an axis of X (n, c, ...): statistics per channel, shared over space

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = parameter_constraints("conv")

    # The declaration in hourglass.estimators.params gives the same names, order, types and defaults
    # (tests/test_params.py); written out so that type checkers and IDEs read them.
    def __init__(
        self,
        code_size: int | None = None,
        channels: tuple[int, ...] | None = None,
        kernel_size: int = 3,
        downsampling: str = "pool",
        convs_per_block: int | None = None,
        skip_connections: bool | str = "auto",
        activation: str = "relu",
        task: str = "reconstruct",
        scale_factor: int = 2,
        chroma_subsampling: int = 4,
        image_size: tuple[int, int] | None = None,
        color_mode: str | None = None,
        loss: str = "auto",
        scaling: str = "auto",
        epochs: int | str = 100,
        max_time: float | str | None = None,
        threads: int | str = "auto",
        batch_size: int = 64,
        learning_rate: float | str = 0.003,
        weight_decay: float = 0.0001,
        validation_fraction: float = 0.1,
        patience: int = 15,
        random_state: Any = None,
        device: str = "auto",
        precision: str = "auto",
        compile: bool = False,
        checkpoint_dir: str | None = None,
        verbose: int = 0,
        warm_start: bool = False,
        callbacks: Any = None,
        noise: str | None = None,
        noise_level: float = 0.1,
        dropout: float = 0.0,
        l1_penalty: float = 0.0,
        kl_penalty: float = 0.0,
        sparsity_target: float = 0.05,
        topk: int | None = None,
        topk_aux_penalty: float = 1 / 32,
        contractive_penalty: float = 0.0,
        encoder: Any = None,
        freeze_encoder: bool = False,
        decoder: Any = None,
        freeze_decoder: bool = False,
    ) -> None:
        store_parameters(self, locals())

    # -- parameters and inputs ---------------------------------------------------------------
    def _check_params(self) -> None:
        task = task_of(self)  # refuses an unknown task or scale factor
        if self.downsampling not in DOWNSAMPLINGS:
            raise InvalidInputError(f"downsampling={self.downsampling!r}; expected one of {DOWNSAMPLINGS}")
        cpb = self.convs_per_block
        if cpb is not None and (not isinstance(cpb, numbers.Integral) or isinstance(cpb, bool) or cpb < 1):
            raise InvalidInputError(f"convs_per_block={cpb!r}; expected a positive integer or None")
        if self.skip_connections not in (True, False, "auto"):
            raise InvalidInputError(
                f"skip_connections={self.skip_connections!r}; expected True, False or 'auto'"
            )
        if self.skip_connections is True and not task.restoration:
            raise InvalidInputError(
                "skip_connections=True with task='reconstruct': the skips let the input bypass the code, "
                "so the model would learn the identity; use them with a restoration task"
            )
        if self.skip_connections is True:
            check_skip_connections(self.code_size, self.downsampling)
        if self.color_mode is not None and self.color_mode not in MODES:
            raise InvalidInputError(f"color_mode={self.color_mode!r}; expected one of {MODES} or None")
        if self.image_size is not None:
            size = tuple(self.image_size) if isinstance(self.image_size, (tuple, list)) else ()
            if len(size) != 2 or not all(isinstance(s, numbers.Integral) and s >= 1 for s in size):
                raise InvalidInputError(
                    f"image_size={self.image_size!r}; expected (height, width), two positive ints"
                )
        BaseAutoEncoder._check_params(self)  # named, not super(): the VAE borrows this method

    def _folder_mode(self) -> str:
        if hasattr(self, "input_shape_") and len(self.input_shape_) == 3:
            return "L" if self.input_shape_[0] == 1 else "RGB"
        return self.color_mode or "RGB"

    def _training_source(self, X: Any) -> TrainingSource:
        """An array (in memory or streamed from a large ``.npy``), or a lazy Dataset of photos."""
        if isinstance(X, torch.utils.data.DataLoader):
            X = X.dataset  # batches follow batch_size, as for arrays
        if isinstance(X, torch.utils.data.Dataset):
            return self._check_colour(self._dataset_source(X))
        if not _is_path(X) or not Path(X).is_dir() or _holds_idx(Path(X)):
            return self._check_colour(self._array_source(self._load(X)))
        size = tuple(self.image_size) if self.image_size is not None else self._default_patch_size()
        task = task_of(self)
        if not task.restoration:
            folder = ImageFolder(X, size=size, mode=self.color_mode or "RGB", fit="resize")
            return self._dataset_source(folder, sample_limit=SCALER_SAMPLE, slow_reads=True)
        # Restoration learns from the photos' own pixels: patches, not shrunken whole photos.
        paths = ImageFolder(X, size=None, mode=self.color_mode or "RGB").paths
        check_photos(paths, size)
        task.check_photos(paths, str(X))
        return self._dataset_source(
            PatchDataset(
                paths, size, self.color_mode or "RGB", PATCHES_PER_IMAGE, as_seed(self.random_state)
            ),
            sample_limit=SCALER_SAMPLE,
            slow_reads=True,
        )

    def _check_colour(self, source: TrainingSource) -> TrainingSource:
        """Refuse training items the task cannot learn from (colorization: all gray)."""
        task_of(self).check_source(source, getattr(self, "input_shape_", ()))
        return source

    def _dataset_source(
        self, dataset, sample_limit: int | None = None, slow_reads: bool = False
    ) -> DatasetSource:
        """A Dataset of ``(c, ...)`` tensors; its first item sets the input shape.

        Photos decode slowly: their statistics come from ``SCALER_SAMPLE`` of them (stated in
        ``history_.recipe``) and they are read in DataLoader workers.
        """
        limit = {} if sample_limit is None else {"sample_limit": sample_limit}
        source = DatasetSource(dataset, slow_reads=slow_reads, **limit)
        self._set_input_shape(source.head(1), source)
        return source

    def _check_streamed(self, X: np.memmap, source: NpyFileSource) -> None:
        self._set_input_shape(source.head(1), source)

    def _set_input_shape(self, head: np.ndarray, source: TrainingSource) -> None:
        """Read one item's shape (a 3-D gray-image array gains its channel axis) and keep it."""
        shape = tuple(int(s) for s in head.shape[1:])
        if len(shape) == 2 and (self.color_mode == "L" or shape[0] > MAX_SERIES_CHANNELS):
            shape = (1, *shape)
        if len(shape) not in (2, 3, 4):
            raise InvalidInputError(
                f"X has items of shape {shape}; expected (c, L) series, (c, h, w) or (h, w) images, "
                "or (c, t, h, w) video; for tables use hourglass.AutoEncoder"
            )
        source.sample_shape = shape
        self.input_shape_ = shape
        self.n_features_in_ = math.prod(shape)

    def _load(self, X: Any) -> Any:
        """Read a path (image folder, IDX folder or file, array file, one image) into an array."""
        if not _is_path(X):
            return X
        path = Path(X)
        if path.is_dir() and not _holds_idx(path):
            size = (
                tuple(self.input_shape_[1:])
                if hasattr(self, "input_shape_")
                else (tuple(self.image_size) if self.image_size is not None else DEFAULT_IMAGE_SIZE)
            )
            return ImageFolder(path, size=size, mode=self._folder_mode()).to_array()
        if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"):
            return load_image(path, mode=self._folder_mode())[None]
        return load_data(path, flat=False).X

    def _validate_input(self, X: Any, reset: bool) -> np.ndarray:
        data = np.asarray(self._load(X))
        if reset:
            if data.ndim == 3 and (self.color_mode == "L" or data.shape[1] > MAX_SERIES_CHANNELS):
                data = data[:, None]  # gray images (n, h, w) -> (n, 1, h, w)
            if data.ndim not in (3, 4, 5):
                raise InvalidInputError(
                    f"X has shape {data.shape}; expected (n, c, L) series, (n, c, h, w) or (n, h, w) images, "
                    "or (n, c, t, h, w) video; for tables use hourglass.AutoEncoder"
                )
            data = check_finite(data, "X")
            self.input_shape_ = tuple(int(s) for s in data.shape[1:])
            self.n_features_in_ = math.prod(self.input_shape_)
            return data
        check_is_fitted(self, "module_")
        if data.ndim == len(self.input_shape_) and self.input_shape_[0] == 1:
            data = data[:, None]
        if tuple(data.shape[1:]) != self.input_shape_:
            raise InvalidInputError(
                f"X has samples of shape {tuple(data.shape[1:])}; this model was fitted on "
                f"{self.input_shape_} "
                "(use apply_image for images of another size)"
            )
        return check_finite(data, "X")

    def _overcomplete_allowed(self) -> bool:
        # A corrupted input (a task or noise) or a sparsity penalty keeps a wide code from the identity.
        return task_of(self).restoration or self.noise is not None or self._sparsity_on()

    def _check_code_size(self, X: np.ndarray) -> None:
        # The first items fit sees: also where colorize learns whether it has colour to learn.
        task_of(self).check_samples(tuple(X.shape[1:]))
        if self.code_size is None:
            return
        if not isinstance(self.code_size, numbers.Integral) or self.code_size < 1:
            raise InvalidInputError(
                f"code_size={self.code_size!r} must be None (a spatial code) or a positive integer"
            )
        n = math.prod(X.shape[1:])
        if self.code_size >= n and not self._overcomplete_allowed():
            raise InvalidInputError(
                f"code_size={self.code_size} must be smaller than the {n} values of one sample: a code as "
                "wide as the input can learn the identity; lower code_size, pick a task or noise, or add "
                "a sparsity guard (l1_penalty, kl_penalty or topk)"
            )

    def _convs_per_block(self) -> int:
        if self.convs_per_block is not None:
            return int(self.convs_per_block)
        return task_of(self).convs_per_block

    def _default_patch_size(self) -> tuple[int, int]:
        """Training patches from folders: 64 x 64 where the network works (colorize shrinks them)."""
        factor = task_of(self).patch_scale
        return (DEFAULT_IMAGE_SIZE[0] * factor, DEFAULT_IMAGE_SIZE[1] * factor)

    def _channels(self) -> tuple[int, ...]:
        if self.channels is None:
            return task_of(self).channels or DEFAULT_CHANNELS
        return (self.channels,) if isinstance(self.channels, numbers.Integral) else tuple(self.channels)

    def _skip_connections(self) -> bool:
        if self.skip_connections != "auto":
            return bool(self.skip_connections)
        return task_of(self).restoration and self.downsampling == "pool" and self.code_size is None

    def _architecture(self, X: np.ndarray, output_activation: str) -> ConvConfig:
        channels = self._channels()
        return ConvConfig(
            input_shape=tuple(X.shape[1:]),
            code_size=None if self.code_size is None else int(self.code_size),
            channels=channels,
            kernel_size=int(self.kernel_size),
            downsampling=self.downsampling,
            convs_per_block=self._convs_per_block(),
            skip_connections=self._skip_connections(),
            activation=self.activation,
            output_activation=output_activation,
            residual=task_of(self).restoration,
            **self._chroma_fields(),
            # dropout, code activation and TopK; a spatial code's TopK ranks the whole map.
            **self._bottleneck().code_fields(self, math.prod(X.shape[1:])),
        )

    def _chroma_fields(self) -> dict[str, Any]:
        """The network's config fields the task sets (colorization's chroma, in pixel units)."""
        return task_of(self).config_fields(self.scaler_)

    def _corruption(self):
        """The task's corruption (in data units), then the input noise; None for neither."""
        return task_of(self).training_corruption(super()._corruption(), self.scaler_)

    def _code_shape(self) -> tuple[int, ...]:
        if self.architecture_.code_size is not None:
            return (int(self.architecture_.code_size),)
        return self._bottleneck().code_shape(self) or code_map_shape(self.architecture_)  # a VQ's map first

    # -- using a fitted model ----------------------------------------------------------------
    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decode codes ``(n, n_codes)`` (flattened feature maps for a spatial code) to data."""
        check_is_fitted(self, "module_")
        codes = np.asarray(X)
        if codes.ndim != 2 or codes.shape[1] != self._n_features_out:
            raise InvalidInputError(
                f"codes have shape {codes.shape}; expected (n_samples, {self._n_features_out})"
            )
        codes = check_finite(codes, "codes")
        out = self._run(self.module_.decode, codes.reshape(len(codes), *self._code_shape()))
        return self.scaler_.inverse_transform(out).astype(self._output_dtype(X), copy=False)

    # -- persistence -------------------------------------------------------------------------
    def _saved_attributes(self) -> dict[str, Any]:
        return {**super()._saved_attributes(), "input_shape_": list(self.input_shape_)}

    def _restore_attributes(self, fitted: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        super()._restore_attributes(fitted, tensors)
        self.input_shape_ = tuple(int(s) for s in self.input_shape_)


__all__ = ["ConvAutoEncoder"]
