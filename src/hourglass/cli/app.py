"""The Typer application and the error handling every command shares.

Every error is one line on stderr, ``hourglass: error: ...``, and exit code 2, never a
traceback: usage errors (a bad option value, a missing argument), user errors (any
:class:`~hourglass.exceptions.HourglassError`), files that cannot be written, memory that runs
out, and, as a last resort, bugs (set ``HOURGLASS_DEBUG=1`` to see their traceback). An
interrupted run says how to resume, with exit code 130.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import signal
import sys
import threading
import typing
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from hourglass._version import __version__
from hourglass.exceptions import HourglassError

PROG = "hourglass"


def _given_value(args: Sequence[str], opts: Sequence[str]) -> str | None:
    """The last value given on the command line to an option named ``opts``."""
    value = None
    for i, token in enumerate(args):
        for opt in opts:
            if token == opt and i + 1 < len(args):
                value = args[i + 1]
            elif token.startswith(opt + "="):
                value = token[len(opt) + 1 :]
    return value


def usage_error_line(exc: Exception, args: Sequence[str]) -> str:
    """A click usage error as one line: ``--loss 'hinge' is not one of auto, mse, bce; see ...``."""
    ctx = getattr(exc, "ctx", None)
    see = f"see {ctx.command_path if ctx is not None else PROG} --help"
    if getattr(exc, "possibilities", None) and ctx is not None:
        _suggest_shown_options_only(exc, ctx)
    param = getattr(exc, "param", None)
    message = " ".join(str(getattr(exc, "message", "") or "").split())
    message = message.removeprefix("Value error, ").rstrip(".")
    if param is not None and getattr(param, "opts", None):
        is_option = getattr(param, "param_type_name", "") == "option"
        name = param.opts[0] if is_option else str(param.name).upper()
        if type(exc).__name__ == "MissingParameter":
            text = f"missing {'option' if is_option else 'argument'} {name}"
        else:
            message = re.sub(
                r"is not one of (.*)$", lambda m: "is not one of " + m[1].replace("'", ""), message
            )
            value = _given_value(args, param.opts) if is_option else None
            if value is None or repr(value) in message:
                text = f"{name} {message}"
            else:
                text = f"{name} {value!r}: {message[:1].lower()}{message[1:]}"
    else:
        text = " ".join(exc.format_message().split()) if hasattr(exc, "format_message") else str(exc)
        text = text[:1].lower() + text[1:].rstrip(".")
    return f"{text}; {see}"


def _suggest_shown_options_only(exc: Exception, ctx: Any) -> None:
    """Drop hidden options (old spellings kept working) from a "no such option" error's suggestions."""
    hidden = {
        name
        for param in ctx.command.get_params(ctx)
        if getattr(param, "hidden", False)
        for name in (*param.opts, *param.secondary_opts)
    }
    exc.possibilities = [name for name in exc.possibilities if name not in hidden]  # type: ignore[attr-defined]


def _is_click_error(exc: BaseException) -> bool:
    # Recent typer versions vendor click, so recognise its errors by their interface.
    return hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int)


def _without_flag_metavars(params: list) -> list:
    """Flags take no value: show none (typer would print a misleading ``<bool>``)."""
    for param in params:
        if getattr(param, "is_flag", False):
            param.metavar = " "
    return params


class Command(TyperCommand):
    """A command whose flags show no placeholder value in ``--help``."""

    def get_params(self, ctx):  # type: ignore[override]
        return _without_flag_metavars(super().get_params(ctx))


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's stop, ``kill``, systemd) as an exception: the command unwinds as on
    Ctrl-C, releasing its output lock and keeping its checkpoint, instead of dying in place."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated


def _unwind_on_sigterm():
    """Make SIGTERM raise :class:`Terminated` while a command runs; return the handler it replaces."""
    if threading.current_thread() is not threading.main_thread():
        return None  # only the main thread may set handlers (a command run from a thread)
    # Under torchrun too: torchrun passes a SIGTERM it gets on to its workers (and sends one when a
    # worker fails), and rank 0 died in place, its OUTPUT.lock left beside the output. A worker
    # waiting in a collective runs the handler once the collective returns (a dead peer's ends it
    # at once); one that never returns is killed by torchrun after its grace period, as before.
    return signal.signal(signal.SIGTERM, _raise_terminated)


