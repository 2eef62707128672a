"""Start-up: a program's import loads the estimators once; the command's help loads no heavy library."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HEAVY = ("torch", "sklearn", "pandas", "scipy", "matplotlib")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(m for m in sys.modules if '.' not in m)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def _modules_imported_by(command: list[str]) -> set[str]:
    """Top-level modules a process running ``command`` imported, read from ``-X importtime``."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    names = [line.rsplit("|", 1)[-1].strip() for line in lines]
    assert names, "no import times were printed"
    return {name.split(".")[0] for name in names}


def test_import_hourglass_loads_the_estimators_so_that_a_first_fit_imports_nothing():
    loaded = _modules_after("import sys, hourglass\nassert 'hourglass.estimators.dense' in sys.modules")
    assert {"torch", "sklearn"} <= loaded


def test_a_first_fit_after_import_hourglass_imports_no_heavy_module():
    # torch._dynamo is what a fit once imported for its FLOP count (1.7 s); the rest are what
    # scikit-learn's import costs. A torch module of a millisecond (a profiler hook) may load.
    code = (
        "import sys, numpy as np, hourglass\n"
        "before = set(sys.modules)\n"
        "X = np.random.default_rng(0).normal(size=(100, 10)).astype(np.float32)\n"
        "hourglass.AutoEncoder(code_size=2, epochs=1, verbose=0).fit(X)\n"
        "heavy = sorted(m for m in set(sys.modules) - before if m.split('.')[0] in "
        "('sklearn', 'scipy', 'pandas', 'matplotlib')"
        " or m.startswith(('torch._dynamo', 'torch._inductor')))\n"
        "print(' '.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []


def test_load_works_in_a_fresh_process_without_importing_the_estimators_first(tmp_path):
    import hourglass

    X = np.random.default_rng(0).random((32, 5)).astype(np.float32)
    ae = hourglass.AutoEncoder(code_size=2, hidden_layers=(4,), epochs=1, random_state=0)
    ae.fit(X).save(tmp_path / "m")
    code = f"import hourglass\nm = hourglass.load({str(tmp_path / 'm')!r})\nprint(type(m).__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "AutoEncoder", done.stderr


@pytest.mark.parametrize("argv", [["--help"], ["fit", "--help"], ["--version"]])
def test_the_command_started_with_python_m_loads_no_heavy_library(argv):
    loaded = _modules_imported_by([sys.executable, "-m", "hourglass", *argv])
    assert "hourglass" in loaded and not loaded & set(HEAVY), loaded & set(HEAVY)


def test_the_installed_command_script_loads_no_heavy_library():
    script = Path(sys.executable).with_name("hourglass")
    if not script.exists():
        pytest.skip(f"no 'hourglass' script beside {sys.executable} (not installed into this environment)")
    loaded = _modules_imported_by([str(script), "--help"])
    assert "hourglass" in loaded and not loaded & set(HEAVY), loaded & set(HEAVY)


def test_version_prints_the_package_version():
    from typer.testing import CliRunner

    import hourglass
    from hourglass.cli import app

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"hourglass {hourglass.__version__}"
