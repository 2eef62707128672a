"""Analysis commands: ``cluster`` the codes, ``calibrate`` an anomaly threshold, ``score`` anomalies."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hourglass.choices import SCORE_KINDS
from hourglass.cli.app import command, echo
from hourglass.cli.arguments import DataArg, Drop, Force, Key, Label, ModelArg, Quiet, ReportPath
from hourglass.cli.inputs import is_dense, load_for_model, load_model, model_rows, with_key_columns
from hourglass.cli.options import MAX_SEED
from hourglass.cli.outputs import refuse_file_name_for_folder, report_file
from hourglass.data.fileio import check_writable
from hourglass.data.saving import TABLE_SAVE_SUFFIXES, check_save_suffix, save_table
from hourglass.exceptions import InvalidInputError

if TYPE_CHECKING:  # annotations only; the commands import what they use
    import numpy as np
    import pandas as pd

    from hourglass.data.loading import Dataset


#: Error maps written by ``score --maps`` when ``--n-maps`` is not given: the most abnormal ones.
DEFAULT_MAPS = 16

#: ``calibrate --score``: the kinds of score of :class:`~hourglass.AnomalyDetector`.
ScoreKind = Enum("ScoreKind", {name: name for name in SCORE_KINDS}, type=str)


class Method(str, Enum):
    gmm = "gmm"
    kmeans = "kmeans"
    hdbscan = "hdbscan"


class Manifold(str, Enum):
    spectral = "spectral"
    umap = "umap"
    isomap = "isomap"
    tsne = "tsne"
    none = "none"


#: The article of a manifold step's name as it is read aloud ("a umap": you-map; "an isomap").
_ARTICLES = {"isomap": "an"}


def _labels_column(labels: str | None, data: str) -> str | None:
    """``--labels`` as a column of DATA: a value that is no file, given with a table."""
    from hourglass.data.loading import TABLE_SUFFIXES
    from hourglass.data.text_tables import table_suffix

    if labels is None or Path(labels).exists() or table_suffix(data) not in TABLE_SUFFIXES:
        return None
    return labels


def _load_with_labels(
    estimator,
    data: str,
    key: str | None,
    drop: str | None,
    label: str | None,
    labels: str | None,
    quiet: bool = False,
) -> tuple[Dataset, np.ndarray | None]:
    """DATA for the model and the truth: a ``--labels`` file or column, else the table's label column."""
    from hourglass.data.labels import read_labels

    column = _labels_column(labels, data)
    if column is not None and label is not None and column != label:
        raise InvalidInputError(f"--labels {column!r} and --label {label!r} name two label columns; give one")
    try:
        dataset = load_for_model(estimator, data, key, drop, column or label, quiet)
    except InvalidInputError as exc:
        # The column came from --labels, and no file has that name either: say both, as --labels.
        prefix, message = f"--label {column!r}: ", str(exc)
        if column is None or not message.startswith(prefix) or "has no such column" not in message:
            raise
        reason = message.removeprefix(prefix).replace(
            "expected one of its columns", "expected a labels file or one of its columns"
        )
        raise InvalidInputError(f"--labels {labels!r}: no such file, and {reason}") from None
    if labels is None or column is not None:
        return dataset, dataset.y
    return dataset, read_labels(labels, len(dataset.X), repr(dataset.name))


