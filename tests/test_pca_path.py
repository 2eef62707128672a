"""The PCA path: an untrained network is PCA, training starts there, and 'auto' (the default) puts it
where it measured better: tables of fewer than 100 training rows."""

import json

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

import hourglass
from helpers import assert_one_line_error, run
from hourglass import AutoEncoder
from hourglass.exceptions import InvalidInputError
from hourglass.nn.config import DenseConfig
from hourglass.nn.model import build_model, config_from_dict
from hourglass.nn.pca_path import LinearPathSequential, set_pca_path

FIT = {"epochs": 2, "random_state": 0, "verbose": 0}


def _pca_network(X: np.ndarray, k: int):
    config = DenseConfig(
        input_dim=X.shape[1], code_size=k, hidden_layers=(32,), pca_encoder=True, pca_decoder=True
    )
    torch.manual_seed(0)
    model = build_model(config).eval()
    pca = PCA(k).fit(X)
    components = torch.from_numpy(pca.components_.astype(np.float32))
    mean = torch.from_numpy(pca.mean_.astype(np.float32))
    set_pca_path(model.encoder, components, mean, "encoder")
    set_pca_path(model.decoder, components, mean, "decoder")
    return model, pca


def test_an_untrained_network_with_the_path_is_pca(digits):
    X = digits[0].astype(np.float32)
    model, pca = _pca_network(X, 8)
    with torch.no_grad():
        out = model(torch.from_numpy(X))
    np.testing.assert_allclose(out["code"].numpy(), pca.transform(X), atol=1e-4)
    np.testing.assert_allclose(
        out["reconstruction"].numpy(), pca.inverse_transform(pca.transform(X)), atol=1e-4
    )
    # Every layer's output is reported with the path in: the code and the output are the model's.
    layers = model.layer_outputs(torch.from_numpy(X[:20]))
    np.testing.assert_allclose(layers["encoder.code"].numpy(), out["code"][:20].numpy(), atol=1e-6)
    np.testing.assert_allclose(
        layers["reconstruction"].numpy(), out["reconstruction"][:20].numpy(), atol=1e-6
    )


def test_the_path_lowers_held_out_error_at_equal_steps(digits):
    X = digits[0]
    train, test = X[:1400], X[1400:]
    pca = PCA(8).fit(train)
    pca_error = np.mean((pca.inverse_transform(pca.transform(test)) - test) ** 2)
    errors = {}
    for flag in (True, False):
        ae = AutoEncoder(code_size=8, epochs=15, random_state=0, pca_path=flag).fit(train)
        errors[flag] = np.mean((ae.reconstruct(test) - test) ** 2)
        assert ae.pca_path_ is flag and isinstance(ae.module_.encoder, LinearPathSequential) is flag
    assert errors[True] < 0.9 * errors[False], errors
    assert errors[True] < pca_error, (errors, pca_error)


def test_auto_puts_the_path_in_a_plain_autoencoder_of_few_rows_and_says_why(digits):
    assert AutoEncoder().pca_path == "auto"
    ae = AutoEncoder(code_size=4, **FIT).fit(digits[0][:60])  # 54 training rows
    assert ae.pca_path_ is True
    assert ae.architecture_.pca_encoder and ae.architecture_.pca_decoder
    assert "auto: 54 training rows, fewer than 100" in ae.history_.recipe["pca_path"]
    assert "starts at PCA's solution" in ae.history_.recipe["pca_path"]
    many = AutoEncoder(code_size=4, **FIT).fit(digits[0][:120])  # 108 training rows
    assert many.pca_path_ is False and not isinstance(many.module_.encoder, LinearPathSequential)
    assert "108 training rows, 100 or more" in many.history_.recipe["pca_path"]


def test_auto_lowers_the_held_out_error_of_a_small_real_table():
    # linnerud's 20 athletes: from random weights the 2-unit code misses PCA's plane (3.2x its
    # held-out error on average over three splits); started at PCA's solution, 0.8x.
    from sklearn.datasets import load_linnerud
    from sklearn.model_selection import train_test_split

    X = load_linnerud().data
    ratios = {}
    for flag in ("auto", False):
        errors = []
        for split in (0, 1):
            train, test = train_test_split(X, test_size=0.3, random_state=split)
            mean, std = train.mean(0), train.std(0)
            pca = PCA(2).fit((train - mean) / std)
            z = (test - mean) / std
            pca_error = np.mean((pca.inverse_transform(pca.transform(z)) - z) ** 2)
            ae = AutoEncoder(code_size=2, random_state=split, pca_path=flag).fit(train)
            errors.append(np.mean(((ae.reconstruct(test) - test) / std) ** 2) / pca_error)
        ratios[flag] = np.mean(errors)
    assert ratios["auto"] < 0.8 * ratios[False], ratios


def test_partial_fit_leaves_the_path_off_and_a_warm_start_keeps_the_first_choice(digits):
    stream = AutoEncoder(code_size=4, random_state=0).partial_fit(digits[0][:64])
    assert stream.pca_path_ is False and "partial_fit" in stream.pca_path_reason_
    warm = AutoEncoder(code_size=4, warm_start=True, **FIT).fit(digits[0][:60])
    assert warm.pca_path_ is True
    warm.fit(digits[0][:500])  # as many rows as turn it off afresh: the module goes on with it
    assert warm.pca_path_ is True and isinstance(warm.module_.encoder, LinearPathSequential)
    assert "kept from the fit this one continues" in warm.pca_path_reason_


