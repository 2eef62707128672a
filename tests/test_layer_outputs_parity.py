"""``layer_outputs`` follows ``set_output``, and a detector reads its autoencoder as one can.

``AutoEncoder.layer_outputs`` gave bare arrays after ``set_output(transform="pandas")``, where
``transform`` and ``reconstruct`` give DataFrames; ``AnomalyDetector`` had no ``layer_outputs``,
``inverse_transform``, ``n_iter_`` or ``loss_curve_``, which the autoencoder it wraps has.
"""

import copy
import inspect
import re

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.datasets import load_digits, load_wine
from sklearn.exceptions import NotFittedError

from hourglass import AnomalyDetector, AutoEncoder, ConvAutoEncoder

TINY = {"code_size": 2, "hidden_layers": (8,), "epochs": 2, "verbose": 0, "random_state": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def wine():
    """The wine table with an index of names, a tiny autoencoder fitted on it, and a detector of it."""
    frame = load_wine(as_frame=True).data.iloc[:80]
    frame.index = [f"bottle{i}" for i in range(len(frame))]
    ae = AutoEncoder(**TINY).fit(frame)
    return frame, ae, AnomalyDetector(copy.deepcopy(ae)).fit(frame)


def _columns(ae, frame, name, width):
    if name == "reconstruction":
        return list(frame.columns)
    if name == "code":
        return list(ae.get_feature_names_out())
    return [f"{name}_{i}" for i in range(width)]


@pytest.mark.parametrize("how", ["set_output", "config_context"])
def test_set_output_pandas_makes_every_layer_a_named_table(wine, how):
    frame, ae, _ = wine
    arrays = ae.layer_outputs(frame)  # the default: arrays, as before
    assert all(isinstance(values, np.ndarray) for values in arrays.values())
    if how == "set_output":
        tables = copy.deepcopy(ae).set_output(transform="pandas").layer_outputs(frame)
    else:
        with sklearn.config_context(transform_output="pandas"):
            tables = ae.layer_outputs(frame)
    assert list(tables) == list(arrays)
    for name, table in tables.items():
        assert isinstance(table, pd.DataFrame), name
        assert table.index.equals(frame.index), name
        assert list(table.columns) == _columns(ae, frame, name, arrays[name].shape[1]), name
        np.testing.assert_array_equal(table.to_numpy(), arrays[name])
        assert table.dtypes.iloc[0] == arrays[name].dtype, name


def test_layer_tables_agree_with_transform_and_reconstruct(wine):
    frame, ae, _ = wine
    ae = copy.deepcopy(ae).set_output(transform="pandas")
    tables = ae.layer_outputs(frame)
    assert tables["code"].columns.equals(ae.transform(frame).columns)
    pd.testing.assert_frame_equal(tables["reconstruction"], ae.reconstruct(frame))
    assert list(tables["encoder.layer1"].columns[:2]) == ["encoder.layer1_0", "encoder.layer1_1"]


def test_an_array_gets_numbered_columns_and_a_range_index(wine):
    frame, _, _ = wine
    ae = AutoEncoder(**TINY).fit(frame.to_numpy()).set_output(transform="pandas")
    tables = ae.layer_outputs(frame.to_numpy()[:5])
    assert list(tables["reconstruction"].columns) == [f"x{i}" for i in range(13)]
    assert list(tables["code"].columns) == ["autoencoder0", "autoencoder1"]
    assert tables["code"].index.equals(pd.RangeIndex(5))


def test_a_detector_gives_its_autoencoders_layers(wine):
    frame, _, detector = wine
    expected = detector.estimator_.layer_outputs(frame)
    got = copy.deepcopy(detector).layer_outputs(frame)
    assert list(got) == list(expected)
    for name, values in got.items():
        assert isinstance(values, np.ndarray), name
        np.testing.assert_array_equal(values, expected[name])


def test_a_detectors_layers_follow_its_own_set_output(wine):
    frame, _, detector = wine
    detector = copy.deepcopy(detector).set_output(transform="pandas")  # its autoencoder's is unset
    tables = detector.layer_outputs(frame)
    assert all(isinstance(table, pd.DataFrame) for table in tables.values())
    assert tables["reconstruction"].columns.equals(frame.columns)
    assert tables["code"].index.equals(frame.index)
    assert tables["code"].columns.equals(detector.transform(frame).columns)


def test_a_detector_decodes_codes_as_its_autoencoder(wine):
    frame, _, detector = wine
    codes = detector.transform(frame)
    np.testing.assert_array_equal(
        detector.inverse_transform(codes), detector.estimator_.inverse_transform(codes)
    )
    detector = copy.deepcopy(detector).set_output(transform="pandas")
    decoded = detector.inverse_transform(detector.transform(frame))  # codes with frame's index
    assert isinstance(decoded, pd.DataFrame)
    assert decoded.columns.equals(frame.columns) and decoded.index.equals(frame.index)


def test_a_detector_reads_its_autoencoders_training_curve(wine):
    _, _, detector = wine
    assert detector.n_iter_ == detector.estimator_.n_iter_ == TINY["epochs"]
    assert detector.loss_curve_ == detector.estimator_.loss_curve_
    assert not hasattr(AnomalyDetector(), "n_iter_")  # not fitted


@pytest.mark.parametrize("method", ["layer_outputs", "inverse_transform"])
def test_an_unfitted_detector_says_so(method):
    with pytest.raises(NotFittedError, match="AnomalyDetector"):
        getattr(AnomalyDetector(), method)(np.zeros((2, 2)))


def test_a_detector_refuses_data_of_another_width_in_its_own_name(wine):
    frame, _, detector = wine
    with pytest.raises(ValueError, match=r"AnomalyDetector"):
        detector.layer_outputs(frame.to_numpy()[:, :5])


def test_a_conv_models_layers_stay_arrays_under_pandas_in_a_detector():
    # Feature maps and images are not tables; its code alone as one would be a mixed dict.
    images = (load_digits().images[:96] / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    conv = ConvAutoEncoder(code_size=2, channels=(4,), epochs=1, verbose=0, random_state=0, device="cpu")
    detector = (
        AnomalyDetector(conv.fit(images[:64]), quantile=0.9).fit(images[64:]).set_output(transform="pandas")
    )
    layers = detector.layer_outputs(images[:3])
    assert all(isinstance(values, np.ndarray) for values in layers.values())
    assert layers["reconstruction"].shape == (3, 1, 8, 8) and layers["code"].shape == (3, 2)


@pytest.mark.parametrize("method", ["layer_outputs", "inverse_transform"])
def test_the_detectors_new_methods_document_parameters_and_result(method):
    doc = inspect.getdoc(getattr(AnomalyDetector, method)) or ""
    assert re.search(r"^Parameters\n-{3,}\nX : ", doc, re.M), doc
    assert re.search(r"^Returns\n-{3,}\n", doc, re.M), doc
