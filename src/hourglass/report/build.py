"""Reports a person would rather look at than read: a comparison with PCA, or one model.

These functions assemble figures from :mod:`hourglass.report.plots` into a
:class:`~hourglass.report.html.Report`;
the CLI only saves what they return.
"""

from __future__ import annotations

import numpy as np

from hourglass.report import plots
from hourglass.report.html import Report
from hourglass.uses.comparison import UNITS_TEXT, Comparison

N_SHOWN = 10  # images per row in reconstruction figures


def _shown(X: np.ndarray, n: int = N_SHOWN) -> np.ndarray:
    # A fixed spread of samples rather than the first few, which are often one class.
    idx = np.linspace(0, len(X) - 1, num=min(n, len(X))).astype(int)
    return X[idx]


def _curves(history) -> dict[str, list[float]]:
    return {"train_loss": history.train_loss, "val_loss": history.val_loss}


def comparison_report(comparison: Comparison, dataset_name: str, image_shape=None, labels=None) -> Report:
    """A report of :func:`hourglass.compare`: table, error vs code size, curves, pictures.

    Parameters
    ----------
    comparison : Comparison
        What :func:`hourglass.compare` returned.
    dataset_name : str
        Shown in the title.
    image_shape : tuple, optional
        How a row reshapes into an image; adds original / AE / PCA reconstructions.
    labels : ndarray, optional
        Labels of ``comparison.X_test`` rows, to colour the code maps.

    Returns
    -------
    Report
        Summary, the table of held-out errors (the lowest ratio marked only when it is below 1),
        error against code size, training curves with the best epochs marked, reconstructions
        (images), and the autoencoder's and PCA's code maps side by side.

    Examples
    --------
    >>> comparison = hourglass.compare(X, [2, 8])  # doctest: +SKIP
    >>> comparison_report(comparison, "digits", (8, 8)).save("report.html")  # doctest: +SKIP
    """
    table = comparison.table
    best = table.loc[table["ratio"].idxmin()]
    units = UNITS_TEXT[comparison.units]
    report = Report(
        f"Autoencoder vs PCA on {dataset_name}",
        f"{len(comparison.X_train)} training and {len(comparison.X_test)} held-out samples, "
        f"{comparison.X_train.shape[1]} features; code sizes {', '.join(map(str, table['code_size']))}; "
        f"errors {units}",
    )
    report.add_metrics(
        {
            "lowest AE / PCA error ratio (below 1: the autoencoder wins)": float(best["ratio"]),
            "at code size": int(best["code_size"]),
            "AE held-out MSE there": float(best["ae_mse"]),
            "PCA held-out MSE there": float(best["pca_mse"]),
        },
        heading="Summary",
    )
    if comparison.note:
        report.add_text(comparison.note + ".", heading="Units")
    columns = {
        "code_size": "code size",
        "ae_mse": "AE MSE",
        "pca_mse": "PCA MSE",
        "ratio": "AE / PCA",
        "ae_mse_raw": "AE MSE, raw units",
        "pca_mse_raw": "PCA MSE, raw units",
        "ratio_raw": "AE / PCA, raw units",
        "ae_seconds": "AE fit seconds",
        "pca_seconds": "PCA fit seconds",
        "ae_epochs": "AE epochs",
    }
    report.add_table(
        comparison.shown_table().rename(columns=columns),
        heading="Held-out reconstruction error",
        caption=f"Mean squared error on held-out samples, {units}; PCA was fitted on the same scaled "
        "training rows as the autoencoder. A ratio below 1 means the autoencoder reconstructs better "
        "than PCA with the same number of code dimensions.",
        highlight={"AE / PCA": "min", "AE MSE": "min", "PCA MSE": "min"},
        # The lowest ratio is a success only if the autoencoder beats PCA there.
        better_than={"AE / PCA": 1.0},
    )
    ylabel = "held-out MSE" + (", standardized units" if comparison.units == "standardized" else "")
    report.add_figure(plots.error_vs_code_size(table, ylabel), heading="Error against code size")
    histories = {f"AE k={k}": _curves(m["ae"].history_) for k, m in comparison.models.items()}
    best_epochs = {f"AE k={k}": m["ae"].history_.best_epoch for k, m in comparison.models.items()}
    report.add_figure(
        plots.loss_curves(histories, best_epochs),
        heading="Training curves",
        caption="Training and validation loss per epoch (the loss each model trained on: "
        + ", ".join(sorted(set(table["loss"])))
        + "); a star marks the epoch whose weights each model kept. Training recipe: "
        + "; ".join(f"k={k}: {m['ae'].history_.recipe_summary()}" for k, m in comparison.models.items())
        + ".",
    )
    X_test = comparison.X_test
    if image_shape is not None:
        originals = _shown(X_test)
        for k, models in comparison.models.items():
            rows = {"original": originals, f"AE k={k}": models["ae"].reconstruct(originals)}
            rows[f"PCA k={k}"] = comparison.pca_reconstruct(k, originals)
            report.add_figure(
                plots.reconstruction_grid(rows, image_shape), heading=f"Reconstructions at k={k}"
            )
    if labels is None:
        labels = comparison.y_test
    k_map = min(comparison.models)
    ae, pca = comparison.models[k_map]["ae"], comparison.models[k_map]["pca"]
    pca_codes = pca.transform(ae.scaler_.transform(X_test))
    report.add_figure(
        plots.code_maps(
            {f"autoencoder codes, k={k_map}": ae.transform(X_test), f"PCA codes, k={k_map}": pca_codes},
            labels,
        ),
        heading="Map of the codes",
        caption=f"Each held-out sample placed by its code at k={k_map}, autoencoder left and PCA right (by "
        "the first two principal components of the code when it has more than two dimensions)"
        + ("; colours are the labels." if labels is not None else "."),
    )
    return report


