"""Scores of a clustering against labels: NMI, ARI, and accuracy under the best matching.

Clusters have no names, so a cluster is matched one-to-one to the class it shares most samples
with (the Hungarian method); HDBSCAN's noise (-1) is never a match.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from hourglass.exceptions import InvalidInputError


def _contingency(labels: np.ndarray, assignments: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Classes, clusters and the (clusters, classes) table of samples in both."""
    labels, assignments = np.asarray(labels), np.asarray(assignments)
    if labels.shape != assignments.shape:
        raise InvalidInputError(f"labels have shape {labels.shape} but assignments {assignments.shape}")
    classes, label_idx = np.unique(labels, return_inverse=True)
    clusters, cluster_idx = np.unique(assignments, return_inverse=True)
    counts = np.zeros((len(clusters), len(classes)), dtype=np.int64)
    np.add.at(counts, (cluster_idx, label_idx), 1)
    counts[clusters == -1] = 0  # noise is never a match
    return classes, clusters, counts


def cluster_accuracy(labels: np.ndarray, assignments: np.ndarray) -> float:
    """Accuracy of ``assignments`` under the best one-to-one matching of clusters to labels.

    The matching maximizes the number of agreeing samples (Hungarian algorithm); samples in
    unmatched clusters, or HDBSCAN's noise (-1), count as wrong.

    Examples
    --------
    >>> cluster_accuracy(np.array([0, 0, 1, 1]), np.array([5, 5, 3, 3]))
    1.0
    >>> cluster_accuracy(np.array([0, 0, 1, 1]), np.array([1, 1, 1, 1]))
    0.5
    """
    _, _, counts = _contingency(labels, assignments)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / max(len(np.asarray(labels)), 1))


def match_clusters(labels: np.ndarray, assignments: np.ndarray) -> dict[Any, Any]:
    """The label each cluster stands for, under the matching :func:`cluster_accuracy` scores.

    Parameters
    ----------
    labels, assignments : ndarray of shape (n_samples,)
        True classes and found clusters (-1: noise, never matched).

    Returns
    -------
    dict
        Cluster to label, one-to-one, maximizing the samples that agree (Hungarian algorithm
        on the contingency table). Clusters left over when there are more clusters than
        labels, clusters sharing no sample with their label, and noise are not in it.

    Examples
    --------
    >>> match_clusters(np.array([0, 0, 1, 1, 2]), np.array([7, 7, 3, 3, 3]))
    {3: 1, 7: 0}
    """
    classes, clusters, counts = _contingency(labels, assignments)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    # Labels read from a text file are Python strings in an object array, which have no .item().
    return {
        _plain(clusters[row]): _plain(classes[col])
        for row, col in zip(rows, cols, strict=True)
        if counts[row, col] > 0
    }


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds; anything else as it is."""
    return value.item() if isinstance(value, np.generic) else value


def _scores(labels: np.ndarray, found: np.ndarray) -> dict[str, float]:
    return {
        "clusters": int(len(np.unique(found[found >= 0]))),
        "NMI": float(normalized_mutual_info_score(labels, found)),
        "ARI": float(adjusted_rand_score(labels, found)),
        "accuracy": cluster_accuracy(labels, found),
    }
