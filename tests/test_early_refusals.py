"""Bad options and outputs are refused as the command line is read, before torch and scikit-learn load.

A bad ``--time`` or ``--threads`` and a model folder left from the last run were refused only
after those imports (10 s on a loaded machine); a missing DATA file already was not
(``test_cli_safety``). Each case runs the command in a fresh process and reads which modules it
imported from ``-X importtime``.
"""

import re

import pytest

from helpers import run_logging_imports

TIME_FORMS = (
    "expected a positive number of seconds or a string such as '90s', '10min', '1.5h' or "
    "'00:01:30:00' (DD:HH:MM:SS)"
)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--time", "0"], re.escape(f"--time '0'; {TIME_FORMS}")),
        (["--time", "abc"], re.escape(f"--time 'abc'; {TIME_FORMS}")),
        (["--max-time", "-5"], re.escape(f"--time '-5'; {TIME_FORMS}")),
        (
            ["--threads", "0"],
            r"--threads 0; expected 'auto' or an integer from 1 to \d+ \(the CPUs this process",
        ),
        (["--threads", "99999"], r"--threads 99999; expected 'auto' or an integer from 1 to \d+ "),
        (["--threads", "abc"], re.escape("--threads 'abc': expected an integer or 'auto'")),
    ],
)
def test_fit_refuses_a_bad_time_or_thread_count_before_torch_is_imported(tmp_path, options, expected):
    (tmp_path / "data.csv").write_text("a,b,c\n1,2,3\n4,5,6\n7,8,9\n")
    code, errors, imported = run_logging_imports(tmp_path, ["fit", "data.csv", "-o", "m", *options])
    assert code == 2 and len(errors) == 1, errors
    assert re.fullmatch("hourglass: error: " + expected + ".*", errors[0]), errors[0]
    assert "hourglass.cli" in imported and not {"torch", "sklearn"} & imported
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


def test_fit_refuses_an_existing_model_folder_before_torch_is_imported(tmp_path):
    (tmp_path / "data.csv").write_text("a,b,c\n1,2,3\n4,5,6\n7,8,9\n")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    code, errors, imported = run_logging_imports(tmp_path, ["fit", "data.csv", "-o", "m"])
    assert code == 2 and errors == ["hourglass: error: 'm' exists already; pass --force to overwrite it"]
    assert "hourglass.cli" in imported and not {"torch", "sklearn"} & imported
    assert (tmp_path / "m" / "config.json").read_text() == "{}"


@pytest.mark.parametrize("argv", [["compare", "data.csv", "--time", "0"], ["demo", "--time", "0", "-o", "d"]])
def test_compare_and_demo_refuse_a_bad_time_before_torch_is_imported(tmp_path, argv):
    (tmp_path / "data.csv").write_text("a,b,c\n1,2,3\n4,5,6\n7,8,9\n")
    code, errors, imported = run_logging_imports(tmp_path, argv)
    assert code == 2 and errors == [f"hourglass: error: --time '0'; {TIME_FORMS}"], errors
    assert "hourglass.cli" in imported and not {"torch", "sklearn"} & imported
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]
