"""The run-length rules: the progressive cosine, the time budget, and why a run ended."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.decomposition import PCA
from typer.testing import CliRunner

from helpers import FakeClock
from hourglass import AutoEncoder
from hourglass.cli import app
from hourglass.exceptions import InvalidInputError, ModelFileError
from hourglass.train import schedule as schedule_module
from hourglass.train import trainer as trainer_module
from hourglass.train.budget import parse_duration
from hourglass.train.schedule import (
    EXTEND_AT,
    FREEZE_AT,
    ProgressiveCosine,
    WarmupCosine,
    plateau_gain,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        (np.float32(2.5), 2.5),  # a NumPy number, as a budget computed from an array comes
        ("90", 90.0),
        ("90s", 90.0),
        ("10min", 600.0),
        ("2m", 120.0),
        ("1.5h", 5400.0),
        ("3S", 3.0),  # units in any case, words and exponents, as people write them
        ("1e-3s", 0.001),
        ("10 Minutes", 600.0),
        ("5 days", 432000.0),
        ("00:12:00:00", 43200.0),  # Lightning's max_time string, DD:HH:MM:SS
        ("01:30:00", 5400.0),
        ("1:30", 90.0),
        ("90:00", 5400.0),  # the first field is unbounded
    ],
)
def test_durations_read_as_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "bad",
    [0, -3, "0s", "-5s", "ten minutes", "5 parsecs", "1:2:3:4:5", float("nan"), float("inf"), True, [5]]
    + ["1:99", "1:00:60", "0:24:00:00"],  # a clock's fields past their range are typos
)
def test_bad_durations_name_the_value_and_the_forms(bad):
    with pytest.raises(InvalidInputError, match=r"max_time=.*expected a positive number of seconds"):
        parse_duration(bad)


def test_progressive_cosine_stretches_while_learning_gains_then_freezes():
    schedule = ProgressiveCosine(plan=100, cap=10_000, warmup=10)
    before = schedule(80)
    assert schedule.stretch(80, gain=0.5)
    assert schedule.plan == math.ceil(80 / EXTEND_AT)
    # Neither rate nor noise climbs back after a stretch: they hold until the cosine meets them.
    assert schedule(81) == before and schedule(81) < WarmupCosine(schedule.plan, 10)(81)
    assert schedule(180) < before
    plan = schedule.plan
    assert not schedule.stretch(int(FREEZE_AT * plan) - 1, gain=0.0)
    assert not schedule.frozen  # not yet half-way: a later gain may still stretch it
    assert not schedule.stretch(int(FREEZE_AT * plan) + 1, gain=0.0)
    assert schedule.frozen
    assert not schedule.stretch(int(FREEZE_AT * plan) + 2, gain=0.5)  # fixed for good
    assert schedule.plan == plan and schedule.finished(plan) and not schedule.finished(plan - 1)


def test_a_plateau_above_pcas_error_does_not_fix_the_plan():
    # A network still above the linear solution's error waits on a saddle between the
    # directions it learns: a gain after it stretches the plan, where a finished one is fixed.
    waiting, finished = (ProgressiveCosine(plan=100, cap=10_000, warmup=10) for _ in range(2))
    for step in (60, 70, 80):
        assert not waiting.stretch(step, gain=0.0, unfinished=True)
        finished.stretch(step, gain=0.0)
    assert finished.frozen and not waiting.frozen
    assert waiting.stretch(90, gain=0.3, unfinished=True) and waiting.plan == math.ceil(90 / EXTEND_AT)
    assert not finished.stretch(90, gain=0.3) and finished.plan == 100
    # Without a gain it still ends with its plan: the rate decays to the plan's end.
    assert not waiting.stretch(230, gain=0.0, unfinished=True) and waiting.finished(waiting.plan)


def test_gains_above_pcas_error_are_judged_against_the_loss_itself(digits):
    # Below PCA's error the scale is the geometric mean with the mean's loss (a loss heading for
    # zero ends); above it, the loss itself: 2,000 photo patches at code 32, 4x PCA's error and
    # still falling a tenth per quarter, read as stopped against data PCA explains to 98 %.
    rules = trainer_module.Trainer.__new__(trainer_module.Trainer)
    rules._reference, rules.linear_floor = 0.08, 0.0014
    assert rules._gain_scale(0.005) == 0.005
    assert rules._gain_scale(0.001) == pytest.approx(math.sqrt(0.001 * 0.08))
    rules.linear_floor = None
    assert rules._gain_scale(0.005) == pytest.approx(math.sqrt(0.005 * 0.08))
    # A fit hands PCA's validation loss at its code size to training, in the monitored units.
    ae = AutoEncoder(code_size=2, epochs=2, random_state=0, device="cpu").fit(digits[0])
    assert ae.history_.recipe["linear_floor"] == pytest.approx(ae.validation_pca_mse_, rel=1e-6)
    binary = AutoEncoder(code_size=2, epochs=2, random_state=0, device="cpu").fit(digits[0] > 0.5)
    assert binary.loss_ == "bce" and binary.history_.recipe["linear_floor"] is None


@pytest.mark.slow
def test_photo_patches_default_fit_is_not_cut_short_below_pca():
    # Found on scikit-image's camera: the default stopped 11-334 % above PCA's held-out error
    # (codes 2 and 32), a plateau read as learning done; it now beats PCA at code 2.
    from skimage.data import camera

    image = camera().astype(np.float32) / 255
    patches = np.stack(
        [image[i : i + 16, j : j + 16].ravel() for i in range(0, 497, 8) for j in range(0, 497, 8)]
    )
    order = np.random.default_rng(0).permutation(len(patches))
    train, test = patches[order[:2000]], patches[order[3000:]]
    pca = PCA(2).fit(train)
    pca_error = np.mean((pca.inverse_transform(pca.transform(test)) - test) ** 2)
    ae = AutoEncoder(code_size=2, random_state=0).fit(train)
    assert np.mean((ae.reconstruct(test) - test) ** 2) < pca_error


def test_progressive_cosine_never_plans_past_its_cap_or_budget():
    schedule = ProgressiveCosine(plan=100, cap=150, warmup=10)
    schedule.stretch(90, gain=1.0)
    assert schedule.plan == 150
    schedule.bound(step=100, steps=20)
    assert schedule.plan == 120 and schedule.budget_bound
    # A later, longer estimate of what the budget holds lengthens the plan again, never past
    # the cap; the plan learning asked for is not fixed by the budget.
    schedule.bound(step=110, steps=30)
    assert schedule.plan == 140 and not schedule.frozen
    schedule.bound(step=120, steps=100)
    assert schedule.plan == 150 and not schedule.budget_bound


def test_a_plan_saved_by_an_earlier_version_resumes_as_what_learning_asked_for():
    # LambdaLR restores a schedule by updating its __dict__; earlier checkpoints hold no "asked".
    saved = ProgressiveCosine(plan=100, cap=10_000, warmup=10)
    saved.stretch(200, gain=0.5)
    state = {k: v for k, v in vars(saved).items() if k not in ("asked", "wanted", "budget_end")}
    resumed = ProgressiveCosine(plan=100, cap=10_000, warmup=10)
    vars(resumed).update(state)
    assert resumed.wanted == resumed.plan == 500
    resumed.bound(step=210, steps=10_000)  # a budget longer than the plan does not shorten it
    assert resumed.plan == 500 and not resumed.stretch(220, gain=0.0) and not resumed.frozen


def test_noise_and_rate_fade_together_to_the_plans_end():
    schedule = ProgressiveCosine(plan=200, cap=200, warmup=10)
    assert schedule.noise(0) == 1.0
    assert schedule(100) == pytest.approx(WarmupCosine(200, 10)(100))
    assert schedule(199) == pytest.approx(0.05, abs=1e-3)
    assert schedule.noise(200) == pytest.approx(0.0)


def test_gain_is_measured_over_the_last_quarter_in_shares_of_the_means_loss():
    assert plateau_gain([1.0], [10], scale=1.0) == math.inf
    assert plateau_gain([2.0, 1.0], [30, 40], scale=4.0) == pytest.approx(0.25)
    assert plateau_gain([2.0, 1.0, 1.0], [10, 20, 40], scale=4.0) == pytest.approx(0.0)
    # A loss heading for zero does not keep a run going: its gain is small against the mean's.
    assert plateau_gain([1e-3, 5e-4], [30, 40], scale=1.0) < 1e-3


@pytest.fixture
def rows():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(200, 2))
    return np.tanh(codes @ rng.normal(size=(2, 6))) + 0.05 * rng.normal(size=(200, 6))


def test_auto_epochs_end_when_learning_stops_and_say_so():
    rng = np.random.default_rng(0)
    # Two factors plus noise: once the factors are learnt, only the noise is left.
    rows = np.tanh(rng.normal(size=(1000, 2)) @ rng.normal(size=(2, 6))) + 0.2 * rng.normal(size=(1000, 6))
    ae = AutoEncoder(code_size=2, hidden_layers=(8,), random_state=0, device="cpu").fit(rows)
    history = ae.history_
    assert ae.n_epochs_ < ae.epochs_  # before the 300-epoch cap
    assert "learning stopped gaining" in history.stop_reason or "no improvement for" in history.stop_reason
    assert history.recipe["schedule"] == "progressive cosine"
    assert history.recipe["threads"] >= 1 and history.recipe["threads_rule"]


def test_a_stretch_of_a_run_that_did_much_work_must_gain_more(monkeypatch):
    rng = np.random.default_rng(0)
    # Two factors and little noise: learning goes on gaining up to the 300-epoch cap.
    rows = np.tanh(rng.normal(size=(1000, 2)) @ rng.normal(size=(2, 6))) + 0.05 * rng.normal(size=(1000, 6))
    params = dict(code_size=2, hidden_layers=(8,), random_state=0, device="cpu")
    free = AutoEncoder(**params).fit(rows)
    assert "grows with the work" not in free.history_.stop_reason  # a small run is never priced
    # 1e6 FLOPs a run does freely: this run's few thousand steps count as a large one's work.
    monkeypatch.setattr(schedule_module, "FREE_WORK", 1e6)
    priced = AutoEncoder(**params).fit(rows)
    assert priced.n_epochs_ < free.n_epochs_
    assert "the gain asked grows with the work done" in priced.history_.stop_reason
    assert priced.history_.recipe["free_work"] == 1e6
    # A time budget prices the run itself: under one, the plan grows as an unpriced run's does.
    monkeypatch.setattr(trainer_module.time, "perf_counter", FakeClock(1e-6))
    budgeted = AutoEncoder(**params, max_time=3600).fit(rows)
    assert budgeted.n_epochs_ == free.n_epochs_ and budgeted.history_.recipe["free_work"] is None


def test_fixed_epochs_keep_the_cosine_over_all_of_them(rows):
    ae = AutoEncoder(code_size=2, hidden_layers=(16,), epochs=7, random_state=0, device="cpu").fit(rows)
    assert ae.n_epochs_ == 7
    assert ae.history_.stop_reason == "ran all 7 epochs"
    assert ae.history_.recipe["schedule"] == "warmup-cosine"


def test_a_time_budget_lays_the_schedule_over_it_and_ends_there(rows, monkeypatch):
    monkeypatch.setattr(trainer_module.time, "perf_counter", FakeClock(0.01))
    ae = AutoEncoder(
        code_size=2, hidden_layers=(16,), batch_size=16, max_time=2.0, random_state=0, device="cpu"
    )
    ae.fit(rows)
    history = ae.history_
    assert 0.9 * 2.0 <= history.trained_seconds <= 1.1 * 2.0  # within 10 % of the budget
    assert "time budget of 2 s" in history.stop_reason
    # The plan was fitted into the budget: the rate had decayed by the end, not been cut off.
    assert history.lr[-1] < 0.2 * max(history.lr)


class SlowStartClock(FakeClock):
    """A clock whose first ``slow`` readings tick ``start`` each: a run's start-up steps."""

    def __init__(self, tick: float, start: float, slow: int) -> None:
        super().__init__(tick)
        self.start, self.slow = start, slow

    def __call__(self) -> float:
        self.slow -= 1
        self.now += self.start if self.slow >= 0 else self.tick
        return self.now


