"""The sections a variational autoencoder adds to its model report.

Samples decoded from the prior, interpolations between pairs of the report's samples, and the KL
of each code unit with the units that are active (Burda et al. 2016: the variance of the unit's
posterior mean over the data exceeds 0.01).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from hourglass.report import plots

N_SAMPLES = 64
N_PAIRS = 4
STEPS = 10


def kl_bars(kl: np.ndarray, active: np.ndarray) -> Figure:
    """A bar per code unit: its mean KL from the prior, in nats, active units in colour.

    Examples
    --------
    >>> len(kl_bars(np.array([2.0, 0.01, 1.0]), np.array([True, False, True])).axes)
    1
    """
    kl, active = np.asarray(kl, dtype=np.float64), np.asarray(active, dtype=bool)
    fig = plots._new_figure(min(9.0, 2.5 + 0.18 * len(kl)), 2.8)
    ax = fig.add_subplot(1, 1, 1)
    colors = np.where(active, "#2563eb", "#d1d5db")
    ax.bar(np.arange(len(kl)), kl, color=colors, width=0.8)
    ax.set_xlabel("code unit")
    ax.set_ylabel("KL from the prior (nats)")
    ax.set_title(f"{int(active.sum())} of {len(kl)} units active", fontsize=10)
    plots._style_axes(ax)
    return fig


def _images(flat: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Samples as ``(n, h, w)`` or ``(n, c, h, w)`` images for the grid."""
    return flat.reshape(len(flat), *shape)


def add_variational_sections(report, estimator, X: np.ndarray, image_shape=None) -> None:
    """Add the likelihood summary, samples, interpolations and the KL per unit to ``report``.

    ``image_shape`` says how a dense model's row reshapes into an image; a convolutional model
    of images needs none. Data that are not images get the summary and the KL per unit only.
    """
    data = np.asarray(X)
    kl = estimator.kl_per_unit(data)
    active = estimator.active_units(data)
    elbo = estimator.score_samples(data)
    report.add_metrics(
        {
            "mean ELBO per sample (nats)": float(elbo.mean()),
            "mean KL per sample (nats)": float(kl.sum()),
            "active code units": f"{int(active.sum())} of {len(kl)}",
            "likelihood": "Bernoulli" if estimator.loss_ == "bce" else "Gaussian (one variance)",
            "beta": float(estimator.beta),
        },
        heading="Variational code",
    )
    shape = tuple(estimator.input_shape_)
    if len(shape) == 3 and shape[0] in (1, 3):
        image = shape
    elif image_shape is not None and int(np.prod(image_shape)) == int(np.prod(shape)):
        image = tuple(image_shape)
    else:
        image = None
    if image is not None:
        samples = estimator.sample(N_SAMPLES, random_state=0)
        report.add_figure(
            plots.image_grid(
                _images(samples, image), ncols=8, vmin=float(data.min()), vmax=float(data.max())
            ),
            heading="Samples",
            caption=f"{N_SAMPLES} codes drawn from the prior N(0, I) and decoded (the decoder's mean).",
        )
        pairs = min(N_PAIRS, len(data) // 2)
        if pairs:
            picks = np.linspace(0, len(data) - 1, num=2 * pairs).astype(int)
            rows = [
                estimator.interpolate(data[picks[2 * i]], data[picks[2 * i + 1]], STEPS) for i in range(pairs)
            ]
            report.add_figure(
                plots.image_grid(
                    _images(np.concatenate(rows), image),
                    ncols=STEPS,
                    vmin=float(data.min()),
                    vmax=float(data.max()),
                ),
                heading="Interpolations",
                caption=f"Each row decodes {STEPS} evenly spaced points on the straight line between the "
                "posterior means of two of these samples (their reconstructions at the ends).",
            )
    report.add_figure(
        kl_bars(kl, active),
        heading="KL per code unit",
        caption="Mean KL divergence of each unit's posterior from the prior over these samples; a unit is "
        "active (blue) when the variance of its posterior mean over them exceeds 0.01 (Burda et al. 2016). "
        "Inactive units carry no information: the posterior collapsed to the prior there.",
    )
