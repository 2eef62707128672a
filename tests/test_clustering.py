import numpy as np
import pytest

from hourglass import AutoEncoder, InvalidInputError, cluster
from hourglass.clustering import cluster_accuracy, cluster_report_section
from hourglass.data import load_data
from hourglass.report import Report


@pytest.fixture(scope="module")
def digits():
    data = load_data("digits")
    return data.X[:150], data.y[:150]


@pytest.fixture(scope="module")
def model(digits):
    X, _ = digits
    return AutoEncoder(
        code_size=4, hidden_layers=(16,), epochs=3, random_state=0, verbose=0, device="cpu"
    ).fit(X)


@pytest.mark.parametrize(
    ("labels", "assignments", "expected"),
    [
        ([0, 0, 1, 1], [7, 7, 3, 3], 1.0),  # renamed clusters are a perfect match
        ([0, 0, 1, 1], [1, 1, 1, 1], 0.5),  # one cluster can match only one class
        ([0, 0, 1, 1], [0, -1, 1, -1], 0.5),  # noise (-1) never matches
        ([0, 1, 2], [0, 0, 0], 1 / 3),
    ],
)
def test_cluster_accuracy_uses_best_matching(labels, assignments, expected):
    assert cluster_accuracy(np.array(labels), np.array(assignments)) == pytest.approx(expected)


def test_cluster_with_labels_compares_codes_pca_and_raw(model, digits):
    X, y = digits
    result = cluster(model, X, labels=y)
    assert list(result.metrics["representation"]) == ["hourglass codes", "PCA codes", "raw data"]
    assert list(result.metrics["dims"]) == [4, 4, 64]
    assert result.metrics[["NMI", "ARI", "accuracy"]].to_numpy().max() <= 1.0
    assert result.n_clusters == 10
    assert set(result.baseline_assignments) == {"PCA codes", "raw data"}


def test_cluster_without_labels_chooses_k_and_has_no_metrics(model, digits):
    X, _ = digits
    result = cluster(model, X[:60])
    assert result.metrics is None
    assert 2 <= result.n_clusters <= 10
    assert result.codes.shape == (60, 4)


@pytest.mark.parametrize("method", ["kmeans", "gmm", "hdbscan"])
def test_cluster_method_assigns_every_sample(model, digits, method):
    X, _ = digits
    result = cluster(model, X, method=method, n_clusters=None if method == "hdbscan" else 3)
    assert result.assignments.shape == (len(X),)
    assert result.assignments.min() >= -1


@pytest.mark.parametrize(
    ("manifold", "dims"),
    [("spectral", 3), ("isomap", 3), pytest.param("tsne", 2, marks=pytest.mark.slow)],  # t-SNE takes ~10 s
)
def test_cluster_manifold_embeds_before_clustering(model, digits, manifold, dims):
    X, _ = digits
    result = cluster(model, X[:80], n_clusters=3, manifold=manifold)
    assert result.embedding.shape == (80, dims)


def test_cluster_fits_an_unfitted_model(digits):
    X, _ = digits
    ae = AutoEncoder(code_size=3, hidden_layers=(8,), epochs=1, random_state=0, verbose=0, device="cpu")
    cluster(ae, X[:50], n_clusters=2)
    assert hasattr(ae, "module_")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "dbscan"}, "method='dbscan'"),
        ({"manifold": "umap2"}, "manifold='umap2'"),
        ({"n_clusters": 0}, "n_clusters=0"),
        ({"n_clusters": 500}, "n_clusters=500"),
        ({"method": "hdbscan", "n_clusters": 3}, "hdbscan"),
        ({"labels": np.zeros(3)}, "labels have 3"),
    ],
)
def test_cluster_rejects_bad_arguments(model, digits, kwargs, match):
    X, _ = digits
    with pytest.raises(InvalidInputError, match=match):
        cluster(model, X, **kwargs)


def test_cluster_report_section_adds_table_and_maps(model, digits):
    X, y = digits
    report = Report("clusters")
    cluster_report_section(report, cluster(model, X, labels=y))
    html = report.to_html()
    assert "Clustering quality" in html and "Latent map by label" in html