def test_a_slow_start_does_not_cut_a_budget_short(rows, monkeypatch):
    # The first epoch's steps cost 5x the later ones: a budget that took the run's average pace
    # for good planned too few steps and ended at two thirds of the budget.
    monkeypatch.setattr(trainer_module.time, "perf_counter", SlowStartClock(0.002, 0.01, slow=60))
    # Without the PCA path, whose head start on these rows lets learning stop gaining (and the
    # run end) before the budget: the pacing is what is tested.
    ae = AutoEncoder(
        code_size=2,
        hidden_layers=(16,),
        batch_size=16,
        max_time=2.0,
        random_state=0,
        device="cpu",
        pca_path=False,
    )
    history = ae.fit(rows).history_
    assert 0.9 * 2.0 <= history.trained_seconds <= 1.1 * 2.0
    assert "time budget of 2 s" in history.stop_reason


def test_the_first_epoch_completes_under_a_budget_shorter_than_it(rows, monkeypatch):
    monkeypatch.setattr(trainer_module.time, "perf_counter", FakeClock(1.0))
    ae = AutoEncoder(code_size=2, hidden_layers=(16,), max_time="1s", random_state=0, device="cpu").fit(rows)
    assert ae.n_epochs_ == 1
    assert (
        "shorter than one epoch" in ae.history_.stop_reason and "trained one epoch" in ae.history_.stop_reason
    )


