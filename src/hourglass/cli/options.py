"""``hourglass fit``'s model options, built from the one declaration of the estimators' parameters.

Every option of :data:`hourglass.estimators.params.PARAMS` that has CLI flags becomes an option
of ``fit``, in its help panel, with its metavar or choices, and its defaults for both
architectures in the help text. The values typed are turned into estimator parameters here, and
an option of the other architecture (``--channels`` for a dense model) is refused by its flag.
"""

from __future__ import annotations

import contextlib
import enum
import inspect
from pathlib import Path
from typing import Annotated, Any, get_args

import typer

from hourglass.cli.app import in_flag_words
from hourglass.estimators.params import EXTENDS, KINDS, PARAMS, Param, takes
from hourglass.exceptions import InvalidInputError, ModelFileError

#: Seeds are what numpy and scikit-learn accept: 0 to 2**32 - 1.
MAX_SEED = 2**32 - 1

#: Parameters given as comma-separated integers (``--hidden-layers 256,128``, ``--image-size 64x64``).
INT_LISTS = ("hidden_layers", "decoder_layers", "channels", "image_size")
#: Parameters that take a number or the word 'auto'.
NUMBER_OR_AUTO = {"epochs": int, "learning_rate": float, "threads": int}


def parse_ints(text: str | None, option: str) -> tuple[int, ...] | None:
    """Parse ``'256,128'`` (or ``'64x64'``) into ``(256, 128)``, naming the option when it fails.

    Examples
    --------
    >>> parse_ints("256,128", "--hidden-layers")
    (256, 128)
    """
    if text is None:
        return None
    try:
        values = tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        raise InvalidInputError(
            f"{option} {text!r}; expected comma-separated integers such as 256,128"
        ) from None
    if any(v < 1 for v in values):
        raise InvalidInputError(f"{option} {text!r}; expected positive integers")
    return values


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return "none" if value is None else str(value)


def _help(param: Param) -> str:
    """The one-line help: which architectures take the option (when not all do), and their defaults."""
    every = KINDS + tuple(EXTENDS)
    takers = [kind for kind in every if takes(kind, param)]
    # Round brackets: rich would read square ones as markup and drop them.
    if param.name == "random_state":
        return f"{param.help} (default: 0)"
    groups: dict[str, list[str]] = {}  # shown default -> the kinds that have it, in order
    for kind in takers:
        groups.setdefault(_shown(param.default_for(kind)), []).append(kind)
    if len(groups) == 1:
        only = "" if len(takers) == len(every) else f"{', '.join(takers)} only; "
        return f"{param.help} ({only}default: {next(iter(groups))})"
    return f"{param.help} (default: " + "; ".join(f"{', '.join(k)} {v}" for v, k in groups.items()) + ")"


def _cli_type(param: Param) -> Any:
    """The type typer parses the option's text as."""
    if param.choices is not None:
        names = [_shown(c).lower() if isinstance(c, bool) else _shown(c) for c in param.choices]
        return enum.Enum(param.name.title().replace("_", ""), {n: n for n in names}, type=str)
    if param.type is bool:
        return bool
    if param.name in INT_LISTS or param.name in NUMBER_OR_AUTO:
        return str
    if param.name in ("encoder", "decoder"):
        return Path
    if param.name == "random_state":
        return int
    for simple in (int, float, str):
        if param.type in (simple, simple | None):
            return simple
    return str


def cli_params() -> list[Param]:
    """The declared parameters that are ``fit`` options."""
    return [p for p in PARAMS if p.flags]


def _alias_name(param: Param, i: int) -> str:
    return f"{param.name}__alias{i}"


def _option(param: Param, alias: int = 0) -> inspect.Parameter:
    """The option for ``param``'s first flag, or (``alias`` > 0) a hidden one for an older name."""
    kind = _cli_type(param)
    settings: dict[str, Any] = {"help": _help(param), "rich_help_panel": param.panel, "show_default": False}
    name, flags = param.name, param.flags[:1]
    if alias:
        # Older names keep working but stay out of --help, so the names shown fit 80 columns.
        name, flags = _alias_name(param, alias), param.flags[alias : alias + 1]
        settings["hidden"] = True
    if param.metavar is not None:
        settings["metavar"] = param.metavar
    if param.name == "random_state":
        settings.update(min=0, max=MAX_SEED)
    if param.name in CHECKED_AT_PARSE:
        settings["callback"] = _checked_at_parse(param)
    if param.name in _OFF_HELP:
        # Two plain flags, each on its own help row: on, off, or (neither) the estimator's 'auto'.
        kind = bool
        if alias:
            settings.update(hidden=False, help=_OFF_HELP[param.name])
    if kind is bool:
        return inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=False,
            annotation=Annotated[bool, typer.Option(*flags, **settings)],
        )
    option = typer.Option(*flags, **settings)
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[kind | None, option]
    )


#: Options whose values are checked as the command line is read, without torch: a bad one waited
#: 10 s for torch and scikit-learn to import before the estimator refused it.
CHECKED_AT_PARSE = ("max_time", "threads")


def _checked_at_parse(param: Param):
    """A typer callback refusing a bad value of ``param`` in the estimator's words, before the command."""

    def check(value: str | None) -> str | None:
        if value is None:
            return value
        from hourglass.runtime.threads import resolve_threads  # both free of torch
        from hourglass.train.budget import parse_duration

        try:
            parsed = _value(param, value)
            if param.name == "max_time":
                parse_duration(parsed)
            elif parsed != "auto":
                resolve_threads(parsed)
        except InvalidInputError as exc:
            from hourglass.cli.app import fail

            raise fail(in_flag_words(str(exc), {param.name: param.flag})) from None
        return value

    return check


