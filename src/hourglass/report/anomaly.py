"""The report section of a fitted :class:`~hourglass.AnomalyDetector`: its threshold, how much it
flags, the errors against the calibration data and the most abnormal samples.

The detector computes (errors, threshold, error maps); this module presents. Before hourglass's
layers were made to point down, this section lived beside the detector in
``hourglass.estimators.anomaly``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.utils.validation import check_is_fitted

from hourglass.data.units import UNITS_SHORT
from hourglass.estimators.anomaly import AnomalyDetector, check_binary_labels, score_units
from hourglass.estimators.outlier_scores import score_name
from hourglass.report import plots

#: Quantiles of the calibration errors drawn in the score histogram.
_REFERENCE_QUANTILES = (0.5, 0.9, 0.99)
#: Abnormal samples shown with their reconstructions and error maps.
_N_SHOWN = 8


def anomaly_report_section(
    report,
    detector: AnomalyDetector,
    X: Any,
    labels: Any = None,
    name: str = "scored data",
    image_shape: tuple[int, ...] | None = None,
) -> dict[str, float]:
    """Add the detector's scores of ``X`` to ``report``: flagged shares, a histogram, error maps.

    The reference is the data the threshold was calibrated on: the histogram of ``X``'s
    anomaly scores is drawn against quantiles of the calibration scores. An AUROC is
    shown only with ``labels``, since without them nothing says which samples are abnormal.

    Parameters
    ----------
    report : hourglass.report.html.Report
        The report to extend.
    detector : AnomalyDetector
        A fitted detector.
    X : array-like
        Data to score, in the shape the detector takes.
    labels : array-like of shape (n_samples,), optional
        The truth per sample of ``X``: 0 normal, 1 abnormal (PyOD's convention). Adds the
        AUROC of the anomaly score against them, the share of each class flagged, and
        one histogram per class.
    name : str, default="scored data"
        What to call ``X``.
    image_shape : tuple of int, optional
        How a row reshapes into an image; adds the most abnormal samples of ``X`` with their
        reconstructions and error maps. Inferred for image batches ``(n, c, h, w)``.

    Returns
    -------
    dict of str to float
        ``threshold``, ``flagged`` and ``calibration flagged`` (shares in [0, 1]); with
        labels also ``AUROC`` (when both classes occur), ``abnormal flagged`` and ``normal
        flagged``.

    Examples
    --------
    >>> from hourglass.report.html import Report
    >>> report = Report("Digits vs photos")
    >>> X = np.r_[X_test, photo_patches(300)]  # doctest: +SKIP
    >>> labels = np.r_[np.zeros(len(X_test)), np.ones(300)]  # doctest: +SKIP
    >>> anomaly_report_section(report, detector, X, labels, "digits and photos", (8, 8))  # doctest: +SKIP
    """
    check_is_fitted(detector, "offset_")
    errors = detector.anomaly_score(X)
    score_label = score_name(detector)
    truth = None if labels is None else check_binary_labels(labels, len(errors))
    calibration = np.asarray(detector.calibration_errors_, dtype=np.float64)
    threshold = float(detector.threshold_)
    flagged = errors > threshold
    figures: dict[str, float] = {
        "threshold": threshold,
        "flagged": float(flagged.mean()) if len(errors) else float("nan"),
        "calibration flagged": float(np.mean(calibration > threshold)) if len(calibration) else float("nan"),
    }
    units = score_units(detector)
    cards: dict[str, float | str] = {f"threshold ({score_label}, {UNITS_SHORT[units]})": threshold}
    raw_threshold = getattr(detector, "threshold_raw_", None)
    if units != "data" and raw_threshold is not None:
        cards["the same quantile in the data's raw units"] = float(raw_threshold)
    if truth is not None:
        if 0 < truth.sum() < len(truth):
            figures["AUROC"] = float(roc_auc_score(truth, errors))
            cards["AUROC of the score against the labels"] = figures["AUROC"]
        for value, group in ((1, "abnormal"), (0, "normal")):
            if np.any(truth == value):
                figures[f"{group} flagged"] = float(flagged[truth == value].mean())
                what = "recall" if value else "false alarms"
                cards[f"labelled {group} flagged ({what})"] = _percent(figures[f"{group} flagged"])
    cards[f"{name} flagged ({int(flagged.sum()):,} of {len(errors):,})"] = _percent(figures["flagged"])
    cards[f"calibration data flagged ({len(calibration):,} normal samples)"] = _percent(
        figures["calibration flagged"]
    )
    report.add_metrics(cards, heading="Anomaly scores")
    if truth is not None and "AUROC" not in figures:
        report.add_text("The labels hold one class only, so there is no AUROC.")

    groups = (
        {name: errors}
        if truth is None
        else {"labelled normal (0)": errors[truth == 0], "labelled abnormal (1)": errors[truth == 1]}
    )
    groups = {group: values for group, values in groups.items() if len(values)}
    quantiles = {}
    if len(calibration):
        quantiles = {
            ("calibration median" if q == 0.5 else f"calibration {q:.0%}"): float(np.quantile(calibration, q))
            for q in _REFERENCE_QUANTILES
        }
    report.add_figure(
        plots.score_histogram(groups, quantiles, threshold, xlabel=score_axis_label(detector)),
        heading=f"{score_label[0].upper()}{score_label[1:]} against the calibration data",
        caption=f"The {score_label} of each sample of {name}. Dotted lines: quantiles of the scores of "
        f"the {len(calibration):,} normal samples the threshold was calibrated on; dashed: the threshold, "
        "right of which samples are flagged (a pale band behind it: the quantile it was read from).",
    )

    data = np.asarray(X)
    if image_shape is None and data.ndim == 4:
        image_shape = data.shape[1:]
    if image_shape is not None and len(data):
        # Flagged samples spread from the most abnormal down to the threshold: the very top
        # alone is often one kind repeated (e.g. blank paper in every photo patch).
        order = np.argsort(errors)[::-1]
        n_flagged = max(int(flagged.sum()), min(_N_SHOWN, len(order)))
        shown = order[np.unique(np.linspace(0, n_flagged - 1, num=min(_N_SHOWN, n_flagged)).astype(int))]
        titles = [f"{errors[i]:.3g}" + ("" if truth is None else f" · {truth[i]}") for i in shown]
        report.add_figure(
            plots.error_maps(
                data[shown].reshape(len(shown), -1),
                np.asarray(detector.reconstruct(data[shown])).reshape(len(shown), -1),
                detector.error_map(data[shown]).reshape(len(shown), -1),
                tuple(image_shape),
                titles,
            ),
            heading=f"Most abnormal samples of {name}",
            caption="Each column: a sample, its reconstruction and its squared error per pixel (bright: "
            "badly reconstructed; the colour bar gives the scale, shared by all maps). Titles give the "
            + score_label
            + ("" if truth is None else " and the label")
            + f"; samples spread over the {int(flagged.sum()):,} flagged, most abnormal first.",
        )
    return figures


def score_axis_label(detector: AnomalyDetector) -> str:
    """What a detector's scores are, with their units: the x label of its score histogram.

    Parameters
    ----------
    detector : AnomalyDetector
        A fitted detector.

    Returns
    -------
    str
        ``'reconstruction error (MSE)'`` for a reconstruction score in the data's units, the
        units added otherwise; for a combined score its name in medians of normal rows.

    Examples
    --------
    >>> score_axis_label(detector)  # doctest: +SKIP
    'anomaly score (reconstruction error + code distance), in medians of normal rows'
    """
    units = score_units(detector)
    if getattr(detector, "score_kind_", "reconstruction") == "combined":
        name = score_name(detector)
    else:
        name = "reconstruction error (MSE)"  # the label these histograms have always had
    return name if units == "data" else f"{name}, in {UNITS_SHORT[units]}"


def _percent(share: float) -> str:
    return "—" if np.isnan(share) else f"{share:.1%}"


__all__ = ["anomaly_report_section", "score_axis_label"]
