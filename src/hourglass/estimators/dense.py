"""The dense autoencoder estimator, for tables and vectors."""

from __future__ import annotations

import numbers
import os
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils.validation import validate_data

from hourglass.data.loading import check_finite, validation_reason
from hourglass.data.sources import DatasetSource, NpyFileSource, TrainingSource, streams
from hourglass.estimators import parts
from hourglass.estimators.base import BaseAutoEncoder, auto_learning_rate, reject_non_numeric_columns
from hourglass.estimators.constraints import parameter_constraints
from hourglass.estimators.params import store_parameters
from hourglass.estimators.persistence import register_estimator
from hourglass.exceptions import InvalidInputError
from hourglass.nn.config import DenseConfig


@register_estimator
class AutoEncoder(BaseAutoEncoder):
    """A dense autoencoder for tables and vectors, as a scikit-learn transformer.

    Defined by the hyperparameters people talk about: code size, nodes per layer (the number
    of layers is the length of ``hidden_layers``), activation and loss. The decoder mirrors the
    encoder unless ``decoder_layers`` is given.

    Parameters
    ----------
    code_size : int, default=2
        Width of the bottleneck (must be smaller than the number of features).
    hidden_layers : tuple of int, default=(256, 128)
        Nodes per encoder layer, outermost first.
    decoder_layers : tuple of int or None, default=None
        Nodes per decoder layer, innermost first; ``None`` mirrors the encoder.
    activation : str, default='gelu'
        One of 'relu', 'leaky_relu', 'elu', 'gelu', 'silu', 'tanh', 'sigmoid', 'identity'.
    loss : {'auto', 'mse', 'bce'}, default='auto'
        'auto' picks binary cross-entropy when every (scaled) training value lies in [0, 1],
        MSE otherwise; the choice and its reason are in ``loss_`` and ``loss_reason_``.
    scaling : {'auto', 'none', 'standard', 'minmax'}, default='auto'
        Input scaling, fitted on the training split, undone on decode. 'auto' leaves data in
        [0, 1] as they are and standardizes anything else.
    epochs : int or 'auto', default='auto'
        Maximum number of epochs. 'auto' gives about 20,000 optimizer steps, between 30 and
        300 epochs (300 for digits' 1,400 training rows, 95 for Fashion-MNIST's 54,000 at the
        default batch); the number is in ``epochs_``.
    batch_size : int, default=256
    learning_rate : float or 'auto', default='auto'
        Peak learning rate of AdamW (warm-up, then cosine decay). 'auto' scales 1e-2 (right
        for layers of up to 256 units at batch 256) down in proportion to the widest layer, as
        Adam's effective step grows with a layer's fan-in, and by the square root of the batch
        size; the rate and its rule are in ``learning_rate_`` and ``history_.recipe``. Whatever
        the rate, a collapse during training (a NaN loss, or a validation loss climbing back
        toward that of predicting the mean) restarts from the best weights at a quarter of it
        (recorded in ``history_.restarts``).
    weight_decay : float, default=1e-2
        AdamW's decoupled weight decay (PyTorch's default; on digits it evens out the error
        across splits: at code 8 the worst of three splits is 0.398x PCA against 0.400x at 1e-4).
    validation_fraction : float, default=0.1
        Share of the data held out for early stopping (0 trains on everything).
    patience : int, default=30
        Epochs without validation improvement before stopping (0: never stop early). With a
        fading noise, only epochs where the noise is below a tenth of its level count: before,
        the clean validation loss moves with the noise as much as with overfitting.
    random_state : int, RandomState or None, default=None
        Seed for weights, split, shuffling and noise; the same int gives the same weights on CPU.
    device : str, default='auto'
        'auto' (CUDA when available), 'cpu', 'cuda' or 'cuda:N'.
    precision : {'auto', 'fp32', 'tf32', 'bf16'}, default='auto'
        'auto' picks when training starts: bf16 autocast on CPUs with native bf16 (AVX-512 BF16
        or AMX) for steps of at least 100 MFLOP, fp32 with TF32 matmuls on CUDA, fp32 elsewhere;
        the choice and its reason are in ``history_.recipe`` and the fit summary. 'bf16' trains
        under bf16 autocast; 'tf32' lets CUDA matmuls use TF32 tensor cores; 'fp32' is plain.
    compile : bool, default=False
        Train the module through ``torch.compile`` (fused kernels: pays on GPUs for long runs;
        the first epoch pays the compilation).
    checkpoint_dir : str or None, default=None
        Folder where a checkpoint is written atomically after every epoch; ``fit(X,
        resume=True)`` continues from it.
    verbose : int, default=0
        1 shows a progress bar (quiet by default, as scikit-learn's estimators are).
    warm_start : bool, default=False
        ``fit`` continues from the weights (and scaler) of the previous ``fit`` instead of
        starting afresh, as scikit-learn's ``MLPRegressor(warm_start=True)`` does; the data must
        give the same architecture.
    callbacks : list or None, default=None
        Objects with ``on_epoch_end(estimator, epoch, logs)`` (or plain callables with that
        signature), called after every epoch with ``logs`` holding ``train_loss``, ``val_loss``,
        ``learning_rate`` and ``seconds``; returning True stops training. One that raises stops
        training with :class:`~hourglass.exceptions.CallbackError` (the checkpoint is kept).
    noise : {'gaussian', 'masking', 'salt_pepper'} or None, default='gaussian'
        Corrupt every training batch afresh and learn to give back the clean one (the denoising
        autoencoder). The default, Gaussian noise fading out over training, is a regularizer:
        on held-out digits it lowers the error at code 2 from 0.52x to 0.47x PCA's and at code
        8 from 0.42x to 0.39x (at code 16 it costs a little, 0.46x to 0.48x); None turns it off.
    noise_level : float, default=0.3
        The noise's standard deviation (gaussian, in the units the network sees, i.e. after
        ``scaling``) or the fraction of entries hit (masking, salt_pepper).
    noise_schedule : {'cosine', 'constant'}, default='cosine'
        'cosine' fades the noise from ``noise_level`` at the first epoch to none at the last
        (scheduled denoising): it regularizes early training and leaves a model trained on the
        clean inputs it will see; validation is on clean inputs. 'constant' keeps the noise
        (a denoising autoencoder proper), validated on noisy inputs.
    dropout : float, default=0.0
        Dropout rate after every hidden layer (training only).
    l1_penalty : float, default=0.0
        Weight of ``mean |code|``; on, it gives the code a ReLU so units can be exactly zero.
    kl_penalty : float, default=0.0
        Weight beta of the KL sparsity penalty ``sum_j KL(rho || rho_hat_j)``; on, it gives the code
        a sigmoid so ``rho_hat_j`` (unit j's mean activation) is a rate.
    sparsity_target : float, default=0.05
        The target rate rho of the KL penalty.
    topk : int or None, default=None
        Keep the ``topk`` largest code units per sample, zero the rest (Gao et al. 2024).
    topk_aux_penalty : float, default=1/32
        Weight of the TopK auxiliary loss (AuxK) that trains dead units on the residual.
    contractive_penalty : float, default=0.0
        Weight of the squared Frobenius norm of the encoder's Jacobian (contractive autoencoder).
    encoder : str, Path, torch.nn.Module or None, default=None
        A pretrained encoder: a saved hourglass model folder (whose layer sizes then define the
        encoder) or any module mapping (n, features) to (n, units). ``code_size`` must be the
        width of its code (a mismatch is refused, so ``get_params`` always tells the code the
        model uses; ``hourglass fit --encoder`` takes it from the folder). A model built on a
        module cannot be saved.
    freeze_encoder : bool, default=False
        Keep the pretrained encoder's weights fixed while the rest trains.
    decoder : str, Path, torch.nn.Module or None, default=None
        A pretrained decoder, as for ``encoder``.
    freeze_decoder : bool, default=False
        Keep the pretrained decoder's weights fixed.
    pretrain : {'layerwise'} or None, default=None
        Greedy layer-wise pretraining before fine-tuning the whole: each encoder layer and its
        mirror decoder layer train as a shallow autoencoder for ``max(1, epochs // 4)`` epochs.

    Attributes
    ----------
    module_ : hourglass.nn.model.AutoEncoder
        The trained PyTorch module.
    loss_, loss_reason_ : str
        The loss used and why.
    scaler_ : AffineScaler
        The fitted input scaling.
    history_ : History
        Per-epoch losses, learning rate and timings.
    n_features_in_ : int
    n_epochs_, n_iter_ : int
        Epochs run (``n_iter_`` as in scikit-learn's MLP).
    loss_curve_ : list of float
        The training loss after every epoch (scikit-learn's MLP name).
    fit_seconds_ : float
    validation_mse_, validation_mse_scaled_ : float or None
        Mean squared reconstruction error per value on the validation split, in the data's
        units and in the model's (z-scores from the training rows for standardized data, the
        data's own for data in [0, 1]): the second is the headline, the first stands beside it.
    table_ : hourglass.data.table.TableSchema
        Only after fitting on a DataFrame (or a table through the CLI): the feature columns by
        name, with their dtypes, the label column and the dropped columns. ``transform`` and
        the other methods then take any DataFrame holding those columns, selected by name.
    data_range_ : tuple of float
        Smallest and largest scaled training value (salt-and-pepper noise writes them).

    Notes
    -----
    Overcomplete codes (``code_size`` at least the number of features) are allowed exactly when
    a sparsity guard (``l1_penalty``, ``kl_penalty`` or ``topk``) is on.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X = load_digits().data / 16
    >>> ae = AutoEncoder(code_size=8, random_state=0, verbose=0).fit(X)
    >>> ae.transform(X).shape
    (1797, 8)
    >>> ae.loss_
    'bce'
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = parameter_constraints("dense")

    # The declaration in hourglass.estimators.params gives the same names, order, types and defaults
    # (tests/test_params.py); written out so that type checkers and IDEs read them.
    def __init__(
        self,
        code_size: int | None = 2,
        hidden_layers: tuple[int, ...] = (256, 128),
        decoder_layers: tuple[int, ...] | None = None,
        activation: str = "gelu",
        loss: str = "auto",
        scaling: str = "auto",
        epochs: int | str = "auto",
        max_time: float | str | None = None,
        threads: int | str = "auto",
        batch_size: int = 256,
        learning_rate: float | str = "auto",
        weight_decay: float = 0.01,
        validation_fraction: float = 0.1,
        patience: int = 30,
        random_state: Any = None,
        device: str = "auto",
        precision: str = "auto",
        compile: bool = False,
        checkpoint_dir: str | None = None,
        verbose: int = 0,
        warm_start: bool = False,
        callbacks: Any = None,
        noise: str | None = "gaussian",
        noise_level: float = 0.3,
        noise_schedule: str = "cosine",
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
        pretrain: str | None = None,
    ) -> None:
        store_parameters(self, locals())

    def _training_source(self, X: Any) -> TrainingSource:
        """An array, a large ``.npy`` memory map (streamed), or a torch Dataset / DataLoader of rows."""
        if isinstance(X, torch.utils.data.DataLoader):
            # The loader's dataset is what is read; batches follow batch_size, as for arrays.
            X = X.dataset
        if isinstance(X, torch.utils.data.Dataset):
            source = DatasetSource(X)
            if len(source.sample_shape) != 1:
                raise InvalidInputError(
                    f"the dataset's items have shape {source.sample_shape}; expected 1-D rows (n_features,) "
                    "for AutoEncoder (use ConvAutoEncoder for images, series and video)"
                )
            self.n_features_in_ = source.sample_shape[0]
            return source
        return self._array_source(X)

    def _check_streamed(self, X: np.memmap, source: NpyFileSource | None, reset: bool = True) -> None:
        if X.ndim != 2:
            raise InvalidInputError(f"X has shape {X.shape}; expected 2-D data (n_samples, n_features)")
        try:
            validate_data(self, X, reset=reset, skip_check_array=True)  # n_features_in_
        except ValueError as exc:
            raise InvalidInputError(validation_reason(exc, X)) from None

    def _validate_input(self, X: Any, reset: bool) -> np.ndarray:
        if not reset:
            X = self._selected_columns(X)  # the training table's columns, by name
        reject_non_numeric_columns(X)
        if streams(X):
            # scikit-learn's check would convert the whole map to float64 in memory; its shape
            # is checked here and its values block by block, and it is read a batch at a time.
            self._check_streamed(X, None, reset=reset)
            return check_finite(X, "X")
        try:
            data = validate_data(
                self, X, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=False
            )
        except ValueError as exc:
            raise InvalidInputError(validation_reason(exc, X)) from None
        return check_finite(data, "X")

    def _resolved_code_size(self, X: np.ndarray) -> int:
        """The code width: ``code_size``, or that of a pretrained encoder (which decides it)."""
        from hourglass.train import pretrained

        if pretrained.is_path(self.encoder):
            base = self._base_architecture(X, "identity")
            return parts.dense_architecture(base, self.encoder).code_size
        if self.encoder is not None:
            sample = torch.from_numpy(np.ascontiguousarray(X[:2], dtype=np.float32))
            return pretrained.module_code_width(pretrained.load_part(self.encoder, "encoder"), sample)
        return self.code_size

    def _check_code_size(self, X: np.ndarray) -> None:
        n_features = X.shape[1]
        if not isinstance(self.code_size, numbers.Integral) or self.code_size < 1:
            raise InvalidInputError(f"code_size={self.code_size!r} must be a positive integer")
        code_size = self._resolved_code_size(X)
        if code_size != self.code_size:
            # Taking the encoder's width silently would leave get_params() saying another size.
            where = (
                f"from {str(self.encoder)!r}" if isinstance(self.encoder, (str, os.PathLike)) else "module"
            )
            raise InvalidInputError(
                f"code_size={self.code_size} but the encoder {where} gives codes of {code_size} units; "
                f"pass code_size={code_size}"
            )
        if code_size >= n_features and not self._overcomplete_allowed():
            raise InvalidInputError(
                f"code_size={code_size} must be smaller than the input's {n_features} feature(s) "
                f"(n_features={n_features}): a code as wide as the input can learn the identity; "
                "lower code_size or add a sparsity regularizer (l1_penalty, kl_penalty or topk)"
            )

    def _auto_learning_rate(self) -> tuple[float, str]:
        widths = (*self.architecture_.hidden_layers, *self.architecture_.resolved_decoder_layers)
        return auto_learning_rate(max(widths, default=self.architecture_.code_size), self.batch_size)

    def _base_architecture(self, X: np.ndarray, output_activation: str) -> DenseConfig:
        hidden = (
            (self.hidden_layers,) if isinstance(self.hidden_layers, numbers.Integral) else self.hidden_layers
        )
        return DenseConfig(
            input_dim=X.shape[1],
            code_size=int(self.code_size),
            hidden_layers=tuple(hidden),
            decoder_layers=None if self.decoder_layers is None else tuple(self.decoder_layers),
            activation=self.activation,
            output_activation=output_activation,
            **self._bottleneck().code_fields(self, X.shape[1]),
        )

    def _architecture(self, X: np.ndarray, output_activation: str) -> DenseConfig:
        from dataclasses import replace

        config = self._base_architecture(X, output_activation)
        if isinstance(self.encoder, torch.nn.Module):
            config = replace(config, code_size=self._resolved_code_size(X))
        return parts.dense_architecture(config, self.encoder, self.decoder)


__all__ = ["AutoEncoder"]
