"""threads='auto': the CPUs this process may use, less those busy elsewhere, one for small steps."""

from __future__ import annotations

import pytest
import torch

from hourglass.exceptions import InvalidInputError
from hourglass.runtime import threads


@pytest.mark.parametrize(
    ("text", "cpus"), [("200000 100000\n", 2), ("150000 100000\n", 2), ("max 100000\n", None)]
)
def test_a_cgroup_quota_bounds_the_cpus(tmp_path, text, cpus):
    path = tmp_path / "cpu.max"
    path.write_text(text)
    assert threads.cgroup_cpu_limit(path) == cpus


def test_busy_tasks_are_counted_outside_this_process(tmp_path):
    path = tmp_path / "loadavg"
    path.write_text("2.00 1.50 1.00 5/321 4242\n")
    # 5 runnable, at least one of them this very thread.
    assert 0 <= threads.busy_elsewhere(path) <= 4
    path.write_text("garbage\n")
    assert threads.busy_elsewhere(path) == 0


def test_auto_takes_the_free_cpus_and_one_for_small_steps(monkeypatch):
    monkeypatch.setattr(threads, "available_cpus", lambda: 4)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 3)
    assert threads.resolve_threads("auto", 1e9)[0] == 1
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 1)
    count, rule = threads.resolve_threads("auto", 1e9)
    assert count == 3 and "1 busy" in rule
    count, rule = threads.resolve_threads("auto", 1e6)
    assert count == 1 and "MFLOP" in rule


@pytest.mark.parametrize("bad", [0, -1, 10_000, True, 1.5, "many"])
def test_a_thread_count_outside_the_cpus_is_refused_in_one_line(bad):
    with pytest.raises(InvalidInputError, match=r"threads=.*expected 'auto' or an integer from 1 to \d+"):
        threads.resolve_threads(bad)


def test_thread_limit_restores_the_callers_setting():
    before = torch.get_num_threads()
    with threads.thread_limit(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_cli_refuses_zero_threads_in_one_line_and_writes_nothing(tmp_path):
    from typer.testing import CliRunner

    from hourglass.cli import app

    out = tmp_path / "model"
    result = CliRunner().invoke(app, ["fit", "digits", "--threads", "0", "-o", str(out)])
    assert result.exit_code == 2
    assert "--threads 0" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_partial_fit_trains_on_the_threads_asked_for_and_restores_the_callers(monkeypatch, digits):
    # As fit does: the pass runs on `threads`, then the caller's setting comes back.
    from hourglass import AutoEncoder

    monkeypatch.setattr(threads, "available_cpus", lambda: 4)
    before = torch.get_num_threads()
    wanted = 2 if before == 1 else 1
    calls, original = [], torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (calls.append(n), original(n))[1])
    est = AutoEncoder(code_size=2, threads=wanted, random_state=0)
    est.partial_fit(digits[0][:200])
    est.partial_fit(digits[0][200:400])
    assert calls == [wanted, before, wanted, before]
    assert torch.get_num_threads() == before
    assert est.history_.recipe["threads"] == wanted


@pytest.mark.parametrize("bad", [0, 999])
def test_partial_fit_refuses_a_bad_thread_count_as_fit_does(real_data, bad):
    from hourglass import AutoEncoder

    est = AutoEncoder(code_size=2, threads=bad)
    with pytest.raises(InvalidInputError, match=rf"threads={bad}; expected 'auto' or an integer from 1 to"):
        est.partial_fit(real_data[:200])
    assert not hasattr(est, "module_")