def test_a_budget_overrun_by_a_one_epoch_run_is_said(rows, monkeypatch):
    # epochs=1 ends the plan at the same instant; the line must still say the budget was overrun.
    monkeypatch.setattr(trainer_module.time, "perf_counter", FakeClock(1.0))
    ae = AutoEncoder(code_size=2, hidden_layers=(16,), epochs=1, max_time="1s", random_state=0, device="cpu")
    assert "shorter than one epoch" in ae.fit(rows).history_.stop_reason


def test_epochs_and_a_budget_end_at_whichever_comes_first(rows, monkeypatch):
    monkeypatch.setattr(trainer_module.time, "perf_counter", FakeClock(1e-4))
    ae = AutoEncoder(code_size=2, hidden_layers=(16,), epochs=4, max_time=3600, random_state=0, device="cpu")
    assert ae.fit(rows).n_epochs_ == 4


def test_a_resumed_run_counts_the_seconds_before_it(rows, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer_module.time, "perf_counter", FakeClock(0.01))
    params = dict(code_size=2, hidden_layers=(16,), batch_size=16, max_time=4.0, random_state=0, device="cpu")

    class StopAfter:
        def on_epoch_end(self, estimator, epoch, logs):
            return epoch == 2

    first = AutoEncoder(**params, checkpoint_dir=str(tmp_path), callbacks=[StopAfter()]).fit(rows)
    spent = first.history_.trained_seconds
    assert first.n_epochs_ == 2 and spent > 0
    resumed = AutoEncoder(**params, checkpoint_dir=str(tmp_path)).fit(rows, resume=True)
    assert resumed.history_.trained_seconds <= 1.1 * 4.0
    assert resumed.history_.trained_seconds > spent


