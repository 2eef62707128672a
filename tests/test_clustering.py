import sys

import numpy as np
import pytest

from hourglass import AutoEncoder, InvalidInputError, cluster
from hourglass.data.loading import load_data
from hourglass.report.clustering import cluster_report_section
from hourglass.report.html import Report
from hourglass.uses import clustering
from hourglass.uses.clustering import cluster_accuracy


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


def test_cluster_default_is_spectral_clustering(model, digits):
    X, y = digits
    result = cluster(model, X, labels=y)
    assert (result.method, result.manifold) == ("kmeans", "spectral")
    assert result.embedding.shape == (len(X), 10)  # one dimension per cluster
    # Ng-Jordan-Weiss: the spectral embedding's rows are scaled to unit length before k-means.
    np.testing.assert_allclose(np.linalg.norm(result.embedding, axis=1), 1.0)


@pytest.mark.parametrize("manifold", ["spectral", None])
def test_cluster_runs_the_same_pipeline_on_codes_pca_and_raw(model, digits, monkeypatch, manifold):
    X, y = digits
    embed, fit_predict = [], []
    real_embed, real_fit_predict = clustering._embed, clustering._fit_predict

    def spy_embed(Z, *args, **kwargs):
        embed.append((Z.shape, *args))
        return real_embed(Z, *args, **kwargs)

    def spy_fit_predict(Z, *args, **kwargs):
        fit_predict.append((*args, kwargs.get("n_init", 10)))
        return real_fit_predict(Z, *args, **kwargs)

    monkeypatch.setattr(clustering, "_embed", spy_embed)
    monkeypatch.setattr(clustering, "_fit_predict", spy_fit_predict)
    cluster(model, X, labels=y, manifold=manifold, random_state=3)
    assert [shape for shape, *_ in embed] == [(150, 4), (150, 4), (150, 64)]  # codes, PCA codes, raw
    assert {tuple(rest) for _, *rest in embed} == {(manifold, 10, 3)}
    # With the spectral step, k-means also clusters each representation itself, to judge the
    # step, with the clustering's ten starts on data this small; here the step is kept for all three.
    if manifold == "spectral":
        assert fit_predict == [("kmeans", 10, 3, 10), ("kmeans", 10, 3, 10)] * 3
    else:
        assert fit_predict == [("kmeans", 10, 3, 10)] * 3


def test_cluster_same_seed_gives_same_clusters(model, digits):
    X, y = digits
    first, second = (cluster(model, X, labels=y, random_state=5) for _ in range(2))
    np.testing.assert_array_equal(first.assignments, second.assignments)
    np.testing.assert_array_equal(first.embedding, second.embedding)
    assert first.metrics.equals(second.metrics)


def test_cluster_umap_without_umap_learn_is_a_one_line_error(model, digits, monkeypatch):
    X, _ = digits
    monkeypatch.setitem(sys.modules, "umap", None)  # makes `import umap` raise ImportError
    with pytest.raises(InvalidInputError, match="umap-learn") as error:
        cluster(model, X, n_clusters=3, manifold="umap")
    assert "\n" not in str(error.value)


@pytest.mark.slow  # numba compiles UMAP on first use (~20 s)
def test_cluster_umap_embeds_reproducibly(model, digits):
    pytest.importorskip("umap")
    X, y = digits
    first, second = (cluster(model, X[:100], labels=y[:100], manifold="umap") for _ in range(2))
    assert first.embedding.shape == (100, 10)
    np.testing.assert_array_equal(first.assignments, second.assignments)
    assert first.metrics.equals(second.metrics)


def test_cluster_without_labels_chooses_k_and_has_no_metrics(model, digits):
    X, _ = digits
    result = cluster(model, X[:60])
    assert result.metrics is None
    assert 2 <= result.n_clusters <= 10
    assert result.codes.shape == (60, 4)


@pytest.mark.parametrize("manifold", ["spectral", "isomap", None])
def test_cluster_without_labels_finds_the_number_of_blobs(manifold):
    # Each candidate k is clustered and scored in k dimensions: with one 10-dimensional spectral
    # embedding for all, every data set came out as 10 clusters.
    from sklearn.datasets import make_blobs

    X, y = make_blobs(240, n_features=6, centers=3, cluster_std=1.0, random_state=0)
    ae = AutoEncoder(code_size=2, epochs=30, random_state=0, verbose=0, device="cpu").fit(X)
    result = cluster(ae, X, manifold=manifold)
    assert result.n_clusters == 3
    assert result.embedding.shape[1] == (2 if manifold is None else 3)  # n_components follows k
    assert clustering.cluster_accuracy(y, result.assignments) > 0.95


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
        ({"method": "hdbscan", "n_clusters": 3}, "does not apply to HDBSCAN"),
        ({"labels": np.zeros(3)}, "labels have 3 entries for 150 samples"),
        ({"n_components": -1}, "n_components=-1"),
        ({"n_clusters": True}, "n_clusters=True; expected a positive integer"),
        ({"labels": np.r_[np.nan, np.zeros(149)]}, "labels hold 1 missing value.*position 0"),
    ],
)
def test_cluster_rejects_bad_arguments(model, digits, kwargs, match):
    X, _ = digits
    with pytest.raises(InvalidInputError, match=match) as error:
        cluster(model, X, **kwargs)
    assert "\n" not in str(error.value)  # one line, naming the value


