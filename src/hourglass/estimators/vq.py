"""The vector-quantized autoencoder estimator: a lossy codec learnt from the data.

:class:`VQAutoEncoder` is a :class:`~hourglass.ConvAutoEncoder` whose code is a grid of integer
indices into a finite codebook, so that a code has a size in bits, and
:func:`hourglass.uses.compression.compress` writes it to a file of that size (entropy-coded).
Training goes through the one ``fit`` of :class:`~hourglass.estimators.base.BaseAutoEncoder`:
the commitment loss reaches the trainer as the bottleneck's ``vq_commitment_loss`` term (logged
in ``history_.terms``), the codebook follows its moving averages inside the module's training
forward, and the codebook's usage is logged every epoch in ``history_.metrics``.
"""

from __future__ import annotations

import datetime
import math
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

# The quantized part's pieces lived here before the part did: still importable from here.
from hourglass.estimators.bottlenecks import PRIOR_SAMPLE, CodebookMonitor, count_indices  # noqa: F401
from hourglass.estimators.constraints import parameter_constraints
from hourglass.estimators.conv import ConvAutoEncoder
from hourglass.estimators.params import store_parameters
from hourglass.estimators.persistence import register_estimator
from hourglass.estimators.predicting import run_batches
from hourglass.exceptions import InvalidInputError
from hourglass.nn.quantizers import usage_of


