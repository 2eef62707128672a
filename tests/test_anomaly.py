import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from hourglass import AnomalyDetector, AutoEncoder, InvalidInputError, load
from hourglass.data.loading import load_data
from hourglass.estimators.anomaly import check_binary_labels, photo_patches
from hourglass.report.anomaly import anomaly_report_section
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
    "params", [{"contamination": 0.05}, {"threshold": "contamination", "contamination": 0.05}]
)
def test_detector_contamination_flags_that_share_of_the_data_given_to_fit(X, params):
    # PyOD's and scikit-learn's meaning: X holds 5 % anomalies, so labels_ flags 10 of its 200
    # rows. It was the 0.95 quantile of the 40 held-out rows, which flagged 6-15 % of X.
    fitted = AnomalyDetector(tiny_ae(), random_state=0, **params).fit(X)
    assert fitted.threshold_ == pytest.approx(np.quantile(fitted.decision_scores_, 0.95))
    assert fitted.labels_.sum() == 10
    assert (fitted.predict(X) == -1).sum() == 10


def test_detector_without_contamination_keeps_the_held_out_quantile(X):
    fitted = AnomalyDetector(tiny_ae(), random_state=0).fit(X)
    assert fitted.threshold_ == pytest.approx(np.quantile(fitted.calibration_errors_, 0.99))


def test_detector_codes_have_names_and_pandas_output(detector, X):
    names = detector.get_feature_names_out()
    assert list(names) == [f"autoencoder{i}" for i in range(4)]
    framed = clone(detector).set_output(transform="pandas").fit(X)
    codes = framed.transform(X[:3])
    assert list(codes.columns) == list(names)
    np.testing.assert_array_equal(codes.to_numpy(), detector.transform(X[:3]))


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


@pytest.mark.parametrize(
    "method", ["predict", "score_samples", "decision_function", "error_map", "predict_proba"]
)
def test_detector_unfitted_raises(X, method):
    with pytest.raises(NotFittedError):
        getattr(AnomalyDetector(), method)(X)


def test_photo_patches_are_unit_range_rows():
    patches = photo_patches(20, size=8, random_state=0)
    assert patches.shape == (20, 64) and patches.dtype == np.float32
    assert patches.min() >= 0 and patches.max() <= 1


def test_anomaly_report_section_without_labels_has_no_auroc(detector, X):
    report = Report("scores")
    figures = anomaly_report_section(report, detector, photo_patches(50), image_shape=(8, 8))
    html = report.to_html()
    assert "AUROC" not in figures and "AUROC" not in html
    assert 0 <= figures["flagged"] <= 1
    assert f"{figures['flagged']:.1%}" in html  # shares as percentages, not 0.05008
    assert "Most abnormal samples of scored data" in html


def test_anomaly_report_section_with_labels_reports_auroc(detector, X):
    report = Report("ood")
    both = np.r_[X[:50], photo_patches(50)]
    truth = np.r_[np.zeros(50), np.ones(50)]
    figures = anomaly_report_section(report, detector, both, truth, "digits and photos", (8, 8))
    assert 0 <= figures["AUROC"] <= 1
    assert figures["abnormal flagged"] >= figures["normal flagged"]
    assert "AUROC of the score against the labels" in report.to_html()


@pytest.mark.parametrize(
    ("labels", "match"),
    [([0, 1, 2], "hold 2 \\(row 2\\)"), ([0, 1], "one 0/1 label per sample"), (["a"] * 3, "'a'")],
)
def test_check_binary_labels_names_the_bad_value(labels, match):
    with pytest.raises(InvalidInputError, match=match) as error:
        check_binary_labels(labels, 3)
    assert "\n" not in str(error.value)


# -- PyOD's conventions ---------------------------------------------------------------------------


