"""The convolutional autoencoder estimator: series, images and video, and the image tasks.

:class:`ConvAutoEncoder` has the dense estimator's API (fit, transform, inverse_transform,
reconstruct, score_samples, save / load) on arrays shaped ``(n, c, L)``, ``(n, c, h, w)`` or
``(n, c, t, h, w)``, on IDX files, and on folders of photos read lazily. Its ``task`` turns it
into a denoiser, colorizer, super-resolver or inpainter: the network is trained on corrupted
input -> clean target, and :meth:`ConvAutoEncoder.apply_image` runs it on whole photos of any
size, tile by tile.

Its input part (:class:`~hourglass.estimators.inputs.GridPart`) reads, checks and shapes the
grids and builds the convolutional network; the task's methods come from
:class:`~hourglass.estimators.task_part.TaskPart`.
"""

from __future__ import annotations

import datetime
from typing import Any, ClassVar

from hourglass.estimators.base import BaseAutoEncoder
from hourglass.estimators.constraints import parameter_constraints

# The grid part's constants lived here before the part did: still importable from here.
from hourglass.estimators.inputs.grids import (  # noqa: F401
    DEFAULT_CHANNELS,
    DEFAULT_IMAGE_SIZE,
    MAX_SERIES_CHANNELS,
    PATCHES_PER_IMAGE,
    SCALER_SAMPLE,
)
from hourglass.estimators.params import store_parameters
from hourglass.estimators.persistence import register_estimator
from hourglass.estimators.task_part import TaskPart
from hourglass.train.tasks import task_of


@register_estimator
class ConvAutoEncoder(TaskPart, BaseAutoEncoder):
    """A convolutional autoencoder for series, images and video, and image restoration tasks.

    Encoder blocks are convolution -> activation -> max-pooling (or strided convolutions), the
    decoder mirrors them with upsampling -> convolution; inputs that the pooling does not divide
    are padded and cropped back. With ``task`` other than 'reconstruct' the network learns to
    map a corrupted input (drawn afresh every batch) to the clean target.

    Parameters
    ----------
    code_size : int, 'auto' or None, default='auto'
        An int: a flat code vector of that width, through a linear layer. None: the code is the
        encoder's last feature map (``transform`` flattens it); with the default channels it
        holds more values than a gray image, so only a task, input noise or a sparsity guard
        keeps it from learning the identity. 'auto': that map where one of those is set, else
        a flat code of a quarter of one sample's values, at most 16 (8 x 8 digits: 16 numbers,
        0.47x PCA-16's held-out error; Fashion-MNIST: 16, 0.61x;
        :mod:`hourglass.estimators.code_width`).
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
    scaling : {'auto', 'none', 'standard', 'minmax', 'shrunk'}, default='auto'
        As in :class:`hourglass.AutoEncoder`, with statistics per channel.
    epochs : int or 'auto', default='auto'
        Maximum number of epochs; 'auto' as in :class:`hourglass.AutoEncoder`: as long as
        learning gains, within 30 to 300 epochs. A fixed 100 ran on where learning had stopped:
        3,000 of scikit-image's camera patches (32 x 32) took 712 s for 3 % over its last 26
        epochs; 2,000 patches of 16 x 16 at code 32 took 202 s for 1.42x PCA's held-out error,
        where 'auto' takes 79 s for 1.38x, and a denoiser of 1,600 patches 82 s (30 epochs)
        for the validation loss a fixed 30 epochs reach (0.00116 against 0.00122).
    max_time, threads
        As in :class:`hourglass.AutoEncoder`: a training time budget, CPU threads.
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
        Folder for checkpoints as training goes, as in :class:`hourglass.AutoEncoder`.
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
        Keep the pretrained encoder's weights fixed while the rest trains. As in
        :class:`hourglass.AutoEncoder`, a frozen encoder from a model folder brings that model's
        per-channel scaler (the channels must match); a fine-tuned one, or a module, trains on a
        scaler fitted to the new data.
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
    validation_mse_, validation_mse_scaled_, validation_pca_mse_ : float or None
        With ``task='reconstruct'``, as in :class:`hourglass.AutoEncoder`: the mean squared
        reconstruction error per value on the validation split, in the data's units and in the
        model's, and PCA's with as many components as the code (None without a split). None
        for the restoration tasks: their network maps a corrupted input to the clean image, so
        neither its error on clean input nor PCA's reconstruction measures it. Judge them with
        :meth:`task_summary` (PSNR against the task's classical baseline, on held-out images),
        as the report of ``hourglass fit --report`` does.

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

    #: Grids, channels first (hourglass.estimators.inputs.GridPart): arrays, large .npy memory
    #: maps, Datasets, image and IDX folders, scaled per channel, through a network the task shapes.
    input_kind = "grid"

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = parameter_constraints("conv")

    # The declaration in hourglass.estimators.params gives the same names, order, types and defaults
    # (tests/test_params.py); written out so that type checkers and IDEs read them.
    def __init__(
        self,
        code_size: int | str | None = "auto",
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
        epochs: int | str = "auto",
        max_time: float | str | datetime.timedelta | dict | None = None,
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

    def _corruption(self):
        """The task's corruption (in data units), then the input noise; None for neither."""
        return task_of(self).training_corruption(super()._corruption(), self.scaler_)


__all__ = ["ConvAutoEncoder"]
