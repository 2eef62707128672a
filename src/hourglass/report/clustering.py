"""The report section of a clustering: its scores against PCA and raw data, and latent maps.

:func:`hourglass.uses.clustering.cluster` computes; this module presents, with the colours of
clusters matched to those of the labels they stand for.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hourglass.report import plots
from hourglass.uses.clustering import SCALING_TEXT, ClusterResult, match_clusters


def _best_nmi(metrics) -> str:
    """The representation(s) with the highest NMI as the table shows it (4 decimals), ties named.

    Identical clusterings tie exactly (iris's codes, PCA codes and raw data all at 0.8057), and
    naming the first row alone credited the autoencoder with a win it did not have.

    Examples
    --------
    >>> import pandas as pd
    >>> _best_nmi(pd.DataFrame({"representation": ["codes", "PCA codes", "raw"], "NMI": [0.88, 0.88, 0.8]}))
    'codes and PCA codes (tied)'
    """
    nmi = np.round(metrics["NMI"].to_numpy(dtype=float), 4)
    names = [str(name) for name in metrics["representation"][nmi == nmi.max()]]
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} and {names[-1]} (tied)"


def cluster_report_section(report, result: ClusterResult) -> None:
    """Add the clustering's metrics table and 2-D latent maps to ``report``.

    Parameters
    ----------
    report : hourglass.report.html.Report
        The report to extend.
    result : ClusterResult
        What :func:`cluster` returned.

    Examples
    --------
    >>> from hourglass.report.html import Report
    >>> report = Report("Clusters of digits")
    >>> cluster_report_section(report, result)  # doctest: +SKIP
    """
    # Only the spectral step is ever dropped (result.fallbacks); the pipeline named is the one asked for.
    asked = "spectral" if result.fallbacks else result.manifold
    step = f" after a {asked} embedding" if asked else ""
    pipeline = f"{result.method}{step}, {result.n_clusters} clusters"
    dropped = "".join(f" {name}: {text}." for name, text in result.fallbacks.items())
    if result.metrics is not None:
        best = _best_nmi(result.metrics)
        report.add_table(
            result.metrics,
            heading="Clustering quality",
            caption=f"The same pipeline ({pipeline}) on the autoencoder's codes, on PCA codes of the same "
            f"width and on the raw data, both {SCALING_TEXT.get(result.scaling, result.scaling)}; "
            f"accuracy under the best one-to-one matching of clusters to classes. Best NMI: {best}.{dropped}",
            highlight={"NMI": "max", "ARI": "max", "accuracy": "max"},
        )
    else:
        report.add_text(
            f"Pipeline: {pipeline}. No labels were given, so there is no score.{dropped}", heading="Clusters"
        )
    # A 2-D map: the manifold embedding when it is 2-D, otherwise the codes' first two PCs.
    if result.manifold is not None and result.embedding.shape[1] == 2:
        shown, what = result.embedding, f"{result.manifold} embedding of the codes"
    else:
        shown, what = result.codes, "codes"
    label_colors, cluster_colors = _matched_colors(result)
    report.add_figure(
        plots.code_map(
            shown,
            result.assignments,
            title=f"{what}, coloured by cluster",
            colors=cluster_colors,
            legend_title="cluster",
        ),
        heading="Latent map by cluster",
        caption="Clusters matched to labels one-to-one (Hungarian matching) share their colours with the "
        "map by label below; unmatched clusters get colours of their own, noise (-1) is gray."
        if result.labels is not None
        else None,
    )
    if result.labels is not None:
        report.add_figure(
            plots.code_map(
                shown,
                result.labels,
                title=f"{what}, coloured by label",
                colors=label_colors,
                legend_title="label",
            ),
            heading="Latent map by label",
        )


#: Colour of HDBSCAN's noise points in the cluster map.
_NOISE_COLOR = "#9ca3af"


def _matched_colors(result: ClusterResult) -> tuple[dict[Any, Any] | None, dict[Any, Any]]:
    """Colours of labels and clusters such that a cluster takes the colour of its matched label."""
    noise = {-1: _NOISE_COLOR}
    if result.labels is None or len(np.unique(result.labels)) > 20:
        return None, noise
    label_colors = plots.class_colors(np.unique(result.labels).tolist())
    matching = match_clusters(result.labels, result.assignments)
    cluster_colors = {cluster: label_colors[label] for cluster, label in matching.items()}
    return label_colors, {**cluster_colors, **noise}


__all__ = ["cluster_report_section"]
