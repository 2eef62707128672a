"""scikit-learn estimators wrapping the PyTorch autoencoders.

``__init__`` only stores parameters; ``fit`` builds ``module_`` (the PyTorch module), fits the
scaler, resolves the loss and trains; fitted state ends in ``_``. The shared machinery lives in
:class:`BaseAutoEncoder`; subclasses say how to validate inputs and build the architecture.
"""

from __future__ import annotations

import numbers
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from hourglass.config import DenseConfig, TrainConfig
from hourglass.data import check_finite
from hourglass.exceptions import InvalidInputError
from hourglass.losses import choose_loss
from hourglass.model import build_model
from hourglass.persistence import register_estimator, save_estimator
from hourglass.scaling import AffineScaler, fit_scaler
from hourglass.training import Trainer, resolve_device

PREDICT_BATCH = 4096


def _as_seed(random_state: Any) -> int:
    """An int seed from sklearn's ``random_state`` (None, int or RandomState)."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    raise InvalidInputError(f"random_state={random_state!r}; expected None, an int or a numpy RandomState")


def _reject_non_numeric_columns(X: Any) -> None:
    """Name the first non-numeric column of a DataFrame, which numpy's error would not."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return
    for name, dtype in dtypes.items():
        if not (np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)):
            example = X[name].iloc[0] if len(X) else None
            raise InvalidInputError(
                f"column {name!r} is not numeric (dtype {dtype}, e.g. {example!r}); expected numeric columns only"
            )


class BaseAutoEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Shared machinery of the autoencoder estimators (fit, transform, decode, score, save).

    Subclasses implement ``_validate_input`` (array checks), ``_architecture`` (the config of
    the module for the validated training data) and ``_scaler_channel_axis``.
    """

    # -- hooks for subclasses and for regularizers -------------------------------------------
    def _validate_input(self, X: Any, reset: bool) -> np.ndarray:
        raise NotImplementedError

    def _architecture(self, X: np.ndarray, output_activation: str):
        raise NotImplementedError

    _scaler_channel_axis: int | None = None

    def _regularizers(self) -> list:
        return []

    def _corruption(self):
        return None

    def _epoch_metrics(self):
        return None

    def _check_code_size(self, X: np.ndarray) -> None:
        pass

    # -- fitting -----------------------------------------------------------------------------
    def _train_config(self) -> TrainConfig:
        return TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            patience=self.patience,
            seed=self.seed_,
            device=self.device,
            precision=self.precision,
            verbose=self.verbose,
        )

    def _split(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        fraction = self.validation_fraction
        if not 0.0 <= fraction < 1.0:
            raise InvalidInputError(f"validation_fraction={fraction} must lie in [0, 1)")
        n_val = int(round(n * fraction))
        if n_val == 0 or n - n_val < 1:
            return np.arange(n), np.arange(0)
        order = np.random.default_rng(self.seed_).permutation(n)
        return np.sort(order[n_val:]), np.sort(order[:n_val])

    def fit(self, X: Any, y: Any = None, *, resume: bool = False) -> BaseAutoEncoder:
        """Train the autoencoder on ``X`` (``y`` is ignored).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training data.
        y : None
            Ignored; present for API consistency.
        resume : bool, default=False
            Continue from the checkpoint in ``checkpoint_dir`` instead of starting afresh.

        Returns
        -------
        self
        """
        X = self._validate_input(X, reset=True)
        self._check_code_size(X)
        self.seed_ = _as_seed(self.random_state)
        train_idx, val_idx = self._split(X.shape[0])
        self.scaler_ = fit_scaler(X[train_idx], self.scaling, self._scaler_channel_axis)
        scaled = self.scaler_.transform(X)
        self.loss_, self.loss_reason_ = choose_loss(self.loss, scaled[train_idx])
        self.architecture_ = self._architecture(X, "sigmoid" if self.loss_ == "bce" else "identity")
        config = self._train_config()
        device = resolve_device(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed_)
            self.module_ = build_model(self.architecture_)
        trainer = Trainer(
            self.module_,
            config,
            self.loss_,
            regularizers=self._regularizers(),
            corruption=self._corruption(),
            epoch_metrics=self._epoch_metrics(),
            checkpoint_dir=getattr(self, "checkpoint_dir", None),
            description=type(self).__name__,
        )
        train = torch.from_numpy(scaled[train_idx]).to(device)
        val = torch.from_numpy(scaled[val_idx]).to(device) if len(val_idx) else None
        tic = time.perf_counter()
        self.history_ = trainer.fit(train, val, resume=resume)
        self.fit_seconds_ = time.perf_counter() - tic
        self.n_epochs_ = len(self.history_.epoch)
        self.device_ = str(device)
        self._n_features_out = self._code_width()
        return self

    def _code_width(self) -> int:
        return int(self.architecture_.code_size)

    # -- using a fitted model ----------------------------------------------------------------
    def _device(self) -> torch.device:
        return next(self.module_.parameters()).device

    @torch.no_grad()
    def _run(self, fn, data: np.ndarray) -> np.ndarray:
        """Apply ``fn`` (tensor -> tensor) to ``data`` in batches; return float32 numpy."""
        self.module_.eval()
        device = self._device()
        parts = [
            fn(torch.from_numpy(np.ascontiguousarray(data[i : i + PREDICT_BATCH])).to(device)).float().cpu().numpy()
            for i in range(0, data.shape[0], PREDICT_BATCH)
        ]
        if not parts:
            return np.zeros((0,), np.float32)
        return np.concatenate(parts)

    @staticmethod
    def _output_dtype(X: Any):
        # Follow scikit-learn: float32 in, float32 out; anything else comes back as float64.
        return np.float32 if getattr(X, "dtype", None) == np.float32 else np.float64

    def transform(self, X: Any) -> np.ndarray:
        """Encode ``X`` to codes of shape (n_samples, code_size)."""
        check_is_fitted(self, "module_")
        data = self._validate_input(X, reset=False)
        codes = self._run(self.module_.encode, self.scaler_.transform(data))
        return codes.reshape(codes.shape[0], -1).astype(self._output_dtype(X), copy=False)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decode codes back to data, in the units of the training data."""
        check_is_fitted(self, "module_")
        codes = np.asarray(X, dtype=np.float32) if not hasattr(X, "dtype") else np.asarray(X)
        if codes.ndim != 2 or codes.shape[1] != self._n_features_out:
            raise InvalidInputError(
                f"codes have shape {codes.shape}; expected (n_samples, {self._n_features_out})"
            )
        out = self._run(self.module_.decode, check_finite(codes, "codes"))
        return self.scaler_.inverse_transform(out).astype(self._output_dtype(X), copy=False)

    def reconstruct(self, X: Any) -> np.ndarray:
        """Encode and decode ``X``: its reconstruction in the units of the input."""
        check_is_fitted(self, "module_")
        data = self._validate_input(X, reset=False)
        out = self._run(lambda t: self.module_(t)["reconstruction"], self.scaler_.transform(data))
        return self.scaler_.inverse_transform(out).astype(self._output_dtype(X), copy=False)

    def reconstruction_error(self, X: Any) -> np.ndarray:
        """Per-sample mean squared reconstruction error, in the units of the input."""
        check_is_fitted(self, "module_")
        data = self._validate_input(X, reset=False)
        out = self._run(lambda t: self.module_(t)["reconstruction"], self.scaler_.transform(data))
        diff = self.scaler_.inverse_transform(out).astype(np.float64) - data
        return np.mean(diff.reshape(diff.shape[0], -1) ** 2, axis=1)

    def score_samples(self, X: Any) -> np.ndarray:
        """Negative per-sample reconstruction MSE (higher is better)."""
        return -self.reconstruction_error(X)

    def score(self, X: Any, y: Any = None) -> float:
        """Negative mean reconstruction MSE over ``X`` (higher is better), for model selection."""
        return float(np.mean(self.score_samples(X)))

    def layer_outputs(self, X: Any) -> dict[str, np.ndarray]:
        """The representation of ``X`` after every layer, by name (see ``AutoEncoder.layer_outputs``)."""
        check_is_fitted(self, "module_")
        data = self.scaler_.transform(self._validate_input(X, reset=False))
        self.module_.eval()
        tensor = torch.from_numpy(data).to(self._device())
        return {k: v.float().cpu().numpy() for k, v in self.module_.layer_outputs(tensor).items()}

    # -- persistence -------------------------------------------------------------------------
    def _saved_attributes(self) -> dict[str, Any]:
        """Fitted state saved in ``config.json`` (JSON types only); subclasses extend it."""
        return {
            "loss_": self.loss_,
            "loss_reason_": self.loss_reason_,
            "n_features_in_": int(self.n_features_in_),
            "feature_names_in_": list(map(str, getattr(self, "feature_names_in_", []))) or None,
            "n_features_out": int(self._n_features_out),
            "seed_": int(self.seed_),
            "n_epochs_": int(self.n_epochs_),
            "fit_seconds_": float(self.fit_seconds_),
            "device_": self.device_,
        }

    def _saved_tensors(self) -> dict[str, np.ndarray]:
        """Extra fitted arrays saved in ``weights.safetensors``; subclasses extend it."""
        return {}

    def _restore_attributes(self, fitted: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        """Inverse of :meth:`_saved_attributes` and :meth:`_saved_tensors`."""
        for name, value in fitted.items():
            if name == "feature_names_in_":
                if value:
                    self.feature_names_in_ = np.asarray(value, dtype=object)
            elif name == "n_features_out":
                self._n_features_out = value
            else:
                setattr(self, name, value)

    def save(self, path: str | Path, force: bool = False) -> Path:
        """Save to a folder of JSON config + safetensors weights (see :func:`hourglass.load`)."""
        return save_estimator(self, path, force=force)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        return tags


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
    activation : str, default='relu'
        One of 'relu', 'leaky_relu', 'elu', 'gelu', 'silu', 'tanh', 'sigmoid', 'identity'.
    loss : {'auto', 'mse', 'bce'}, default='auto'
        'auto' picks binary cross-entropy when every (scaled) training value lies in [0, 1],
        MSE otherwise; the choice and its reason are in ``loss_`` and ``loss_reason_``.
    scaling : {'auto', 'none', 'standard', 'minmax'}, default='auto'
        Input scaling, fitted on the training split, undone on decode. 'auto' leaves data in
        [0, 1] as they are and standardizes anything else.
    epochs : int, default=100
        Maximum number of epochs.
    batch_size : int, default=64
    learning_rate : float, default=3e-3
        Peak learning rate of AdamW (warm-up, then cosine decay).
    weight_decay : float, default=1e-4
        AdamW's decoupled weight decay.
    validation_fraction : float, default=0.1
        Share of the data held out for early stopping (0 trains on everything).
    patience : int, default=15
        Epochs without validation improvement before stopping (0: never stop early).
    random_state : int, RandomState or None, default=None
        Seed for weights, split, shuffling and noise; the same int gives the same weights on CPU.
    device : str, default='auto'
        'auto' (CUDA when available), 'cpu', 'cuda' or 'cuda:N'.
    precision : {'fp32', 'bf16'}, default='fp32'
        'bf16' trains under autocast (faster where the hardware has bf16 matrix units).
    checkpoint_dir : str or None, default=None
        Folder where a checkpoint is written atomically after every epoch; ``fit(X,
        resume=True)`` continues from it.
    verbose : int, default=1
        0 silences the progress bar.

    Attributes
    ----------
    module_ : hourglass.model.AutoEncoder
        The trained PyTorch module.
    loss_, loss_reason_ : str
        The loss used and why.
    scaler_ : AffineScaler
        The fitted input scaling.
    history_ : History
        Per-epoch losses, learning rate and timings.
    n_features_in_ : int
    n_epochs_ : int
    fit_seconds_ : float

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

    def __init__(
        self,
        code_size: int = 2,
        hidden_layers: tuple[int, ...] = (256, 128),
        decoder_layers: tuple[int, ...] | None = None,
        activation: str = "relu",
        loss: str = "auto",
        scaling: str = "auto",
        epochs: int = 100,
        batch_size: int = 64,
        learning_rate: float = 3e-3,
        weight_decay: float = 1e-4,
        validation_fraction: float = 0.1,
        patience: int = 15,
        random_state: Any = None,
        device: str = "auto",
        precision: str = "fp32",
        checkpoint_dir: str | None = None,
        verbose: int = 1,
    ) -> None:
        self.code_size = code_size
        self.hidden_layers = hidden_layers
        self.decoder_layers = decoder_layers
        self.activation = activation
        self.loss = loss
        self.scaling = scaling
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.checkpoint_dir = checkpoint_dir
        self.verbose = verbose

    def _validate_input(self, X: Any, reset: bool) -> np.ndarray:
        _reject_non_numeric_columns(X)
        try:
            data = validate_data(
                self, X, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=False
            )
        except ValueError as exc:
            raise InvalidInputError(" ".join(str(exc).split())) from None
        return check_finite(data, "X")

    def _overcomplete_allowed(self) -> bool:
        """Whether a regularizer makes a code at least as wide as the input meaningful."""
        return False

    def _check_code_size(self, X: np.ndarray) -> None:
        n_features = X.shape[1]
        if not isinstance(self.code_size, numbers.Integral) or self.code_size < 1:
            raise InvalidInputError(f"code_size={self.code_size!r} must be a positive integer")
        if self.code_size >= n_features and not self._overcomplete_allowed():
            raise InvalidInputError(
                f"code_size={self.code_size} must be smaller than the input's {n_features} feature(s) "
                f"(n_features={n_features}): a code as wide as the input can learn the identity; "
                "lower code_size or add a sparsity regularizer"
            )

    def _architecture(self, X: np.ndarray, output_activation: str) -> DenseConfig:
        hidden = (self.hidden_layers,) if isinstance(self.hidden_layers, numbers.Integral) else self.hidden_layers
        return DenseConfig(
            input_dim=X.shape[1],
            code_size=int(self.code_size),
            hidden_layers=tuple(hidden),
            decoder_layers=None if self.decoder_layers is None else tuple(self.decoder_layers),
            activation=self.activation,
            output_activation=output_activation,
        )


__all__ = ["AutoEncoder", "BaseAutoEncoder", "AffineScaler"]