def _options() -> list[inspect.Parameter]:
    return [_option(p, i) for p in cli_params() for i in range(len(p.flags))]


#: Parameters that are True, False or 'auto', as an on and an off flag: the off flag's help.
_OFF_HELP = {"skip_connections": "Never use U-Net skips.", "pca_path": "Never add the PCA path."}


def _on_off(param: Any, given: list[Any]) -> bool | None:
    """``--name`` / ``--no-name`` as the parameter's True / False (neither: None, its 'auto')."""
    on, off = (bool(v) for v in given)
    if on and off:
        raise InvalidInputError(f"{param.flags[0]} and {param.flags[1]} contradict each other; give one")
    return True if on else (False if off else None)


def with_declared_options(func) -> inspect.Signature:
    """``func``'s signature with its ``**options`` replaced by one option per declared parameter."""
    signature = inspect.signature(func, eval_str=True)
    fixed = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    return signature.replace(parameters=fixed + _options())


def declared_annotations() -> dict[str, Any]:
    """The annotations typer reads (with ``get_type_hints``) for the declared options."""
    return {p.name: p.annotation for p in _options()}


def _value(param: Param, raw: Any) -> Any:
    """The estimator's value for an option's text."""
    raw = raw.value if isinstance(raw, enum.Enum) else raw
    if param.name in INT_LISTS:
        # A list whose type admits a word (hidden_layers) takes 'auto' in place of the integers.
        if str in get_args(param.type) and isinstance(raw, str) and not raw[:1].isdigit():
            if raw != "auto":
                raise InvalidInputError(f"{param.flag} {raw!r}; expected auto or integers such as 256,128")
            return raw
        values = parse_ints(raw, param.flag)
        if param.name == "image_size" and values is not None:
            if len(values) not in (1, 2):
                raise InvalidInputError(f"{param.flag} {raw!r}; expected HxW such as 64x64, or one number")
            values = values * 2 if len(values) == 1 else values
        return values
    if param.name in NUMBER_OR_AUTO:
        if raw == "auto":
            return raw
        try:
            return NUMBER_OR_AUTO[param.name](raw)
        except ValueError:
            kind = "an integer" if NUMBER_OR_AUTO[param.name] is int else "a number"
            raise InvalidInputError(f"{param.flag} {raw!r}: expected {kind} or 'auto'") from None
    if param.name == "code_size":
        return _code_size(param, raw)
    if param.name == "scale_factor":
        return int(raw)
    if isinstance(raw, Path):
        return str(raw)
    return raw


def _code_size(param: Param, raw: str) -> int | str | None:
    """``--code-size``: a width, 'auto', or 'spatial' (a conv model's feature map: ``None``)."""
    if raw in ("auto", "spatial"):
        return None if raw == "spatial" else raw
    try:
        return int(raw)
    except ValueError:
        raise InvalidInputError(f"{param.flag} {raw!r}: expected an integer, 'auto' or 'spatial'") from None


@contextlib.contextmanager
def flags_in_errors():
    """Name the flag the user typed in an estimator's error (``--epochs 0 ...``, not ``epochs=0 ...``)."""
    try:
        yield
    except InvalidInputError as exc:
        message = in_flag_words(str(exc), {param.name: param.flag for param in cli_params()})
        if message == str(exc):
            raise
        raise InvalidInputError(message) from None
    except ModelFileError as exc:
        # A checkpoint refused for --resume: how to start over, in flags, not fit's arguments.
        from hourglass.train.checkpoint import START_OVER, START_OVER_FLAGS

        if START_OVER not in str(exc):
            raise
        raise type(exc)(str(exc).replace(START_OVER, START_OVER_FLAGS)) from None


def estimator_params(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """The estimator parameters the options given stand for (options not given are left out).

    Raises
    ------
    InvalidInputError
        For an option of the other architecture, named by its flag.
    """
    params: dict[str, Any] = {}
    for param in cli_params():
        given = [options.get(param.name)] + [
            options.get(_alias_name(param, i)) for i in range(1, len(param.flags))
        ]
        if param.name in _OFF_HELP:
            given = [_on_off(param, given)]
        # A flag that is off was not given (but --no-skip-connections says False).
        unset = (None,) if param.name in _OFF_HELP else (None, False)
        raw = next((value for value in given if not any(value is u for u in unset)), None)
        if raw is None:
            continue
        if not takes(kind, param):
            other = next(k for k in param.kinds if k != kind)
            if kind == "vae":
                # --arch conv --variational is kind 'vae' too: "not vae" would contradict what was typed.
                plain = " and ".join(k for k in param.kinds if k != kind)
                raise InvalidInputError(
                    f"{param.flag} is not available with --variational (or --arch vae): it is an option of "
                    f"--arch {plain} models that are not variational"
                )
            raise InvalidInputError(f"{param.flag} is an option of --arch {other} models, not {kind}")
        params[param.name] = _value(param, raw)
    # A noise level alone means Gaussian noise at that level.
    if "noise_level" in params and "noise" not in params:
        params["noise"] = "gaussian"
    return params


__all__ = [
    "MAX_SEED",
    "cli_params",
    "declared_annotations",
    "estimator_params",
    "parse_ints",
    "with_declared_options",
]
