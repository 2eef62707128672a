"""Input parts (hourglass.estimators.inputs): rows and grids, held by every estimator.

The estimator delegates its data's concerns to the part ``_input()`` gives; the VAE takes rows or
grids as its data come, without borrowing any method of its siblings.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

import hourglass
from hourglass import AutoEncoder, ConvAutoEncoder, VariationalAutoEncoder, VQAutoEncoder
from hourglass.estimators.inputs import INPUTS, GridPart, RowsPart, arch_input, choose_arch, input_part
from hourglass.exceptions import InvalidInputError

TINY = dict(epochs=1, random_state=0, verbose=0)


@pytest.fixture(scope="module")
def rows():
    return np.random.default_rng(0).random((48, 6)).astype(np.float32)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((24, 1, 8, 8)).astype(np.float32)


def test_both_kinds_are_registered():
    assert INPUTS["rows"] is RowsPart and INPUTS["grid"] is GridPart
    assert isinstance(input_part("rows"), RowsPart) and isinstance(input_part("grid"), GridPart)
    with pytest.raises(InvalidInputError, match=r"input_kind='table'; expected one of \['grid', 'rows'\]"):
        input_part("table")


@pytest.mark.parametrize(
    "cls, part",
    [(AutoEncoder, RowsPart), (ConvAutoEncoder, GridPart), (VQAutoEncoder, GridPart)],
)
def test_estimators_name_their_input_kind(cls, part):
    assert type(cls()._input()) is part


@pytest.mark.parametrize(
    "shape, arch",
    [((10, 4), "dense"), ((10, 1, 8, 8), "conv"), ((10, 2, 16), "conv"), ((10, 1, 2, 4, 4), "conv")],
)
def test_choose_arch_reads_the_dimensions(shape, arch):
    assert choose_arch("auto", np.zeros(shape)) == arch
    assert choose_arch("dense", np.zeros(shape)) == "dense"  # a set arch is kept


def test_choose_arch_reads_a_dataset_item_and_a_path(tmp_path):
    dataset = torch.utils.data.TensorDataset(torch.zeros(4, 5))
    assert choose_arch("auto", dataset) == "dense"
    assert choose_arch("auto", torch.utils.data.DataLoader(dataset)) == "dense"
    assert choose_arch("auto", str(tmp_path)) == "conv"


def test_vae_takes_rows_for_a_table_and_grids_for_images(rows, images):
    dense = VariationalAutoEncoder(code_size=2, **TINY).fit(rows)
    assert dense.arch_ == "dense" and type(dense._input()) is RowsPart
    assert dense.input_shape_ == (6,)  # the rows part sets it: no fit override
    conv = VariationalAutoEncoder(code_size=2, channels=(4,), **TINY).fit(images)
    assert conv.arch_ == "conv" and type(conv._input()) is GridPart
    assert conv.input_shape_ == (1, 8, 8)


def test_vae_borrows_no_method_from_its_siblings():
    own = vars(VariationalAutoEncoder)
    for name, value in own.items():
        if inspect.isfunction(value):
            assert value.__qualname__.startswith("VariationalAutoEncoder."), name


def test_auto_rate_on_grids_is_the_conv_models_for_the_vae_and_the_conv_model():
    # ConvAutoEncoder's docstring promises learning_rate='auto'; it refused it before.
    for est in (VariationalAutoEncoder(), ConvAutoEncoder()):
        rate, rule = arch_input("conv").auto_learning_rate(est)
        assert rate == 3e-3 and "convolutional" in rule
    assert input_part("grid").auto_learning_rate(ConvAutoEncoder())[0] == 3e-3


@pytest.mark.parametrize("shape", [(5, 3), (5, 1, 2, 3, 4, 5)])
def test_grid_part_names_the_bad_shape(shape):
    with pytest.raises(InvalidInputError, match=rf"X has shape \({shape[0]}, {shape[1]}.*for tables use"):
        GridPart().validate(ConvAutoEncoder(), np.zeros(shape, np.float32), reset=True)


def test_grid_part_names_the_bad_item_shape_of_a_dataset():
    dataset = torch.utils.data.TensorDataset(torch.zeros(4, 1, 2, 3, 4, 5))
    with pytest.raises(InvalidInputError, match=r"X has items of shape \(1, 2, 3, 4, 5\)"):
        GridPart().training_source(ConvAutoEncoder(), dataset)


def test_fitted_grid_names_the_shape_it_was_fitted_on(images):
    ae = ConvAutoEncoder(channels=(4,), **TINY).fit(images)
    with pytest.raises(InvalidInputError, match=r"shape \(1, 6, 6\); this model was fitted on \(1, 8, 8\)"):
        ae.transform(images[:, :, :6, :6])


def test_rows_shape_survives_save_and_load(rows, tmp_path):
    ae = AutoEncoder(code_size=2, hidden_layers=(8,), **TINY).fit(rows)
    assert ae.input_shape_ == (6,)
    ae.save(tmp_path / "m")
    assert hourglass.load(tmp_path / "m").input_shape_ == (6,)


def test_conv_autoencoder_fits_with_auto_learning_rate():
    X = np.random.default_rng(0).random((24, 1, 8, 8)).astype(np.float32)
    ae = ConvAutoEncoder(code_size=4, channels=(4,), epochs=1, learning_rate="auto", random_state=0)
    ae.fit(X)
    assert ae.learning_rate_ == 3e-3 and "convolutional" in ae.learning_rate_reason_


@pytest.mark.parametrize(("features", "layers"), [(6, (256, 128)), (512, (256, 128)), (513, (512, 256))])
def test_auto_hidden_layers_widen_for_inputs_of_more_than_512_features(features, layers):
    # 120 rows: 108 train, past the small-data layers of the PCA path (under 100).
    X = np.random.default_rng(0).random((120, features)).astype(np.float32)
    ae = AutoEncoder(code_size=2, device="cpu", **TINY).fit(X)
    assert ae.hidden_layers == "auto"  # the parameter stays as given; the fitted layers say what it chose
    assert ae.architecture_.hidden_layers == layers
    first = next(m for m in ae.module_.encoder.modules() if isinstance(m, torch.nn.Linear))
    assert (first.in_features, first.out_features) == (features, layers[0])


@pytest.mark.parametrize("n_rows", [48, 120])
def test_auto_hidden_layers_survive_save_and_load(n_rows, tmp_path):
    rows = np.random.default_rng(0).normal(size=(n_rows, 6)).astype(np.float32)
    ae = AutoEncoder(code_size=2, device="cpu", **TINY).fit(rows)
    ae.save(tmp_path / "m")
    again = hourglass.load(tmp_path / "m", device="cpu")
    assert again.architecture_.hidden_layers == ((64, 32) if n_rows < 100 else (256, 128))
    np.testing.assert_allclose(again.transform(rows), ae.transform(rows), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "params, layers, path",
    [
        ({}, (64, 32), True),  # 'auto' adds the path under 100 training rows, in narrower layers
        ({"pca_path": False}, (256, 128), False),
        ({"pca_path": True}, (256, 128), True),  # a path asked for keeps the usual layers
        ({"hidden_layers": (16, 8)}, (16, 8), True),
        ({"loss": "bce"}, (256, 128), False),  # no path (a sigmoid output), no small-data layers
    ],
)
def test_small_data_layers_go_with_the_pca_path_auto_adds(params, layers, path):
    X = np.random.default_rng(0).random((48, 6)).astype(np.float32)
    ae = AutoEncoder(code_size=2, device="cpu", **TINY, **params).fit(X)
    assert (ae.architecture_.hidden_layers, ae.pca_path_) == (layers, path)
    assert ("in layers of 64-32" in ae.pca_path_reason_) is (layers == (64, 32))
    first = next(m for m in ae.module_.encoder.modules() if isinstance(m, torch.nn.Linear))
    assert first.out_features == layers[0]


def test_a_warm_start_on_more_rows_keeps_the_small_data_layers_it_continues():
    X = np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32)
    ae = AutoEncoder(code_size=2, device="cpu", warm_start=True, **TINY).fit(X[:48])
    before = [p.detach().clone() for p in ae.module_.parameters()]
    ae.fit(X)  # 270 training rows: a fresh fit would take 256-128 without the path
    assert ae.architecture_.hidden_layers == (64, 32) and ae.pca_path_
    assert any(not torch.equal(a, b) for a, b in zip(before, ae.module_.parameters(), strict=True))


def test_hidden_layers_of_another_word_are_refused_by_name(rows):
    with pytest.raises(InvalidInputError, match=r"hidden_layers='wide'.*expected 'auto'"):
        AutoEncoder(hidden_layers="wide", **TINY).fit(rows)