def test_detector_pyod_attributes_cover_the_training_data(detector, X):
    # PyOD: decision_scores_ of every training sample in order, higher = more abnormal.
    np.testing.assert_allclose(detector.decision_scores_, detector.anomaly_score(X), rtol=1e-6)
    np.testing.assert_array_equal(
        detector.labels_, (detector.decision_scores_ > detector.threshold_).astype(int)
    )
    assert set(np.unique(detector.labels_)) <= {0, 1}
    # The two sign conventions agree on who is an outlier.
    np.testing.assert_array_equal(detector.labels_ == 1, detector.predict(X) == -1)
    np.testing.assert_allclose(-detector.decision_scores_, detector.score_samples(X), rtol=1e-6)


def test_detector_prefit_decision_scores_are_the_calibration_errors(X):
    fitted = AnomalyDetector(tiny_ae().fit(X[:150])).fit(X[150:])
    np.testing.assert_array_equal(fitted.decision_scores_, fitted.calibration_errors_)
    assert len(fitted.labels_) == 50


def test_predict_proba_linear_is_pyods_min_max_of_training_scores(detector, X):
    from sklearn.preprocessing import MinMaxScaler

    proba = detector.predict_proba(X[:20])
    scaler = MinMaxScaler().fit(detector.decision_scores_.reshape(-1, 1))
    expected = scaler.transform(detector.anomaly_score(X[:20]).reshape(-1, 1)).ravel().clip(0, 1)
    assert proba.shape == (20, 2)
    np.testing.assert_allclose(proba[:, 1], expected, rtol=1e-6)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_predict_proba_unify_is_pyods_erf_of_standardized_scores(detector, X):
    from scipy.special import erf

    scores = detector.anomaly_score(X[:20])
    train = detector.decision_scores_
    expected = erf((scores - train.mean()) / (train.std() * np.sqrt(2))).clip(0, 1)
    proba = detector.predict_proba(X[:20], method="unify")
    np.testing.assert_allclose(proba[:, 1], expected, rtol=1e-6)
    np.testing.assert_allclose(proba[:, 0], 1 - expected, rtol=1e-6)


def test_predict_proba_rejects_unknown_method(detector, X):
    with pytest.raises(InvalidInputError, match="method='rank'; expected one of 'linear', 'unify'"):
        detector.predict_proba(X[:2], method="rank")


def test_detector_takes_the_autoencoders_settings_directly(X):
    detector = AnomalyDetector(code_size=3, hidden_layers=(8,), epochs=2, device="cpu", random_state=0)
    assert clone(detector).get_params()["code_size"] == 3
    fitted = detector.fit(X)
    inner = fitted.estimator_
    assert (inner.code_size, inner.hidden_layers, inner.epochs, inner.random_state) == (3, (8,), 2, 0)
    assert inner.verbose == 0  # quiet, like scikit-learn's detectors


def test_detector_default_code_size_is_a_quarter_of_the_input(X):
    fitted = AnomalyDetector(hidden_layers=(8,), epochs=1, device="cpu", random_state=0).fit(X)
    assert fitted.estimator_.code_size == 16  # 64 pixels / 4


def test_detector_default_scaling_is_shrunk_for_unit_data_and_the_autoencoders_otherwise(X):
    # digits' pixels lie in [0, 1]: centred and weighed by their spread, the never-inked
    # corners at the common scale (standardizing would divide the rarely inked ones by ~0.01)
    shrunk = AnomalyDetector(hidden_layers=(8,), epochs=1, random_state=0).fit(X).estimator_.scaler_
    assert shrunk.kind == "shrunk"
    assert shrunk.scale.min() > 0.5 * np.sqrt(X.var(0).mean())
    outside = AnomalyDetector(hidden_layers=(8,), epochs=1, random_state=0).fit(X * 16).estimator_
    assert outside.scaler_.kind == "standard"
    told = AnomalyDetector(hidden_layers=(8,), epochs=1, scaling="none", random_state=0).fit(X)
    assert told.estimator_.scaler_.kind == "none"  # a user's choice stands


