"""threads='auto' keeps to the limits set outside the process.

A CPU quota on a cgroup above the process's own: a shared login node limits each user on
``user-UID.slice`` while the session's processes sit in a ``session-N.scope`` below it, whose own
``cpu.max`` reads 'max'. The quota was not read, and 'auto' took every core of the machine that
was not busy, to be throttled to the quota. And ``OMP_NUM_THREADS``, which a job script or a
sweep running one process per core sets: 'auto' took every free CPU over it.
"""

from __future__ import annotations

import functools

import pytest

from hourglass.runtime import threads

SCOPE = "/user.slice/user-1000.slice/session-3.scope"


def _tree(root, quotas: dict[str, str]) -> None:
    for path, text in quotas.items():
        folder = root / path
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "cpu.max").write_text(text)


def test_a_v2_quota_on_a_parent_cgroup_bounds_the_cpus(tmp_path, monkeypatch):
    _tree(
        tmp_path,
        {
            "": "max 100000\n",
            "user.slice": "max 100000\n",
            "user.slice/user-1000.slice": "200000 100000\n",
            "user.slice/user-1000.slice/session-3.scope": "max 100000\n",
        },
    )
    monkeypatch.setattr(threads, "_own_cgroups", lambda: (SCOPE, None))
    assert threads.cgroup_limits(tmp_path) == [2]


def test_a_v1_quota_on_a_parent_cgroup_bounds_the_cpus(tmp_path, monkeypatch):
    parent = tmp_path / "cpu" / "user.slice"
    (parent / "session-3.scope").mkdir(parents=True)
    for folder, quota in ((parent, "300000"), (parent / "session-3.scope", "-1")):
        (folder / "cpu.cfs_quota_us").write_text(f"{quota}\n")
        (folder / "cpu.cfs_period_us").write_text("100000\n")
    monkeypatch.setattr(threads, "_own_cgroups", lambda: (None, "/user.slice/session-3.scope"))
    assert threads.cgroup_limits(tmp_path) == [3]


@pytest.mark.parametrize("own", [None, "/", ""])
def test_a_process_at_the_root_reads_the_root_alone(tmp_path, monkeypatch, own):
    _tree(tmp_path, {"": "100000 100000\n"})
    monkeypatch.setattr(threads, "_own_cgroups", lambda: (own, own))
    assert threads.cgroup_limits(tmp_path) == [1]


def test_auto_takes_no_more_threads_than_the_parents_quota(tmp_path, monkeypatch):
    _tree(tmp_path, {"user.slice/user-1000.slice": "200000 100000\n"})
    monkeypatch.setattr(threads, "_own_cgroups", lambda: (SCOPE, None))
    monkeypatch.setattr(threads, "cgroup_limits", functools.partial(threads.cgroup_limits, tmp_path))
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 64)
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 0)
    assert threads.available_cpus() == 2
    count, rule = threads.resolve_threads("auto", 1e9)
    assert count == 2 and "2 CPU(s) available" in rule


@pytest.fixture
def four_free_cpus(monkeypatch):
    monkeypatch.setattr(threads, "available_cpus", lambda: 4)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 0)


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("2,1", 2), ("8", 4), ("0", 4), ("many", 4)])
def test_auto_takes_no_more_threads_than_omp_num_threads_asks(four_free_cpus, monkeypatch, value, expected):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    count, rule = threads.resolve_threads("auto", 1e9)
    assert count == expected
    assert ("OMP_NUM_THREADS" in rule) == (expected < 4), rule


def test_a_number_of_threads_given_is_kept_whatever_omp_num_threads_says(four_free_cpus, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.resolve_threads(3) == (3, "set by the user")
