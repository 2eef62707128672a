"""Normal data of several clusters: a detector's code distance is measured from the nearest one."""

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file
from sklearn.covariance import LedoitWolf
from sklearn.datasets import load_iris
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

import hourglass
from hourglass import AnomalyDetector
from hourglass.estimators.code_distance import CodeDistance
from hourglass.exceptions import ModelFileError


def _two_clouds(seed=0):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(size=(300, 3)) - 5.0, rng.normal(size=(300, 3)) + 5.0])


def test_codes_of_two_clusters_get_two_components_and_the_gap_between_them_is_far():
    distance = CodeDistance.fit(_two_clouds())
    assert distance.n_components == 2
    assert distance.center.shape == (2, 3) and distance.precision.shape == (2, 3, 3)
    between, at_a_cluster = distance(np.zeros((1, 3)))[0], distance(np.full((1, 3), 5.0))[0]
    # From the mean of all, the empty middle is the most typical point there is.
    one_cloud = LedoitWolf().fit(_two_clouds())
    assert one_cloud.mahalanobis(np.zeros((1, 3)))[0] < one_cloud.mahalanobis(np.full((1, 3), 5.0))[0]
    assert between > 10 * at_a_cluster
    assert 0.5 < float(np.median(distance(_two_clouds(1)))) < 1.5  # new normal rows: about one


def test_one_cloud_keeps_the_single_shrunk_mahalanobis_distance():
    codes = np.random.default_rng(0).normal(size=(500, 4)) * [1, 2, 3, 4]
    distance = CodeDistance.fit(codes)
    assert distance.n_components == 1 and distance.center.shape == (4,)
    np.testing.assert_allclose(distance(codes), LedoitWolf().fit(codes).mahalanobis(codes) / 4, rtol=1e-4)


def test_the_mixture_is_reproducible_for_a_seed():
    a, b = CodeDistance.fit(_two_clouds(), 3), CodeDistance.fit(_two_clouds(), 3)
    np.testing.assert_array_equal(a.center, b.center)
    np.testing.assert_array_equal(a.precision, b.precision)


@pytest.fixture(scope="module")
def iris_between():
    """Iris: setosa and virginica are normal; versicolor, which lies between them, is not."""
    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)
    detector = AnomalyDetector(random_state=0, verbose=0)
    with pytest.warns(UserWarning, match="quantile"):  # 10 calibration rows: said, and expected
        detector.fit(X_train[y_train != 1])
    return detector, X_test, y_test


def test_the_class_between_two_normal_classes_is_found(iris_between):
    detector, X_test, y_test = iris_between
    assert detector.code_distance_.n_components >= 2
    # One cloud of setosa and virginica: 0.754 (and 0.82 / 0.91 at seeds 1 / 2); the nearest
    # component: 0.876 (0.939 / 0.946).
    assert roc_auc_score(y_test == 1, detector.anomaly_score(X_test)) > 0.85


def test_a_saved_mixture_detector_scores_the_same_and_checks_its_arrays(iris_between, tmp_path):
    detector, X_test, _ = iris_between
    detector.save(tmp_path / "detector")
    loaded = hourglass.load(tmp_path / "detector")
    assert loaded.code_distance_.n_components == detector.code_distance_.n_components >= 2
    np.testing.assert_allclose(loaded.anomaly_score(X_test), detector.anomaly_score(X_test), rtol=1e-6)
    weights = str(tmp_path / "detector" / "weights.safetensors")
    tensors = load_file(weights)
    tensors["extra.code_precision"] = tensors["extra.code_precision"][:1]  # one for several centers
    save_file(tensors, weights)
    with pytest.raises(ModelFileError, match=r"code_center \(\d, 1\) and code_precision \(1, 1, 1\)"):
        hourglass.load(tmp_path / "detector")


def test_the_onnx_score_takes_the_nearest_component(iris_between, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    detector, X_test, _ = iris_between
    path = tmp_path / "detector.onnx"
    detector.export_onnx(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    feed = {session.get_inputs()[0].name: X_test.astype(np.float32)}
    outputs = dict(zip(names, session.run(names, feed), strict=True))
    want = detector.anomaly_score(X_test)
    np.testing.assert_allclose(outputs["score"], want, rtol=1e-3, atol=1e-3 * float(np.median(want)))
