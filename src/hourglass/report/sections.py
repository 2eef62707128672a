"""The sections of a model report that belong to one kind of estimator.

:func:`hourglass.report.build.build_model_report` writes what every model shares (error, codes,
reconstructions), then :func:`add_model_sections` what the model's parts add: its kind of code
(:data:`CODE_SECTIONS`, by the bottleneck kind: the sparse code when a sparsity guard is on, a
codebook's rate, a VAE's posterior) and its task (a restoration task's baselines). They are
built here, above the estimators, so that an estimator computes and the report presents: no
estimator imports the report. Every section has one signature,
``section(report, estimator, X, image_shape)``.

Examples
--------
>>> from hourglass.report.html import Report
>>> report = Report("digits")
>>> add_model_sections(report, ae, X, image_shape=(8, 8))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hourglass.estimators.base import BaseAutoEncoder
from hourglass.estimators.bottlenecks import PlainPart
from hourglass.estimators.predicting import reconstruction, run_batches
from hourglass.report import plots
from hourglass.report.tasks import add_task_sections
from hourglass.report.variational import add_variational_sections
from hourglass.train import sparsity
from hourglass.train.tasks import task_of
from hourglass.uses import compression
from hourglass.uses.codec_metrics import position_word


def add_model_sections(
    report,
    estimator: Any,
    X: np.ndarray,
    image_shape: tuple[int, ...] | None = None,
    data_role: str = "training",
) -> None:
    """Add the sections of ``estimator``'s kind to ``report``, on the samples ``X``.

    Parameters
    ----------
    report : Report
        The report to add to.
    estimator : BaseAutoEncoder
        A fitted estimator (others add nothing).
    X : ndarray
        The samples the report shows, in data units.
    image_shape : tuple of int, optional
        The image shape of a flat sample, for figures of images.
    data_role : {'training', 'held-out'}, default='training'
        Whether the model trained on ``X``; a task's labels say so.
    """
    if not isinstance(estimator, BaseAutoEncoder):
        return
    kind = estimator.bottleneck_kind
    for section in CODE_SECTIONS.get(kind, CODE_SECTIONS["plain"]):
        section(report, estimator, X, image_shape)
    # A restoration task's baselines and panels are drawn for images.
    if task_of(estimator).restoration and len(getattr(estimator, "input_shape_", ())) == 3:
        add_task_sections(report, estimator, X, data_role)


def add_sparse_code_sections(
    report, estimator: BaseAutoEncoder, X: np.ndarray, image_shape: tuple[int, ...] | None = None
) -> None:
    """Add the sparse-code metrics, the unit-frequency histogram and (for images) the decoder's
    dictionary atoms, when a sparsity guard is on."""
    if not estimator._sparsity_on():
        return
    threshold = PlainPart.activity_threshold(estimator)
    data = estimator._validate_input(X, reset=False)
    scaled = estimator.scaler_.transform(data)
    module = estimator.module_
    codes = run_batches(estimator, module.encode, scaled).reshape(len(data), -1)
    recon = run_batches(estimator, reconstruction(module), scaled)
    metrics = sparsity.sparse_code_metrics(scaled, codes, recon, threshold)
    report.add_metrics(
        {
            "L0 (active units per sample)": metrics["l0"],
            "dead units (fraction)": metrics["dead_fraction"],
            "normalized MSE": metrics["normalized_mse"],
            "explained variance": metrics["explained_variance"],
        },
        heading="Sparse code",
    )
    freq = sparsity.activation_frequency(codes, threshold)
    report.add_figure(
        plots.histogram(freq, "how often each unit is active", "activation frequency", log=True),
        caption="Fraction of samples on which each code unit is active; units at 0 are dead.",
    )
    if image_shape is None or int(np.prod(image_shape)) != int(np.prod(data.shape[1:])):
        return
    if not module.decodes_codes_alone:
        return
    # Dictionary atoms: the decoder's response to one unit at its typical active value,
    # decode(a_i e_i) - decode(0), for the most used units.
    order = np.argsort(-freq)[: min(32, int((freq > 0).sum()))]
    if len(order) == 0:
        return
    active = np.abs(codes) > threshold
    typical = np.array([np.abs(codes[active[:, i], i]).mean() for i in order], dtype=np.float32)
    unit_codes = np.zeros((len(order) + 1, codes.shape[1]), np.float32)
    unit_codes[np.arange(len(order)), order] = typical
    unit_codes = unit_codes.reshape(len(unit_codes), *estimator._code_shape())
    decoded = estimator.scaler_.inverse_transform(run_batches(estimator, module.decode, unit_codes))
    decoded = decoded.reshape(len(unit_codes), -1)
    atoms = decoded[:-1] - decoded[-1]
    report.add_figure(
        plots.image_grid(
            atoms.reshape(len(order), *image_shape), [f"unit {i}" for i in order], cmap="RdBu_r"
        ),
        heading="Dictionary atoms",
        caption="What the decoder adds for each of the most used units (decode(a e_i) - decode(0), "
        "with a the unit's mean active value); red adds, blue removes.",
    )


def add_codebook_sections(
    report, estimator: Any, X: np.ndarray, image_shape: tuple[int, ...] | None = None
) -> None:
    """Add the codebook: its use on ``X``, the index grid and the bits a compressed file costs."""
    data = estimator._validate_input(X, reset=False)[:2048]
    usage = estimator.codebook_usage(data)
    blob = compression.compress(estimator, data)
    rate = compression.compression_report(estimator, data, blob)
    where = position_word(tuple(estimator.input_shape_))  # a series' rate is per step, not per pixel
    report.add_metrics(
        {
            "codes in the codebook": estimator.n_codes_,
            "index grid": "x".join(map(str, estimator.grid_shape_)),
            # Counted on these samples; `hourglass info` shows training's last-epoch averages.
            f"codes in use on these {len(data)} samples (share)": usage["codebook_used"],
            f"perplexity on these {len(data)} samples": usage["perplexity"],
            f"bits per {where} (whole file, all channels)": rate.bits_per_pixel,
            "PSNR (dB)": rate.psnr,
        },
        heading="Codebook and rate",
    )


#: The sections each kind of code adds, by ``bottleneck_kind`` (the keys of
#: :data:`hourglass.estimators.bottlenecks.BOTTLENECKS`); a kind not listed here (a new one)
#: shows a plain code's. A VAE's code is a posterior: its KL and active units replace the
#: sparse-code view.
CODE_SECTIONS = {
    "plain": (add_sparse_code_sections,),
    "gaussian": (add_variational_sections,),
    "quantized": (add_sparse_code_sections, add_codebook_sections),
}


__all__ = [
    "CODE_SECTIONS",
    "add_codebook_sections",
    "add_model_sections",
    "add_sparse_code_sections",
    "add_task_sections",
]