@register_estimator
class VQAutoEncoder(ConvAutoEncoder):
    """A convolutional autoencoder with a vector-quantized code: a lossy codec for images.

    Each position of the encoder's last feature map (``2 ** len(channels)`` times smaller than
    the input on every axis) is replaced by the nearest of ``codebook_size`` learnt vectors, so
    one image's code is a grid of indices of ``log2(codebook_size)`` bits. The rate is set by
    the grid (``channels``: one block per halving) and the codebook; the distortion by how
    well the network learns the data. :func:`hourglass.uses.compression.compress` entropy-codes
    the indices into a file.

    Every parameter of :class:`~hourglass.ConvAutoEncoder` (``channels``, ``epochs``,
    ``batch_size``, ...) is taken with its default; ``code_size`` must stay None (the code is the
    index grid) and ``task`` 'reconstruct'. The parameters of its own:

    Parameters
    ----------
    codebook_size : int, default=256
        Codes in the codebook; an index carries ``log2(codebook_size)`` bits before entropy
        coding.
    embedding_dim : int, default=16
        Channels of each code vector ('vq'); the encoder's last map is projected to it by a
        1 x 1 convolution. Small vectors keep more of the codebook in use.
    quantizer : {'vq', 'fsq'}, default='vq'
        'vq': nearest-codeword quantization with a codebook that follows moving averages of the
        vectors assigned to it, and codes out of use re-seeded from encoder outputs; 'fsq':
        finite scalar quantization (Mentzer et al. 2023), a few channels each rounded to a
        few levels (their product the largest of the paper's grids within ``codebook_size``).
    commitment_cost : float, default=0.25
        Weight of the commitment loss ``|z - sg(q)|^2`` ('vq').
    codebook_decay : float, default=0.99
        Decay of the codebook's moving averages ('vq').

    Attributes
    ----------
    grid_shape_ : tuple of int
        Shape of one sample's index grid.
    bits_per_index_ : float
        ``log2`` of the number of codes.
    index_counts_ : ndarray of shape (n_codes,)
        How often each code is used on (up to 2048) training items after fit: the prior of
        the range coder.
    module_, input_shape_, scaler_, history_, ...
        As in :class:`~hourglass.ConvAutoEncoder`; ``history_.terms['vq_commitment_loss']`` and
        ``history_.metrics['codebook_used' / 'perplexity']`` record the quantizer per epoch.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((64, 1, 16, 16)).astype(np.float32)
    >>> vq = VQAutoEncoder(channels=(8, 8), codebook_size=16, epochs=1, random_state=0).fit(X)
    >>> vq.encode_indices(X).shape, vq.decode_indices(vq.encode_indices(X)).shape
    ((64, 4, 4), (64, 1, 16, 16))
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = parameter_constraints("vq")

    #: The quantized part (hourglass.estimators.bottlenecks) checks the codebook's parameters,
    #: wraps the architecture, logs the codebook's usage, counts the indices after fit (saved as
    #: ``index_counts_``) and gives the code's shape (the quantized map).
    bottleneck_kind = "quantized"

    # The declaration in hourglass.estimators.params gives the same names, order, types and defaults
    # (tests/test_params.py); written out so that type checkers and IDEs read them.
    def __init__(
        self,
        code_size: int | str | None = None,
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
        codebook_size: int = 256,
        embedding_dim: int = 16,
        quantizer: str = "vq",
        commitment_cost: float = 0.25,
        codebook_decay: float = 0.99,
    ) -> None:
        store_parameters(self, locals())

    # -- the code as indices -------------------------------------------------------------------
    @property
    def n_codes_(self) -> int:
        """Codes the quantizer has (``codebook_size``, or FSQ's product of levels)."""
        check_is_fitted(self, "module_")
        return int(self.module_.bottleneck.codebook_size)

    @property
    def grid_shape_(self) -> tuple[int, ...]:
        check_is_fitted(self, "module_")
        return tuple(self.architecture_.grid_shape)

    @property
    def bits_per_index_(self) -> float:
        return math.log2(self.n_codes_)

    def encode_indices(self, X: Any) -> np.ndarray:
        """The index grid of every sample of ``X``: shape (n, *grid_shape_), int32.

        Deterministic: the same model and data give the same indices on any device.
        """
        check_is_fitted(self, "module_")
        data = self._validate_input(X, reset=False)
        out = run_batches(self, self.module_.encode_indices, data, scale=True)
        return out.reshape(len(data), *self.grid_shape_).astype(np.int32)

    def decode_indices(self, indices: Any) -> np.ndarray:
        """Decode index grids (n, *grid_shape_) to data, in the units of the training data."""
        check_is_fitted(self, "module_")
        idx = np.asarray(indices)
        if idx.ndim != 1 + len(self.grid_shape_) or tuple(idx.shape[1:]) != self.grid_shape_:
            raise InvalidInputError(
                f"indices have shape {idx.shape}; expected (n_samples, *{self.grid_shape_})"
            )
        if idx.dtype.kind not in "biuf" or (
            idx.dtype.kind == "f" and not np.all(np.isfinite(idx) & (idx == np.round(idx)))
        ):
            raise InvalidInputError(
                f"indices of dtype {idx.dtype} are not all whole numbers; expected integer code indices"
            )
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_codes_):
            raise InvalidInputError(
                f"indices span [{idx.min()}, {idx.max()}]; expected [0, {self.n_codes_ - 1}]"
            )
        # Indices travel as float32 through the batch runner: exact up to 2**24 codes.
        return run_batches(
            self, lambda t: self.module_.decode_indices(t.long()), idx.astype(np.float32), unscale=True
        ).astype(np.float32)

    def codebook_usage(self, X: Any | None = None) -> dict[str, float]:
        """Share of codes in use and the perplexity, on ``X`` or (None) on the training items.

        With ``X=None``: the indices of (up to 2048) training items counted after fit
        (``index_counts_``: the count behind ``history_.metrics['codebook_used' / 'perplexity']``
        every epoch, here on the final weights). A model trained by ``partial_fit`` counts on (up
        to 2048) items of its first chunk, on its current weights; one loaded and then trained on
        by ``partial_fit`` gives the vectors assigned in training steps since it was loaded (NaN
        before any: pass ``X``). A code is in use when it gets at least 1 % of the share it would
        get if all codes were used equally.

        Examples
        --------
        >>> vq.codebook_usage(X_test)  # doctest: +SKIP
        {'codebook_used': 0.91, 'perplexity': 183.2}
        """
        check_is_fitted(self, "module_")
        if X is None:
            counts = self._index_counts()
            if counts is None:
                return self.module_.bottleneck.usage()
            return usage_of(torch.from_numpy(np.asarray(counts, np.float64)))
        counts = np.bincount(self.encode_indices(X).ravel(), minlength=self.n_codes_)
        return usage_of(torch.from_numpy(counts.astype(np.float64)))

    def index_prior(self) -> np.ndarray:
        """Counts per code that the range coder turns into probabilities (float64, one per code).

        ``index_counts_``, counted on (up to 2048) training items on the final weights: after
        ``fit``, or on ``partial_fit``'s first chunk after the last ``partial_fit``. Only a model
        loaded and then trained on by ``partial_fit`` falls back to the training averages of the
        codebook, which count re-seeded codes as used (digits' 1400 training images in chunks of
        200: 1,623 bytes for 397 test images against 1,583 with the chunk's counts).
        """
        check_is_fitted(self, "module_")
        counts = self._index_counts()
        if counts is None:
            counts = self.module_.bottleneck.cluster_size.detach().double().cpu().numpy()
        return np.asarray(counts, np.float64)

    def _index_counts(self) -> np.ndarray | None:
        """``index_counts_``; after ``partial_fit``, counted anew on its first chunk's items (and
        kept until the next ``partial_fit``); None where there are none to count."""
        counts = getattr(self, "index_counts_", None)
        probe = getattr(self, "_metrics_probe", None)
        if counts is None and probe is not None:
            counts = self.index_counts_ = count_indices(self.module_, probe[:PRIOR_SAMPLE])
        return counts

    def partial_fit(self, X: Any, y: Any = None) -> VQAutoEncoder:
        """:meth:`ConvAutoEncoder.partial_fit`; the counts behind the coder's prior and the
        codebook's usage (``index_counts_``) are of the weights before it, and are counted again
        when next asked for."""
        super().partial_fit(X, y)
        self.__dict__.pop("index_counts_", None)
        return self


__all__ = ["VQAutoEncoder"]
