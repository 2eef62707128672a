"""The training recipe: the automatic learning rate, gradient clipping, the noise schedule, and
the collapse detector that restarts from the best weights at a lower rate."""

import math

import numpy as np
import pytest
import torch

from helpers import interrupt_once_at
from hourglass import AutoEncoder
from hourglass.estimators.base import auto_learning_rate
from hourglass.exceptions import InvalidInputError, TrainingDivergedError
from hourglass.nn.config import DenseConfig
from hourglass.nn.model import build_model
from hourglass.train import trainer as trainer_module
from hourglass.train.config import TrainConfig
from hourglass.train.corruptions import GaussianNoise, make_noise
from hourglass.train.trainer import History, Trainer


def _trainer(epochs=6, loss="mse", corruption=None, checkpoint_dir=None, **config) -> Trainer:
    model = build_model(DenseConfig(input_dim=6, code_size=2, hidden_layers=(8,)))
    settings = {"epochs": epochs, "batch_size": 16, "patience": 0, "device": "cpu", "verbose": 0, **config}
    return Trainer(model, TrainConfig(**settings), loss, corruption=corruption, checkpoint_dir=checkpoint_dir)


def _tensor(data: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(data, dtype=torch.float32)


# -- the learning rate -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "width, batch, expected",
    [(128, 256, 1e-2), (256, 256, 1e-2), (512, 256, 5e-3), (1000, 256, 2.56e-3), (256, 64, 5e-3)],
)
def test_auto_learning_rate_scales_down_with_width_and_batch(width, batch, expected):
    rate, rule = auto_learning_rate(width, batch)
    assert rate == pytest.approx(expected, rel=1e-3)
    assert str(width) in rule and str(batch) in rule


def test_estimator_resolves_auto_rate_from_its_widest_layer(make_ae, unit_data):
    ae = make_ae(hidden_layers=(1024, 16), batch_size=256).fit(unit_data)
    assert ae.learning_rate_ == pytest.approx(2.5e-3)
    assert ae.history_.recipe["learning_rate"] == ae.learning_rate_
    assert ae.history_.recipe["learning_rate_rule"].startswith("auto")


def test_estimator_keeps_a_rate_the_user_set(make_ae, unit_data):
    ae = make_ae(learning_rate=0.002).fit(unit_data)
    assert ae.learning_rate_ == 0.002 and ae.history_.recipe["learning_rate_rule"] == "set by the user"


@pytest.mark.parametrize("bad", ["fast", "AUTO"])
def test_estimator_rejects_an_unknown_rate_name(make_ae, unit_data, bad):
    with pytest.raises(InvalidInputError, match=f"learning_rate='{bad}'"):
        make_ae(learning_rate=bad).fit(unit_data)


# -- clipping ----------------------------------------------------------------------------------


