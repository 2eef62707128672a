"""``set_output(transform="pandas")``: reconstructions and decoded codes come back as the input's table.

scikit-learn wraps ``transform``; ``reconstruct`` and ``inverse_transform`` returned bare arrays
even then, losing a DataFrame's index and column names. Without ``set_output`` they stay arrays.
"""

import copy

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.datasets import load_wine

from hourglass import AnomalyDetector, AutoEncoder, ConvAutoEncoder

TINY = {"code_size": 2, "hidden_layers": (8,), "epochs": 1, "verbose": 0, "random_state": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def wine():
    """The wine table with an index of names, and a tiny autoencoder fitted on it."""
    frame = load_wine(as_frame=True).data.iloc[:60]
    frame.index = [f"bottle{i}" for i in range(len(frame))]
    return frame, AutoEncoder(**TINY).fit(frame)


def _in_data_space(ae, frame, method):
    if method == "reconstruct":
        return ae.reconstruct(frame)
    return ae.inverse_transform(ae.transform(frame))  # codes named autoencoder0, ... with frame's index


@pytest.mark.parametrize("method", ["reconstruct", "inverse_transform"])
def test_outputs_in_the_input_space_are_arrays_by_default(wine, method):
    frame, ae = wine
    assert isinstance(_in_data_space(ae, frame, method), np.ndarray)


@pytest.mark.parametrize("method", ["reconstruct", "inverse_transform"])
def test_set_output_pandas_gives_the_inputs_columns_and_index(wine, method):
    frame, ae = wine
    expected = _in_data_space(ae, frame, method)
    result = _in_data_space(copy.deepcopy(ae).set_output(transform="pandas"), frame, method)
    assert isinstance(result, pd.DataFrame)
    assert result.columns.equals(frame.columns) and result.index.equals(frame.index)
    np.testing.assert_array_equal(result.to_numpy(), expected)


def test_the_global_pandas_output_applies_too(wine):
    frame, ae = wine
    with sklearn.config_context(transform_output="pandas"):
        result = ae.reconstruct(frame)
    assert isinstance(result, pd.DataFrame) and result.index.equals(frame.index)


def test_an_array_gets_numbered_columns_and_out_stays_itself(wine):
    frame, _ = wine
    ae = AutoEncoder(**TINY).fit(frame.to_numpy()).set_output(transform="pandas")
    result = ae.reconstruct(frame.to_numpy())
    assert list(result.columns) == [f"x{i}" for i in range(13)]
    out = np.empty(frame.shape, np.float64)
    assert ae.reconstruct(frame.to_numpy(), out=out) is out


def test_a_detector_reconstructs_as_its_own_set_output_says(wine):
    frame, ae = wine
    detector = AnomalyDetector(copy.deepcopy(ae)).fit(frame).set_output(transform="pandas")
    result = detector.reconstruct(frame)
    assert isinstance(result, pd.DataFrame) and result.columns.equals(frame.columns)
    assert isinstance(detector.error_map(frame), np.ndarray)  # the reports reshape it into images


def test_images_stay_arrays_under_set_output_pandas():
    images = np.random.default_rng(0).random((16, 1, 8, 8)).astype(np.float32)
    conv = ConvAutoEncoder(code_size=2, channels=(4,), epochs=1, verbose=0, random_state=0, device="cpu")
    conv.fit(images).set_output(transform="pandas")
    assert isinstance(conv.reconstruct(images), np.ndarray) and conv.reconstruct(images).shape == images.shape