def test_a_detector_keeps_random_weights_on_few_rows(digits):
    detector = hourglass.AnomalyDetector(random_state=0, epochs=2).fit(digits[0][:60])
    assert detector.pca_path is False and detector.estimator_.pca_path_ is False


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"l1_penalty": 0.1}, "l1_penalty=0.1"),
        ({"kl_penalty": 0.1}, "kl_penalty=0.1"),
        ({"topk": 2}, "topk=2"),
        ({"contractive_penalty": 0.1}, "contractive_penalty=0.1"),
        ({"binary": True}, "loss 'bce'"),
        ({"rows": 4}, "4 training row(s)"),
    ],
)
def test_auto_leaves_the_path_off_where_pca_is_not_the_answer(digits, params, fragment):
    params = dict(params)
    X = digits[0]
    if params.pop("binary", False):
        X = (X > 0.5).astype(np.float64)
    X = X[: params.pop("rows", len(X))]
    ae = AutoEncoder(code_size=4, pca_path="auto", **FIT, **params).fit(X)
    assert ae.pca_path_ is False
    assert fragment in ae.history_.recipe["pca_path"], ae.history_.recipe["pca_path"]
    assert not isinstance(ae.module_.encoder, LinearPathSequential)
    with pytest.raises(InvalidInputError, match=r"pca_path=True does not go with") as info:
        AutoEncoder(code_size=4, pca_path=True, **FIT, **params).fit(X)
    assert fragment in str(info.value)


def test_auto_takes_few_rows_in_any_units_and_true_overrides_many():
    X = np.random.default_rng(0).normal(size=(300, 6)) @ np.random.default_rng(1).normal(size=(6, 6))
    assert AutoEncoder(code_size=2, **FIT).fit(X[:50]).pca_path_ is True  # standardized, 45 rows
    ae = AutoEncoder(code_size=2, **FIT).fit(X)
    assert ae.pca_path_ is False
    assert "270 training rows, 100 or more" in ae.history_.recipe["pca_path"]
    forced = AutoEncoder(code_size=2, pca_path=True, **FIT).fit(X)
    assert forced.pca_path_ is True and isinstance(forced.module_.encoder, LinearPathSequential)


@pytest.mark.parametrize("value", ["yes", 1.5, None])
def test_a_bad_pca_path_is_refused(digits, value):
    with pytest.raises(InvalidInputError, match=r"pca_path=.*expected True, False or 'auto'"):
        AutoEncoder(code_size=4, pca_path=value, **FIT).fit(digits[0])


def test_the_path_is_saved_with_the_weights_and_configs_before_it_load(digits, tmp_path):
    ae = AutoEncoder(code_size=4, pca_path=True, **FIT).fit(digits[0])
    ae.save(tmp_path / "m")
    loaded = hourglass.load(tmp_path / "m")
    assert isinstance(loaded.module_.decoder, LinearPathSequential)
    np.testing.assert_array_equal(loaded.transform(digits[0][:50]), ae.transform(digits[0][:50]))
    np.testing.assert_array_equal(loaded.reconstruct(digits[0][:50]), ae.reconstruct(digits[0][:50]))
    # A config written before the path existed rebuilds the plain network.
    old = config_from_dict({"kind": "dense", "input_dim": 64, "code_size": 4, "hidden_layers": [16]})
    assert not old.pca_encoder and not old.pca_decoder
    assert type(build_model(old).encoder) is torch.nn.Sequential


def test_the_cli_turns_the_path_on_and_off(digits, tmp_path):
    np.save(tmp_path / "x.npy", digits[0][:300].astype(np.float32))
    fit = ["fit", tmp_path / "x.npy", "--code-size", "4", "--epochs", "2", "--device", "cpu", "--quiet"]
    code, out, err = run(*fit, "--no-pca-path", "--out", tmp_path / "off")
    assert code == 0, err
    assert json.loads((tmp_path / "off" / "config.json").read_text())["params"]["pca_path"] is False
    assert hourglass.load(tmp_path / "off").pca_path_ is False
    code, out, err = run(*fit, "--pca-path", "--out", tmp_path / "on")
    assert code == 0, err
    assert json.loads((tmp_path / "on" / "config.json").read_text())["params"]["pca_path"] is True
    assert hourglass.load(tmp_path / "on").pca_path_ is True
    assert_one_line_error(
        *run(*fit, "--pca-path", "--l1", "0.1", "--out", tmp_path / "l1"), "does not go with l1_penalty"
    )
    assert_one_line_error(*run(*fit, "--pca-path", "--no-pca-path", "--out", tmp_path / "both"), "contradict")
    assert not (tmp_path / "l1").exists() and not (tmp_path / "both").exists()


def test_auto_adds_the_path_where_a_time_budget_cuts_the_run_hard(digits):
    # 0.05 s against 300 epochs of 7 steps: under 5 % of them at any step time above 25 us.
    ae = AutoEncoder(code_size=8, random_state=0, verbose=0, max_time=0.05).fit(digits[0])
    assert ae.pca_path_ is True and "time budget holds about" in ae.pca_path_reason_
    assert isinstance(ae.module_.encoder, LinearPathSequential)
