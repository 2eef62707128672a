"""Run the README's and the guides' examples as written, each page in one namespace, in order.

The README and the guides are the first things a user runs; an example that no longer works is
a bug. Python blocks run; the README's command-line block runs too (after the Python block that
writes its ``wine.csv``); every other ``hourglass`` command line of a page (fashion-mnist runs,
torchrun, photo folders) is parsed by the command it names, so a renamed option fails here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import typer

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GUIDES = sorted((ROOT / "docs" / "guide").glob("*.md"))
PAGES = [README, *GUIDES]
FENCE = re.compile(r"^```(python|bash)[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
#: Lines of the first screen: what it is, the two commands, the examples and the table of guides.
FIRST_SCREEN = 60
#: Pages whose examples train for long (tens of seconds or more on one core).
SLOW_PAGES = {"README.md", "tables.md", "anomaly.md", "compression.md", "generative.md", "internals.md"}


def blocks(text: str, language: str) -> list[str]:
    """The bodies of a page's fenced blocks in ``language``, in order."""
    return [match.group(2) for match in FENCE.finditer(text) if match.group(1) == language]


def command_lines(block: str) -> list[list[str]]:
    """The ``hourglass`` command lines of a bash block, as argument lists (torchrun's too)."""
    lines = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        if "-m" in words and "hourglass" in words:  # torchrun ... -m hourglass fit ...
            words = words[words.index("hourglass") :]
        if words[:1] == ["hourglass"] and "..." not in words:
            lines.append(words[1:])
    return lines


def test_blocks_finds_fenced_code():
    text = "intro\n```python\nx = 1\n```\n```bash\nls\n```\n```python title\ny = x + 1\n```\n"
    assert blocks(text, "python") == ["x = 1\n", "y = x + 1\n"] and blocks(text, "bash") == ["ls\n"]


def test_readme_first_screen_has_the_two_commands_and_both_examples():
    first = "\n".join(README.read_text(encoding="utf-8").splitlines()[:FIRST_SCREEN])
    tests = 'python3 -m venv .venv && .venv/bin/pip install "torch==2.13.0" -e ".[test]" && .venv/bin/pytest'
    assert tests in first and tests in (ROOT / ".ci" / "run").read_text()  # CI runs that very command
    assert '.venv/bin/pip install "torch==2.13.0" -e . && .venv/bin/hourglass demo' in first
    python, bash = blocks(first, "python"), blocks(first, "bash")
    assert len(python) == 1 and len(python[0].splitlines()) <= 10
    assert len(command_lines(bash[-1])) == 3
    for guide in GUIDES:
        assert f"(docs/guide/{guide.name})" in first, guide.name


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_command_lines_of_every_page_parse(page, capsys):
    """Every option a page shows exists on the command it names (the callback is not run)."""
    from hourglass.cli import app

    group = typer.main.get_command(app)
    with click.Context(group) as context:
        for args in command_lines("".join(blocks(page.read_text(encoding="utf-8"), "bash"))):
            if args[0].startswith("-"):
                continue  # hourglass --version and the like
            command = group.get_command(context, args[0])
            assert command is not None, args
            try:
                command.make_context(args[0], args[1:], parent=context)
            except click.UsageError as exc:
                pytest.fail(f"{page.name}: hourglass {shlex.join(args)}: {exc}")
            except (click.exceptions.Exit, typer.Exit):
                # DATA is checked as it is read: the files a page's earlier commands write are
                # not here, nor Fashion-MNIST's where its package is not installed. The options
                # before it parsed; that check is the only exit allowed.
                said = capsys.readouterr().err
                assert "no such file or folder" in said or "dataset-fashion-mnist" in said, args


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if p.name in SLOW_PAGES], ids=lambda p: p.name)
def test_python_examples_of_every_page_run(page, tmp_path, monkeypatch):
    _run_python(page, tmp_path, monkeypatch)


@pytest.mark.parametrize("page", [p for p in GUIDES if p.name not in SLOW_PAGES], ids=lambda p: p.name)
def test_python_examples_of_quick_pages_run(page, tmp_path, monkeypatch):
    _run_python(page, tmp_path, monkeypatch)


@pytest.mark.slow
def test_readme_command_line_block_runs(tmp_path, monkeypatch):
    from hourglass.cli import main

    _run_python(README, tmp_path, monkeypatch)  # writes wine.csv, as the page says
    first = "\n".join(README.read_text(encoding="utf-8").splitlines()[:FIRST_SCREEN])
    for args in command_lines(blocks(first, "bash")[-1]):
        assert main(args) == 0, args
    assert (tmp_path / "compare-report" / "report.html").exists()


def _run_python(page: Path, folder: Path, monkeypatch) -> None:
    monkeypatch.chdir(folder)  # examples write model folders, reports and tables
    namespace: dict = {"__name__": "__readme__"}
    for number, block in enumerate(blocks(page.read_text(encoding="utf-8"), "python"), start=1):
        try:
            exec(compile(block, f"{page.name} python block {number}", "exec"), namespace)
        except Exception as exc:
            pytest.fail(f"{page.name} python block {number} failed: {type(exc).__name__}: {exc}\n{block}")
