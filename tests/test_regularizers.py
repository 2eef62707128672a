"""Each guard against the identity changes what it claims to change."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hourglass import AutoEncoder, InvalidInputError, load
from hourglass.nn.bottleneck import ActivationBottleneck, IdentityBottleneck, TopKBottleneck
from hourglass.nn.config import DenseConfig
from hourglass.nn.model import build_model
from hourglass.train.regularizers import AuxKLoss, ContractivePenalty, KLSparsity, L1Penalty, jacobian_sq_norm
from hourglass.train.sparsity import l0

FAST = dict(hidden_layers=(16,), epochs=4, batch_size=32, verbose=0, random_state=0, validation_fraction=0.0)


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    basis = rng.random((4, 12))
    return np.clip(rng.random((160, 4)) @ basis / 2, 0, 1).astype(np.float32)


def test_l1_penalty_lowers_active_units(X):
    weak = AutoEncoder(code_size=8, l1_penalty=1e-6, **FAST).fit(X)
    strong = AutoEncoder(code_size=8, l1_penalty=0.5, **FAST).fit(X)
    assert l0(strong.transform(X)) < l0(weak.transform(X))


def test_kl_penalty_pulls_rate_toward_target(X):
    # With BCE, the loss the KL weight of 1 was chosen against.
    weak = AutoEncoder(code_size=8, kl_penalty=1e-6, sparsity_target=0.05, loss="bce", **FAST).fit(X)
    strong = AutoEncoder(code_size=8, kl_penalty=1.0, sparsity_target=0.05, loss="bce", **FAST).fit(X)
    assert strong.transform(X).mean() < weak.transform(X).mean()


@pytest.mark.parametrize("k", [1, 3])
def test_topk_gives_exactly_k_active_units(X, k):
    ae = AutoEncoder(code_size=20, topk=k, **FAST).fit(X)  # overcomplete: 20 > 12 features
    assert ((ae.transform(X) != 0).sum(axis=1) == k).all()


def test_noise_is_drawn_afresh_per_batch_and_reproducible(X):
    def noises(seed):
        ae = AutoEncoder(code_size=4, noise="gaussian", noise_level=0.3, **{**FAST, "random_state": seed})
        drawn = []
        real = ae._corruption

        def recording():
            noise = real()

            def corrupt(batch, generator):
                out = noise(batch, generator)
                drawn.append((out - batch).clone())
                return out

            return corrupt

        ae._corruption = recording
        ae.fit(X)
        return drawn

    first, again = noises(0), noises(0)
    assert not torch.allclose(first[0], first[1])
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))


@pytest.mark.parametrize("kind", ["masking", "salt_pepper"])
def test_noise_kinds_train(X, kind):
    ae = AutoEncoder(code_size=4, noise=kind, noise_level=0.2, **FAST).fit(X)
    assert np.isfinite(ae.score(X))


def test_noise_rejects_unknown_kind(X):
    with pytest.raises(InvalidInputError, match="noise='blur'"):
        AutoEncoder(code_size=4, noise="blur", **FAST).fit(X)


def test_contractive_penalty_lowers_jacobian_norm(X):
    plain = AutoEncoder(code_size=4, **FAST).fit(X)
    contracted = AutoEncoder(code_size=4, contractive_penalty=1.0, **FAST).fit(X)

    def norm(ae):
        x = torch.from_numpy(X).to(next(ae.module_.parameters()).device)  # the model's device
        return float(jacobian_sq_norm(ae.module_, x, create_graph=False).mean())

    assert norm(contracted) < norm(plain)


def test_dropout_active_in_train_and_off_in_eval(X):
    ae = AutoEncoder(code_size=4, dropout=0.5, **FAST).fit(X)
    x = torch.from_numpy(X[:8]).to(next(ae.module_.parameters()).device)
    ae.module_.train()
    assert not torch.equal(ae.module_(x)["code"], ae.module_(x)["code"])
    ae.module_.eval()
    assert torch.equal(ae.module_(x)["code"], ae.module_(x)["code"])


@pytest.mark.parametrize("params", [{}, {"contractive_penalty": 1.0}, {"noise": "masking"}])
def test_overcomplete_code_refused_without_sparsity(X, params):
    with pytest.raises(InvalidInputError, match="code_size=20"):
        AutoEncoder(code_size=20, **params, **FAST).fit(X)


@pytest.mark.parametrize("params", [{"l1_penalty": 0.01}, {"kl_penalty": 0.1}, {"topk": 4}])
def test_overcomplete_code_allowed_with_sparsity(X, params):
    assert AutoEncoder(code_size=20, **params, **FAST).fit(X).transform(X).shape == (len(X), 20)


def test_topk_with_kl_is_refused(X):
    with pytest.raises(InvalidInputError, match="topk=2 with kl_penalty"):
        AutoEncoder(code_size=8, topk=2, kl_penalty=0.1, **FAST).fit(X)


@pytest.mark.parametrize(
    "params, bottleneck",
    [({}, IdentityBottleneck), ({"l1_penalty": 0.1}, ActivationBottleneck), ({"topk": 2}, TopKBottleneck)],
)
def test_sparse_model_saves_and_loads(X, tmp_path, params, bottleneck):
    ae = AutoEncoder(code_size=8, **params, **FAST).fit(X)
    back = load(ae.save(tmp_path / "m"))
    assert isinstance(back.module_.bottleneck, bottleneck)
    np.testing.assert_allclose(back.transform(X), ae.transform(X), atol=1e-6)


# -- the regularizers and bottlenecks on their own ----------------------------------------------


def test_l1_value_is_weighted_mean_abs():
    out = {"code": torch.tensor([[1.0, -3.0], [0.0, 4.0]])}
    assert float(L1Penalty(2.0)(None, None, out)) == pytest.approx(4.0)


@pytest.mark.parametrize("rate, zero", [(0.05, True), (0.5, False)])
def test_kl_is_zero_exactly_at_target(rate, zero):
    value = float(KLSparsity(1.0, 0.05)(None, None, {"code": torch.full((4, 3), rate)}))
    assert (value < 1e-6) == zero


@pytest.mark.parametrize("bad", [{"beta": -1.0}, {"beta": 1.0, "rho": 0.0}, {"beta": 1.0, "rho": 1.5}])
def test_kl_rejects_bad_settings(bad):
    with pytest.raises(InvalidInputError):
        KLSparsity(**bad)


@pytest.mark.parametrize("activation", ["identity", "relu", "sigmoid"])
def test_jacobian_closed_form_matches_exact(activation):
    torch.manual_seed(0)
    model = build_model(DenseConfig(input_dim=6, code_size=5, hidden_layers=(), code_activation=activation))
    x = torch.rand(7, 6)
    closed = jacobian_sq_norm(model, x, "closed", create_graph=False)
    exact = jacobian_sq_norm(model, x, "exact", create_graph=False)
    torch.testing.assert_close(closed, exact)


def test_jacobian_estimate_is_unbiased():
    torch.manual_seed(0)
    model = build_model(DenseConfig(input_dim=6, code_size=4, hidden_layers=(8,)))
    x = torch.rand(3, 6)
    exact = jacobian_sq_norm(model, x, "exact", create_graph=False)
    estimate = jacobian_sq_norm(
        model, x, "estimate", 1000, generator=torch.Generator().manual_seed(0), create_graph=False
    )
    torch.testing.assert_close(estimate, exact, rtol=0.1, atol=0)


def test_contractive_penalty_has_gradients():
    model = build_model(DenseConfig(input_dim=6, code_size=3, hidden_layers=(5,)))
    ContractivePenalty(1.0, method="estimate")(model, torch.rand(4, 6), {}).backward()
    assert model.encoder.layer1[0].weight.grad is not None


def test_topk_bottleneck_tracks_dead_units():
    bottleneck = TopKBottleneck(1, aux_k=2, dead_after=4).train()
    z = torch.tensor([[5.0, 1.0, 2.0, 0.0]]).repeat(4, 1)  # unit 0 always wins
    bottleneck(z)
    assert bottleneck.dead_mask().tolist() == [False, True, True, True]
    _, aux = bottleneck(z)
    # The auxiliary code holds the two largest dead pre-activations (units 2 and 1), never unit 0.
    assert (aux["topk_aux_code"] != 0).tolist() == [[False, True, True, False]] * 4


def test_auxk_loss_trains_dead_units():
    torch.manual_seed(0)
    model = build_model(
        DenseConfig(input_dim=6, code_size=4, hidden_layers=(), topk=1, topk_aux_k=2, topk_dead_after=1)
    )
    x = torch.rand(8, 6)
    model.train()
    model(x)  # every unit but the winners is now dead
    out = model(x)
    loss = AuxKLoss(1.0)(model, x, out)
    loss.backward()
    assert loss.detach().item() > 0
    dead = model.bottleneck.dead_mask()
    assert model.encoder.code.weight.grad[dead].abs().sum() > 0


def test_weight_decay_shrinks_weights(X):
    def norm(wd):
        ae = AutoEncoder(code_size=4, weight_decay=wd, **FAST).fit(X)
        return sum(float((p.detach() ** 2).sum()) for p in ae.module_.parameters())

    assert norm(10.0) < norm(0.0)


def test_cli_flags_reach_the_estimator_and_info_shows_sparse_metrics(tmp_path, capsys):
    import json

    from hourglass.cli import main

    model = tmp_path / "m"
    args = ["fit", "digits", "-o", str(model), "--code-size", "80", "--topk", "5", "--dropout", "0.1"]
    assert main([*args, "--noise-type", "masking", "--noise", "0.2", "--epochs", "1", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["info", str(model), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["metrics"]["l0"] == 5.0
    assert info["params"]["noise"] == "masking" and info["architecture"]["dropout"] == 0.1
