"""Prediction runs on the estimator's ``threads``, as training does, and gives the caller's setting back.

``threads`` covered training only: ``transform``, ``reconstruct``, the detector's scores and the
command line's ``encode`` ran at torch's default of one thread per core, which on a 2-core
machine with two other CPU-bound processes ran up to 28x slower than one thread (issue 21).
``hourglass demo`` had no ``--threads`` (fit and compare have one).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import assert_one_line_error, run
from hourglass import AnomalyDetector, AutoEncoder
from hourglass.runtime import threads
from hourglass.uses import comparison

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture
def process_threads():
    """The process's setting is 2 threads during the test (the conftest's 1 after it)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


@pytest.fixture
def seen_threads():
    """``torch.get_num_threads()`` at every forward pass of any module while the test runs."""
    seen: list[int] = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, inputs, output: seen.append(torch.get_num_threads())
    )
    yield seen
    handle.remove()


@pytest.fixture(scope="module")
def digits_ae(digits):
    return AutoEncoder(
        code_size=4, hidden_layers=(16,), epochs=2, threads=1, random_state=0, device=DEVICE
    ).fit(digits[0][:300])


@pytest.mark.parametrize(
    "call",
    [
        lambda ae, X: ae.transform(X),
        lambda ae, X: ae.inverse_transform(ae.transform(X)),
        lambda ae, X: ae.reconstruct(X),
        lambda ae, X: ae.reconstruction_error(X),
        lambda ae, X: ae.score_samples(X),
        lambda ae, X: ae.layer_outputs(X),
    ],
    ids=["transform", "inverse_transform", "reconstruct", "reconstruction_error", "score_samples", "layers"],
)
def test_prediction_runs_on_the_estimators_threads_and_restores_the_process_setting(
    digits_ae, digits, process_threads, seen_threads, call
):
    call(digits_ae, digits[0][:10])
    assert seen_threads and set(seen_threads) == {1}
    assert torch.get_num_threads() == process_threads


def test_the_process_setting_comes_back_after_an_exception_in_the_forward_pass(
    digits_ae, digits, process_threads
):
    seen = []

    def fail(module, inputs, output):
        seen.append(torch.get_num_threads())
        raise RuntimeError("boom")

    handle = digits_ae.module_.register_forward_hook(fail)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            digits_ae.reconstruct(digits[0][:10])
    finally:
        handle.remove()
    assert seen == [1]
    assert torch.get_num_threads() == process_threads


def test_auto_predicts_a_few_rows_of_a_small_network_on_one_thread(digits, process_threads, seen_threads):
    ae = AutoEncoder(code_size=4, hidden_layers=(16,), epochs=1, random_state=0, device=DEVICE)
    ae.fit(digits[0][:200])
    seen_threads.clear()
    ae.transform(digits[0][:10])
    assert seen_threads and set(seen_threads[-1:]) == {1}  # the batch itself (after the FLOP count)
    assert torch.get_num_threads() == process_threads


def test_auto_takes_the_free_cpus_for_large_batches(digits_ae, digits, monkeypatch, seen_threads):
    monkeypatch.setattr(threads, "PARALLEL_MIN_FLOPS", 0.0)
    monkeypatch.setattr(threads, "resolve_threads", lambda count, flops=None: (3, "free"))
    monkeypatch.setattr(threads, "_SEEN", {}, raising=False)
    before = torch.get_num_threads()
    monkeypatch.setattr(digits_ae, "threads", "auto")
    digits_ae.transform(digits[0][:10])
    assert seen_threads[-1] == 3
    assert torch.get_num_threads() == before


def test_a_saved_thread_count_above_the_cpus_here_is_capped_not_refused(
    digits_ae, digits, monkeypatch, seen_threads
):
    # A model fitted with threads=8 on a larger machine, loaded where 3 CPUs are available.
    monkeypatch.setattr(threads, "available_cpus", lambda: 3)
    monkeypatch.setattr(threads, "_SEEN", {}, raising=False)
    monkeypatch.setattr(digits_ae, "threads", 8)
    digits_ae.transform(digits[0][:10])
    assert set(seen_threads) == {3}


def test_the_detectors_scores_run_on_its_threads(digits, process_threads, seen_threads):
    detector = AnomalyDetector(code_size=4, epochs=2, threads=1, random_state=0, device=DEVICE)
    detector.fit(digits[0][:300])
    seen_threads.clear()
    detector.score_samples(digits[0][:10])
    detector.predict(digits[0][:10])
    assert seen_threads and set(seen_threads) == {1}
    assert torch.get_num_threads() == process_threads


def test_the_command_line_encodes_on_the_models_threads(digits_ae, tmp_path, process_threads, seen_threads):
    digits_ae.save(tmp_path / "model")
    np.save(tmp_path / "rows.npy", np.random.default_rng(0).uniform(size=(10, 64)).astype(np.float32))
    seen_threads.clear()
    code, out, err = run("encode", tmp_path / "model", tmp_path / "rows.npy", "-o", tmp_path / "codes.npy")
    assert code == 0, err
    assert seen_threads and set(seen_threads) == {1}
    assert torch.get_num_threads() == process_threads


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("0", "--threads 0; expected 'auto' or an integer from 1 to"),
        ("99999", "--threads 99999; expected 'auto' or an integer from 1 to"),
    ],
)
def test_demo_refuses_a_bad_thread_count_in_one_line(tmp_path, value, said):
    out = tmp_path / "demo"
    assert_one_line_error(*run("demo", "--threads", value, "-o", out), said)
    assert not out.exists()


def test_demo_trains_on_the_threads_asked_for(tmp_path, monkeypatch):
    seen = []

    def recorded(X, code_sizes, estimator, **kwargs):
        seen.append(estimator.get_params()["threads"])
        raise KeyboardInterrupt  # the threads are what this test is about, not the training

    monkeypatch.setattr(comparison, "compare", recorded)
    run("demo", "--threads", "1", "--code-sizes", "2", "-o", tmp_path / "demo", "-q")
    assert seen == [1]