def test_detection_scaling_reads_a_tables_features_not_its_label():
    import pandas as pd

    from hourglass.estimators.default_detector import detection_scaling

    table = pd.DataFrame({"a": [0.1, 0.9, 0.5], "b": [1.0, 0.0, 0.2], "label": [3, 7, 5]})
    assert detection_scaling(table, "label") == "shrunk"
    assert detection_scaling(table) == "auto"  # the label read as a feature lies outside [0, 1]
    assert detection_scaling(table.assign(kind=["x", "y", "x"]), "label") == "auto"  # categories
    assert detection_scaling(np.array([[0.2, np.nan]])) == "auto"  # the AutoEncoder names the NaN


def test_detector_refuses_an_estimator_and_settings_at_once(X):
    with pytest.raises(InvalidInputError, match="both estimator= and the settings epochs=5") as error:
        AnomalyDetector(tiny_ae(), epochs=5).fit(X)
    assert "\n" not in str(error.value)


def test_detector_save_load_keeps_pyod_attributes_and_settings(X, tmp_path):
    fitted = AnomalyDetector(code_size=3, hidden_layers=(8,), epochs=1, device="cpu", random_state=0).fit(X)
    loaded = load(fitted.save(tmp_path / "detector"))
    assert loaded.code_size == 3
    np.testing.assert_array_equal(loaded.decision_scores_, fitted.decision_scores_)
    np.testing.assert_array_equal(loaded.labels_, fitted.labels_)
    np.testing.assert_allclose(loaded.predict_proba(X[:5]), fitted.predict_proba(X[:5]), rtol=1e-6)


def test_detector_folder_saved_before_pyod_attributes_still_loads(detector, X, tmp_path):
    """A folder as saves before decision_scores_ and the forwarded settings wrote it."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    folder = detector.save(tmp_path / "old")
    config = json.loads((folder / "config.json").read_text())
    own = ("estimator", "threshold", "quantile", "contamination", "calibration_fraction", "random_state")
    config["params"] = {k: v for k, v in config["params"].items() if k in own}
    (folder / "config.json").write_text(json.dumps(config))
    weights = str(folder / "weights.safetensors")
    with safe_open(weights, "pt") as handle:
        metadata = handle.metadata()
    tensors = {k: v for k, v in load_file(weights).items() if k != "extra.decision_scores"}
    save_file(tensors, weights, metadata=metadata)

    old = load(folder)
    np.testing.assert_array_equal(old.decision_scores_, old.calibration_errors_)
    np.testing.assert_array_equal(old.labels_, (old.calibration_errors_ > old.threshold_).astype(int))
    np.testing.assert_array_equal(old.predict(X[:10]), detector.predict(X[:10]))
    assert old.predict_proba(X[:3]).shape == (3, 2)


def test_detector_wraps_a_conv_estimator_and_maps_pixels(tmp_path):
    from hourglass import ConvAutoEncoder

    images = load_data("digits", flat=False).X[:80]  # (n, 1, 8, 8)
    conv = ConvAutoEncoder(channels=(4, 8), code_size=4, epochs=1, random_state=0, verbose=0, device="cpu")
    fitted = AnomalyDetector(conv, random_state=0).fit(images)
    assert fitted.error_map(images[:3]).shape == (3, 1, 8, 8)
    loaded = load(fitted.save(tmp_path / "conv-detector"))
    np.testing.assert_allclose(loaded.score_samples(images[:4]), fitted.score_samples(images[:4]), rtol=1e-5)


def test_default_detector_on_one_feature_says_why_in_one_line():
    # It named code_size=1, which the user never set.
    X = np.random.default_rng(0).normal(size=(50, 1))
    with pytest.raises(InvalidInputError, match="^X has 1 feature \\(n_features=1\\); .* needs at least 2"):
        AnomalyDetector(random_state=0).fit(X)