class OneLineErrors(TyperGroup):
    """The command group, reporting usage errors in one line instead of a box."""

    def get_params(self, ctx):  # type: ignore[override]
        return _without_flag_metavars(super().get_params(ctx))

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        args = list(sys.argv[1:] if args is None else args)
        previous = _unwind_on_sigterm()
        try:
            result = super().main(args, prog_name or PROG, complete_var, standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except typer.Abort:
            typer.echo(f"{PROG}: aborted", err=True)
            code = 1
        except Exception as exc:
            if not _is_click_error(exc):
                raise
            if type(exc).__name__ == "NoArgsIsHelpError":
                typer.echo(exc.format_message())  # help for a bare `hourglass`, not an error
                code = 0
            else:
                if not _said_by_another_process():
                    typer.echo(f"{PROG}: error: {usage_error_line(exc, args)}", err=True)
                code = 2
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    name=PROG,
    cls=OneLineErrors,
    help="Autoencoders defined by their hyperparameters, trained on your data, compared with PCA.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Markdown joins a docstring's wrapped lines into paragraphs, so help reflows to the terminal.
    rich_markup_mode="markdown",
    # --install-completion / --show-completion for bash, zsh, fish and PowerShell.
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {__version__}")
        raise typer.Exit()


#: The commands that train together under torchrun; the others would run whole in every process.
DISTRIBUTED_COMMANDS = frozenset({"fit"})


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_print_version),
    ] = False,
) -> None:
    """Autoencoders defined by their hyperparameters, trained on your data, compared with PCA."""
    command = ctx.invoked_subcommand
    # Read from the launcher's environment (no torch import): under torchrun every process runs
    # the command; encode, compare, calibrate ... ran whole in each and raced for one output.
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and command and command not in DISTRIBUTED_COMMANDS:
        if os.environ.get("RANK", "0") == "0":
            typer.echo(
                f"{PROG}: error: '{PROG} {command}' runs in one process; under torchrun only "
                f"'{PROG} fit' trains across processes: run '{PROG} {command}' without torchrun",
                err=True,
            )
        raise typer.Exit(code=2)


def fail(message: str, error: BaseException | None = None) -> typer.Exit:
    """Print ``hourglass: error: message`` to stderr and return the Exit(2) to raise.

    Under torchrun an error every process meets alike (``error``, when it is the cause, says
    whether it is one) is printed by one process: the others exit with the same code in silence.
    """
    if not _said_by_another_process(error):
        typer.echo(f"{PROG}: error: {' '.join(message.split())}", err=True)
    return typer.Exit(code=2)


def _said_by_another_process(error: BaseException | None = None) -> bool:
    """Whether this torchrun process leaves an error to another one to print.

    Processes on one machine read the same command line and files: what fails before they join
    their group fails alike in each, and two processes printed each such line twice; local rank
    0 alone prints it (once a machine: another machine may lack the file). An error marked as
    every process's (``runtime.distributed.every_process``: a decision they share) is rank 0's
    to print. Others, once the group is joined, may be this process's own (its share of the
    data, a peer that died): each process says its own.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if getattr(error, "hourglass_every_process", False):  # distributed.EVERY_PROCESS, without torch
        return os.environ.get("RANK", "0") != "0"
    dist = sys.modules.get("torch.distributed")  # never imported for this: a bad option says so at once
    joined = dist is not None and dist.is_available() and dist.is_initialized()
    return not joined and os.environ.get("LOCAL_RANK", "0") != "0"


_SIZE = re.compile(r"(\d+(?:\.\d+)?\s*[KMGTP]i?B)\b|(\d{4,}) bytes")


_TRAINING_OPTIONS = frozenset({"batch_size", "data"})


def out_of_memory_message(exc: BaseException, options: frozenset[str] = _TRAINING_OPTIONS) -> str:
    """One line for running out of memory: the size asked for, and what to do about it.

    ``options`` are the parameter names of the command that ran out: the advice names only
    options that command has (``sample`` has no ``--batch-size``).
    """
    match = _SIZE.search(str(exc))
    if match and match[1]:
        size = f" ({match[1]} asked for)"
    elif match:
        size = f" ({int(match[2]) / 2**30:.3g} GiB asked for)"
    else:
        size = ""
    advice = []
    if "batch_size" in options:
        advice.append("lower --batch-size or the layer sizes")
    if "n" in options:
        advice.append("lower -n, or write a .npy, which is written batch by batch")
    if "data" in options:
        advice.append(
            "stream the data instead of loading it whole: a .npy file is memory-mapped and streamed above "
            "512 MiB (save the data with np.save), and a folder of images with --arch conv is read lazily, "
            "image by image"
        )
    return f"out of memory{size}; " + (", or ".join(advice) or "free memory, or give a smaller input")


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    # torch reports a failed CPU allocation or a CUDA one as a RuntimeError subclass.
    return isinstance(exc, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text)


def _os_error_message(exc: OSError) -> str:
    where = " ".join(repr(str(f)) for f in (exc.filename, exc.filename2) if f is not None)
    reason = exc.strerror or " ".join(str(exc).split())
    return f"{where}: {reason}" if where else reason


def _silence_stdout() -> None:
    """Point stdout at the null device, after its reader closed the pipe (as Python's docs advise)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout (a test runner's capture)
        pass


