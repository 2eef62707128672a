import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from hourglass import AnomalyDetector, AutoEncoder, InvalidInputError, load
from hourglass.data.loading import load_data
from hourglass.estimators.anomaly import anomaly_report_section, photo_patches
from hourglass.report.html import Report


def tiny_ae(epochs=3):
    return AutoEncoder(
        code_size=4, hidden_layers=(16,), epochs=epochs, random_state=0, verbose=0, device="cpu"
    )


@pytest.fixture(scope="module")
def X():
    return load_data("digits").X[:200]


@pytest.fixture(scope="module")
def detector(X):
    return AnomalyDetector(tiny_ae(), quantile=0.9, random_state=0).fit(X)


def test_detector_follows_sklearn_outlier_conventions(detector, X):
    scores = detector.score_samples(X)
    np.testing.assert_allclose(detector.decision_function(X), scores - detector.offset_)
    predicted = detector.predict(X)
    assert set(np.unique(predicted)) <= {-1, 1}
    np.testing.assert_array_equal(predicted == -1, -scores > detector.threshold_)
    assert detector.offset_ == -detector.threshold_


def test_detector_quantile_threshold_flags_that_share_of_held_out_data(detector):
    errors = detector.calibration_errors_
    assert len(errors) == 40  # calibration_fraction=0.2 of 200
    assert np.mean(errors > detector.threshold_) == pytest.approx(0.1, abs=0.03)


@pytest.mark.parametrize(
    ("params", "expected_quantile"), [({"threshold": "contamination", "contamination": 0.05}, 0.95)]
)
def test_detector_contamination_matches_quantile(X, params, expected_quantile):
    fitted = AnomalyDetector(tiny_ae(), random_state=0, **params).fit(X)
    assert fitted.threshold_ == pytest.approx(np.quantile(fitted.calibration_errors_, expected_quantile))


def test_detector_fixed_threshold_is_kept(X):
    fitted = AnomalyDetector(tiny_ae(), threshold=0.5, random_state=0).fit(X)
    assert fitted.threshold_ == 0.5


def test_detector_prefit_estimator_calibrates_on_all_of_X(X):
    ae = tiny_ae().fit(X[:150])
    fitted = AnomalyDetector(ae).fit(X[150:])
    assert fitted.estimator_ is ae
    assert len(fitted.calibration_errors_) == 50


def test_detector_scores_other_data_as_less_normal(X):
    fitted = AnomalyDetector(tiny_ae(epochs=30), random_state=0).fit(X)
    assert fitted.score_samples(1 - X).mean() < fitted.score_samples(X).mean()


def test_detector_error_map_has_input_shape_and_mean_error(detector, X):
    maps = detector.error_map(X[:5])
    assert maps.shape == (5, 64)
    np.testing.assert_allclose(maps.mean(axis=1), detector.reconstruction_error(X[:5]), rtol=1e-5)


def test_detector_save_load_keeps_threshold_and_scores(detector, X, tmp_path):
    loaded = load(detector.save(tmp_path / "detector"))
    assert isinstance(loaded, AnomalyDetector)
    assert loaded.threshold_ == detector.threshold_
    np.testing.assert_allclose(loaded.score_samples(X[:10]), detector.score_samples(X[:10]), rtol=1e-6)
    np.testing.assert_array_equal(loaded.calibration_errors_, detector.calibration_errors_)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"threshold": "median"}, "threshold='median'"),
        ({"threshold": -1.0}, "threshold=-1.0"),
        ({"quantile": 1.5}, "quantile=1.5"),
        ({"threshold": "contamination", "contamination": 0.7}, "contamination=0.7"),
        ({"calibration_fraction": 1.0}, "calibration_fraction=1.0"),
        ({"estimator": "pca"}, "estimator must be"),
    ],
)
def test_detector_rejects_bad_parameters(X, params, match):
    with pytest.raises(InvalidInputError, match=match):
        AnomalyDetector(**params).fit(X)


@pytest.mark.parametrize("method", ["predict", "score_samples", "decision_function", "error_map"])
def test_detector_unfitted_raises(X, method):
    with pytest.raises(NotFittedError):
        getattr(AnomalyDetector(), method)(X)


def test_photo_patches_are_unit_range_rows():
    patches = photo_patches(20, size=8, random_state=0)
    assert patches.shape == (20, 64) and patches.dtype == np.float32
    assert patches.min() >= 0 and patches.max() <= 1


def test_anomaly_report_section_reports_auroc_and_pictures(detector, X):
    report = Report("ood")
    figures = anomaly_report_section(report, detector, X[:50], photo_patches(50), image_shape=(8, 8))
    assert 0 <= figures["AUROC"] <= 1
    assert "Abnormal other" in report.to_html()


def test_detector_wraps_a_conv_estimator_and_maps_pixels(tmp_path):
    from hourglass import ConvAutoEncoder

    images = load_data("digits", flat=False).X[:80]  # (n, 1, 8, 8)
    conv = ConvAutoEncoder(channels=(4, 8), code_size=4, epochs=1, random_state=0, verbose=0, device="cpu")
    fitted = AnomalyDetector(conv, random_state=0).fit(images)
    assert fitted.error_map(images[:3]).shape == (3, 1, 8, 8)
    loaded = load(fitted.save(tmp_path / "conv-detector"))
    np.testing.assert_allclose(loaded.score_samples(images[:4]), fitted.score_samples(images[:4]), rtol=1e-5)