def test_a_resumed_run_may_have_more_time_but_not_another_schedule(rows, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer_module.time, "perf_counter", FakeClock(0.01))
    params = dict(code_size=2, hidden_layers=(16,), batch_size=16, random_state=0, device="cpu")

    class StopAfter:
        def on_epoch_end(self, estimator, epoch, logs):
            return epoch == 2

    AutoEncoder(**params, max_time=4.0, checkpoint_dir=str(tmp_path), callbacks=[StopAfter()]).fit(rows)
    longer = AutoEncoder(**params, max_time="8s", checkpoint_dir=str(tmp_path)).fit(rows, resume=True)
    assert 4.0 * 1.1 < longer.history_.trained_seconds <= 8.0 * 1.1  # the new budget, seconds before included
    assert longer.history_.epoch[:2] == [1, 2]
    # Without a budget and with a fixed number of epochs, the schedule is another: refused, named.
    AutoEncoder(**params, max_time=4.0, checkpoint_dir=str(tmp_path), callbacks=[StopAfter()]).fit(rows)
    with pytest.raises(ModelFileError, match="max_time 4.0 -> None"):
        AutoEncoder(**params, epochs=5, checkpoint_dir=str(tmp_path)).fit(rows, resume=True)


@pytest.mark.parametrize("bad", [0, -1, "soon"])
def test_estimator_refuses_a_bad_budget_before_reading_data(bad):
    with pytest.raises(InvalidInputError, match="max_time="):
        AutoEncoder(max_time=bad).fit("no-such-file.csv")


