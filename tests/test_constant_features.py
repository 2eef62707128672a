"""A feature constant in the training data comes back as exactly that constant.

Its scale is the pooled one of the others, so that its input is not divided by zero; the way
back multiplied the network's small output there by that scale too (wine's 86), and a constant
5 came back anywhere from -0.5 to 10.6. The scaler now undoes it with a factor of 0, in
reconstruct, inverse_transform, the saved model, the CLI and the exported graph alike.
"""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_wine

import hourglass
from helpers import run
from hourglass.data.scaling import fit_scaler

FAST = {"epochs": 3, "random_state": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def wine_const() -> pd.DataFrame:
    wine = load_wine(as_frame=True).frame.drop(columns="target")
    wine["const"] = 5.0
    return wine


@pytest.fixture(scope="module")
def fitted(wine_const):
    return hourglass.AutoEncoder(code_size=2, **FAST).fit(wine_const)


@pytest.mark.parametrize("kind", ["standard", "minmax", "shrunk"])
def test_the_scaler_maps_any_output_back_to_the_constant(kind):
    X = np.array([[0.0, 10.0, 5.0], [2.0, 30.0, 5.0], [4.0, 20.0, 5.0]])
    scaler = fit_scaler(X, kind)
    assert scaler.scale[2] > 0.1  # the way in still divides by the pooled scale, not by 0
    wobble = np.array([[0.3, -0.2, 0.12], [-1.0, 1.0, -0.07]], np.float32)  # a network's output
    np.testing.assert_array_equal(scaler.inverse_transform(wobble)[:, 2], [5.0, 5.0])
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(X)), X, rtol=1e-6)


def test_reconstruct_and_inverse_transform_give_the_constant(fitted, wine_const):
    reconstruction = fitted.reconstruct(wine_const)
    np.testing.assert_array_equal(reconstruction[:, -1], 5.0)
    np.testing.assert_array_equal(fitted.inverse_transform(fitted.transform(wine_const))[:, -1], 5.0)
    # The reported errors measure that same reconstruction.
    expected = np.mean((reconstruction.astype(np.float64) - wine_const.to_numpy()) ** 2, axis=1)
    np.testing.assert_allclose(fitted.reconstruction_error(wine_const), expected, rtol=1e-5)


def test_a_saved_model_keeps_the_constant(fitted, wine_const, tmp_path):
    loaded = hourglass.load(fitted.save(tmp_path / "model"))
    np.testing.assert_array_equal(loaded.scaler_.inverse_scale, fitted.scaler_.inverse_scale)
    np.testing.assert_array_equal(loaded.reconstruct(wine_const), fitted.reconstruct(wine_const))


def test_the_portable_module_and_the_onnx_graph_give_the_constant(fitted, wine_const, tmp_path):
    X = wine_const.to_numpy(np.float32)
    with torch.no_grad():
        _, reconstruction = fitted.to_torch()(torch.from_numpy(X))
        decoded = fitted.to_torch("decoder")(
            torch.from_numpy(fitted.transform(wine_const).astype(np.float32))
        )
    np.testing.assert_array_equal(reconstruction.numpy()[:, -1], 5.0)
    np.testing.assert_array_equal(decoded.numpy()[:, -1], 5.0)
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    path = tmp_path / "model.onnx"
    fitted.export_onnx(path)
    session = ort.InferenceSession(str(path))
    outputs = session.run(None, {session.get_inputs()[0].name: X})
    np.testing.assert_array_equal(outputs[1][:, -1], 5.0)


def test_the_cli_reconstructs_the_constant(wine_const, tmp_path):
    data = tmp_path / "wine.csv"
    wine_const.to_csv(data, index=False)
    code, _, err = run("fit", data, "-o", tmp_path / "m", "--code-size", "2", "--epochs", "3", "-q")
    assert code == 0, err
    code, _, err = run("reconstruct", tmp_path / "m", data, "-o", tmp_path / "r.csv", "-q")
    assert code == 0, err
    np.testing.assert_array_equal(pd.read_csv(tmp_path / "r.csv")["const"], 5.0)


def test_a_feature_constant_in_partial_fits_first_chunk_stays_free(wine_const):
    # The next chunks may vary there: the network must be able to reconstruct what they hold.
    ae = hourglass.AutoEncoder(code_size=2, **FAST).partial_fit(wine_const.iloc[:64])
    assert ae.scaler_.inverse_scale is None
    np.testing.assert_array_equal(ae.scaler_.unscale, ae.scaler_.scale)
