"""The variational autoencoder: module (ELBO, KL, warm-up, free bits), estimator, persistence, CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import assert_one_line_error, run
from hourglass import AutoEncoder, InvalidInputError, VariationalAutoEncoder, load
from hourglass.estimators import variational
from hourglass.nn import variational as vnn
from hourglass.nn.model import build_model
from hourglass.train.losses import total_loss
from hourglass.train.trainer import Trainer

TINY_VAE = {
    "code_size": 2,
    "hidden_layers": (16,),
    "epochs": 3,
    "batch_size": 32,
    "learning_rate": 3e-3,
    "random_state": 0,
    "device": "cpu",
}


def _model(likelihood="bernoulli", **fields) -> vnn.VariationalAutoEncoder:
    activation = "sigmoid" if likelihood == "bernoulli" else "identity"
    config = vnn.VariationalDenseConfig(
        input_dim=6, code_size=3, hidden_layers=(8,), output_activation=activation, likelihood=likelihood,
        **fields,
    )  # fmt: skip
    torch.manual_seed(0)
    return build_model(config)


@pytest.fixture(scope="module")
def digits_vae(digits):
    X = digits[0][:300]
    return VariationalAutoEncoder(**TINY_VAE).fit(X), X


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_eval_loss_is_the_negative_elbo_of_the_mean_code_per_value(unit_data, likelihood):
    model = _model(likelihood).eval()
    x = torch.as_tensor(unit_data[:16], dtype=torch.float32)
    out = model(x)
    with torch.no_grad():
        parts = total_loss(model, x, x, out, "bce" if likelihood == "bernoulli" else "mse")
    with torch.no_grad():
        mu, logvar = model.posterior(x)
        log_px = model.log_likelihood_given_code(model.decoder(mu), x)
    kl = vnn.kl_per_unit(mu, logvar).sum(dim=1)
    assert sorted(parts) == ["kl_loss", "loss", "reconstruction"]
    if likelihood == "bernoulli":  # the trainer's loss times the values is -ELBO, exactly
        assert float(parts["loss"]) * 6 == pytest.approx(float((kl - log_px).mean()), rel=1e-5)
    else:  # the MSE plus 2 sigma^2 KL / D: -ELBO times 2 sigma^2 / D, up to the constant
        variance = float(model.noise_variance)
        expected = (kl - log_px).mean() * 2 * variance / 6 - variance * (math.log(2 * math.pi * variance))
        assert float(parts["loss"]) == pytest.approx(float(expected), rel=1e-5)


def test_kl_is_zero_for_a_posterior_equal_to_the_prior():
    model = _model()
    torch.nn.init.zeros_(model.encoder.code.weight)
    torch.nn.init.zeros_(model.encoder.code.bias)  # mu = 0, logvar = 0 for every input
    out = model.eval()(torch.rand(4, 6))
    assert float(out["aux"]["kl_loss"].detach()) == 0.0
    assert float(vnn.kl_per_unit(torch.zeros(2, 3), torch.zeros(2, 3)).abs().max()) == 0.0
    assert float(vnn.kl_per_unit(torch.ones(1, 1), torch.zeros(1, 1))) == pytest.approx(0.5)


def test_warmup_scales_the_kl_term_in_training_only():
    model = _model(kl_warmup=4).train()
    x = torch.rand(8, 6)
    values = []
    for epoch in (1, 2, 4, 9):
        model.start_epoch(epoch)
        torch.manual_seed(1)
        values.append(float(model(x)["aux"]["kl_loss"].detach()))
    assert values[0] == pytest.approx(values[2] / 4, rel=1e-5)
    assert values[1] == pytest.approx(values[2] / 2, rel=1e-5)
    assert values[3] == pytest.approx(values[2], rel=1e-5)
    assert model.warming_up(3) and not model.warming_up(4)
    model.start_epoch(1)
    full = float(model.eval()(x)["aux"]["kl_loss"].detach())  # validation is judged at the full weight
    torch.manual_seed(1)
    assert full > float(model.train()(x)["aux"]["kl_loss"].detach())


def test_free_bits_floor_each_units_kl_in_training():
    model = _model(free_bits=50.0).train()  # far above any unit's KL at initialisation
    out = model(torch.rand(8, 6))
    assert float(out["aux"]["kl_loss"].detach()) == pytest.approx(3 * 50.0 / 6)
    assert float(model.eval()(torch.rand(8, 6))["aux"]["kl_loss"].detach()) < 3 * 50.0 / 6


def test_beta_multiplies_the_kl_term():
    x = torch.rand(8, 6)
    one, three = (float(_model(beta=b).eval()(x)["aux"]["kl_loss"].detach()) for b in (1.0, 3.0))
    assert three == pytest.approx(3 * one, rel=1e-5)


def test_iwae_with_one_sample_is_the_elbo_in_expectation_and_rises_with_k(unit_data):
    model = _model().eval()
    x = torch.as_tensor(unit_data[:8], dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    elbo = vnn.elbo(model, x, 4000, g).mean()
    one = torch.stack([vnn.iwae_bound(model, x, 1, g) for _ in range(4000)]).mean()
    assert float(one) == pytest.approx(float(elbo), abs=0.02)
    # Each bound is an expectation too: average repeated estimates, fewer for larger k.
    ten = torch.stack([vnn.iwae_bound(model, x, 10, g) for _ in range(400)]).mean()
    hundred = torch.stack([vnn.iwae_bound(model, x, 100, g) for _ in range(40)]).mean()
    assert float(one) < float(ten) < float(hundred)


def test_fit_logs_reconstruction_and_kl_separately(digits_vae):
    vae, _ = digits_vae
    assert set(vae.history_.terms) == {"reconstruction", "kl_loss"}
    assert vae.loss_ == "bce" and vae.architecture_.likelihood == "bernoulli"
    assert vae.architecture_.kind == "vae_dense" and vae.arch_ == "dense"


def test_sample_shape_range_and_seed(digits_vae):
    vae, _ = digits_vae
    a, b = vae.sample(5, random_state=3), vae.sample(5, random_state=3)
    assert a.shape == (5, 64) and np.array_equal(a, b)
    assert a.min() >= 0.0 and a.max() <= 1.0  # Bernoulli means
    assert not np.array_equal(a, vae.sample(5, random_state=4))


@pytest.fixture(scope="module")
def digits_vae_3(digits):
    """A dense VAE with 3 code units: 3 n values per draw, rarely a multiple of torch's blocks of 16."""
    return VariationalAutoEncoder(**{**TINY_VAE, "code_size": 3}).fit(digits[0])


