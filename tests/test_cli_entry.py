"""The ``hourglass`` process: it exits without Python's module teardown, its exit handlers run."""

import subprocess
import sys

import pytest

import hourglass

SCRIPT = """
import atexit, sys
from hourglass.cli import run
marker = sys.argv[1]
atexit.register(lambda: open(marker, "w").write("ran"))  # a handler like a table cache's
sys.argv = ["hourglass", *sys.argv[2:]]
run()
print("not reached: run() ends the process")
"""


def _run(tmp_path, *argv):
    marker = tmp_path / "handler"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(marker), *argv], capture_output=True, text=True, cwd=tmp_path
    )
    return done, marker


def test_a_command_ends_the_process_with_its_code_its_output_and_its_exit_handlers_run(tmp_path):
    done, marker = _run(tmp_path, "--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"hourglass {hourglass.__version__}"
    assert "not reached" not in done.stdout
    assert marker.read_text() == "ran"


@pytest.mark.parametrize("argv", [("fit", "missing.csv", "-o", "model"), ("info", "no-such-model")])
def test_a_refused_command_exits_2_with_one_line(tmp_path, argv):
    done, marker = _run(tmp_path, *argv)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.strip()
    assert marker.read_text() == "ran"
    assert not (tmp_path / "model").exists()


def test_python_dash_m_hourglass_goes_through_the_same_entry(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "hourglass", "--version"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0 and done.stdout.strip() == f"hourglass {hourglass.__version__}"
    assert _console_script() == "hourglass.cli:run"


def _console_script() -> str:
    from importlib.metadata import entry_points

    scripts = entry_points(group="console_scripts")
    return " ".join(e.value for e in scripts if e.name == "hourglass")