def _print_table(table: pd.DataFrame) -> None:
    echo(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


@command()
def cluster(
    model: ModelArg,
    data: DataArg,
    labels: Annotated[
        str | None,
        typer.Option(
            help="True classes: a file (.npy, .txt with one per line, a one-column .csv, IDX) or a column "
            "of DATA; default: the label column the model was fitted with, or DATA's own labels.",
            metavar="FILE|COL",
        ),
    ] = None,
    method: Annotated[
        Method, typer.Option(help="kmeans (after the spectral step: spectral clustering), gmm or hdbscan.")
    ] = Method.kmeans,
    n_clusters: Annotated[
        int | None,
        typer.Option(help="Clusters (kmeans, gmm); default: number of labels, else by silhouette."),
    ] = None,
    manifold: Annotated[
        Manifold,
        typer.Option(
            help="Embed the codes before clustering (N2D): spectral, umap (needs umap-learn), isomap, "
            "tsne, or none."
        ),
    ] = Manifold.spectral,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the cluster of each sample to this .csv or .parquet."),
    ] = None,
    report: ReportPath = None,
    seed: Annotated[int, typer.Option(help="Random seed of the clustering.", min=0, max=MAX_SEED)] = 0,
    key: Key = None,
    drop: Drop = None,
    label: Label = None,
    force: Force = False,
    quiet: Quiet = False,
):
    """Cluster the codes of DATA; with labels, compare with raw data and PCA codes (NMI, ARI, accuracy)."""
    import numpy as np
    import pandas as pd

    from hourglass.report.clustering import cluster_report_section
    from hourglass.uses.clustering import cluster as cluster_codes

    if output is not None:
        check_save_suffix(output, TABLE_SAVE_SUFFIXES)  # before any work; the assignments are a table
    for path in (output, None if report is None else report_file(report)):
        if path is not None:
            check_writable(path, force, file=True)
    estimator = load_model(model)
    dataset, truth = _load_with_labels(estimator, data, key, drop, label, labels, quiet)
    if truth is not None and labels is None and label is None and len(np.unique(truth)) < 2:
        # Labels nobody asked for, of one class (a slice of one cultivar): every clustering would
        # score a perfect 1.0 against them, so cluster without them. Asked-for ones are refused.
        echo(f"note: DATA's labels hold one class ({truth[0]}): clustering without metrics", quiet)
        truth = None
    result = cluster_codes(
        estimator,
        model_rows(estimator, dataset),
        method=method.value,
        n_clusters=n_clusters,
        labels=truth,
        manifold=None if manifold is Manifold.none else manifold.value,
        random_state=seed,
    )
    sizes = np.bincount(result.assignments[result.assignments >= 0])
    article = _ARTICLES.get(result.manifold, "a")
    step = f" after {article} {result.manifold} embedding" if result.manifold else ""
    noise = int(np.sum(result.assignments < 0))  # HDBSCAN's points in no cluster
    unclustered = f"; {noise} in none (noise, cluster -1)" if noise else ""
    clusters = f"{result.n_clusters} cluster" + ("" if result.n_clusters == 1 else "s")
    echo(
        f"{len(dataset.X)} samples in {clusters} by {result.method}{step} "
        f"(sizes {', '.join(map(str, sizes))}{unclustered})",
        quiet,
    )
    if result.metrics is not None:
        from hourglass.uses.clustering import SCALING_TEXT

        # The metrics are the result, not chatter: printed under --quiet too, as compare's table.
        _print_table(result.metrics)
        echo(f"PCA codes and raw data: {SCALING_TEXT.get(result.scaling, result.scaling)}")
    for name, text in result.fallbacks.items():  # why a row's manifold reads 'none' under a spectral pipeline
        echo(f"note: {name}: {text}", quiet)
    if output is not None:
        table = pd.DataFrame({"cluster": result.assignments})
        if truth is not None:
            table["label"] = truth
        table = with_key_columns(estimator, dataset, table)  # an id column, first
        save_table(output, table, force)
        echo(f"wrote the assignments to {output}", quiet)
    if report is not None:
        from hourglass.report.html import Report

        page = Report(f"Clusters of {dataset.name}", f"{result.method} on the codes of {model}")
        cluster_report_section(page, result)
        path = page.save(report_file(report), force)
        echo(f"wrote the report to {path}", quiet)