@pytest.mark.parametrize("clip", [1e-3, 0.0])
def test_gradient_norm_is_clipped_before_every_step(unit_data, monkeypatch, clip):
    trainer = _trainer(epochs=2, grad_clip=clip)
    norms = []
    original = torch.optim.AdamW.step

    def spy(self, *args, **kwargs):
        grads = [p.grad for group in self.param_groups for p in group["params"] if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", spy)
    trainer.fit(_tensor(unit_data) * 50)
    if clip:
        assert max(norms) <= clip * 1.001
    else:
        assert max(norms) > 1e-3


def test_train_config_rejects_negative_clipping():
    with pytest.raises(InvalidInputError, match="grad_clip=-1"):
        TrainConfig(grad_clip=-1)


# -- the noise schedule ------------------------------------------------------------------------


def test_cosine_noise_schedule_fades_from_full_strength_to_none():
    trainer = _trainer(epochs=5, corruption=GaussianNoise(0.5), noise_schedule="cosine")
    strengths = [trainer.corruption_strength(e) for e in range(1, 6)]
    assert strengths[0] == 1.0 and strengths[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a > b for a, b in zip(strengths, strengths[1:], strict=False))


def test_constant_noise_schedule_keeps_full_strength():
    trainer = _trainer(epochs=5, corruption=GaussianNoise(0.5))
    assert {trainer.corruption_strength(e) for e in range(1, 6)} == {1.0}


def test_cosine_schedule_scales_gaussian_noise_exactly():
    trainer = _trainer(corruption=GaussianNoise(0.5), noise_schedule="cosine")
    batch = torch.zeros(4, 6)
    full = trainer._step_inputs(batch, torch.Generator().manual_seed(0), 1.0)
    part = trainer._step_inputs(batch, torch.Generator().manual_seed(0), 0.25)
    torch.testing.assert_close(part, 0.25 * full)


@pytest.mark.parametrize("schedule, clean", [("cosine", True), ("constant", False)])
def test_validation_is_clean_only_for_a_fading_noise(unit_data, schedule, clean):
    data = _tensor(unit_data)
    trainer = _trainer(corruption=GaussianNoise(1.0), noise_schedule=schedule)
    trainer._setup_optimizer(len(data))
    trainer.model.eval()
    with torch.no_grad():
        clean_loss = float(torch.nn.functional.mse_loss(trainer.model(data)["reconstruction"], data))
    assert (trainer.evaluate(data) == pytest.approx(clean_loss, rel=1e-5)) == clean


def test_estimator_default_fades_its_noise(make_ae, unit_data):
    ae = make_ae().fit(unit_data)
    assert ae.history_.recipe["noise_schedule"] == "cosine"
    assert make_ae(noise=None).fit(unit_data).history_.recipe["noise_schedule"] is None


# -- collapse: detection, restart, giving up ---------------------------------------------------


def test_reference_loss_is_that_of_predicting_the_mean(unit_data):
    data = _tensor(unit_data)
    assert _trainer().reference_loss(data) == pytest.approx(float(data.var(dim=0, unbiased=False).mean()))
    mean = data.mean(dim=0).expand_as(data)
    expected = float(torch.nn.functional.binary_cross_entropy(mean, data))
    assert _trainer(loss="bce").reference_loss(data) == pytest.approx(expected, rel=1e-5)


def test_divergence_is_also_judged_against_the_training_mean_and_zeros(unit_data):
    train, held_out = _tensor(unit_data[:-1]), _tensor(unit_data[-1:])
    own, against_mean, uninformed = _trainer().baseline_losses(held_out, train)
    # One held-out row against its own mean scores zero: divergence is judged against the others.
    assert own == pytest.approx(0.0, abs=1e-9)
    assert against_mean == pytest.approx(float(((held_out - train.mean(0)) ** 2).mean()), rel=1e-5)
    assert uninformed == pytest.approx(float((held_out**2).mean()), rel=1e-5)
    assert _trainer(loss="bce").baseline_losses(held_out, train).uninformed == pytest.approx(math.log(2))


def test_divergence_is_judged_against_zeros_where_the_mean_scores_nothing():
    trainer = _trainer()
    # One row of values in [0, 1]: the mean's loss is zero, predicting zeros scores 0.3.
    trainer._diverged_reference, trainer._judges_rises = 0.3, False
    assert trainer._collapse({"loss": 1.3}, 1.3, best_loss=0.1, reference=0.01) is None
    assert "constant prediction" in trainer._collapse({"loss": 31.0}, 31.0, best_loss=0.1, reference=0.01)


@pytest.mark.parametrize(
    "monitored, collapsed",
    [(0.2, False), (0.5, False), (0.59, False), (0.61, True), (1.5, True), (math.nan, True)],
)
def test_collapse_is_losing_more_than_half_the_progress_toward_the_mean(monitored, collapsed):
    # Best 0.2, the mean's loss 1.0: a rise past 0.6 gives back more than half the progress.
    reason = _trainer()._collapse({"loss": 0.3}, monitored, best_loss=0.2, reference=1.0)
    assert (reason is not None) == collapsed


@pytest.mark.parametrize(
    "train_losses, collapsed",
    [([1.0, 0.5, 0.45], False), ([1.0, 0.5, 0.54], False), ([1.0, 0.5, 0.6], True), ([1.0, 0.5, 1.0], True)],
)
def test_a_held_out_rise_is_a_collapse_only_when_the_training_loss_rises_too(train_losses, collapsed):
    # Best held-out loss 0.2, the mean's 1.0; 0.9 now gives back most of the progress. With the
    # training loss still at its best (0.5) that is overfitting; risen by over a tenth of the
    # way toward the mean's loss (past 0.55), a collapse.
    trainer = _trainer()
    trainer.history.train_loss = list(train_losses)
    reason = trainer._collapse({"loss": train_losses[-1]}, 0.9, best_loss=0.2, reference=1.0)
    assert (reason is not None) == collapsed
    # A held-out loss that has diverged is a collapse whatever the training loss does.
    assert trainer._collapse({"loss": 0.45}, 500.0, best_loss=0.2, reference=1.0) is not None


@pytest.mark.parametrize("monitored, collapsed", [(2.9, False), (3.1, True)])
def test_collapse_before_beating_the_mean_is_rising_past_one_and_a_half_times_the_best(monitored, collapsed):
    reason = _trainer()._collapse({"loss": 2.0}, monitored, best_loss=2.0, reference=1.0)
    assert (reason is not None) == collapsed


def test_non_finite_training_loss_is_a_collapse():
    assert "became inf" in _trainer()._collapse({"loss": math.inf}, math.nan, 0.2, 1.0)


def _collapse_at(monkeypatch, epochs: set[int]) -> None:
    """Make the validation loss of the given epochs that of a collapsed model."""
    original_epoch, original_eval = Trainer.train_one_epoch, Trainer.evaluate
    state = {"epoch": 0}

    def counting(self, data, epoch):
        state["epoch"] = epoch
        return original_epoch(self, data, epoch)

    def evaluate(self, data):
        return 1e3 if state["epoch"] in epochs else original_eval(self, data)

    monkeypatch.setattr(Trainer, "train_one_epoch", counting)
    monkeypatch.setattr(Trainer, "evaluate", evaluate)


def test_collapse_restarts_from_the_best_weights_at_a_quarter_of_the_rate(unit_data, monkeypatch):
    data = _tensor(unit_data)
    _collapse_at(monkeypatch, {3})
    trainer = _trainer(epochs=6, learning_rate=0.01)
    loaded = []
    original_restart = Trainer._restart

    def spy(self, epoch, reason, best_state):
        original_restart(self, epoch, reason, best_state)
        loaded.append(all(torch.equal(v, self.model.state_dict()[k]) for k, v in best_state.items()))

    monkeypatch.setattr(Trainer, "_restart", spy)
    history = trainer.fit(data, data)
    (restart,) = history.restarts
    assert restart["epoch"] == 3 and "1000" in restart["reason"]
    assert restart["learning_rate"] == pytest.approx(0.0025)
    assert loaded == [True]
    assert trainer.scheduler.base_lrs == [pytest.approx(0.0025)]
    assert history.best_epoch != 3 and len(history.epoch) == 6


def test_collapse_that_persists_ends_with_one_line_naming_epoch_and_rates(unit_data, monkeypatch, tmp_path):
    data = _tensor(unit_data)
    _collapse_at(monkeypatch, {3, 4, 5, 6})
    trainer = _trainer(epochs=8, learning_rate=0.01, max_restarts=2, checkpoint_dir=tmp_path)
    with pytest.raises(TrainingDivergedError) as info:
        trainer.fit(data, data)
    message = str(info.value)
    assert "\n" not in message
    assert "collapsed at epoch 5" in message and "0.0025 (from epoch 3)" in message and "0.000625" in message
    # The model and the checkpoint hold the best weights so far (those of epoch 2).
    assert trainer.history.best_epoch == 2


def test_resumed_run_after_a_restart_matches_the_uninterrupted_one(make_ae, unit_data, tmp_path, monkeypatch):
    _collapse_at(monkeypatch, {2})
    whole = make_ae(epochs=5, patience=0, checkpoint_dir=str(tmp_path / "a")).fit(unit_data)
    assert [r["epoch"] for r in whole.history_.restarts] == [2]
    interrupt_once_at(4, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        make_ae(epochs=5, patience=0, checkpoint_dir=str(tmp_path / "b")).fit(unit_data)
    resumed = make_ae(epochs=5, patience=0, checkpoint_dir=str(tmp_path / "b")).fit(unit_data, resume=True)
    for a, b in zip(whole.module_.state_dict().values(), resumed.module_.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert resumed.history_.restarts == whole.history_.restarts


def test_a_large_penalty_is_not_taken_for_divergence():
    terms = {"loss": 70.0, "reconstruction": 0.6, "kl": 69.4}
    assert _trainer()._collapse(terms, 70.0, best_loss=math.inf, reference=0.63) is None
    assert "reconstruction loss reached" in _trainer()._collapse({"loss": 70.0}, 70.0, math.inf, 0.63)


# -- where the recipe is shown -----------------------------------------------------------------


def test_recipe_summary_names_rate_noise_and_restarts():
    history = History(
        recipe={"learning_rate": 0.01, "learning_rate_rule": "auto: ...", "noise_schedule": "cosine"},
        restarts=[{"epoch": 4, "reason": "...", "learning_rate": 0.0025}],
    )
    line = history.recipe_summary()
    assert "learning rate 0.01 (auto: ...)" in line and "input noise cosine" in line
    assert "1 restart(s)" in line and "epoch 4 -> 0.0025" in line and "\n" not in line


def test_model_report_shows_the_recipe(make_ae, unit_data):
    from hourglass.report.build import model_report

    ae = make_ae().fit(unit_data)
    assert "Training recipe: learning rate" in model_report(ae, unit_data, "unit").to_html()


def test_early_stopping_waits_for_a_fading_noise_to_fade(make_ae, unit_data, monkeypatch):
    # Validation never improves after epoch 1: without noise patience 2 stops at epoch 3; with a
    # fading noise, nothing stops before the noise is below a tenth of its level, and from then
    # every epoch since the best counts (here all of them: it stops at the first such epoch).
    original = Trainer.evaluate
    counter = {"n": 0}

    def worsening(self, data):
        original(self, data)
        counter["n"] += 1
        return 1.0 + 0.001 * counter["n"]  # worse every epoch, too little to count as a collapse

    monkeypatch.setattr(Trainer, "evaluate", worsening)
    plain = make_ae(epochs=20, patience=2, noise=None).fit(unit_data)
    counter["n"] = 0
    faded = make_ae(epochs=20, patience=2).fit(unit_data)
    assert plain.n_epochs_ == 3
    strengths = [0.5 * (1 + math.cos(math.pi * (e - 1) / 19)) for e in range(1, 21)]
    first_counted = next(e for e, s in enumerate(strengths, 1) if s <= trainer_module.PATIENT_STRENGTH)
    assert faded.n_epochs_ == first_counted
    assert faded.history_.best_epoch == 1


@pytest.mark.parametrize(
    "reason, shown",
    [
        ("auto: 36 training rows, fewer than 100: the network starts at PCA's solution", True),
        ("set by the user: the network starts at PCA's solution", True),
        ("auto: off, 300 training rows, 100 or more", False),
        ("off: set by the user", False),
    ],
)
def test_recipe_summary_names_the_pca_path_only_where_it_is_on(reason, shown):
    summary = History(recipe={"learning_rate": 0.01, "pca_path": reason}).recipe_summary()
    assert (f"PCA path ({reason})" in summary) is shown
    assert ("PCA path" in summary) is shown


@pytest.mark.parametrize("on", [True, False])
def test_recipe_summary_follows_the_recorded_pca_path_decision_over_its_wording(on):
    # A reason worded in a way the wording rule does not know still shows the decision made.
    recipe = {"learning_rate": 0.01, "pca_path": "kept from the fit this one continues", "pca_path_on": on}
    assert ("PCA path" in History(recipe=recipe).recipe_summary()) is on


@pytest.mark.parametrize("n_rows, on", [(40, True), (300, False)])
def test_a_fit_records_whether_it_took_the_pca_path(n_rows, on):
    X = np.random.default_rng(0).normal(size=(n_rows, 6)).astype(np.float32)
    ae = AutoEncoder(code_size=2, epochs=1, random_state=0, verbose=0).fit(X)
    assert ae.history_.recipe["pca_path_on"] is on is ae.pca_path_
    assert ("PCA path" in ae.history_.recipe_summary()) is on


@pytest.mark.parametrize("n_rows, on", [(40, True), (300, False)])
def test_a_warm_started_fit_says_the_pca_path_it_kept_only_where_it_is_on(n_rows, on):
    # The kept decision's reason reads the same whether the path is on or off ('kept from the
    # fit this one continues'): the wording alone once named an absent path.
    X = np.random.default_rng(0).normal(size=(n_rows, 6)).astype(np.float32)
    ae = AutoEncoder(code_size=2, epochs=1, random_state=0, verbose=0, warm_start=True).fit(X).fit(X)
    assert "kept" in ae.pca_path_reason_
    assert ("PCA path" in ae.history_.recipe_summary()) is on


@pytest.mark.parametrize("rate", [None, "fast", True])
def test_recipe_summary_of_a_crafted_history_names_the_value(rate):
    history = History(recipe={"learning_rate": rate}, restarts=[{"epoch": 2, "learning_rate": rate}, 3])
    assert repr(rate) in history.recipe_summary()


def test_a_fading_masking_noise_moves_the_clean_batch_part_of_the_way():
    trainer = _trainer(corruption=make_noise("masking", 0.5), noise_schedule="cosine")
    batch = torch.ones(4, 6)
    full = trainer._step_inputs(batch, torch.Generator().manual_seed(0), 1.0)
    part = trainer._step_inputs(batch, torch.Generator().manual_seed(0), 0.25)
    assert (full == 0).any()
    torch.testing.assert_close(part, batch + 0.25 * (full - batch))
