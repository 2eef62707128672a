"""Start-up: the package and the CLI's help load no heavy library until a command needs one."""

import subprocess
import sys

import numpy as np

HEAVY = ("torch", "sklearn", "pandas", "scipy", "matplotlib")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(m for m in sys.modules if '.' not in m)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_import_hourglass_loads_no_heavy_library():
    loaded = _modules_after("import hourglass")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_load_works_in_a_fresh_process_without_importing_the_estimators_first(tmp_path):
    import hourglass

    X = np.random.default_rng(0).random((32, 5)).astype(np.float32)
    ae = hourglass.AutoEncoder(code_size=2, hidden_layers=(4,), epochs=1, random_state=0)
    ae.fit(X).save(tmp_path / "m")
    code = f"import hourglass\nm = hourglass.load({str(tmp_path / 'm')!r})\nprint(type(m).__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "AutoEncoder", done.stderr


def test_cli_help_and_version_load_no_heavy_library():
    for argv in (["--help"], ["fit", "--help"], ["--version"]):
        run = f"from hourglass.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
        loaded = _modules_after(run)
        assert not loaded & set(HEAVY), (argv, loaded & set(HEAVY))


def test_version_prints_the_package_version():
    from typer.testing import CliRunner

    import hourglass
    from hourglass.cli import app

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"hourglass {hourglass.__version__}"
