import numpy as np
import pytest

from hourglass.data.scaling import fit_scaler, in_unit_interval, resolve_scaling
from hourglass.exceptions import InvalidInputError

X = np.array([[0.0, 10.0, 5.0], [2.0, 30.0, 5.0], [4.0, 20.0, 5.0]])


@pytest.mark.parametrize(
    "data, expected",
    [
        (np.array([[0.0, 1.0], [0.5, 0.25]]), True),
        (np.array([[0.0, 1.01]]), False),
        (np.array([[-0.01, 0.5]]), False),
        (np.zeros((0, 2)), False),
    ],
)
def test_in_unit_interval(data, expected):
    assert in_unit_interval(data) is expected


@pytest.mark.parametrize(
    "kind, data, expected",
    [
        ("auto", np.array([[0.0, 1.0]]), "none"),
        ("auto", np.array([[0.0, 2.0]]), "standard"),
        ("none", np.array([[0.0, 2.0]]), "none"),
        ("minmax", np.array([[0.0, 1.0]]), "minmax"),
        ("standard", np.array([[0.0, 1.0]]), "standard"),
    ],
)
def test_resolve_scaling(kind, data, expected):
    assert resolve_scaling(kind, data) == expected


def test_resolve_scaling_rejects_unknown_kind_naming_it():
    with pytest.raises(InvalidInputError, match="scaling='robust'"):
        resolve_scaling("robust", X)


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("none", X),
        ("minmax", np.array([[0.0, 0.0, 0.0], [0.5, 1.0, 0.0], [1.0, 0.5, 0.0]])),
        ("standard", (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)),
        ("shrunk", (X - X.mean(0)) / np.sqrt(X.var(0) + X.var(0).mean())),
    ],
)
def test_fit_scaler_transform(kind, expected):
    scaler = fit_scaler(X, kind)
    assert scaler.kind == kind
    out = scaler.transform(X)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-6)


@pytest.mark.parametrize("kind", ["none", "minmax", "standard", "auto", "shrunk"])
def test_fit_scaler_inverse_undoes_transform(kind):
    scaler = fit_scaler(X, kind)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(X)), X, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("kind", ["minmax", "standard"])
def test_a_constant_feature_gets_the_pooled_scale_of_the_others(kind):
    scaler = fit_scaler(X, kind)
    others = X[:, :2].std(0) if kind == "standard" else np.ptp(X[:, :2], axis=0)
    np.testing.assert_allclose(scaler.scale[2], np.sqrt(np.mean(others**2)), rtol=1e-6)
    assert np.isfinite(scaler.transform(X)).all()
    assert (scaler.transform(X)[:, 2] == 0).all()  # centred: the network sees zeros there


@pytest.mark.parametrize("kind", ["minmax", "standard"])
@pytest.mark.parametrize("factor", [1e-3, 1e4])
def test_scales_follow_the_data_units_constant_features_included(kind, factor):
    # A constant feature's scale multiplies the reconstruction's error there on the way back to
    # the data's units: a fixed 1.0 made it dominate the error of data in small units.
    expected = fit_scaler(X, kind).scale * factor
    np.testing.assert_allclose(fit_scaler(X * factor, kind).scale, expected, rtol=1e-5)


def test_auto_standardizes_unit_interval_data_of_narrow_spread():
    rng = np.random.default_rng(0)
    pixels = rng.uniform(size=(50, 4))
    assert resolve_scaling("auto", pixels) == "none"
    assert resolve_scaling("auto", pixels * 1e-3) == "standard"  # rates, concentrations
    assert resolve_scaling("auto", 0.999 + pixels * 1e-3) == "standard"  # shares near 1
    sparse_binary = (rng.uniform(size=(500, 4)) < 0.002).astype(float)  # spread ~0.04, binary
    assert resolve_scaling("auto", sparse_binary) == "none"


def test_shrunk_scaling_keeps_a_near_constant_feature_at_the_common_scale():
    # A pixel dark in all but one of 100 images: standardizing divides it by 0.01, so that
    # image's value there becomes a z-score of 10 and an unseen bright value one of 100.
    rng = np.random.default_rng(0)
    data = np.column_stack([rng.uniform(size=100), np.r_[np.zeros(99), 0.1]])
    standard, shrunk = fit_scaler(data, "standard"), fit_scaler(data, "shrunk")
    assert standard.scale[1] < 0.011
    np.testing.assert_allclose(shrunk.scale, np.sqrt(data.var(0) + data.var(0).mean()), rtol=1e-6)
    assert shrunk.scale[1] > 0.2  # about the pooled spread, not the pixel's own
    assert shrunk.scale[0] > shrunk.scale[1]  # a feature's scale still grows with its spread


def test_fit_scaler_per_channel_statistics():
    images = np.stack(
        [np.zeros((2, 3, 3)), np.stack([np.full((3, 3), 1.0), np.full((3, 3), 3.0)])]
    )  # (2, 2, 3, 3)
    scaler = fit_scaler(images, "minmax", channel_axis=1)
    assert scaler.offset.shape == (2, 1, 1)
    np.testing.assert_allclose(scaler.scale.ravel(), [1.0, 3.0])


# -- scaling inside the estimator: fitted, saved, undone on decode ----------------------------


@pytest.mark.parametrize("scaling", ["none", "standard", "minmax", "auto"])
def test_estimator_inverse_of_transform_equals_reconstruct(make_ae, real_data, scaling):
    ae = make_ae(scaling=scaling, loss="mse", noise=None).fit(real_data)
    np.testing.assert_allclose(
        ae.inverse_transform(ae.transform(real_data)), ae.reconstruct(real_data), rtol=1e-5
    )


@pytest.mark.parametrize("scaling", ["standard", "minmax", "auto"])
def test_estimator_reconstructs_in_the_users_units(make_ae, real_data, scaling):
    ae = make_ae(scaling=scaling, epochs=5).fit(real_data)
    assert ae.scaler_.kind == ("standard" if scaling == "auto" else scaling)
    reconstruction = ae.reconstruct(real_data)
    assert abs(reconstruction.mean() - 1000.0) < 50.0
    decoded = ae.inverse_transform(np.zeros((1, 2)))
    assert np.all(np.abs(decoded - 1000.0) < 100.0)


def test_estimator_auto_scaling_leaves_unit_data_alone(make_ae, unit_data):
    ae = make_ae().fit(unit_data)
    assert ae.scaler_.kind == "none"
    np.testing.assert_array_equal(ae.scaler_.offset, 0.0)
    np.testing.assert_array_equal(ae.scaler_.scale, 1.0)


def test_estimator_rejects_unknown_scaling(make_ae, unit_data):
    with pytest.raises(InvalidInputError, match="scaling='log'"):
        make_ae(scaling="log").fit(unit_data)