@pytest.mark.parametrize("seed", [0, 3])
def test_sample_of_n_begins_with_the_sample_of_fewer(digits_vae_3, seed):
    vae = digits_vae_3
    ten = vae.sample(10, random_state=seed)
    np.testing.assert_array_equal(ten, vae.sample(10, random_state=seed))
    for n in (1, 5, 6, 9):
        np.testing.assert_array_equal(ten[:n], vae.sample(n, random_state=seed), err_msg=f"n={n}")


@pytest.mark.parametrize("batch", [1, 5, 7])
def test_sample_does_not_depend_on_the_batches_it_is_drawn_in(digits_vae_3, monkeypatch, batch):
    whole = digits_vae_3.sample(12, random_state=2)
    monkeypatch.setattr(variational, "SAMPLE_BATCH", batch)  # odd batches of odd codes split pairs
    np.testing.assert_array_equal(digits_vae_3.sample(12, random_state=2), whole)


def test_a_rows_likelihood_does_not_move_with_the_rows_scored_beside_it(digits_vae_3, digits):
    # 50 and 44 rows drew their importance samples in chunks of other sizes: 0.19 nats apart.
    X = digits[0]
    beside = digits_vae_3.log_likelihood(X[0:50], n_importance=1000)[6:]
    np.testing.assert_array_equal(beside, digits_vae_3.log_likelihood(X[6:50], n_importance=1000))


@pytest.mark.parametrize("count", [1, 7, 15])
def test_prior_draws_below_16_values_are_torchs_randn(count):
    # Those are the values samples had before the draws were made prefix-stable: kept.
    expected = torch.randn(count, generator=torch.Generator().manual_seed(5)).numpy()
    np.testing.assert_array_equal(variational.PriorDraws(5).draw(count), expected)


@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_sample_refuses_a_bad_count(digits_vae, n):
    with pytest.raises(InvalidInputError, match="n="):
        digits_vae[0].sample(n)