@command()
def calibrate(
    model: ModelArg,
    normal: Annotated[
        str,
        typer.Argument(
            help="Normal samples the model did not train on (same formats as DATA).", metavar="NORMAL"
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Detector model folder to write.")],
    quantile: Annotated[
        float, typer.Option(help="Flag errors above this quantile of the normal samples' errors.")
    ] = 0.99,
    score: Annotated[
        ScoreKind, typer.Option(help="combined (reconstruction error + code distance) or reconstruction.")
    ] = ScoreKind.combined,
    key: Key = None,
    drop: Drop = None,
    label: Label = None,
    force: Force = False,
    quiet: Quiet = False,
):
    """Turn a fitted MODEL into an anomaly detector whose threshold is calibrated on NORMAL data.

    The score is the reconstruction error plus half the code's distance from NORMAL's codes,
    each in medians of NORMAL (--score reconstruction: the error alone, in the model's units,
    per-feature z-scores for standardized data, with the raw-unit figure beside).
    """
    from hourglass.estimators.anomaly import AnomalyDetector

    check_writable(output, force)
    refuse_file_name_for_folder(output, "a detector model folder")
    estimator = load_model(model)
    if isinstance(estimator, AnomalyDetector):
        estimator = estimator.estimator_
    rows = model_rows(estimator, load_for_model(estimator, normal, key, drop, label, quiet))
    detector = AnomalyDetector(estimator, quantile=quantile, score_kind=score.value).fit(rows)
    detector.save(output, force=force)
    from hourglass.data.units import headline
    from hourglass.estimators.anomaly import score_units
    from hourglass.estimators.outlier_scores import score_name

    threshold = headline(detector.threshold_, detector.threshold_raw_, score_units(detector))
    echo(
        f"threshold {threshold}: the {quantile} quantile of the {score_name(detector)} of "
        f"{len(detector.calibration_errors_)} normal samples; saved the detector to {output}",
        quiet,
    )
    note = _dominance(detector, rows)
    if note:
        echo(f"note: {note}", quiet)


def _dominance(detector, rows) -> str | None:
    """The note when a few columns hold most of the raw-unit error (why scores are standardized)."""
    import numpy as np

    from hourglass.estimators.anomaly import score_units
    from hourglass.uses.dominance import scaled_dominance_note

    inner = detector.estimator_
    if score_units(detector) == "data" or not is_dense(inner):
        return None
    schema = getattr(inner, "table_", None)
    names = list(schema.features) if schema is not None and schema.features else None
    return scaled_dominance_note(np.mean(detector.error_map(rows), axis=0), names, inner.scaler_)


def _parse_threshold(text: str) -> float | None:
    import numpy as np

    if text == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        raise InvalidInputError(
            f"--threshold {text!r}; expected 'auto' or a score on the threshold's scale such as 0.02"
        ) from None
    if not np.isfinite(value) or value < 0:
        raise InvalidInputError(f"--threshold {text!r}; expected a finite score >= 0")
    return value


def _write_maps(folder: Path, maps: np.ndarray, errors: np.ndarray, n_maps: int, force: bool) -> int:
    """Write the error maps of the ``n_maps`` most abnormal samples (0: all) as PNGs, on one scale."""
    import numpy as np

    from hourglass.data.images import save_image

    order = np.argsort(errors)[::-1]
    order = order if n_maps == 0 else order[:n_maps]
    if maps.ndim == 4:
        maps = maps.mean(axis=1)  # (n, c, h, w) -> (n, h, w): one map per image
    # One scale for all maps, so that brighter means worse across files; a high percentile
    # rather than the max keeps a single hot pixel from darkening everything else.
    scale = float(np.percentile(maps[order], 99.9)) or 1.0
    folder.mkdir(parents=True, exist_ok=True)
    for rank, index in enumerate(order):
        save_image(
            folder / f"rank{rank:04d}_sample{index:06d}.png", np.clip(maps[index] / scale, 0, 1), force=force
        )
    return len(order)


def _scores(estimator, detector, rows) -> tuple[np.ndarray, np.ndarray, str]:
    """Per-sample scores on the threshold's scale, beside them the reconstruction error in the
    data's raw units, and the scores' units' name.

    A detector scores as it was fitted to (a combined score, in medians of its normal rows, or
    the reconstruction error in its ``score_units_``); a plain model by the reconstruction
    error in its own units (z-scores for standardized data), as every headline does.
    """
    from hourglass.data.units import units_of

    if detector is not None and getattr(detector, "score_kind_", "reconstruction") == "combined":
        return detector.anomaly_score(rows), detector.reconstruction_error(rows, scaled=False), "medians"
    scaled = detector is None or getattr(detector, "score_units_", "raw") == "scaled"
    inner = detector.estimator_ if detector is not None else getattr(estimator, "estimator_", estimator)
    units = units_of(inner.scaler_) if scaled else "data"
    errors = inner.reconstruction_error(rows, scaled=scaled)
    return errors, (inner.reconstruction_error(rows) if units != "data" else errors), units


@command()
def score(
    model: ModelArg,
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Scores per sample: .csv or .parquet.")],
    threshold: Annotated[
        str,
        typer.Option(
            help="'auto' (the detector's calibrated threshold) or a fixed one on its score's scale "
            "(a reconstruction MSE for a plain model)."
        ),
    ] = "auto",
    normal: Annotated[
        str | None, typer.Option(help="Normal data to calibrate a threshold on, for a model without one.")
    ] = None,
    quantile: Annotated[
        float, typer.Option(help="Quantile of the --normal errors used as threshold.")
    ] = 0.99,
    maps: Annotated[
        Path | None, typer.Option(help="Folder to write per-pixel error maps (PNG) into.")
    ] = None,
    n_maps: Annotated[
        int, typer.Option(help="Error maps to write, most abnormal first (0: all).")
    ] = DEFAULT_MAPS,
    report: ReportPath = None,
    labels: Annotated[
        str | None,
        typer.Option(
            help="The truth, one 0 (normal) or 1 (abnormal) per sample: a file (.npy, .txt, .csv) or a "
            "column of DATA; prints the AUROC and adds it to the report.",
            metavar="FILE|COL",
        ),
    ] = None,
    key: Key = None,
    drop: Drop = None,
    label: Label = None,
    force: Force = False,
    quiet: Quiet = False,
):
    """Score DATA; flag samples above the threshold (prediction -1).

    A detector scores as it was calibrated (by default the reconstruction error plus the code's
    distance from normal codes); a plain model, or --normal's new detector, as 'calibrate' does.
    """
    import numpy as np
    import pandas as pd

    from hourglass.estimators.anomaly import AnomalyDetector, check_binary_labels
    from hourglass.estimators.outlier_scores import score_name
    from hourglass.report.anomaly import anomaly_report_section

    if output.suffix.lower() not in TABLE_SAVE_SUFFIXES:
        raise InvalidInputError(f"--output {str(output)!r}: scores are written as .csv or .parquet")
    check_save_suffix(output, TABLE_SAVE_SUFFIXES)  # a .parquet: refused here where no engine writes it
    if n_maps < 0:
        raise InvalidInputError(f"--n-maps {n_maps}; expected 0 (all) or a positive number")
    fixed = _parse_threshold(threshold)
    check_writable(output, force, file=True)
    if report is not None:
        check_writable(report_file(report), force, file=True)
    if maps is not None:
        check_writable(maps, force=True)
    estimator = load_model(model)
    detector: Any = estimator if isinstance(estimator, AnomalyDetector) else None
    if normal is not None:
        inner = estimator.estimator_ if detector is not None else estimator
        normal_rows = model_rows(inner, load_for_model(inner, normal, key, drop, label, quiet))
        detector = AnomalyDetector(inner, quantile=quantile).fit(normal_rows)
    if detector is not None and fixed is not None:
        detector.threshold_, detector.offset_ = fixed, -fixed
    limit = fixed if detector is None else detector.threshold_
    dataset, truth = _load_with_labels(estimator, data, key, drop, label, labels, quiet)
    if labels is None:
        truth = None  # a class label (--label, or the model's) is no anomaly truth
    if maps is not None and dataset.image_shape is None:
        raise InvalidInputError(
            f"--maps needs image data; {dataset.name!r} holds rows without an image shape"
        )
    if truth is not None:
        truth = check_binary_labels(truth, len(dataset.X), f"--labels {labels!r}")
    errors, raw_errors, units = _scores(estimator, detector, model_rows(estimator, dataset))
    # "error" for a reconstruction error; a combined score is more than one.
    what = "error" if units != "medians" else "anomaly_score"
    table = pd.DataFrame({what: errors, "score": -errors})
    if units != "data":
        table["error_raw"] = raw_errors  # the data's own units, beside
    if limit is not None:
        table["prediction"] = np.where(errors > limit, -1, 1)
    table = with_key_columns(estimator, dataset, table)  # an id column, first: join by key
    save_table(output, table, force)
    if limit is None:
        echo(
            f"scored {len(errors)} samples; the model holds no threshold, so none is flagged "
            "(pass --threshold VALUE or --normal FILE)",
            quiet,
        )
    else:
        from hourglass.data.units import headline

        flagged = int(np.sum(errors > limit))
        raw_limit = getattr(detector, "threshold_raw_", None) if fixed is None else None
        echo(
            f"scored {len(errors)} samples; {flagged} ({flagged / len(errors):.1%}) "
            f"above the threshold {headline(limit, raw_limit, units)}",
            quiet,
        )
    echo(f"wrote the scores to {output}", quiet)
    if truth is not None and 0 < truth.sum() < len(truth):
        from sklearn.metrics import roc_auc_score

        name = "reconstruction error" if units != "medians" else "anomaly score"
        echo(f"AUROC of the {name} against --labels: {roc_auc_score(truth, errors):.4f}", quiet)
    if maps is not None:
        recon = np.asarray(estimator.reconstruct(dataset.X), dtype=np.float64)
        error_maps = ((recon - dataset.X) ** 2).reshape(len(errors), *dataset.image_shape)
        written = _write_maps(maps, error_maps, errors, n_maps, force)
        echo(f"wrote {written} error maps to {maps}", quiet)
    if report is not None:
        if detector is None:
            raise InvalidInputError(
                "--report needs a calibrated threshold: score a detector (see 'hourglass calibrate') "
                "or pass --normal FILE"
            )
        from hourglass.report.html import Report

        page = Report(f"Anomaly scores of {dataset.name}", f"{score_name(detector)} of {model}")
        shape = dataset.image_shape if is_dense(estimator) else None
        anomaly_report_section(page, detector, dataset.X, truth, dataset.name, shape)
        path = page.save(report_file(report), force)
        echo(f"wrote the report to {path}", quiet)
