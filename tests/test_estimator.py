import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hourglass import AutoEncoder
from hourglass.exceptions import InvalidInputError


def _held_out_mse_vs_pca(digits, code_size, **params):
    X, _ = digits
    X_train, X_test = train_test_split(X, test_size=0.2, random_state=0)
    ae = AutoEncoder(code_size=code_size, random_state=0, verbose=0, **params).fit(X_train)
    pca = PCA(code_size).fit(X_train)
    ae_mse = float(np.mean((ae.reconstruct(X_test) - X_test) ** 2))
    pca_mse = float(np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2))
    return ae_mse, pca_mse


# -- the transformer API -----------------------------------------------------------------------


def test_init_only_stores_parameters():
    ae = AutoEncoder(code_size=3, hidden_layers=[7], random_state=None)
    assert ae.get_params()["hidden_layers"] == [7]
    assert not any(name.endswith("_") and not name.startswith("_") for name in vars(ae))


def test_fit_returns_self_and_sets_fitted_attributes(make_ae, unit_data):
    ae = make_ae()
    assert ae.fit(unit_data) is ae
    for name in ("module_", "scaler_", "loss_", "loss_reason_", "history_", "n_features_in_", "n_epochs_"):
        assert hasattr(ae, name), name
    assert ae.n_features_in_ == 6
    assert ae.device_ == "cpu"


@pytest.mark.parametrize(
    "method", ["transform", "inverse_transform", "reconstruct", "score", "score_samples"]
)
def test_methods_before_fit_raise_not_fitted(make_ae, unit_data, method):
    with pytest.raises(NotFittedError):
        getattr(make_ae(), method)(unit_data[:, :2] if method == "inverse_transform" else unit_data)


@pytest.mark.parametrize("code_size", [1, 2, 5])
def test_transform_and_inverse_transform_shapes(make_ae, unit_data, code_size):
    ae = make_ae(code_size=code_size).fit(unit_data)
    codes = ae.transform(unit_data)
    assert codes.shape == (64, code_size)
    assert ae.inverse_transform(codes).shape == (64, 6)
    assert ae.reconstruct(unit_data).shape == (64, 6)


def test_fit_transform_equals_fit_then_transform(make_ae, unit_data):
    np.testing.assert_array_equal(
        make_ae().fit_transform(unit_data), make_ae().fit(unit_data).transform(unit_data)
    )


def test_transform_is_deterministic(fitted_ae, unit_data):
    np.testing.assert_array_equal(fitted_ae.transform(unit_data), fitted_ae.transform(unit_data))


def test_get_feature_names_out(fitted_ae):
    assert list(fitted_ae.get_feature_names_out()) == ["autoencoder0", "autoencoder1"]


def test_score_is_mean_negative_reconstruction_error(fitted_ae, unit_data):
    samples = fitted_ae.score_samples(unit_data)
    assert samples.shape == (64,)
    assert np.all(samples <= 0)
    expected = -np.mean((fitted_ae.reconstruct(unit_data).astype(np.float64) - unit_data) ** 2, axis=1)
    np.testing.assert_allclose(samples, expected, rtol=1e-5, atol=1e-9)
    assert fitted_ae.score(unit_data) == pytest.approx(samples.mean())


def test_score_samples_ranks_outliers_lower(fitted_ae, unit_data):
    outliers = np.clip(unit_data[:5] + np.array([0.9, -0.9, 0.9, -0.9, 0.9, -0.9]), 0, 1)
    assert fitted_ae.score_samples(outliers).mean() < fitted_ae.score_samples(unit_data).mean()


def test_training_lowers_the_reconstruction_error(make_ae, unit_data):
    short = make_ae(epochs=1, patience=0).fit(unit_data)
    longer = make_ae(epochs=30, patience=0, learning_rate=1e-2).fit(unit_data)
    assert longer.score(unit_data) > short.score(unit_data)


