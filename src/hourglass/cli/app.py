"""The Typer application and the error handling every command shares.

User errors (any :class:`~hourglass.exceptions.HourglassError`) become one line on stderr and
exit code 2, never a traceback; an interrupted run says how to resume.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

import typer

from hourglass.exceptions import HourglassError

app = typer.Typer(
    name="hourglass",
    help="Autoencoders defined by their hyperparameters, trained on your data, compared with PCA.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def fail(message: str) -> typer.Exit:
    """Print ``hourglass: error: message`` to stderr and return the Exit(2) to raise."""
    typer.echo(f"hourglass: error: {message}", err=True)
    return typer.Exit(code=2)


def handle_errors(func: Callable) -> Callable:
    """Turn hourglass errors raised by a command into a one-line message and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except HourglassError as exc:
            raise fail(" ".join(str(exc).split())) from None
        except KeyboardInterrupt:
            typer.echo("hourglass: interrupted; a run with a checkpoint can go on with --resume", err=True)
            raise typer.Exit(code=130) from None

    return wrapper


def command(*args, **kwargs) -> Callable:
    """Register a CLI command with the shared error handling (use like ``@app.command()``)."""

    def decorator(func: Callable) -> Callable:
        return app.command(*args, **kwargs)(handle_errors(func))

    return decorator


def echo(message: str = "", quiet: bool = False) -> None:
    """Print to stdout unless ``quiet``."""
    if not quiet:
        typer.echo(message)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` (``sys.argv[1:]`` when None) and return its exit code."""
    try:
        result = app(
            args=argv if argv is not None else sys.argv[1:], prog_name="hourglass", standalone_mode=False
        )
    except typer.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:
        return int(exc.code or 0)
    except Exception as exc:
        # Click's usage errors arrive here when not standalone. Recent typer versions vendor
        # click, so recognise them by their interface rather than by an import.
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return exc.exit_code
        raise
    # Without standalone mode, a command's typer.Exit comes back as its return value.
    return result if isinstance(result, int) else 0
