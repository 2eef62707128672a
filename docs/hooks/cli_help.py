"""MkDocs hook: write the ``hourglass`` command's help into the CLI page at build time.

A line ``<!-- hourglass-help: fit -->`` in a page becomes the output of ``hourglass fit
--help`` at 80 columns, in a text block (``<!-- hourglass-help: -->`` for ``hourglass
--help``; ``<!-- hourglass-help: * -->`` for every command in turn), so the page cannot fall
behind the options.
"""

from __future__ import annotations

import re

_MARKER = re.compile(r"^<!-- hourglass-help:\s*(.*?)\s*-->$", re.M)


def _help(args: list[str]) -> str:
    from typer.testing import CliRunner

    from hourglass.cli import app

    result = CliRunner().invoke(
        app, [*args, "--help"], prog_name="hourglass", env={"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}
    )
    if result.exit_code != 0:
        raise RuntimeError(f"hourglass {' '.join(args)} --help exited {result.exit_code}: {result.output}")
    text = "\n".join(line.rstrip() for line in result.output.strip("\n").splitlines())
    return f"```text\n$ hourglass {' '.join([*args, '--help'])}\n{text}\n```"


def _commands() -> list[str]:
    import typer

    from hourglass.cli import app

    return list(typer.main.get_command(app).commands)


def _expand(match: re.Match) -> str:
    command = match.group(1)
    if command == "*":
        return "\n\n".join(f"## hourglass {name}\n\n{_help([name])}" for name in _commands())
    return _help(command.split())


def on_page_markdown(markdown: str, **kwargs) -> str:
    return _MARKER.sub(_expand, markdown)