@pytest.mark.parametrize("frame", [False, True], ids=["array", "DataFrame"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", ["transform", "reconstruct", "fit_transform"])
def test_output_dtype_follows_input_dtype(make_ae, unit_data, dtype, method, frame):
    # A DataFrame of float32 columns is float32 input, as for scikit-learn (it gave float64).
    X = unit_data.astype(dtype)
    X = pd.DataFrame(X, columns=list("abcdef")) if frame else X
    ae = make_ae()
    out = ae.fit_transform(X) if method == "fit_transform" else getattr(ae.fit(X), method)(X)
    assert out.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inverse_transform_dtype_follows_codes_dtype(fitted_ae, dtype):
    assert fitted_ae.inverse_transform(np.zeros((3, 2), dtype=dtype)).dtype == dtype


def test_layer_outputs_by_name(make_ae, unit_data):
    ae = make_ae(hidden_layers=(8, 4)).fit(unit_data)
    outputs = ae.layer_outputs(unit_data[:5])
    widths = {name: a.shape[1] for name, a in outputs.items()}
    assert widths == {
        "encoder.layer1": 8,
        "encoder.layer2": 4,
        "encoder.code": 2,
        "code": 2,
        "decoder.layer1": 4,
        "decoder.layer2": 8,
        "decoder.output": 6,
        "reconstruction": 6,
    }


@pytest.mark.parametrize(
    "kind, params",
    [("AutoEncoder", {}), ("AutoEncoder", {"topk": 2, "code_size": 4}), ("AutoEncoder", {"pca_path": True}),
     ("VariationalAutoEncoder", {})],
)  # fmt: skip
def test_layer_outputs_reconstruction_is_in_the_data_units(kind, params):
    # Standard scaling of breast_cancer's columns (areas in the hundreds): the network's own
    # output is z-scores, which layer_outputs gave under the name "reconstruction".
    from sklearn.datasets import load_breast_cancer

    import hourglass

    X = load_breast_cancer().data
    settings = {"code_size": 2, **params, "epochs": 2, "random_state": 0, "verbose": 0}
    ae = getattr(hourglass, kind)(**settings).fit(X[:400])
    outputs = ae.layer_outputs(X[400:])
    assert np.array_equal(outputs["reconstruction"], ae.reconstruct(X[400:]))
    assert np.array_equal(outputs["code"], ae.transform(X[400:]).astype(np.float32))


def test_decoder_layers_parameter_shapes_the_decoder(make_ae, unit_data):
    ae = make_ae(hidden_layers=(8,), decoder_layers=(3, 5)).fit(unit_data)
    assert ae.architecture_.resolved_decoder_layers == (3, 5)
    assert ae.layer_outputs(unit_data[:2])["decoder.layer2"].shape == (2, 5)


def test_hidden_layers_may_be_a_single_int(make_ae, unit_data):
    ae = make_ae(hidden_layers=8).fit(unit_data)
    assert ae.architecture_.hidden_layers == (8,)


# -- pandas ------------------------------------------------------------------------------------


def test_dataframe_input_sets_feature_names(make_ae, unit_data):
    df = pd.DataFrame(unit_data, columns=[f"f{i}" for i in range(6)])
    ae = make_ae().fit(df)
    assert list(ae.feature_names_in_) == list(df.columns)
    with pytest.warns(UserWarning, match="feature names"):
        from_array = ae.transform(unit_data)
    np.testing.assert_allclose(ae.transform(df), from_array, rtol=1e-6)


def test_dataframe_with_other_column_names_is_rejected_at_transform(make_ae, unit_data):
    ae = make_ae().fit(pd.DataFrame(unit_data, columns=list("abcdef")))
    with pytest.raises(InvalidInputError, match="no column 'a'.*a feature the model was fitted on"):
        ae.transform(pd.DataFrame(unit_data, columns=list("uvwxyz")))


# -- scikit-learn composition -------------------------------------------------------------------


def test_clone_gives_an_unfitted_copy(fitted_ae):
    copy = clone(fitted_ae)
    assert copy.get_params() == fitted_ae.get_params()
    assert not hasattr(copy, "module_")


def test_in_a_pipeline_with_a_classifier(make_ae, digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    pipe = make_pipeline(
        StandardScaler(),
        make_ae(code_size=8, hidden_layers=(32,), epochs=10, batch_size=64),
        LogisticRegression(),
    )
    pipe.fit(X_train, y_train)
    assert pipe.predict(X_test).shape == y_test.shape
    assert pipe.score(X_test, y_test) > 0.6


def test_in_grid_search_over_code_size(make_ae, digits):
    X = digits[0][:300]
    search = GridSearchCV(make_ae(hidden_layers=(32,), epochs=10), {"code_size": [1, 8]}, cv=2)
    search.fit(X)
    assert search.best_params_ == {"code_size": 8}
    assert np.all(search.cv_results_["mean_test_score"] < 0)
    assert search.best_estimator_.transform(X).shape == (300, 8)


# -- quality -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_defaults_beat_pca_on_digits_at_code_size_8(digits):
    ae_mse, pca_mse = _held_out_mse_vs_pca(digits, 8)
    assert ae_mse < pca_mse


def test_short_training_beats_pca_on_digits_at_code_size_2(digits):
    ae_mse, pca_mse = _held_out_mse_vs_pca(digits, 2, epochs=30)
    assert ae_mse < pca_mse


# -- bad input: a precise error naming the value -----------------------------------------------


@pytest.mark.parametrize("dtype", [object, "string"])
def test_dataframe_with_text_column_is_rejected_naming_it(make_ae, unit_data, dtype):
    # pandas >= 3 stores text as the 'string' extension dtype by default.
    df = pd.DataFrame(unit_data, columns=list("abcdef")).assign(city=pd.Series(["Oslo"] * 64, dtype=dtype))
    with pytest.raises(InvalidInputError, match=r"column 'city' is not numeric.*'Oslo'"):
        make_ae().fit(df)


def test_dataframe_with_nullable_numeric_columns_is_accepted(make_ae, unit_data):
    df = pd.DataFrame(unit_data, columns=list("abcdef")).astype({"a": "Float64"})
    assert make_ae().fit(df).transform(df).shape == (64, 2)


@pytest.mark.parametrize("bad, shown", [(np.nan, "NaN"), (np.inf, "infinite"), (-np.inf, "infinite")])
def test_non_finite_values_are_rejected_naming_where(make_ae, unit_data, bad, shown):
    X = unit_data.copy()
    X[3, 4] = bad
    with pytest.raises(InvalidInputError, match=rf"{shown}.*row 3, column 4"):
        make_ae().fit(X)


def test_non_finite_values_are_rejected_at_transform(fitted_ae, unit_data):
    X = unit_data.copy()
    X[1, 0] = np.nan
    with pytest.raises(InvalidInputError, match=r"NaN.*row 1, column 0"):
        fitted_ae.transform(X)


def test_one_dimensional_data_is_rejected(make_ae):
    with pytest.raises(InvalidInputError, match=r"2D array.*reshape"):
        make_ae().fit(np.linspace(0, 1, 10))


def test_empty_data_is_rejected(make_ae):
    with pytest.raises(InvalidInputError, match=r"0 sample"):
        make_ae().fit(np.zeros((0, 4)))


def test_feature_count_mismatch_at_transform_names_both_counts(fitted_ae, unit_data):
    with pytest.raises(InvalidInputError, match=r"4 features.*expecting 6"):
        fitted_ae.transform(unit_data[:, :4])


def test_code_width_mismatch_at_inverse_transform(fitted_ae):
    with pytest.raises(InvalidInputError, match=r"shape \(3, 5\); expected \(n_samples, 2\)"):
        fitted_ae.inverse_transform(np.zeros((3, 5)))


@pytest.mark.parametrize("code_size", [6, 7])
def test_code_size_not_smaller_than_input_is_refused(make_ae, unit_data, code_size):
    with pytest.raises(InvalidInputError, match=rf"code_size={code_size} must be smaller than.*6 feature"):
        make_ae(code_size=code_size).fit(unit_data)


def test_overcomplete_code_is_allowed_with_a_sparsity_regularizer(make_ae, unit_data):
    ae = make_ae(code_size=8, l1_penalty=1e-3).fit(unit_data)
    assert ae.transform(unit_data).shape == (64, 8)


@pytest.mark.parametrize("code_size", [0, -1, 2.5, "2"])
def test_code_size_must_be_a_positive_integer(make_ae, unit_data, code_size):
    with pytest.raises(InvalidInputError, match="code_size="):
        make_ae(code_size=code_size).fit(unit_data)


@pytest.mark.parametrize(
    "param, value",
    [
        ("activation", "swish"),
        ("loss", "huber"),
        ("validation_fraction", 1.0),
        ("epochs", 0),
        ("noise", "pink"),
    ],
)
def test_bad_parameters_are_named_at_fit(make_ae, unit_data, param, value):
    with pytest.raises(InvalidInputError, match=rf"{param}={value!r}".replace("(", r"\(")):
        make_ae(**{param: value}).fit(unit_data)


@pytest.mark.parametrize(
    "param, value", [("batch_size", 2.5), ("epochs", 2.5), ("patience", 1.5), ("epochs", True)]
)
def test_counts_must_be_whole_numbers(make_ae, unit_data, param, value):
    # int() once made batch_size=2.5 train batches of 2, silently.
    expected = rf"^{param}={value!r}; expected a whole number( or 'auto')?$"
    with pytest.raises(InvalidInputError, match=expected):
        make_ae(**{param: value}).fit(unit_data)


def test_numpy_integers_count_as_whole_numbers(make_ae, unit_data):
    ae = make_ae(batch_size=np.int64(16), epochs=np.int32(1)).fit(unit_data)
    assert ae.n_epochs_ == 1


def test_a_rows_result_does_not_depend_on_the_rows_predicted_with_it(digits):
    # A tail of rows that does not fill the CPU matrix kernels' block takes another summation
    # order (1-3 rows on AMD, 10 of 20 with Intel's MKL); prediction pads batches to 16 rows,
    # so the same row gives the same numbers alone, in a batch, or as the tail of one.
    X, _ = digits
    X = X[:40]
    ae = AutoEncoder(
        code_size=8, hidden_layers=(128,), epochs=2, device="cpu", random_state=0, verbose=0
    ).fit(X)
    alone = np.concatenate([ae.reconstruction_error(X[i : i + 1]) for i in range(len(X))])
    assert np.array_equal(alone, ae.reconstruction_error(X))
    codes_alone = np.concatenate([ae.transform(X[i : i + 1]) for i in range(3)])
    assert np.array_equal(codes_alone, ae.transform(X[:3]))
    assert np.array_equal(ae.transform(X[:3]), ae.transform(X)[:3])
    halves = np.concatenate([ae.reconstruction_error(X[:10]), ae.reconstruction_error(X[10:20])])
    assert np.array_equal(halves, ae.reconstruction_error(X[:20]))
