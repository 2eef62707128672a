"""A detector's combined score: reconstruction error plus the code's distance from normal codes."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file
from sklearn.covariance import LedoitWolf
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

import hourglass
from hourglass import AnomalyDetector, AutoEncoder
from hourglass.estimators.code_distance import DISTANCE_WEIGHT, CodeDistance, median_scale
from hourglass.exceptions import InvalidInputError, ModelFileError


def test_code_distance_is_the_shrunk_mahalanobis_distance_per_code_unit():
    codes = np.random.default_rng(0).normal(size=(300, 5)) * [1, 2, 3, 4, 5]
    distance = CodeDistance.fit(codes)
    expected = LedoitWolf().fit(codes).mahalanobis(codes) / 5
    np.testing.assert_allclose(distance(codes), expected, rtol=1e-4)
    assert 0.5 < float(np.mean(distance(codes))) < 1.5  # about one for normal rows


def test_a_dead_code_unit_leaves_the_distance_finite():
    codes = np.c_[np.random.default_rng(0).normal(size=(50, 2)), np.zeros(50)]
    assert np.all(np.isfinite(CodeDistance.fit(codes)(codes + 1.0)))
    assert np.all(np.isfinite(CodeDistance.fit(np.zeros((10, 3)))(np.ones((2, 3)))))


@pytest.mark.parametrize(
    ("values", "expected"), [([0.0, 2.0, 4.0], 2.0), ([0.0, 0.0, 3.0], 1.0), ([0.0], 1.0)]
)
def test_median_scale_is_never_zero(values, expected):
    assert median_scale(np.array(values)) == expected


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)


def _mean_auroc(cancer, kind):
    X_train, X_test, y_train, y_test = cancer
    aurocs = []
    for label in (0, 1):
        detector = AnomalyDetector(random_state=0, score_kind=kind).fit(X_train[y_train == label])
        aurocs.append(roc_auc_score(y_test != label, detector.anomaly_score(X_test)))
    return float(np.mean(aurocs))


def test_the_combined_score_finds_the_tumours_reconstruction_misses(cancer):
    # Malignant and benign tumours differ most in size, along the surface the autoencoder
    # learns: each reconstructs the other well, so the error alone ranks them poorly (about
    # 0.76 mean AUROC), while their codes lie far from the normal codes (the sum: about 0.83).
    combined, reconstruction = _mean_auroc(cancer, "combined"), _mean_auroc(cancer, "reconstruction")
    assert combined >= reconstruction + 0.03, (combined, reconstruction)


def test_the_combined_score_is_the_error_plus_half_the_distance_in_medians(cancer):
    X_train, X_test, y_train, _ = cancer
    detector = AnomalyDetector(random_state=0).fit(X_train[y_train == 1])
    assert detector.score_kind_ == "combined" and detector.threshold_raw_ is None
    errors = detector.reconstruction_error(X_test, scaled=True)
    distance = detector.code_distance_(detector.transform(X_test))
    expected = errors / detector.error_scale_ + DISTANCE_WEIGHT * distance / detector.distance_scale_
    np.testing.assert_allclose(detector.anomaly_score(X_test), expected, rtol=1e-10)
    np.testing.assert_allclose(detector.score_samples(X_test), -expected, rtol=1e-10)
    # The units are the calibration rows' medians: a typical normal row scores 1 + DISTANCE_WEIGHT.
    assert np.median(detector.calibration_errors_) == pytest.approx(1 + DISTANCE_WEIGHT, rel=0.25)


def test_refitting_with_the_reconstruction_score_drops_the_code_distance(cancer):
    X_train, _, y_train, _ = cancer
    detector = AnomalyDetector(random_state=0, epochs=3).fit(X_train[y_train == 1])
    detector.set_params(score_kind="reconstruction").fit(X_train[y_train == 1])
    assert detector.score_kind_ == "reconstruction" and not hasattr(detector, "code_distance_")
    np.testing.assert_array_equal(
        detector.anomaly_score(X_train[:5]), detector.reconstruction_error(X_train[:5])
    )


def test_a_bad_score_kind_is_refused_in_one_line(cancer):
    with pytest.raises(InvalidInputError, match=r"score_kind='mahalanobis'; expected one of") as error:
        AnomalyDetector(score_kind="mahalanobis").fit(cancer[0])
    assert "\n" not in str(error.value)


def test_a_saved_combined_detector_scores_the_same_and_checks_its_arrays(cancer, tmp_path):
    X_train, X_test, y_train, _ = cancer
    detector = AnomalyDetector(random_state=0, epochs=3).fit(X_train[y_train == 1])
    detector.save(tmp_path / "detector")
    loaded = hourglass.load(tmp_path / "detector")
    assert loaded.score_kind == loaded.score_kind_ == "combined"
    np.testing.assert_array_equal(loaded.anomaly_score(X_test), detector.anomaly_score(X_test))
    # A crafted precision of the wrong shape is refused in one line, before it is used.
    weights = tmp_path / "detector" / "weights.safetensors"
    tensors = load_file(str(weights))
    tensors["extra.code_precision"] = np.eye(3)
    save_file(tensors, str(weights))
    with pytest.raises(ModelFileError, match=r"code_precision \(3, 3\)"):
        hourglass.load(tmp_path / "detector")


def test_a_detector_saved_before_the_combined_score_loads_as_a_reconstruction_detector(cancer, tmp_path):
    X_train, X_test, y_train, _ = cancer
    detector = AnomalyDetector(random_state=0, epochs=3, score_kind="reconstruction").fit(
        X_train[y_train == 1]
    )
    detector.save(tmp_path / "old")
    # What an older version wrote: no score_kind parameter, no score_kind_ attribute.
    config_path = tmp_path / "old" / "config.json"
    config = json.loads(config_path.read_text())
    del config["params"]["score_kind"], config["fitted"]["score_kind_"]
    config_path.write_text(json.dumps(config))
    loaded = hourglass.load(tmp_path / "old")
    assert loaded.score_kind == loaded.score_kind_ == "reconstruction"
    np.testing.assert_array_equal(loaded.anomaly_score(X_test), detector.reconstruction_error(X_test))


def test_a_prefitted_autoencoder_measures_distances_from_the_normal_data_it_is_given(cancer):
    X_train, X_test, y_train, _ = cancer
    normal = X_train[y_train == 1]
    ae = AutoEncoder(code_size=4, epochs=3, random_state=0, verbose=0).fit(normal[:100])
    detector = AnomalyDetector(ae).fit(normal[100:])
    # From these codes, whatever the seed drawn (a mixture of them, where the BIC asks for one).
    expected = CodeDistance.fit(ae.transform(normal[100:]), detector.seed_)
    np.testing.assert_allclose(detector.code_distance_.center, expected.center)
    np.testing.assert_allclose(detector.code_distance_.precision, expected.precision)
    np.testing.assert_array_equal(detector.decision_scores_, detector.calibration_errors_)
