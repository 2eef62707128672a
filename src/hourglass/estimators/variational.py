"""The variational autoencoder estimator: generation, interpolation and likelihoods.

:class:`VariationalAutoEncoder` is dense for rows ``(n, features)`` and convolutional for series,
images and video (``arch``), with the dense and conv estimators' parameters, inputs and checks:
it holds the rows or the grid input part (:mod:`hourglass.estimators.inputs`) as its data come,
and the Gaussian bottleneck part. It trains through the one
:meth:`~hourglass.estimators.base.BaseAutoEncoder.fit`: the module
(:mod:`hourglass.nn.variational`) hands its KL term to the trainer with the reconstruction loss.
"""

from __future__ import annotations

import datetime
import math
import numbers
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from hourglass.data.memory import check_fits_in_memory
from hourglass.estimators.base import BaseAutoEncoder, as_seed
from hourglass.estimators.constraints import parameter_constraints
from hourglass.estimators.input_space import in_input_space
from hourglass.estimators.inputs import ARCHES, InputPart, arch_input, choose_arch, input_part
from hourglass.estimators.params import store_parameters
from hourglass.estimators.persistence import register_estimator
from hourglass.estimators.predicting import device_of, pad_rows, run_batches
from hourglass.exceptions import InvalidInputError
from hourglass.nn import variational as vnn

#: Monte Carlo draws per sample behind :meth:`VariationalAutoEncoder.score_samples`.
ELBO_SAMPLES = 8
#: Rows per batch of the importance-weighted bound (each decoded ``n_importance`` times).
IWAE_BATCH = 128
#: A code unit is active when the variance of its posterior mean over the data exceeds this
#: (Burda et al. 2016).
ACTIVE_THRESHOLD = 0.01
INTERPOLATIONS = ("linear", "slerp")


#: Codes drawn and decoded at a time by :meth:`VariationalAutoEncoder.iter_samples`.
SAMPLE_BATCH = 4096


