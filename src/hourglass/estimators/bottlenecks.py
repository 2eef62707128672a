"""Bottleneck parts: what an estimator's kind of code brings to fitting and saving.

An estimator holds an input part (rows or grids: scaling, shapes, data sources) and a
bottleneck part, named by its class attribute ``bottleneck_kind`` and looked up in
:data:`BOTTLENECKS`. The part knows everything that differs between a plain, a Gaussian and a
quantized code: the parameters it refuses, the loss it picks, how it wraps the input part's
architecture config, its extra loss terms (regularizers, logged by their ``name`` in
``history_.terms``) and per-epoch metrics, what it computes after ``fit``, what it saves beside
the weights and restores, and its code's shape. The estimator delegates to it,
so :class:`~hourglass.VariationalAutoEncoder` and :class:`~hourglass.VQAutoEncoder` only choose a
part, and a new kind of code is one subclass of :class:`BottleneckPart` plus
:func:`register_bottleneck`.

Parts hold no state: every method reads the estimator it is given (its parameters and fitted
attributes), so scikit-learn's ``clone`` and ``get_params`` see nothing new.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import fields
from typing import Any, ClassVar

import numpy as np
import torch

from hourglass.data.validation import user_stacklevel
from hourglass.estimators.part_kinds import PartKinds
from hourglass.estimators.predicting import PREDICT_BATCH, pad_rows
from hourglass.exceptions import InvalidInputError, PosteriorCollapseWarning
from hourglass.nn import variational as vnn
from hourglass.nn.config import ConvConfig
from hourglass.nn.quantizers import usage_of
from hourglass.nn.vq_model import VQConfig, check_quantizer
from hourglass.train import regularizers as regs
from hourglass.train.losses import choose_loss
from hourglass.train.sparsity import SparsityMonitor
from hourglass.train.tasks import task_of

#: Training items whose indices are counted, after fit, for the entropy coder's prior.
PRIOR_SAMPLE = 2048


class BottleneckPart:
    """The contract of a kind of code; its defaults are those of a code with nothing added.

    Every method takes the estimator that holds the part. Subclasses override what their code
    changes and register themselves with :func:`register_bottleneck`.

    Examples
    --------
    >>> @register_bottleneck                                   # doctest: +SKIP
    ... class Sharp(BottleneckPart):
    ...     kind = "sharp"
    ...     def regularizers(self, est):
    ...         return [MyPenalty(0.1)]
    >>> class SharpAutoEncoder(hourglass.AutoEncoder):         # doctest: +SKIP
    ...     bottleneck_kind = "sharp"
    """

    kind: ClassVar[str] = ""

    def check_params(self, est: Any) -> None:
        """Refuse the estimator's parameters this code cannot honour (before any data is read)."""

    def overcomplete_allowed(self, est: Any) -> bool:
        """Whether a code at least as wide as the input is meaningful (cannot learn the identity)."""
        return False

    def choose_loss(self, est: Any, scaled: Any) -> tuple[str, str]:
        """The reconstruction loss for the scaled training data (their summary), and why."""
        return choose_loss(est.loss, scaled)

    def code_fields(self, est: Any, input_width: int) -> dict[str, Any]:
        """Fields of the input part's architecture config that shape the code."""
        return {
            "dropout": float(getattr(est, "dropout", 0.0)),
            "code_activation": "identity",
            "topk": None,
            "topk_aux_k": 0,
        }

    def architecture(self, est: Any, config: Any) -> Any:
        """The module's config: the input part's ``config``, wrapped for this code if need be."""
        return config

    def code_shape(self, est: Any) -> tuple[int, ...] | None:
        """One sample's code in the fitted module, as ``transform``, ``inverse_transform`` and the
        exported decoder take it, when this kind sets it (None: the input part's)."""
        return None

    def regularizers(self, est: Any) -> list:
        """Extra loss terms (:class:`~hourglass.train.losses.Regularizer`), each logged by name."""
        return []

    def epoch_metrics(self, est: Any) -> Any:
        """``epoch_metrics(model, val) -> dict`` for the Trainer, or None."""
        return None

    def after_fit(self, est: Any) -> None:
        """Fitted state computed from the trained module at the end of ``fit``."""

    def saved_attributes(self, est: Any) -> dict[str, Any]:
        """Fitted JSON values for ``config.json``'s ``fitted`` (names ending in ``_``)."""
        return {}

    def saved_tensors(self, est: Any) -> dict[str, np.ndarray]:
        """Fitted arrays for ``weights.safetensors`` (saved as ``extra.<name>``)."""
        return {}

    def restore(self, est: Any, fitted: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        """Inverse of :meth:`saved_attributes` and :meth:`saved_tensors`, checking what it reads.

        ``fitted`` values are already set on ``est`` as attributes; ``tensors`` are not.
        """


#: Kinds of code by name: an estimator's ``bottleneck_kind`` is looked up here.
BOTTLENECKS = PartKinds("bottleneck_kind")
register_bottleneck = BOTTLENECKS.register  # class decorator: make a part available under its ``kind``
bottleneck_part = BOTTLENECKS.part  # the part registered as a kind


# -- plain: the encoder's output, with optional sparsity guards ----------------------------------
def sparsity_on(est: Any) -> bool:
    """Whether a sparsity guard (L1, KL sparsity or TopK) is set on ``est``."""
    # getattr: the guards live here so every estimator storing these names gets them, and
    # estimators without them still work.
    return bool(getattr(est, "l1_penalty", 0) or getattr(est, "kl_penalty", 0) or getattr(est, "topk", None))


@register_bottleneck
class PlainPart(BottleneckPart):
    """The code is the encoder's output: linear, or with a sparsity guard (ReLU + L1, sigmoid +
    KL sparsity, TopK) and the contractive penalty."""

    kind = "plain"

    def overcomplete_allowed(self, est: Any) -> bool:
        return sparsity_on(est)

    def code_fields(self, est: Any, input_width: int) -> dict[str, Any]:
        topk, kl = getattr(est, "topk", None), getattr(est, "kl_penalty", 0)
        if topk is not None and kl:
            raise InvalidInputError(
                f"topk={topk} with kl_penalty={kl}: the KL penalty needs codes in (0, 1), a TopK code "
                "is signed; use one of them"
            )
        aux = getattr(est, "topk_aux_penalty", 0)
        l1 = getattr(est, "l1_penalty", 0)
        return {
            **super().code_fields(est, input_width),
            "code_activation": "sigmoid" if kl else ("relu" if l1 else "identity"),
            "topk": None if topk is None else int(topk),
            # Gao et al. use about half the input width for the auxiliary code.
            "topk_aux_k": max(1, input_width // 2) if topk is not None and aux else 0,
        }

    def regularizers(self, est: Any) -> list:
        out: list = []
        if getattr(est, "l1_penalty", 0):
            out.append(regs.L1Penalty(est.l1_penalty))
        if getattr(est, "kl_penalty", 0):
            out.append(regs.KLSparsity(est.kl_penalty, est.sparsity_target))
        if getattr(est, "contractive_penalty", 0):
            out.append(regs.ContractivePenalty(est.contractive_penalty))
        if getattr(est, "topk", None) and getattr(est, "topk_aux_penalty", 0):
            out.append(regs.AuxKLoss(est.topk_aux_penalty))
        return out

    @staticmethod
    def activity_threshold(est: Any) -> float:
        """When a unit counts as active: a sigmoid unit above one half; ReLU and TopK codes have
        exact zeros."""
        return 0.5 if getattr(est.architecture_, "code_activation", "identity") == "sigmoid" else 0.0

    def epoch_metrics(self, est: Any) -> Any:
        if not sparsity_on(est):
            return None
        return SparsityMonitor(
            probe=getattr(est, "_metrics_probe", None), threshold=self.activity_threshold(est)
        )


# -- Gaussian: a variational code ------------------------------------------------------------------
@register_bottleneck
class GaussianPart(BottleneckPart):
    """A posterior ``N(mu, sigma^2)`` per sample and its KL term (:mod:`hourglass.nn.variational`).

    The KL reaches the trainer from the module as the ``kl_loss`` term; the part chooses the
    likelihood as the loss and wraps the dense or convolutional config in its variational form.
    """

    kind = "gaussian"

    def overcomplete_allowed(self, est: Any) -> bool:
        # The KL term prices every nat the code carries, so units beyond what the data need stay
        # at the prior (inactive) rather than copying the input: the default 16 refused wine's
        # 13 columns with advice (l1_penalty, topk) a VAE does not take.
        return True

    def check_params(self, est: Any) -> None:
        vnn.check_vae_settings(est.beta, est.free_bits, est.kl_warmup)
        size = est.code_size
        if not isinstance(size, numbers.Integral) or isinstance(size, bool) or size < 1:
            raise InvalidInputError(
                f"code_size={size!r}; expected a positive integer (a variational code is flat)"
            )

    def choose_loss(self, est: Any, scaled: Any) -> tuple[str, str]:
        if est.loss != "auto":
            return choose_loss(est.loss, scaled)
        if scaled.in_unit_interval():
            return "bce", (
                "auto: training values lie in [0, 1]: the Bernoulli likelihood (binary cross-entropy on "
                "the logits, summed over values)"
            )
        return "mse", (
            f"auto: training values span [{scaled.lo:.3g}, {scaled.hi:.3g}]: a Gaussian likelihood with "
            "one variance, kept at the mean squared error"
        )

    def after_fit(self, est: Any) -> None:
        warn_if_collapsed(est)

    def architecture(self, est: Any, config: Any) -> Any:
        variational = (
            vnn.VariationalConvConfig if isinstance(config, ConvConfig) else vnn.VariationalDenseConfig
        )
        return variational(
            **{f.name: getattr(config, f.name) for f in fields(config)},
            likelihood="bernoulli" if est.loss_ == "bce" else "gaussian",
            beta=float(est.beta),
            free_bits=float(est.free_bits),
            kl_warmup=int(est.kl_warmup),
        )


#: Total KL (nats per sample, all code units) below which a fitted VAE's code counts as collapsed:
#: healthy fits of digits carry 2.5 to 3.3 nats, the collapsed one of 30 epochs 0.16.
COLLAPSED_KL = 0.5


def posterior_kl(est: Any) -> tuple[np.ndarray, str]:
    """Per code unit, the mean KL (nats) of the fitted posterior from the prior, and on what.

    On the held-out items kept for reports (the first of the validation split), else on (up to
    2048) training items.
    """
    held_out = getattr(est, "_report_held_out", None)
    if held_out is not None and len(held_out):
        scaled, where = torch.from_numpy(est.scaler_.transform(held_out.astype(np.float32))), "held-out"
    else:
        scaled, where = est._metrics_probe[:PRIOR_SAMPLE], "training"
    module = est.module_.eval()
    device = next(module.parameters()).device
    kl = []
    with torch.no_grad():
        for start in range(0, len(scaled), 256):
            mu, logvar = module.posterior(scaled[start : start + 256].float().to(device))
            kl.append(vnn.kl_per_unit(mu, logvar).double().cpu())
    return torch.cat(kl).mean(0).numpy(), f"{len(scaled)} {where} items"


def warn_if_collapsed(est: Any) -> None:
    """Warn (:class:`~hourglass.exceptions.PosteriorCollapseWarning`) when a fitted VAE's code
    carries almost nothing: its total KL under :data:`COLLAPSED_KL` nats, or no unit active.

    ``score_samples`` and the ELBO of such a model are those of the mean, and its samples all
    look alike: worth saying at the end of the fit rather than leaving to the report. Only once
    the KL warm-up is over: a fit stopped before it (a few epochs, to try things) never trained
    the objective whose optimum collapses, and is merely short.
    """
    if getattr(est, "_metrics_probe", None) is None and getattr(est, "_report_held_out", None) is None:
        return
    if est.n_epochs_ < est.kl_warmup:
        return
    kl, items = posterior_kl(est)
    active = int((kl > 0.01).sum())  # a unit with no KL cannot tell samples apart
    if kl.sum() >= COLLAPSED_KL and active:
        return
    warnings.warn(
        f"posterior collapse: the code carries {kl.sum():.2f} nats per sample in all (KL from the prior "
        f"on {items}; {active} of {len(kl)} units above 0.01), so the decoder ignores it and reconstructs "
        "about the mean; train longer (epochs='auto' runs until the held-out loss stops improving), or "
        "set free_bits (0.25 nats per unit, say) or beta below 1",
        PosteriorCollapseWarning,
        stacklevel=user_stacklevel(),
    )


# -- quantized: a grid of codebook indices ----------------------------------------------------------
def count_indices(model: torch.nn.Module, scaled: torch.Tensor) -> np.ndarray:
    """How often each code is the index of the (already scaled) items ``scaled``, in eval mode.

    The one count behind every usage figure: the per-epoch metric, ``index_counts_`` after fit
    and so ``codebook_usage()``.
    """
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    counts = np.zeros(int(model.bottleneck.codebook_size), np.float64)
    with torch.no_grad():
        for start in range(0, len(scaled), PREDICT_BATCH):
            # Batched and padded as run_batches does, so a row's index never depends on the batch.
            rows = scaled[start : start + PREDICT_BATCH].detach().float().cpu().numpy()
            padded = torch.from_numpy(pad_rows(rows)).to(device)
            indices = model.encode_indices(padded)[: len(rows)].reshape(-1).cpu().numpy()
            counts += np.bincount(indices.astype(np.int64), minlength=len(counts))
    model.train(was)
    return counts


class CodebookMonitor:
    """``epoch_metrics``: the codebook's usage (share of codes in use, perplexity) after an epoch.

    Counted on ``probe`` (training items, scaled) in eval mode, as ``index_counts_`` is after fit:
    the codes the encoder picks with this epoch's weights, not the codebook's moving averages,
    in which codes re-seeded every step look alive. Without a probe: the vectors assigned to
    each code during the epoch (the quantizer's :meth:`usage`). A VQ quantizer's count of
    assignments restarts every epoch, so that its ``usage()`` tells of the last epoch.
    """

    def __init__(self, probe: torch.Tensor | None = None) -> None:
        self.probe = probe

    def __call__(self, model: torch.nn.Module, val: Any) -> dict[str, float]:
        quantizer = model.bottleneck
        if self.probe is None or not len(self.probe):
            usage = quantizer.usage()
        else:
            usage = usage_of(torch.from_numpy(count_indices(model, self.probe[:PRIOR_SAMPLE])))
        if hasattr(quantizer, "reset_usage"):
            quantizer.reset_usage()
        return usage


@register_bottleneck
class QuantizedPart(BottleneckPart):
    """A grid of indices into a finite codebook (:mod:`hourglass.nn.vq_model`): a code with a size
    in bits.

    The commitment loss reaches the trainer from the module as ``vq_commitment_loss``; the part
    logs the codebook's usage every epoch, counts the indices of the training items after fit
    (the entropy coder's prior, saved as ``index_counts_``).
    """

    kind = "quantized"

    def check_params(self, est: Any) -> None:
        if task_of(est).restoration:
            raise InvalidInputError(f"task={est.task!r}; a VQAutoEncoder is a codec: expected 'reconstruct'")
        if est.code_size is not None:
            raise InvalidInputError(
                f"code_size={est.code_size!r}; a VQAutoEncoder's code is its index grid, set by channels "
                "(one halving per block) and codebook_size: expected None"
            )
        if est.skip_connections is True:
            raise InvalidInputError("skip_connections=True would let the input bypass the quantized code")
        for name in ("topk", "kl_penalty", "l1_penalty", "contractive_penalty"):
            if getattr(est, name):
                raise InvalidInputError(
                    f"{name}={getattr(est, name)!r}; a quantized code is already limited to "
                    "log2(codebook_size) bits per position: expected no sparsity or contraction guard"
                )
        check_quantizer(est.quantizer)
        size = est.codebook_size
        if not isinstance(size, numbers.Integral) or isinstance(size, bool) or not 2 <= size <= 2**16:
            raise InvalidInputError(f"codebook_size={size!r}; expected an integer from 2 to 65536")
        dim = est.embedding_dim
        if not isinstance(dim, numbers.Integral) or isinstance(dim, bool) or dim < 1:
            raise InvalidInputError(f"embedding_dim={dim!r}; expected a positive integer")

    def overcomplete_allowed(self, est: Any) -> bool:
        return True  # the code's size is counted in bits, not in values

    def architecture(self, est: Any, config: Any) -> VQConfig:
        return VQConfig(
            **{f.name: getattr(config, f.name) for f in fields(config)},
            codebook_size=int(est.codebook_size),
            embedding_dim=int(est.embedding_dim),
            quantizer=est.quantizer,
            commitment_cost=float(est.commitment_cost),
            codebook_decay=float(est.codebook_decay),
        )

    def code_shape(self, est: Any) -> tuple[int, ...]:
        # The quantized map (code vectors on the grid), not the encoder's wider output.
        return (int(est.architecture_.quantized_dim), *est.architecture_.grid_shape)

    def epoch_metrics(self, est: Any) -> CodebookMonitor:
        return CodebookMonitor(getattr(est, "_metrics_probe", None))

    def after_fit(self, est: Any) -> None:
        probe = getattr(est, "_metrics_probe", None)
        if probe is None:
            return
        # Counted in eval mode on the final weights: the statistics the coder will meet.
        est.index_counts_ = count_indices(est.module_, probe[:PRIOR_SAMPLE])

    def saved_tensors(self, est: Any) -> dict[str, np.ndarray]:
        # partial_fit's counts are taken when asked for: here, so that the loaded model's prior
        # is the one files compressed before the save were coded with.
        counts = est._index_counts() if hasattr(est, "_index_counts") else getattr(est, "index_counts_", None)
        return {} if counts is None else {"index_counts_": np.asarray(counts, np.float64)}

    def restore(self, est: Any, fitted: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        if "index_counts_" not in tensors:
            return  # trained by partial_fit after a load: the prior comes from training's averages
        counts = np.asarray(tensors["index_counts_"], np.float64)
        if counts.shape != (est.n_codes_,):
            raise InvalidInputError(f"index_counts_ has shape {counts.shape}; expected ({est.n_codes_},)")
        est.index_counts_ = counts


__all__ = [
    "BOTTLENECKS",
    "BottleneckPart",
    "COLLAPSED_KL",
    "CodebookMonitor",
    "GaussianPart",
    "PlainPart",
    "QuantizedPart",
    "bottleneck_part",
    "count_indices",
    "register_bottleneck",
    "posterior_kl",
    "sparsity_on",
    "warn_if_collapsed",
]