@pytest.mark.parametrize("method", ["linear", "slerp"])
def test_interpolate_ends_at_the_posterior_means(digits_vae, method):
    vae, X = digits_vae
    path, codes = vae.interpolate(X[0], X[1], steps=6, method=method, return_codes=True)
    assert path.shape == (6, 64) and codes.shape == (6, 2)
    means = vae.transform(X[:2])
    np.testing.assert_allclose(codes[[0, -1]], means, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(path[[0, -1]], vae.reconstruct(X[:2]), rtol=1e-4, atol=1e-5)


def test_transform_and_reconstruct_are_deterministic(digits_vae):
    vae, X = digits_vae
    assert np.array_equal(vae.transform(X[:20]), vae.transform(X[:20]))
    assert np.array_equal(vae.reconstruct(X[:20]), vae.reconstruct(X[:20]))


@pytest.mark.parametrize("a", [np.zeros(63), np.zeros((2, 64)), np.zeros((8, 9))])
def test_interpolate_refuses_inputs_of_the_wrong_shape(digits_vae, a):
    vae, X = digits_vae
    with pytest.raises(InvalidInputError, match="expected one sample of shape"):
        vae.interpolate(a, X[1])


def test_score_samples_is_a_deterministic_elbo_that_ranks_noise_lower(digits_vae):
    vae, X = digits_vae
    scores = vae.score_samples(X[:50])
    assert np.array_equal(scores, vae.score_samples(X[:50]))
    noise = np.random.default_rng(0).uniform(size=(50, 64))
    assert np.median(vae.score_samples(noise)) < np.median(scores)
    assert vae.log_likelihood(X[:20], n_importance=50).mean() >= scores[:20].mean() - 1.0


def test_active_units_and_kl_per_unit(digits_vae):
    vae, X = digits_vae
    kl, active = vae.kl_per_unit(X), vae.active_units(X)
    assert kl.shape == (2,) and active.shape == (2,) and active.dtype == bool
    assert np.all(kl >= 0)


def test_save_load_roundtrip_gives_the_same_samples(digits_vae, tmp_path):
    vae, X = digits_vae
    loaded = load(vae.save(tmp_path / "vae"))
    assert type(loaded) is VariationalAutoEncoder and loaded.arch_ == "dense"
    assert np.array_equal(loaded.sample(4, random_state=7), vae.sample(4, random_state=7))
    np.testing.assert_allclose(loaded.score_samples(X[:10]), vae.score_samples(X[:10]))


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"beta": 0.0}, "beta=0.0"),
        ({"beta": -1.0}, "beta=-1.0"),
        ({"beta": float("nan")}, "beta=nan"),
        ({"free_bits": -0.5}, "free_bits=-0.5"),
        ({"kl_warmup": -1}, "kl_warmup=-1"),
        ({"kl_warmup": 2.5}, "kl_warmup=2.5"),
        ({"code_size": None}, "code_size=None"),
        ({"arch": "unet"}, "arch='unet'"),
    ],
)
def test_bad_parameters_are_refused_before_training(unit_data, params, fragment):
    with pytest.raises(InvalidInputError, match=fragment.replace("(", r"\(")):
        VariationalAutoEncoder(**{**TINY_VAE, **params}).fit(unit_data)


def test_gaussian_likelihood_for_data_outside_the_unit_interval(real_data):
    vae = VariationalAutoEncoder(**TINY_VAE).fit(real_data)
    assert vae.loss_ == "mse" and vae.architecture_.likelihood == "gaussian"
    assert float(vae.module_.noise_variance) != 1.0  # tracked during training
    assert np.isfinite(vae.score_samples(real_data)).all()
    assert vae.sample(3, random_state=0).shape == (3, 6)


def test_conv_vae_on_images(digits):
    images = digits[0][:128].reshape(-1, 1, 8, 8)
    vae = VariationalAutoEncoder(**{**TINY_VAE, "channels": (4,), "epochs": 1}).fit(images)
    assert vae.arch_ == "conv" and vae.architecture_.kind == "vae_conv"
    assert vae.sample(3, random_state=0).shape == (3, 1, 8, 8)
    np.testing.assert_array_equal(vae.sample(9, random_state=0)[:3], vae.sample(3, random_state=0))
    assert vae.interpolate(images[0], images[1], steps=3).shape == (3, 1, 8, 8)
    assert vae.interpolate(images[0, 0], images[1, 0], steps=3).shape == (3, 1, 8, 8)


def test_the_collapse_check_leaves_a_warming_objective_alone():
    trainer = Trainer.__new__(Trainer)
    terms = {"loss": 0.5, "reconstruction": 0.4}
    assert trainer._collapse(terms, 0.9, 0.3, 0.7) is not None
    assert trainer._collapse(terms, 0.9, 0.3, 0.7, warming=True) is None
    assert trainer._collapse({"loss": math.nan}, 0.9, 0.3, 0.7, warming=True) is not None


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory, digits_vae, digits):
    folder = tmp_path_factory.mktemp("models")
    vae = digits_vae[0].save(folder / "vae")
    ae = AutoEncoder(code_size=2, hidden_layers=(8,), epochs=1, random_state=0, device="cpu").fit(
        digits[0][:100]
    )
    return vae, ae.save(folder / "ae")


def test_cli_sample_writes_a_png_grid_and_npy(saved_models, tmp_path):
    vae, _ = saved_models
    code, out, err = run("sample", vae, "-n", 9, "-o", tmp_path / "s.png", "--seed", 1)
    assert code == 0, err
    with Image.open(tmp_path / "s.png") as img:
        # 3 x 3 samples of 8 x 8, each enlarged 11 times to make the grid at least 256 pixels wide.
        assert img.size == (3 * (8 * 11 + 1) + 1, 3 * (8 * 11 + 1) + 1)
    code, out, err = run("sample", vae, "-n", 5, "-o", tmp_path / "s.npy")
    assert code == 0, err
    assert np.load(tmp_path / "s.npy").shape == (5, 64)