def model_report(estimator, X: np.ndarray, dataset_name: str, image_shape=None, labels=None) -> Report:
    """A report on one fitted model and the data it was fitted on.

    Shows summary figures, the training curves with the best epoch marked, reconstructions next
    to the originals (for image-like rows), the map of the codes, the histogram of per-sample
    errors, and any sections the estimator adds (``_report_sections``: sparse-code metrics,
    dictionary atoms, task panels). There is no PCA here: :func:`comparison_report` compares.

    Parameters
    ----------
    estimator : BaseAutoEncoder
        A fitted hourglass estimator.
    X : ndarray
        Data it was fitted on (or a sample of it), in the shape it takes.
    dataset_name : str
        Shown in the title.
    image_shape : tuple, optional
        How a row reshapes into an image; adds originals over reconstructions.
    labels : ndarray, optional
        One label per row of ``X``, to colour the code map.

    Returns
    -------
    Report

    Examples
    --------
    >>> model_report(ae, X, "digits", (8, 8), y).save("fit-report/report.html")  # doctest: +SKIP
    """
    error = estimator.reconstruction_error(X)
    report = Report(
        f"{type(estimator).__name__} on {dataset_name}",
        f"code size {estimator._n_features_out}, loss {estimator.loss_} ({estimator.loss_reason_}), "
        f"{estimator.n_epochs_} epochs in {estimator.fit_seconds_:.1f} s on {estimator.device_}",
    )
    report.add_metrics(
        {
            # On the data the model was fitted on: an in-sample error, and the label says so.
            "mean reconstruction MSE, fitting data": float(error.mean()),
            "best epoch": int(estimator.history_.best_epoch),
            "epochs run": int(estimator.n_epochs_),
            "fit seconds": float(estimator.fit_seconds_),
        },
        heading="Summary",
    )
    history = estimator.history_
    report.add_figure(
        plots.loss_curves({"model": _curves(history)}, {"model": history.best_epoch}),
        heading="Training curves",
        caption=(
            f"Loss per epoch; the star marks epoch {history.best_epoch}, whose weights the model kept. "
            if history.best_epoch
            else "Loss per epoch. "
        )
        + "Training recipe: "
        + history.recipe_summary()
        + ".",
    )
    if image_shape is not None and X.ndim == 2:
        originals = _shown(X)
        rows = {"original": originals, "reconstruction": estimator.reconstruct(originals)}
        report.add_figure(plots.reconstruction_grid(rows, image_shape), heading="Reconstructions")
    if X.ndim == 2:
        report.add_figure(plots.code_map(estimator.transform(X), labels), heading="Map of the codes")
    report.add_figure(
        plots.histogram(error, "reconstruction error per sample", "mean squared error", log=True),
        heading="Reconstruction error",
    )
    sections = getattr(estimator, "_report_sections", None)
    if sections is not None:
        sections(report, X, image_shape=image_shape)
    return report