def option_flags(func: Callable) -> dict[str, str]:
    """The long flag of each option of a command function: ``{'test_size': '--test-size'}``."""
    flags = {}
    try:  # the modules use postponed annotations: strings until resolved
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:  # noqa: BLE001 - a hint that does not resolve: no flags, messages as they are
        return flags
    for name, hint in hints.items():
        for info in getattr(hint, "__metadata__", ()):
            if isinstance(info, typer.models.OptionInfo):
                declared = [d for d in (info.param_decls or ()) if d.startswith("--")]
                flags[name] = max(declared, key=len) if declared else "--" + name.replace("_", "-")
    return flags


_PASS_NAMED = re.compile(r"\bpass (\w+)=([^\s;,)]+)")
_PYTHON_NAMED = re.compile(r"^(\w+)=")
_BOTH_SPELLINGS = re.compile(r"\b[a-z_]+=True \((--[a-z][a-z0-9-]*)\)")


def in_flag_words(message: str, flags: dict[str, str]) -> str:
    """A Python layer's ``name=value ...`` as the command line says it: ``--flag value ...``.

    ``flags`` maps the parameter names to the flags the user types; one of another name, and a
    message that names none, are left as they are. Both the commands' own options (the error
    handler) and the estimators' (:func:`~hourglass.cli.options.flags_in_errors`) go through it.

    Examples
    --------
    >>> in_flag_words("test_size=0.0; expected a share", {"test_size": "--test-size"})
    '--test-size 0.0; expected a share'
    >>> in_flag_words("'c.npy' exists already; pass force=True (--force) to overwrite it", {})
    "'c.npy' exists already; pass --force to overwrite it"
    >>> in_flag_words("the encoder gives codes of 8 units; pass code_size=8", {"code_size": "--code-size"})
    'the encoder gives codes of 8 units; pass --code-size 8'
    >>> in_flag_words("n_clusters=0; expected a positive integer or None", {"n_clusters": "--n-clusters"})
    '--n-clusters 0; expected a positive integer, or leave the option out'
    """
    message = _BOTH_SPELLINGS.sub(r"\1", message)  # 'pass force=True (--force)': the flag alone
    # The advice a message ends with names the flag too ('pass code_size=8' read as Python).
    message = _PASS_NAMED.sub(lambda m: f"pass {flags[m[1]]} {m[2]}" if m[1] in flags else m[0], message)
    match = _PYTHON_NAMED.match(message)
    if match is None or match[1] not in flags:
        return message
    # Python's None is an option left out on the command line.
    return f"{flags[match[1]]} {message[match.end() :]}".replace(" or None", ", or leave the option out")


def _refuse_output_over_input(kwargs: dict[str, Any], flags: dict[str, str]) -> None:
    """Refuse an output that is one of the command's own input files, ``--force`` or not.

    ``score m data.csv -o data.csv --force`` would replace the data with its scores: --force
    allows overwriting an earlier result, never the file being read.
    """
    outputs = [kwargs.get(name) for name in ("output", "out")]
    for output in (o for o in outputs if isinstance(o, Path) and o.exists()):
        for name, value in kwargs.items():
            if name in ("output", "out") or not isinstance(value, (str, Path)) or not value:
                continue
            if not Path(value).exists():
                continue
            what = flags.get(name, name.upper())
            if os.path.samefile(value, output):
                raise fail(
                    f"--output {str(output)!r} is the input {what} {str(value)!r}; write the results "
                    "to another file (--force never overwrites an input)"
                )
            # A folder replaced whole (a model's) takes every file in it: data kept in the model
            # folder went with it under fit --force.
            replaced_whole = (output / "config.json").is_file()  # a model folder, which a save replaces
            if replaced_whole and Path(value).resolve().is_relative_to(output.resolve()):
                raise fail(
                    f"the input {what} {str(value)!r} lies inside the model folder --output {str(output)!r}, "
                    "which is replaced whole; move it out or write to another folder (--force never "
                    "deletes an input)"
                )


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Show a warning as the CLI shows errors: one line on stderr, without Python's source line."""
    typer.echo(f"{PROG}: warning: {' '.join(str(message).split())}", err=True)