def _positive_int(value: Any, name: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise InvalidInputError(f"{name}={value!r}; expected a positive integer")
    return int(value)


class PriorDraws:
    """Standard-normal draws from one seed in one fixed order: the first ``k`` values are the same
    however many are asked for and however the asks are cut into batches.

    ``torch.randn`` does not promise this: on the CPU it turns blocks of 16 uniforms into normals
    at once, and the last, partial block from fresh ones, so ``randn(10 * d)[:5 * d]`` differs from
    ``randn(5 * d)`` unless ``5 * d`` is a multiple of 16. Here every pair of uniforms, drawn one
    after the other on the CPU (the same on every device), gives its own pair of normals by
    Box-Muller (``r cos t``, then ``r sin t``): torch's method for fewer than 16 values, whose
    draws (a model's ``sample(n)`` with ``n * code_size < 16``) therefore keep their values.

    Examples
    --------
    >>> a, b = PriorDraws(0), PriorDraws(0)
    >>> bool(np.array_equal(a.draw(7), np.concatenate([b.draw(3), b.draw(4)])))
    True
    """

    def __init__(self, seed: int) -> None:
        self._generator = torch.Generator().manual_seed(seed)
        self._spare = np.empty(0)  # the sine half of a pair the last draw did not use

    def draw(self, count: int) -> np.ndarray:
        """The next ``count`` values of the stream, float32."""
        pairs = max(0, -(-(count - len(self._spare)) // 2))
        uniform = torch.rand(2 * pairs, dtype=torch.float64, generator=self._generator).numpy()
        radius = np.sqrt(-2.0 * np.log1p(-uniform[1::2]))  # 1 - u lies in (0, 1]: no log(0)
        angle = 2.0 * np.pi * uniform[0::2]
        fresh = np.empty(2 * pairs)
        fresh[0::2], fresh[1::2] = radius * np.cos(angle), radius * np.sin(angle)
        values = np.concatenate([self._spare, fresh])
        self._spare = values[count:]
        return values[:count].astype(np.float32)


@register_estimator
class VariationalAutoEncoder(BaseAutoEncoder):
    """A variational autoencoder (Kingma and Welling 2014): a generative model with a Gaussian code.

    The encoder gives each sample a posterior ``N(mu, sigma^2)`` over the code; training
    maximises the evidence lower bound (ELBO), the likelihood of the data given a code drawn from
    it minus ``beta`` times its KL divergence from the prior ``N(0, I)``. Codes drawn from the
    prior decode to new samples (:meth:`sample`), and the posterior means of two inputs span a
    path of plausible items between them (:meth:`interpolate`).

    Parameters
    ----------
    code_size : int, default=16
        Units of the Gaussian code.
    hidden_layers, decoder_layers
        Dense models: as in :class:`hourglass.AutoEncoder`, but ``hidden_layers`` defaults to
        (256, 128) whatever the input's width (no ``'auto'``), ``decoder_layers`` to None (the
        mirror).
    channels, kernel_size, downsampling, convs_per_block, image_size, color_mode
        Convolutional models: as in :class:`hourglass.ConvAutoEncoder` (the code is always flat).
    activation : str, default='gelu'
    loss : {'auto', 'bce', 'mse'}, default='auto'
        The likelihood: 'bce' is the Bernoulli (binary cross-entropy on the logits, summed over
        values: the standard for pixels in [0, 1]); 'mse' a Gaussian with one variance shared by
        every value, kept at its maximum-likelihood value, the mean squared error (Rybkin et al.
        2021), in ``module_.noise_variance``. 'auto' takes the Bernoulli for data in [0, 1], the
        Gaussian otherwise.
    scaling, epochs, max_time, threads, batch_size, validation_fraction, patience, random_state, device
        As in :class:`hourglass.AutoEncoder`.
    precision, compile, checkpoint_dir, verbose, warm_start, callbacks, dropout
        As in :class:`hourglass.AutoEncoder`.
    learning_rate : float or 'auto', default=1e-3
        Peak AdamW rate (Kingma and Welling's Adam rate; 'auto' as for the dense and conv models).
    weight_decay : float, default=0.0
        AdamW's decoupled weight decay (none: the ELBO is the objective).
    beta : float, default=1.0
        Weight of the KL term: 1 trains the ELBO; above 1 a beta-VAE (Higgins et al. 2017), whose
        code units tend to separate factors at the cost of reconstruction.
    kl_warmup : int, default=10
        Epochs over which the KL weight rises linearly from ``beta / kl_warmup`` to ``beta``
        (Bowman et al. 2016; Sønderby et al. 2016), so the decoder learns to use the code before
        the KL pulls it toward the prior (posterior collapse); 0 for none. While it rises, the
        validation loss (always at the full weight) neither counts toward early stopping nor
        as a collapse.
    free_bits : float, default=0.0
        Nats per code unit below which a unit's KL (averaged over the batch) costs nothing in
        training (Kingma et al. 2016), another guard against inactive units; 0 is off.
    arch : {'auto', 'dense', 'conv'}, default='auto'
        'auto': dense for 2-D arrays (rows) and datasets of 1-D items, convolutional for
        anything else (images, series, video, image and IDX folders).

    Attributes
    ----------
    arch_ : {'dense', 'conv'}
        The architecture used.
    input_shape_ : tuple of int
        One sample's shape (``(n_features,)`` for a dense model).
    module_ : hourglass.nn.variational.VariationalAutoEncoder
    loss_, loss_reason_, scaler_, history_, n_epochs_, fit_seconds_
        As in :class:`hourglass.AutoEncoder`; ``history_.terms`` holds the reconstruction loss and
        ``kl_loss`` (the weighted KL divided by the values per sample) per epoch.

    Notes
    -----
    ``transform``, ``reconstruct`` and ``inverse_transform`` use the posterior mean, so they are
    deterministic; :meth:`score_samples` is the ELBO per sample in nats (higher: more likely), so
    the model ranks anomalies too. Likelihoods are in the data's units (the scaling's Jacobian
    included); for the Bernoulli likelihood of values in [0, 1] they are the usual "nats" of
    Fashion-MNIST and MNIST papers, not a density of grey values.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X = load_digits().data / 16
    >>> vae = VariationalAutoEncoder(code_size=4, epochs=5, random_state=0).fit(X)
    >>> vae.sample(3, random_state=0).shape
    (3, 64)
    >>> vae.interpolate(X[0], X[1], steps=5).shape
    (5, 64)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = parameter_constraints("vae")

    # The declaration in hourglass.estimators.params gives the same names, order, types and defaults
    # (tests/test_params.py); written out so that type checkers and IDEs read them.
    def __init__(
        self,
        code_size: int | None = 16,
        hidden_layers: tuple[int, ...] | str = (256, 128),
        decoder_layers: tuple[int, ...] | None = None,
        channels: tuple[int, ...] | None = None,
        kernel_size: int = 3,
        downsampling: str = "pool",
        convs_per_block: int | None = None,
        activation: str = "gelu",
        image_size: tuple[int, int] | None = None,
        color_mode: str | None = None,
        loss: str = "auto",
        scaling: str = "auto",
        epochs: int | str = "auto",
        max_time: float | str | datetime.timedelta | dict | None = None,
        threads: int | str = "auto",
        batch_size: int = 256,
        learning_rate: float | str = 0.001,
        weight_decay: float = 0.0,
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
        dropout: float = 0.0,
        arch: str = "auto",
        beta: float = 1.0,
        kl_warmup: int = 10,
        free_bits: float = 0.0,
    ) -> None:
        store_parameters(self, locals())

    #: The Gaussian part (hourglass.estimators.bottlenecks) checks beta, free_bits and kl_warmup,
    #: chooses the likelihood and wraps the architecture.
    bottleneck_kind = "gaussian"

    # What the rows and grid parts read, fixed for a VAE.
    task = "reconstruct"
    scale_factor = 2
    skip_connections = False
    noise = None
    noise_level = 0.0
    encoder = None
    decoder = None
    freeze_encoder = False
    freeze_decoder = False
    pretrain = None

    # -- dense or conv -----------------------------------------------------------------------
    def _input(self, X: Any = None) -> InputPart:
        """Rows for a dense model, grids for a convolutional one; ``X`` (fit's data) sets ``arch_``."""
        if X is not None:
            self.arch_ = choose_arch(self.arch, X)
        return arch_input(getattr(self, "arch_", None))

    def _check_params(self) -> None:
        if self.arch not in ("auto", *ARCHES):
            raise InvalidInputError(f"arch={self.arch!r}; expected 'auto', 'dense' or 'conv'")
        # The conv parameters are checked whatever the data: arch='auto' chooses once fit reads them.
        input_part("grid").check_params(self)
        self._bottleneck().check_params(self)

    # -- generation --------------------------------------------------------------------------
    def sample(self, n: int, random_state: Any = None) -> np.ndarray:
        """Decode ``n`` codes drawn from the prior ``N(0, I)`` into new samples.

        Parameters
        ----------
        n : int
            How many samples.
        random_state : int, RandomState or None
            Seed of the draws: the same seed gives the same samples, and the first ``k`` of
            ``sample(n)`` are ``sample(k)`` whatever ``n``.

        Returns
        -------
        ndarray of shape (n, *input_shape_)
            In the data's units: the decoder's mean (for the Bernoulli likelihood the pixel
            probabilities, which is what VAE papers show). After ``set_output(transform="pandas")``,
            rows come as a DataFrame named by the training data's columns, as from
            :meth:`inverse_transform`.

        Examples
        --------
        >>> vae.sample(64, random_state=0).shape  # doctest: +SKIP
        (64, 784)
        """
        check_is_fitted(self, "module_")
        n = _positive_int(n, "n")
        values = math.prod(self.input_shape_)
        # Refused before torch would fail with a bare "can't allocate memory" (or the kernel kill us).
        # A batch of codes passes through float64 uniforms and their transforms: ~40 bytes a value.
        n_bytes = 4 * n * values + 40 * min(n, SAMPLE_BATCH) * self._code_width()
        what = f"n={n} samples of {values} float32 values"
        check_fits_in_memory(n_bytes, what, "ask for fewer, or draw them batch by batch with iter_samples")
        out = np.empty((n, *self.input_shape_), np.float32)
        start = 0
        for batch in self.iter_samples(n, random_state):
            out[start : start + len(batch)] = batch
            start += len(batch)
        # Rows come as inverse_transform gives them: a DataFrame named by the input's columns
        # after set_output(transform="pandas"), not a bare array.
        return in_input_space(self, out, None)

    def iter_samples(self, n: int, random_state: Any = None) -> Iterator[np.ndarray]:
        """:meth:`sample`'s ``n`` samples, :data:`SAMPLE_BATCH` at a time (the same values).

        The memory this takes does not grow with ``n``: ``hourglass sample -o file.npy`` writes
        each batch to the file as it comes.

        Examples
        --------
        >>> sum(len(b) for b in vae.iter_samples(10_000, random_state=0))  # doctest: +SKIP
        10000
        """
        check_is_fitted(self, "module_")
        n = _positive_int(n, "n")
        # Row i's code is the stream's i-th run of width values: sample(10)[:5] is sample(5).
        draws, width = PriorDraws(as_seed(random_state)), self._code_width()
        for start in range(0, n, SAMPLE_BATCH):
            rows = min(SAMPLE_BATCH, n - start)
            codes = draws.draw(rows * width).reshape(rows, width)
            out = run_batches(self, self.module_.decode, codes, unscale=True)
            yield out.reshape(rows, *self.input_shape_)

    def _one_sample(self, x: Any, name: str) -> np.ndarray:
        data = np.asarray(x, dtype=np.float64) if not isinstance(x, np.ndarray) else x
        shape = tuple(self.input_shape_)
        if tuple(data.shape) == shape:
            data = data[None]
        gray = len(shape) == 3 and shape[0] == 1 and tuple(data.shape) == shape[1:]
        if gray:
            data = data[None, None]
        if tuple(data.shape) != (1, *shape):
            raise InvalidInputError(
                f"{name} has shape {tuple(np.shape(x))}; expected one sample of shape {shape}"
            )
        return self._validate_input(data, reset=False)

    def interpolate(
        self, a: Any, b: Any, steps: int = 8, method: str = "linear", return_codes: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Decode a path between the posterior means of two samples.

        Parameters
        ----------
        a, b : array-like
            One sample each, shaped like a training sample.
        steps : int, default=8
            Points on the path, both ends included (at least 2).
        method : {'linear', 'slerp'}, default='linear'
            'slerp' follows the great circle between the two codes (White 2016), which keeps the
            codes at the norm the prior gives most of its mass.
        return_codes : bool, default=False
            Also return the codes of the path.

        Returns
        -------
        ndarray of shape (steps, *input_shape_)
            The decoded path, ``a``'s reconstruction first and ``b``'s last; with
            ``return_codes``, also the ``(steps, code_size)`` codes.
        """
        check_is_fitted(self, "module_")
        steps = _positive_int(steps, "steps")
        if steps < 2:
            raise InvalidInputError(f"steps={steps}; expected at least 2 (the two ends)")
        if method not in INTERPOLATIONS:
            raise InvalidInputError(f"method={method!r}; expected one of {INTERPOLATIONS}")
        ends = np.concatenate([self._one_sample(a, "a"), self._one_sample(b, "b")])
        za, zb = run_batches(self, self.module_.encode, ends, scale=True).astype(np.float64)
        t = np.linspace(0.0, 1.0, steps)[:, None]
        codes = (1 - t) * za + t * zb
        if method == "slerp":
            cos = np.dot(za, zb) / max(np.linalg.norm(za) * np.linalg.norm(zb), 1e-12)
            omega = math.acos(float(np.clip(cos, -1.0, 1.0)))
            if omega > 1e-6:  # nearly parallel codes: the straight line is the arc
                codes = (np.sin((1 - t) * omega) * za + np.sin(t * omega) * zb) / math.sin(omega)
        codes = codes.astype(np.float32)
        out = run_batches(self, self.module_.decode, codes, unscale=True).reshape(steps, *self.input_shape_)
        return (out, codes) if return_codes else out

    # -- likelihoods -------------------------------------------------------------------------
    def _log_jacobian(self) -> float:
        """``-sum log |scale|`` over one sample's values: densities in the data's units."""
        scale = np.broadcast_to(np.abs(self.scaler_.scale), (1, *self.input_shape_))
        return -float(np.sum(np.log(scale.astype(np.float64))))

    def _per_sample(self, X: Any, fn, seed: int, batch: int) -> np.ndarray:
        check_is_fitted(self, "module_")
        data = self._validate_input(X, reset=False)
        device = device_of(self)
        self.module_.eval()
        parts = []
        for start in range(0, len(data), batch):
            rows = np.ascontiguousarray(data[start : start + batch], dtype=np.float32)
            x = torch.from_numpy(pad_rows(self.scaler_.transform(rows)).copy()).to(device)
            # Every batch the same draws: a sample's score depends neither on its batch nor its place.
            generator = torch.Generator().manual_seed(seed)
            parts.append(fn(x, generator)[: len(rows)].double().cpu().numpy())
        values = np.concatenate(parts) if parts else np.zeros(0)
        return values + self._log_jacobian()

    def score_samples(self, X: Any) -> np.ndarray:
        """The ELBO of each sample, in nats (higher: more likely under the model).

        ``E_q[log p(x | z)] - KL(q(z | x) || p(z))``, the expectation over ``ELBO_SAMPLES``
        (8) draws from a fixed seed, so that the same ``X`` always scores the same.

        Parameters
        ----------
        X : array-like
            Samples shaped like the training data.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self._per_sample(
            X, lambda x, g: vnn.elbo(self.module_, x, ELBO_SAMPLES, g), self.seed_, IWAE_BATCH * 8
        )

    def log_likelihood(self, X: Any, n_importance: int = 1000, random_state: Any = 0) -> np.ndarray:
        """The importance-weighted estimate of ``log p(x)`` per sample, in nats (Burda et al. 2016).

        ``log (1/k) sum_i p(x, z_i) / q(z_i | x)`` with ``k = n_importance`` draws from the
        posterior: a lower bound on ``log p(x)`` that rises toward it with ``k`` (``k = 1`` is an
        unbiased estimate of the ELBO). ``-mean`` is the NLL that VAE papers report.

        Parameters
        ----------
        X : array-like
        n_importance : int, default=1000
            Draws per sample ``k``.
        random_state : int, RandomState or None, default=0
            Seed of the draws.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        k = _positive_int(n_importance, "n_importance")
        batch = max(1, min(IWAE_BATCH, vnn.DECODE_ROWS // k * 4))
        return self._per_sample(
            X, lambda x, g: vnn.iwae_bound(self.module_, x, k, g), as_seed(random_state), batch
        )

    def kl_per_unit(self, X: Any) -> np.ndarray:
        """The mean KL divergence of each code unit's posterior from the prior over ``X``, in nats."""
        check_is_fitted(self, "module_")
        data = self._validate_input(X, reset=False)

        def kl(x: torch.Tensor) -> torch.Tensor:
            return vnn.kl_per_unit(*self.module_.posterior(x))

        return run_batches(self, kl, data, scale=True).astype(np.float64).mean(axis=0)

    def active_units(self, X: Any, threshold: float = ACTIVE_THRESHOLD) -> np.ndarray:
        """Which code units are active: the variance of their posterior mean over ``X`` exceeds
        ``threshold`` (Burda et al. 2016's ``Cov_x(E_q[z_u]) > 0.01``).

        Returns
        -------
        ndarray of bool, shape (code_size,)
        """
        return self.transform(X).astype(np.float64).var(axis=0) > threshold


__all__ = ["VariationalAutoEncoder"]