def test_cluster_report_section_adds_table_and_maps(model, digits):
    X, y = digits
    report = Report("clusters")
    cluster_report_section(report, cluster(model, X, labels=y))
    html = report.to_html()
    assert "Clustering quality" in html and "Latent map by label" in html


@pytest.mark.parametrize(
    ("labels", "assignments", "expected"),
    [
        ([0, 0, 1, 1, 2], [7, 7, 3, 3, 3], {3: 1, 7: 0}),  # the label 2 is left without a cluster
        ([0, 0, 0, 1, 1], [0, 0, 1, 2, -1], {0: 0, 2: 1}),  # noise and a leftover cluster match nothing
        (["b", "b", "a"], [1, 1, 0], {0: "a", 1: "b"}),
    ],
)
def test_match_clusters_is_the_hungarian_matching(labels, assignments, expected):
    assert clustering.match_clusters(np.array(labels), np.array(assignments)) == expected


def test_cluster_report_maps_give_a_cluster_its_labels_colour(model, digits, monkeypatch):
    from hourglass.report import plots

    X, y = digits
    result = cluster(model, X, labels=y)
    drawn = []
    original = plots.code_map
    monkeypatch.setattr(plots, "code_map", lambda *a, **k: drawn.append(k.get("colors")) or original(*a, **k))
    cluster_report_section(Report("clusters"), result)
    by_cluster, by_label = drawn
    for cluster_id, label in clustering.match_clusters(y, result.assignments).items():
        assert by_cluster[cluster_id] == by_label[label]


class _Identity:
    """A fitted model whose codes are the data: the clustering step judged alone."""

    module_ = True

    def transform(self, X):
        return np.asarray(X)


@pytest.mark.parametrize("case", ["moons", "separated blobs"])
def test_spectral_clustering_keeps_the_pieces_of_a_graph_apart(case):
    # A neighbour graph in pieces: the embedding dropped its first eigenvector, an indicator of a
    # piece, and merged two pieces while splitting another (moons ARI 0.26, four blobs 0.78).
    from sklearn.datasets import make_blobs, make_moons
    from sklearn.metrics import adjusted_rand_score

    if case == "moons":
        X, y = make_moons(400, noise=0.05, random_state=0)
        result = cluster(_Identity(), X, n_clusters=2, random_state=0)
    else:
        centres = [(0, 0), (50, 0), (0, 50), (50, 50)]
        X, y = make_blobs(600, centers=centres, cluster_std=1.0, random_state=0)
        result = cluster(_Identity(), X, random_state=0)
    assert adjusted_rand_score(y, result.assignments) == pytest.approx(1.0)
    assert result.manifold == "spectral" and not result.fallbacks  # the step did its job: kept


@pytest.fixture(scope="module")
def one_blob():
    """Breast cancer in its first 2 principal components (of z-scores): one blob, two classes."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer()
    return PCA(2, random_state=0).fit_transform(StandardScaler().fit_transform(data.data)), data.target


def test_spectral_step_is_dropped_where_it_cuts_one_blob_like_a_pie(one_blob):
    # The unit-length rows of a 2-D spectral embedding of one blob lie around a circle, which
    # k-means cut anywhere: NMI 0.07 for breast cancer's PCA codes, 0.53 without the step. The
    # side-by-side scored that broken embedding and flattered whichever representation escaped it.
    X, y = one_blob
    result = cluster(_Identity(), X, labels=y, random_state=0)
    assert result.metrics["NMI"].min() > 0.45
    assert set(result.fallbacks) == {"hourglass codes", "PCA codes", "raw data"}  # one rule for all three
    assert result.manifold is None and (result.metrics["manifold"] == "none").all()
    np.testing.assert_array_equal(result.embedding, X)  # what was clustered: the codes themselves
    assert "normalized cut" in result.fallbacks["PCA codes"]


def test_a_dropped_spectral_step_is_in_the_report_and_the_same_for_gmm(one_blob):
    X, y = one_blob
    report = Report("clusters")
    cluster_report_section(report, cluster(_Identity(), X, labels=y, random_state=0))
    assert "clustered without the spectral step" in report.to_html()
    gmm = cluster(_Identity(), X, labels=y, method="gmm", random_state=0)
    assert "hourglass codes" in gmm.fallbacks and gmm.metrics["NMI"].min() > 0.45
