"""Reports a person would rather look at than read: a comparison with PCA, or one model.

These functions assemble figures from :mod:`hourglass.report.plots` into a
:class:`~hourglass.report.html.Report`;
the CLI only saves what they return.
"""

from __future__ import annotations

import numpy as np

from hourglass.data.units import UNITS_SHORT, ratio_text, units_of
from hourglass.exceptions import InvalidInputError
from hourglass.report import plots
from hourglass.report.html import Report
from hourglass.report.sections import add_model_sections
from hourglass.train.tasks import task_of
from hourglass.uses.comparison import UNITS_TEXT, Comparison
from hourglass.uses.restoration import task_summary
from hourglass.uses.verdicts import TIE_MARGIN, outcome

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
        How a row reshapes into an image; adds original / AE / PCA reconstructions. Samples
        that are images already ``(n, c, h, w)`` (a convolutional autoencoder's) need none.
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
    units = UNITS_TEXT[comparison.units]
    sample_shape = tuple(comparison.X_train.shape[1:])
    if len(sample_shape) == 3 and sample_shape[0] in (1, 3):
        image_shape = sample_shape  # images (c, h, w), shown as they are
    values = (
        f"{sample_shape[0]} features"
        if len(sample_shape) == 1
        else f"samples of shape {' x '.join(map(str, sample_shape))}"
    )
    report = Report(
        f"Autoencoder vs PCA on {dataset_name}",
        f"{len(comparison.X_train)} training and {len(comparison.X_test)} held-out samples, "
        f"{values}; code sizes {', '.join(map(str, table['code_size']))}; errors {units}",
    )
    cards, tones = ratio_cards(table, comparison.units)
    report.add_metrics(cards, heading="Summary", tones=tones)
    verdict = comparison.verdict()
    report.add_text(
        f"{verdict[0].upper()}{verdict[1:]}. Each card: the autoencoder's held-out error over PCA's at "
        f"one code size, {units}; below {1 - TIE_MARGIN:g} the autoencoder wins (green), above "
        f"{1 + TIE_MARGIN:g} PCA wins (red), and between them it is a tie."
    )
    if comparison.note:
        report.add_text(comparison.note + ".", heading="Units" if len(sample_shape) == 1 else "Code size")
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
        f"training rows as the autoencoder. A ratio below {1 - TIE_MARGIN:g} means the autoencoder "
        f"reconstructs better than PCA with the same number of code dimensions (within {TIE_MARGIN:.0%} "
        "of 1, a tie).",
        highlight={"AE / PCA": "min", "AE MSE": "min", "PCA MSE": "min"},
        # The lowest ratio is a success only if the autoencoder beats PCA there, as the verdict says.
        better_than={"AE / PCA": 1 - TIE_MARGIN},
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
        # One colour scale for every row: the training data's range; reconstructions (PCA's
        # above all) that overshoot it are clipped to it for display, not drawn on a scale of
        # their own, which would make them look washed out.
        low, high = float(comparison.X_train.min()), float(comparison.X_train.max())
        for k, models in comparison.models.items():
            rows = {
                "original": originals,
                f"AE k={k}": models["ae"].reconstruct(originals),
                f"PCA k={k}": comparison.pca_reconstruct(k, originals),
            }
            rows = {name: np.clip(r, low, high).reshape(len(r), -1) for name, r in rows.items()}
            report.add_figure(
                plots.reconstruction_grid(rows, image_shape, value_range=(low, high)),
                heading=f"Reconstructions at k={k}",
                caption=f"Held-out samples: originals, the autoencoder and PCA with {k} components, all on "
                f"one colour scale, the training data's range [{low:.3g}, {high:.3g}]; values outside it "
                "(PCA's often) are clipped to it for display, the errors above are not.",
            )
    if labels is None:
        labels = comparison.y_test
    k_map = min(comparison.models)
    ae, pca = comparison.models[k_map]["ae"], comparison.models[k_map]["pca"]
    pca_codes = pca.transform(ae.scaler_.transform(X_test).reshape(len(X_test), -1))
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


def ratio_cards(table, units: str = "data") -> tuple[dict[str, str], dict[str, str]]:
    """One card per code size: the AE / PCA ratio in ``units``, marked a win or a loss as the
    verdict judges it (:func:`~hourglass.uses.verdicts.outcome`: within 1 % of 1, a tie, unmarked),
    its label saying so where the data's raw units (``ratio_raw``) give the other verdict.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"code_size": [2, 8, 16], "ratio": [0.7864, 1.18, 1.004],
    ...                       "ae_mse": [0.2, 0.1, 0.1], "pca_mse": [0.25, 0.085, 0.1]})
    >>> cards, tones = ratio_cards(table)
    >>> list(cards.values()), list(tones.values())
    (['0.786x PCA', '1.18x PCA', '1.004x PCA'], ['win', 'loss'])
    >>> print(list(cards)[2])
    code size 16: a tie (AE 0.1, PCA 0.1)
    >>> print(list(ratio_cards(table.assign(ratio_raw=[2.42, 1.1, 1.0]), "standardized")[0])[0])
    ... # doctest: +NORMALIZE_WHITESPACE
    code size 2: the autoencoder wins in standardized units (AE 0.2, PCA 0.25);
    PCA wins in the data's raw units (2.42x)
    """
    cards, tones = {}, {}
    in_units = "" if units == "data" else f" in {UNITS_SHORT[units]}"
    for row in table.itertuples(index=False):
        ratio = float(row.ratio)
        # The verdict's rule: 0.995 read "the autoencoder wins" in green beside a verdict of a tie.
        judged = outcome(ratio)
        label = (
            f"code size {int(row.code_size)}: {_OUTCOME_WORDS[judged]}{in_units} "
            f"(AE {row.ae_mse:.4g}, PCA {row.pca_mse:.4g})"
        )
        raw = float(getattr(row, "ratio_raw", ratio))
        if units != "data" and outcome(raw) != judged:
            label += f"; {_OUTCOME_WORDS[outcome(raw)]} in the data's raw units ({ratio_text(raw)})"
        cards[label] = f"{ratio_text(ratio)} PCA"
        if judged != "tie":
            tones[label] = judged
    return cards, tones


_OUTCOME_WORDS = {"win": "the autoencoder wins", "loss": "PCA wins", "tie": "a tie"}


def _model_subtitle(estimator) -> str:
    """What the model is: its code (none for a U-Net), task settings, loss and training time."""
    skips = getattr(getattr(estimator, "architecture_", None), "skip_connections", False)
    code = f"code size {estimator._n_features_out}"
    parts = ["U-Net (skip connections, so no code size)" if skips else code]
    task = task_of(estimator).describe()
    if task is not None:
        parts.append(task)
    parts.append(f"loss {estimator.loss_} ({estimator.loss_reason_})")
    parts.append(f"{estimator.n_epochs_} epochs in {estimator.fit_seconds_:.1f} s on {estimator.device_}")
    return ", ".join(parts)


def _image_samples(X: np.ndarray) -> bool:
    return X.ndim == 4 and X.shape[1] in (1, 3)


def model_report(
    estimator,
    X: np.ndarray,
    dataset_name: str,
    image_shape=None,
    labels=None,
    held_out=None,
    held_out_source: str | None = None,
    data_role: str | None = None,
) -> Report:
    """A report on one fitted model and the data it was fitted on.

    Shows the training curves (the best epoch marked), reconstructions next to the originals
    (for image-like data, rows or ``(n, c, h, w)`` images, with PCA at the same code size for a
    flat conv code),
    the map of the codes, and the sections of the estimator's kind (:mod:`hourglass.report.sections`). For a
    restoration task (``task`` other than 'reconstruct') the headline is the task's PSNR
    against its classical baseline, not the reconstruction error of clean input.

    Parameters
    ----------
    estimator : fitted AutoEncoder or ConvAutoEncoder
    X : ndarray
        Samples to show and score. The data the model was just fitted on is cut to its training
        items (the validation items are the held-out figures'), which the labels then name;
        other samples (or those of a model loaded from a folder, which keeps no split) are
        labelled the samples given.
    dataset_name : str
    image_shape : tuple, optional
        How a row of ``X`` reshapes into an image.
    labels : ndarray, optional
        Labels of the samples of ``X``, to colour the code map.
    held_out : ndarray, optional
        Samples the model never trained on. Every error is measured on them when given, on
        ``X`` otherwise, and each is labelled accordingly.
    held_out_source : str, optional
        Where ``held_out`` comes from (e.g. "the validation split"), shown in the summary.
    data_role : {'training'}, optional
        Say that ``X`` holds training samples only, as the CLI does with a sample of them; by
        default the report finds out as described under ``X``.
    """
    restoration = task_of(estimator).restoration
    scored, labels, role = _scored_samples(estimator, X, labels, held_out, data_role)
    what = _samples_text(role, len(scored))
    report = Report(f"{type(estimator).__name__} on {dataset_name}", _model_subtitle(estimator))
    summary: dict[str, float | str] = {}
    if held_out is not None and held_out_source:
        summary["held-out data"] = held_out_source
    error, note = None, None
    if restoration:
        summary.update(task_summary(estimator, scored, role))
    else:
        _held_out_summary(summary, estimator)
        error, note = _error_summary(summary, estimator, scored, what)
    summary.update(
        {
            "best epoch": int(estimator.history_.best_epoch),
            "epochs run": int(estimator.n_epochs_),
            "fit seconds": float(estimator.fit_seconds_),
        }
    )
    report.add_metrics(summary, heading="Summary")
    if note:
        report.add_text(note + ".", heading="Units")
    history = estimator.history_
    report.add_figure(
        plots.loss_curves({"model": _curves(history)}, {"model": history.best_epoch}),
        heading="Training curves",
        caption=(
            f"Loss per epoch; the star marks epoch {history.best_epoch}, whose weights the model kept. "
            if history.best_epoch
            else "Loss per epoch. "
        )
        + _loss_units(estimator)
        + "Training recipe: "
        + history.recipe_summary()
        + ".",
    )
    if not restoration:
        if len(getattr(estimator, "input_shape_", ())) == 3:
            # As the model reads them: gray (n, h, w) images with color_mode='L' are (n, 1, h, w),
            # and had no reconstructions or code map, which (n, 1, h, w) got.
            scored = estimator._validate_input(scored, reset=False)
        _reconstruction_sections(report, estimator, scored, what, image_shape, labels)
        units = UNITS_SHORT[units_of(estimator.scaler_)]
        report.add_figure(
            plots.histogram(
                error, f"reconstruction error per sample ({what})", f"mean squared error, {units}", log=True
            ),
            heading="Reconstruction error",
            caption=f"Mean squared error of each of the {what}, {units}; the dashed line is the median.",
        )
    # The training role unless a restoration task scores held-out images, as before the move.
    add_model_sections(report, estimator, scored, image_shape, role if restoration else "training")
    return report


def _scored_samples(estimator, X, labels, held_out, data_role) -> tuple[np.ndarray, object, str]:
    """The samples a model report scores, their labels, and what they are: 'training',
    'held-out', or 'given' (samples the report cannot place)."""
    from hourglass.estimators.fitting import training_rows

    if held_out is not None:
        return np.asarray(held_out), None, "held-out"  # the labels are X's
    if data_role is not None:
        if data_role != "training":
            raise InvalidInputError(f"data_role={data_role!r}; expected 'training' or None")
        return X, labels, "training"
    # The fit's data whole (training and validation rows) was scored and labelled "training data".
    rows = training_rows(estimator, X)
    if rows is None:
        return X, labels, "given"
    if labels is not None and len(labels) == len(X):
        labels = np.asarray(labels)[rows]
    return X[rows], labels, "training"


def _samples_text(role: str, n: int) -> str:
    """'160 training samples', '18 held-out samples', '178 samples given': what a figure shows."""
    noun = "sample" if n == 1 else "samples"
    return f"{n} {noun} given" if role == "given" else f"{n} {role} {noun}"


def _loss_units(estimator) -> str:
    """What a VAE's loss curve is per: one value (the card's ELBO is per sample), or nothing."""
    if not hasattr(estimator, "log_likelihood"):
        return ""
    shape = getattr(estimator, "input_shape_", None) or (getattr(estimator, "n_features_in_", 0),)
    values = int(np.prod(shape))
    if not values:
        return ""
    module = getattr(estimator, "module_", None)
    variance = getattr(module, "noise_variance", None)
    if getattr(module, "likelihood", "bernoulli") == "bernoulli" or variance is None:
        return (
            f"The loss is the negative ELBO per value: the summary's ELBO per sample, in nats, is "
            f"about -{values} times it (one sample holds {values} values). "
        )
    # A Gaussian likelihood trains on the MSE, the KL weighted by 2 sigma^2 per value: "the ELBO is
    # -values times the loss" read -13 against the card's -22.6 on wine. The two are not one scale.
    return (
        f"The loss is the MSE per value plus the KL term weighted by 2 sigma^2 / {values} (a Gaussian "
        f"likelihood, its noise variance sigma^2 = {float(variance):.3g} learned in training); the "
        "summary's ELBO per sample, in nats, adds the likelihood's normalizing constant, so the two "
        "are not on one scale. "
    )


def _held_out_summary(summary: dict, estimator) -> None:
    """The fit's held-out error and PCA's on the same rows at the same code size, first: the
    figures the end-of-fit line prints, with its raw-unit figure and its caveat on few rows, from
    the same :func:`~hourglass.estimators.held_out.held_out_error` (the report showed the training
    error alone, so a model at 20x PCA's held-out error looked fine)."""
    from hourglass.estimators.held_out import held_out_error

    figures = held_out_error(estimator)
    if figures is None or not np.isfinite(figures.scaled):
        return
    where = f"{figures.rows} validation rows" if figures.rows is not None else "the validation split"
    summary[f"held-out MSE ({where}, {UNITS_SHORT[figures.units]})"] = figures.scaled
    if figures.units != "data":  # the end-of-fit line's figure in brackets
        summary[f"held-out MSE ({where}, the data's raw units)"] = figures.raw
    caveat = f", {figures.caveat}" if figures.caveat else ""
    if figures.ratio is None:  # PCA does not compare, or is exact
        if caveat:
            summary["held-out figures"] = figures.caveat
        return
    k = getattr(estimator, "n_features_out_", None) or getattr(estimator, "_n_features_out", "k")
    summary[f"PCA's held-out MSE (code size {k}, same rows)"] = figures.pca
    ratio = ratio_text(figures.ratio)
    summary[f"autoencoder / PCA, held out (below 1: the autoencoder wins){caveat}"] = ratio


def _error_summary(summary: dict, estimator, X: np.ndarray, what: str) -> tuple[np.ndarray, str | None]:
    """The headline error on ``what`` (the samples ``X``, in words) in the model's units with the
    raw one beside; per-sample errors and a note.

    The note says when a few columns hold most of the raw-unit error (tables only).
    """
    from hourglass.uses.dominance import scaled_dominance_note

    units = units_of(estimator.scaler_)
    error = estimator.reconstruction_error(X, scaled=True)
    if units == "data":  # one figure: the data's units are the model's
        summary[f"mean reconstruction MSE ({what})"] = float(error.mean())
        return error, None
    summary[f"mean reconstruction MSE ({what}, {UNITS_SHORT[units]})"] = float(error.mean())
    raw = estimator.reconstruct(X).astype(np.float64) - np.asarray(X, dtype=np.float64)
    summary[f"mean reconstruction MSE ({what}, the data's raw units)"] = float(np.mean(raw**2))
    if raw.ndim != 2:
        return error, None
    names = getattr(getattr(estimator, "table_", None), "features", None)
    names = list(names) if names else None
    return error, scaled_dominance_note(np.mean(raw**2, axis=0), names, estimator.scaler_)


def _reconstruction_sections(
    report: Report, estimator, X: np.ndarray, what: str, image_shape, labels
) -> None:
    """Originals over reconstructions (and PCA for a conv model's flat code), and the code map,
    of ``X``: ``what`` in words."""
    from sklearn.decomposition import PCA

    if (image_shape is not None and X.ndim == 2) or _image_samples(X):
        shape = tuple(image_shape) if X.ndim == 2 else X.shape[1:]
        originals = _shown(X)
        rows = {"original": originals, "reconstruction": estimator.reconstruct(originals)}
        k, d = estimator._n_features_out, int(np.prod(X.shape[1:]))
        pca_note = ""
        if X.ndim != 2 and k < min(len(X), d):
            # PCA on the same samples' flattened pixels, as the autoencoder's scaler maps them.
            from hourglass.uses.comparison import pca_reconstruct

            flat = estimator.scaler_.transform(X).reshape(len(X), -1)
            pca = PCA(n_components=k, svd_solver="full").fit(flat)
            rows[f"PCA k={k}"] = pca_reconstruct(pca, estimator.scaler_, originals)
            pca_note = f" PCA with {k} components (the code's values) was fitted on the {what}."
        # One colour scale for every row: each row on its own drew digits' zero background black
        # in the originals and grey in the reconstructions.
        low, high = float(np.nanmin(X)), float(np.nanmax(X))
        rows = {name: np.clip(r, low, high).reshape(len(r), -1) for name, r in rows.items()}
        report.add_figure(
            plots.reconstruction_grid(rows, shape, value_range=(low, high)),
            heading="Reconstructions",
            caption=(
                f"All {what}"
                if len(originals) == len(X)
                else f"{len(originals)} of the {what}, spread over them"
            )
            + "; rows top to bottom: "
            + ", ".join(rows)
            + f"; all on one colour scale, the data's range [{low:.3g}, {high:.3g}] (values outside it "
            f"clipped for display).{pca_note}",
        )
    if X.ndim == 2 or _image_samples(X):
        label = getattr(getattr(estimator, "table_", None), "label", None)
        report.add_figure(
            plots.code_map(estimator.transform(X), labels, legend_title=label or "label"),
            heading="Map of the codes",
            caption=f"Each of the {what} placed by its code (by the code's first two principal "
            "components when it has more than two values)"
            + (f"; colours are the '{label}' column." if label and labels is not None else "."),
        )