#: :data:`hourglass.train.checkpoint.CHECKPOINT_FILE`, named here as that module imports torch.
CHECKPOINT_FILE = "checkpoint.safetensors"


def _resume_hint(kwargs: dict[str, Any]) -> str:
    """What an interrupted ``fit`` can do next. A run stopped before its first checkpoint (in its
    first epoch, or still reading its data) has nothing for --resume, which then failed with 'no
    checkpoint to resume from'."""
    out = kwargs.get("output") or kwargs.get("out")
    if out is not None and not (Path(f"{out}.checkpoint") / CHECKPOINT_FILE).is_file():
        return "; it stopped before its first checkpoint, so there is nothing to --resume: run it again"
    return "; a run with a checkpoint can go on with --resume"


def handle_errors(func: Callable) -> Callable:
    """Turn every error a command raises into a one-line message and exit code 2."""

    options = frozenset(inspect.signature(func).parameters)
    # Errors raised by the Python layer name its parameters (quantile=1.5); the user typed flags.
    flags = option_flags(func)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            _refuse_output_over_input(kwargs, flags)
            with warnings.catch_warnings():
                warnings.showwarning = _one_line_warning
                return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except HourglassError as exc:
            raise fail(in_flag_words(str(exc), flags), exc) from None
        except KeyboardInterrupt as exc:
            terminated = isinstance(exc, Terminated)
            what = "terminated (SIGTERM)" if terminated else "interrupted"
            # Only a command that trains keeps a checkpoint to resume from (score, encode do not).
            hint = _resume_hint(kwargs) if "resume" in options else ""
            typer.echo(f"{PROG}: {what}{hint}", err=True)
            # The shell's codes for a death by SIGTERM and by SIGINT.
            raise typer.Exit(code=128 + (15 if terminated else 2)) from None
        except BrokenPipeError:
            # The reader left (`hourglass info m | head -1`): not an error to report. Later writes
            # (the interpreter's flush at exit) go nowhere, and the code is a shell's for SIGPIPE.
            _silence_stdout()
            raise typer.Exit(code=128 + 13) from None
        except Exception as exc:
            if _is_click_error(exc):
                raise
            if _is_out_of_memory(exc):
                raise fail(out_of_memory_message(exc, options)) from None
            if isinstance(exc, OSError):
                raise fail(_os_error_message(exc), exc) from None
            if os.environ.get("HOURGLASS_DEBUG"):
                raise
            message = " ".join(str(exc).split())[:200]
            if _peer_failed(exc):
                raise fail(
                    f"rank {os.environ.get('RANK', '?')} stopped: another process of this torchrun job "
                    f"failed or was killed (its own error is above; {type(exc).__name__}: {message[:80]})"
                ) from None
            raise fail(
                f"internal error ({type(exc).__name__}: {message}); please report it, with the traceback "
                "that HOURGLASS_DEBUG=1 shows"
            ) from None

    return wrapper


#: What gloo and NCCL say when the process at the other end of a collective is gone.
PEER_GONE = (
    "Connection reset by peer",
    "Connection closed by peer",
    "Broken pipe",
    "NCCL communicator was aborted",
)


def _peer_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective's failure because another torchrun process died: no bug of
    this one to report (a rank killed mid-run left the other's "internal error ... please report it")."""
    if not os.environ.get("TORCHELASTIC_RUN_ID") and "RANK" not in os.environ:
        return False
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(words in text for words in PEER_GONE)


def command(*args, **kwargs) -> Callable:
    """Register a CLI command with the shared error handling (use like ``@app.command()``)."""

    def decorator(func: Callable) -> Callable:
        return app.command(*args, cls=Command, **kwargs)(handle_errors(func))

    return decorator


def echo(message: str = "", quiet: bool = False) -> None:
    """Print to stdout unless ``quiet``."""
    if not quiet:
        typer.echo(message)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` (``sys.argv[1:]`` when None) and return its exit code."""
    try:
        return app(args=argv if argv is not None else sys.argv[1:], prog_name=PROG, standalone_mode=False)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
