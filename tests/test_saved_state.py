"""What a model folder and a checkpoint keep of a fit: every public fitted attribute, the seed a
RandomState drew, a detector's seed, and the thread count a resumed run is compared with.

Found by a probe: ``data_range_`` (which salt-and-pepper noise writes), ``epochs_``,
``learning_rate_reason_`` and ``statistics_basis_`` were lost by save and load; a RandomState
was saved as None; a detector without a seed could never resume; a resume on another thread
count ended on other weights without a word.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator
from sklearn.datasets import load_breast_cancer, load_digits

import hourglass
from hourglass.runtime import threads as threads_module
from hourglass.runtime.seeds import as_seed
from hourglass.train.history import History
from tests.helpers import interrupt_once_at

HERE = Path(__file__).parent
OLD_FOLDERS = sorted(
    p
    for root in (HERE / "data" / "saved_models", HERE / "saved_models")
    for p in root.iterdir()
    if p.is_dir()
)


@pytest.fixture(scope="module")
def cancer() -> np.ndarray:
    return load_breast_cancer().data


@pytest.fixture(scope="module")
def digit_images() -> np.ndarray:
    return load_digits().data[:200].reshape(-1, 8, 8) / 16.0


def _public(est) -> dict:
    """The fitted attributes scikit-learn's convention makes public: ``name_``, not ``_name``."""
    return {k: v for k, v in vars(est).items() if k.endswith("_") and not k.startswith("_")}


def _same(a, b, where: str) -> None:
    """Assert that ``a`` and ``b`` hold the same fitted state (``where`` names it on failure)."""
    if isinstance(a, torch.nn.Module):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys(), where
        for key in sa:
            assert torch.equal(sa[key].cpu(), sb[key].cpu()), f"{where}.{key}"
    elif isinstance(a, BaseEstimator):
        _same_attributes(a, b, where)
    elif isinstance(a, History):
        # As JSON text: NaN losses compare equal.
        assert json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True), where
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), where
        for field in dataclasses.fields(a):
            _same(getattr(a, field.name), getattr(b, field.name), f"{where}.{field.name}")
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif hasattr(a, "to_json"):  # a table's schema
        assert a.to_json() == b.to_json(), where
    elif isinstance(a, float):
        assert isinstance(b, float) and (a == b or (math.isnan(a) and math.isnan(b))), (where, a, b)
    elif hasattr(a, "offset") and hasattr(a, "scale"):  # the scaler
        np.testing.assert_array_equal(a.offset, b.offset, err_msg=where)
        np.testing.assert_array_equal(a.scale, b.scale, err_msg=where)
    else:
        assert a == b and type(a) is type(b), (where, a, b)


def _same_attributes(fitted, loaded, where: str) -> None:
    before, after = _public(fitted), _public(loaded)
    assert sorted(before) == sorted(after), f"{where}: lost {sorted(set(before) - set(after))}"
    for name, value in before.items():
        _same(value, after[name], f"{where}.{name}")


