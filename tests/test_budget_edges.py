"""Time budgets at their edges: resumed without one or after it is spent, a plan shorter than its
warm-up, layer-wise pretraining inside it, huge budgets, and threads given as numpy integers."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import FakeClock, StopAfter
from hourglass import AnomalyDetector, AutoEncoder
from hourglass.estimators import layerwise
from hourglass.exceptions import InvalidInputError
from hourglass.runtime import threads as threads_module
from hourglass.train import trainer as trainer_module
from hourglass.train.budget import parse_duration
from hourglass.train.schedule import ProgressiveCosine

PARAMS = dict(code_size=2, hidden_layers=(16,), batch_size=16, random_state=0, device="cpu")


@pytest.fixture
def rows():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(200, 2))
    return np.tanh(codes @ rng.normal(size=(2, 6))) + 0.05 * rng.normal(size=(200, 6))


def test_a_budgeted_run_resumed_without_a_budget_plans_as_learning_asks(rows, tmp_path, monkeypatch):
    # It kept the old budget's end, and its end-of-fit reason formatted the missing budget: TypeError.
    monkeypatch.setattr(trainer_module.time, "perf_counter", FakeClock(0.01))
    AutoEncoder(**PARAMS, max_time=4.0, checkpoint_dir=str(tmp_path), callbacks=[StopAfter(3)]).fit(rows)
    resumed = AutoEncoder(**PARAMS, checkpoint_dir=str(tmp_path)).fit(rows, resume=True)
    assert resumed.n_epochs_ > 3
    assert "budget" not in resumed.history_.stop_reason
    assert resumed.history_.recipe["max_time"] is None


def test_a_budget_spent_before_the_resume_ends_it_at_once(rows, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer_module.time, "perf_counter", FakeClock(0.01))
    params = dict(PARAMS, checkpoint_dir=str(tmp_path))
    first = AutoEncoder(**params, max_time=4.0, callbacks=[StopAfter(3)]).fit(rows)
    spent = first.history_.trained_seconds
    resumed = AutoEncoder(**params, max_time=spent / 2).fit(rows, resume=True)
    assert resumed.n_epochs_ == 3  # no epoch beyond the checkpoint's
    assert "spent before the resume" in resumed.history_.stop_reason
    np.testing.assert_allclose(resumed.transform(rows), first.transform(rows), rtol=1e-6, atol=1e-6)


def test_a_plan_cut_short_by_its_budget_ends_its_warm_up_in_time():
    # A 3 s conv fit ended inside its 200-step warm-up, the rate still climbing.
    schedule = ProgressiveCosine(plan=1000, cap=10_000, warmup=200)
    schedule.bound(10, 40)  # 50 steps fit in the budget
    assert schedule.plan == 50 and schedule.warmup <= 5
    rates = [schedule(step) for step in range(50)]
    assert rates[-1] < 0.2 * max(rates)  # decayed by the end, not still rising
    long = ProgressiveCosine(plan=1000, cap=10_000, warmup=200)
    long.bound(10, 3000)  # a budget longer than the plan leaves the warm-up alone
    assert long.warmup == 200


def test_layerwise_pretraining_takes_its_share_of_the_budget(rows, monkeypatch):
    # The pairs trained their fixed epochs whatever the budget: 22 s for --time 2s.
    monkeypatch.setattr(trainer_module.time, "perf_counter", FakeClock(0.01))
    params = dict(PARAMS, hidden_layers=(16, 8))
    ae = AutoEncoder(**params, pretrain="layerwise", max_time=4.0).fit(rows)
    pretraining = sum(h.trained_seconds for h in ae.pretrain_history_)
    assert pretraining <= 0.25 * 4.0 * 1.2
    assert pretraining + ae.history_.trained_seconds <= 4.0 * 1.15


@pytest.mark.parametrize("huge", [1e308, 10**400])
def test_a_huge_budget_trains_or_is_refused_in_one_line(rows, huge):
    if huge == 10**400:
        with pytest.raises(InvalidInputError, match="max_time=1000.*expected a positive number"):
            parse_duration(huge)
        return
    ae = AutoEncoder(**PARAMS, epochs=3, max_time=huge).fit(rows)  # OverflowError before
    assert ae.n_epochs_ == 3


def test_threads_may_be_a_numpy_integer(rows):
    ae = AutoEncoder(**PARAMS, epochs=1, threads=np.int64(1)).fit(rows)
    assert ae.history_.recipe["threads"] == 1


def test_a_checkpoint_resumes_on_another_thread_count(rows, tmp_path):
    params = dict(PARAMS, epochs=4, checkpoint_dir=str(tmp_path))
    AutoEncoder(**params, threads=1, callbacks=[StopAfter(2)]).fit(rows)
    resumed = AutoEncoder(**params, threads="auto").fit(rows, resume=True)
    assert resumed.history_.epoch == [1, 2, 3, 4]


def test_cgroup_quotas_of_both_versions_bound_the_cpus(tmp_path, monkeypatch):
    # A v1 CFS quota (this machine's kind) and a process's own v2 cgroup were not read.
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("150000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    (tmp_path / "box").mkdir()
    (tmp_path / "box" / "cpu.max").write_text("100000 100000\n")
    monkeypatch.setattr(threads_module, "_own_cgroups", lambda: ("/box", "/"))
    assert sorted(threads_module.cgroup_limits(tmp_path)) == [1, 2]
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")  # no quota
    assert threads_module.cgroup_limits(tmp_path) == [1]


def test_an_interrupted_detector_resumes(tmp_path):
    X = np.random.default_rng(0).normal(size=(120, 5))
    params = dict(code_size=2, hidden_layers=(8,), epochs=4, random_state=0, device="cpu")
    AnomalyDetector(**params, checkpoint_dir=str(tmp_path), callbacks=[StopAfter(2)]).fit(X)
    resumed = AnomalyDetector(**params, checkpoint_dir=str(tmp_path)).fit(X, resume=True)
    assert resumed.estimator_.history_.epoch == [1, 2, 3, 4]


def test_a_run_that_ends_at_its_budget_did_not_stop_early(monkeypatch):
    # stopped_early was True for a plan laid over the budget that simply ran to its end: the
    # info command's "stopped_early" then said patience fired where the budget planned the end.
    from sklearn.datasets import load_digits

    digits = load_digits().data[:300]
    monkeypatch.setattr(trainer_module.time, "perf_counter", FakeClock(0.01))
    budgeted = AutoEncoder(**PARAMS, max_time=2.0).fit(digits)
    assert "time budget of 2 s" in budgeted.history_.stop_reason
    assert budgeted.n_epochs_ > 1 and not budgeted.history_.stopped_early
    # Learning that stopped gaining ends the run early: that is still an early stop.
    adaptive = AutoEncoder(**PARAMS, epochs="auto").fit(digits)
    assert adaptive.history_.stop_reason.startswith("learning stopped gaining")
    assert adaptive.history_.stopped_early


def test_a_resumed_run_counts_the_epochs_before_the_resume_against_its_budget(rows, tmp_path, monkeypatch):
    # Only the first epoch of the whole run is exempt from the budget: a resumed run's first
    # epoch ran past it to its end, and was then said to be "shorter than one epoch: trained one
    # epoch" on a run that had trained two.
    from hourglass.train import resume

    monkeypatch.setattr(trainer_module.time, "perf_counter", FakeClock(0.01))
    monkeypatch.setattr(resume, "SAVE_COST_MULTIPLE", 0.0)
    steps = []  # the step count at each epoch's end
    original = trainer_module.Trainer.train_one_epoch

    def counted(self, data, epoch):
        terms = original(self, data, epoch)
        steps.append(self._step)
        return terms

    monkeypatch.setattr(trainer_module.Trainer, "train_one_epoch", counted)
    params = dict(PARAMS, checkpoint_dir=str(tmp_path))
    first = AutoEncoder(**params, max_time=100.0, callbacks=[StopAfter(1)]).fit(rows)
    # The budget runs out early in the resumed run's first epoch.
    budget = first.history_.trained_seconds + first.history_.seconds[0] / 2
    resumed = AutoEncoder(**params, max_time=budget).fit(rows, resume=True)
    assert resumed.history_.epoch == [1, 2]
    assert "shorter than one epoch" not in resumed.history_.stop_reason
    assert "time budget" in resumed.history_.stop_reason
    per_epoch, after_two = steps
    assert after_two - per_epoch < per_epoch  # epoch 2 ended at the budget, before its last step


def test_layerwise_pretraining_is_said_to_take_part_of_the_users_budget(rows, monkeypatch):
    # The stop reason, the recipe and fit_seconds_ stated the budget left after pretraining
    # ("laid over the time budget of 2.94742 s" for max_time=4) and its seconds alone.
    monkeypatch.setattr(trainer_module.time, "perf_counter", FakeClock(0.01))
    ae = AutoEncoder(**dict(PARAMS, hidden_layers=(16, 8)), pretrain="layerwise", max_time=4.0).fit(rows)
    pretraining = sum(h.trained_seconds for h in ae.pretrain_history_)
    recipe = ae.history_.recipe
    assert recipe["max_time"] == 4.0
    assert recipe["pretrain_seconds"] >= pretraining  # its set-up too
    assert (
        f"time budget of 4 s ({recipe['pretrain_seconds']:.3g} s of it pretraining)"
        in ae.history_.stop_reason
    )
    assert ae.fit_seconds_ >= pretraining + ae.history_.trained_seconds


def test_a_run_cut_at_its_budget_before_its_schedule_ended_says_the_budget_ran_out(monkeypatch):
    # Steps that grow slower near the end (load arriving) cut the run at the budget with the rate
    # above its final share; the reason said "the schedule was laid over the time budget".
    from sklearn.datasets import load_digits

    digits = load_digits().data[:300]
    clock = FakeClock(0.01)
    monkeypatch.setattr(trainer_module.time, "perf_counter", clock)

    class LoadArrives:
        def on_epoch_end(self, estimator, epoch, logs):
            # Three quarters of the training's share of the budget: the set-up's counts too.
            if estimator.history_.trained_seconds > 0.75 * (2.0 - estimator.history_.recipe["setup_seconds"]):
                clock.tick = 0.05

    steady = AutoEncoder(**PARAMS, max_time=2.0).fit(digits)
    assert steady.history_.stop_reason == "the schedule was laid over the time budget of 2 s"
    clock.tick = 0.01
    cut = AutoEncoder(**PARAMS, max_time=2.0, callbacks=[LoadArrives()]).fit(digits)
    reason = cut.history_.stop_reason
    assert reason.startswith("the time budget of 2 s ran out") and "laid over the time budget" not in reason
    assert "before the end of the schedule" in reason and "of its peak, not 0.05" in reason
    assert not cut.history_.stopped_early


def test_epochs_run_to_the_end_under_a_budget_that_did_not_bind_say_so_as_without_one(rows):
    # "reached the cap of 3 epochs" where the same run without a budget "ran all 3 epochs".
    budgeted = AutoEncoder(**PARAMS, epochs=3, max_time=600).fit(rows)
    assert budgeted.history_.stop_reason == "ran all 3 epochs"
    assert AutoEncoder(**PARAMS, epochs=3).fit(rows).history_.stop_reason == "ran all 3 epochs"


def test_a_budget_a_fixed_run_never_reaches_changes_nothing(rows):
    # It faded the input noise step by step where the run without it faded it epoch by epoch
    # (and capped the warm-up at 200 steps): 12 epochs ended with codes 5e-3 apart.
    params = dict(PARAMS, epochs=12, hidden_layers=(32, 16))
    plain = AutoEncoder(**params).fit(rows)
    budgeted = AutoEncoder(**params, max_time=1000.0).fit(rows)
    assert budgeted.history_.stop_reason == "ran all 12 epochs"
    assert budgeted.history_.lr == plain.history_.lr
    np.testing.assert_array_equal(budgeted.transform(rows), plain.transform(rows))


def test_a_resume_after_layerwise_pretraining_does_not_pretrain_again(rows, tmp_path, monkeypatch):
    # It pretrained anew, took those seconds off the budget a second time, then loaded the
    # checkpoint's weights over the pretrained ones.
    monkeypatch.setattr(trainer_module.time, "perf_counter", FakeClock(0.01))
    params = dict(PARAMS, hidden_layers=(16, 8), pretrain="layerwise", checkpoint_dir=str(tmp_path))
    first = AutoEncoder(**params, max_time=4.0, callbacks=[StopAfter(3)]).fit(rows)
    pretrained = first.history_.recipe["pretraining"]
    calls = []
    monkeypatch.setattr(layerwise.pretrained, "layerwise_pretrain", lambda *a, **k: calls.append(1))
    resumed = AutoEncoder(**params, max_time=4.0).fit(rows, resume=True)
    assert calls == []
    assert resumed.history_.recipe["pretrain_seconds"] == first.history_.recipe["pretrain_seconds"]
    saved_losses = [pair["train_loss"] for pair in pretrained["layers"]]
    assert [pair.train_loss for pair in resumed.pretrain_history_] == saved_losses
    assert resumed.n_epochs_ > 3
    assert pretrained["seconds"] + resumed.history_.trained_seconds <= 4.0 * 1.15


def test_the_set_up_before_training_counts_against_the_budget(monkeypatch):
    # Splitting, scaling and PCA ran outside the budget: a 1 s budget on 10,000 Fashion-MNIST
    # images took 1.95 s, 3 s on 30,000 took 4.2 s. The trainer now plans over what they left.
    from sklearn.datasets import load_digits

    import hourglass.estimators.base as base_module

    digits = load_digits().data[:300]
    clock = FakeClock(0.01)
    monkeypatch.setattr(trainer_module.time, "perf_counter", clock)
    real_baseline = base_module.baseline_pca

    def slow_baseline(*args, **kwargs):
        clock.now += 0.5  # PCA on a large table: half a second of the budget
        return real_baseline(*args, **kwargs)

    monkeypatch.setattr(base_module, "baseline_pca", slow_baseline)
    ae = AutoEncoder(**PARAMS, max_time=2.0).fit(digits)
    setup = ae.history_.recipe["setup_seconds"]
    assert 0.5 <= setup < 1.0
    assert ae.history_.recipe["max_time"] == 2.0  # the user's budget, as given
    assert "time budget of 2 s" in ae.history_.stop_reason
    assert setup + ae.history_.trained_seconds <= 2.0 + max(ae.history_.seconds)