@pytest.mark.parametrize("bad", ["0", "-5s", "tomorrow"])
def test_cli_time_budget_error_is_one_line_and_writes_nothing(tmp_path, bad):
    out = tmp_path / "model"
    result = CliRunner().invoke(app, ["fit", "digits", "--time", bad, "-o", str(out)])
    assert result.exit_code == 2
    assert "--time" in result.output and "expected a positive number of seconds" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_cli_fit_states_threads_and_why_training_ended(tmp_path):
    out = tmp_path / "model"
    args = ["fit", "digits", "--code-size", "2", "--epochs", "3", "--threads", "1", "-o", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "1 thread(s)" in result.output and "ran all 3 epochs" in result.output


TINY_TABLES = {
    "normal": lambda rng, n: rng.normal(size=(n, 5)),
    # Left in their own units (not rescaled to unit spread): a one-row table raised.
    "uniform": lambda rng, n: rng.uniform(size=(n, 5)),
    # Standardized; 8 and 13 rows leave a 1- or 2-row validation split, whose own mean scored
    # zero loss and made every model look diverged.
    "counts": lambda rng, n: rng.poisson(3, size=(n, 5)).astype(float),
}


@pytest.mark.parametrize("kind", sorted(TINY_TABLES))
@pytest.mark.parametrize("n_rows", [1, 2, 5, 8, 13, 20])
def test_tiny_tables_train_without_a_false_collapse(n_rows, kind):
    X = TINY_TABLES[kind](np.random.default_rng(n_rows), n_rows)
    ae = AutoEncoder(code_size=2, epochs=40, random_state=0, device="cpu").fit(X)
    assert ae.history_.restarts == []
    assert np.isfinite(ae.transform(X)).all()


def test_constant_columns_train_without_a_false_collapse():
    X = np.random.default_rng(0).normal(size=(60, 6))
    X[:, 2] = 3.0
    X[:, 4] = 0.0
    ae = AutoEncoder(code_size=2, epochs=40, random_state=0, device="cpu").fit(X)
    assert ae.history_.restarts == []
    assert np.allclose(ae.reconstruct(X)[:, 2], 3.0, atol=0.3)


def test_the_patience_reason_says_why_the_count_passed_the_patience():
    # Under a fading noise the count starts late with the epochs since the best included; the
    # end-of-fit line read 'no improvement for 199 epochs (patience 30)', as if stopping were broken.
    from types import SimpleNamespace

    from hourglass.train.stopping import StoppingRules

    rules = SimpleNamespace(config=SimpleNamespace(patience=30))
    assert StoppingRules._patience_reason(rules, 30) == "no improvement for 30 epochs (patience 30)"
    assert StoppingRules._patience_reason(rules, 199) == (
        "no improvement for 199 epochs (patience 30, counted from when the input noise faded below "
        "10% of its level)"
    )