KINDS = {
    "dense": lambda: hourglass.AutoEncoder(code_size=4, epochs=2, random_state=0, noise="salt_pepper"),
    "vae": lambda: hourglass.VariationalAutoEncoder(code_size=2, epochs=2, random_state=0),
    "conv": lambda: hourglass.ConvAutoEncoder(code_size=4, epochs=2, random_state=0),
    "vq": lambda: hourglass.VQAutoEncoder(epochs=2, random_state=0),
    "anomaly": lambda: hourglass.AnomalyDetector(code_size=4, epochs=2, random_state=None),
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_public_fitted_attribute_survives_save_and_load(kind, cancer, digit_images, tmp_path):
    X = digit_images if kind in ("conv", "vq") else cancer
    fitted = KINDS[kind]().fit(X)
    fitted.save(tmp_path / "model")
    loaded = hourglass.load(tmp_path / "model")
    # module_ on the device it was saved from; both run on the CPU here.
    _same_attributes(fitted, loaded, kind)


def test_a_loaded_model_adds_salt_and_pepper_noise_at_the_datas_extremes(cancer, tmp_path):
    """partial_fit of a loaded model trained with noise of [0, 1] on data spanning [-3.1, 12.8]."""
    fitted = KINDS["dense"]().fit(cancer)
    fitted.save(tmp_path / "model")
    loaded = hourglass.load(tmp_path / "model")
    assert loaded.data_range_ == pytest.approx((-3.107, 12.752), abs=1e-3)
    for model in (fitted, loaded):  # both start a fresh optimizer from the same weights and seed
        model.partial_fit(cancer[:64])
    _same(fitted.module_, loaded.module_, "module_ after partial_fit")


@pytest.mark.parametrize("folder", OLD_FOLDERS, ids=lambda p: str(p.relative_to(HERE)))
def test_folders_saved_before_give_what_their_record_holds(folder):
    model = hourglass.load(folder)
    inner = getattr(model, "estimator_", model)
    recipe = inner.history_.recipe
    # Not recorded before: absent, not made up.
    assert not hasattr(inner, "data_range_") and not hasattr(inner, "epochs_")
    if "learning_rate_rule" in recipe:
        assert inner.learning_rate_reason_ == recipe["learning_rate_rule"]
    if "statistics" in recipe:
        assert inner.statistics_basis_ == recipe["statistics"]
    if type(model).__name__ == "AnomalyDetector" and isinstance(model.random_state, int):
        assert model.seed_ == model.random_state


def test_a_random_state_object_is_saved_as_the_seed_it_drew(cancer, tmp_path):
    fitted = hourglass.AutoEncoder(code_size=4, epochs=3, random_state=np.random.RandomState(5)).fit(cancer)
    fitted.save(tmp_path / "model")
    loaded = hourglass.load(tmp_path / "model")
    assert loaded.get_params()["random_state"] == fitted.seed_ == loaded.seed_
    # The recorded seed is the run: a refit from the saved parameters gives the same weights.
    refit = hourglass.AutoEncoder(**loaded.get_params()).fit(cancer)
    _same(fitted.module_, refit.module_, "module_")


def test_resume_compares_the_seeds_a_run_used(cancer, tmp_path, monkeypatch):
    ck = str(tmp_path / "ck")

    def make(seed):
        return hourglass.AutoEncoder(code_size=4, epochs=4, random_state=seed, checkpoint_dir=ck)

    interrupt_once_at(3, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        make(0).fit(cancer)
    drawn = as_seed(np.random.RandomState(0))
    with pytest.raises(hourglass.ModelFileError) as info:
        make(np.random.RandomState(0)).fit(cancer, resume=True)
    assert f"random_state 0 -> {drawn}; seed differs: 0 -> {drawn}" in str(info.value)
    assert "None" not in str(info.value)
    # A RandomState that draws the checkpoint's seed is the same run.
    interrupt_once_at(3, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        make(np.random.RandomState(0)).fit(cancer)
    resumed = make(drawn).fit(cancer, resume=True)
    whole = hourglass.AutoEncoder(code_size=4, epochs=4, random_state=drawn).fit(cancer)
    _same(whole.module_, resumed.module_, "module_")


def test_a_detector_without_a_seed_resumes_and_its_seed_reproduces_it(cancer, tmp_path, monkeypatch):
    ck = str(tmp_path / "ck")

    def make():
        return hourglass.AnomalyDetector(code_size=4, epochs=5, checkpoint_dir=ck)

    interrupt_once_at(3, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        make().fit(cancer)
    resumed = make().fit(cancer, resume=True)
    again = make().fit(cancer, resume=True)  # the finished run's checkpoint, left behind
    whole = hourglass.AnomalyDetector(code_size=4, epochs=5, random_state=resumed.seed_).fit(cancer)
    assert resumed.threshold_ == again.threshold_ == whole.threshold_
    np.testing.assert_array_equal(resumed.decision_scores_, whole.decision_scores_)
    resumed.save(tmp_path / "detector")
    assert hourglass.load(tmp_path / "detector").seed_ == resumed.seed_


def test_a_detectors_template_without_a_seed_takes_the_detectors(cancer):
    template = hourglass.AutoEncoder(code_size=4, epochs=3)
    first = hourglass.AnomalyDetector(estimator=template).fit(cancer)
    second = hourglass.AnomalyDetector(estimator=template, random_state=first.seed_).fit(cancer)
    assert first.estimator_.seed_ == first.seed_ and template.random_state is None
    assert first.threshold_ == second.threshold_


def _interrupted_run(cancer, ck: str, monkeypatch, threads: int) -> None:
    interrupt_once_at(3, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        hourglass.AutoEncoder(code_size=4, epochs=4, random_state=0, threads=threads, checkpoint_dir=ck).fit(
            cancer
        )


def test_resuming_on_another_thread_count_warns(cancer, tmp_path, monkeypatch):
    monkeypatch.setattr(threads_module, "available_cpus", lambda: 2)  # threads=2 under taskset -c 1
    ck = str(tmp_path / "ck")
    _interrupted_run(cancer, ck, monkeypatch, threads=1)
    with pytest.warns(
        UserWarning, match=r"resuming on 2 thread\(s\) a run that trained on 1: .* only to rounding"
    ):
        hourglass.AutoEncoder(code_size=4, epochs=4, random_state=0, threads=2, checkpoint_dir=ck).fit(
            cancer, resume=True
        )
    _interrupted_run(cancer, ck, monkeypatch, threads=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hourglass.AutoEncoder(code_size=4, epochs=4, random_state=0, threads=1, checkpoint_dir=ck).fit(
            cancer, resume=True
        )
    assert not [w for w in caught if "thread" in str(w.message)]