def test_cli_sample_enlarges_small_samples_by_nearest_neighbour(saved_models, tmp_path):
    # 16 digits of 8 x 8 made a 37 x 37 grid: a speck on screen.
    vae, _ = saved_models
    code, out, err = run("sample", vae, "-n", 16, "-o", tmp_path / "s.png")
    assert code == 0, err
    assert "enlarged 8x" in out
    with Image.open(tmp_path / "s.png") as img:
        pixels = np.asarray(img)
    assert pixels.shape[1] >= 256
    first = pixels[1 : 1 + 64, 1 : 1 + 64]  # the first sample, 8 x 8 blocks of 8 x 8 pixels
    blocks = first.reshape(8, 8, 8, 8)
    assert (blocks == blocks[:, :1, :, :1]).all()


def test_cli_sample_refusals_write_nothing(saved_models, tmp_path):
    vae, ae = saved_models
    target = tmp_path / "s.png"
    assert_one_line_error(*run("sample", ae, "-o", target), "cannot sample", "--variational")
    assert not target.exists()
    code, out, err = run("sample", vae, "-n", 0, "-o", target)
    assert code == 2 and not target.exists()
    target.write_bytes(b"mine")
    assert_one_line_error(*run("sample", vae, "-o", target), "exists")
    assert target.read_bytes() == b"mine"


def test_cli_fit_arch_vae_then_sample(tmp_path):
    code, out, err = run(
        "fit", "digits", "--arch", "vae", "-o", tmp_path / "m", "--epochs", 1, "--code-size", 2,
        "--hidden", 8, "--beta", 2, "--kl-warmup", 0, "-q",
    )  # fmt: skip
    assert code == 0, err
    model = load(tmp_path / "m")
    assert isinstance(model, VariationalAutoEncoder) and model.beta == 2.0 and model.kl_warmup == 0
    assert run("sample", tmp_path / "m", "-n", 4, "-o", tmp_path / "s.png")[0] == 0


def test_cli_fit_refuses_a_bad_beta(tmp_path):
    assert_one_line_error(
        *run("fit", "digits", "--arch", "vae", "-o", tmp_path / "m", "--beta", "-1"), "beta"
    )
    assert not (tmp_path / "m").exists()


COLLAPSE_FIT = dict(code_size=4, hidden_layers=(64,), batch_size=64, learning_rate=3e-3, epochs=5,
                    random_state=0, device="cpu")  # fmt: skip


@pytest.mark.parametrize("beta, kl_warmup, collapses", [(20.0, 0, True), (20.0, 2, True), (1.0, 0, False)])
def test_fit_warns_of_a_collapsed_posterior_once_warmed_up(digits, beta, kl_warmup, collapses):
    # The guide's 30-epoch digits VAE carried 0.16 nats in all, reconstructed no better than the
    # mean image, and fit said nothing. Here beta=20 pulls every unit onto the prior.
    import warnings

    from hourglass.exceptions import PosteriorCollapseWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vae = VariationalAutoEncoder(**COLLAPSE_FIT, beta=beta, kl_warmup=kl_warmup).fit(digits[0][:600])
    said = [str(w.message) for w in caught if issubclass(w.category, PosteriorCollapseWarning)]
    total = vae.kl_per_unit(digits[0][600:]).sum()
    if collapses:
        assert total < 0.5 and len(said) == 1 and "\n" not in said[0]
        assert "nats per sample in all" in said[0] and "free_bits" in said[0] and "beta" in said[0]
    else:
        assert total > 1.0 and not said


def test_a_fit_stopped_within_the_kl_warmup_is_not_called_collapsed(digits):
    import warnings

    from hourglass.exceptions import PosteriorCollapseWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", PosteriorCollapseWarning)
        VariationalAutoEncoder(**COLLAPSE_FIT, beta=20.0, kl_warmup=10).fit(digits[0][:600])


def test_the_default_code_fits_a_table_narrower_than_it():
    # wine has 13 columns; code_size=16 (the default) was refused as a code that could learn the
    # identity, with advice (l1_penalty, topk) a VAE does not take. The KL keeps it from that.
    from sklearn.datasets import load_wine

    X = load_wine().data
    vae = VariationalAutoEncoder(epochs=30, random_state=0, verbose=0).fit(X)
    z = (X - X.mean(0)) / X.std(0)
    error = float((((vae.reconstruct(X) - X.mean(0)) / X.std(0) - z) ** 2).mean())
    assert vae.transform(X).shape == (178, 16)
    assert error > 0.05  # far from a copy of its input: PCA-8 leaves 0.10 on held-out rows
