"""scikit-learn's ``_parameter_constraints``, built from the one declaration of the parameters.

Each estimator's ``_parameter_constraints`` (scikit-learn's format: lists of types, ``None``,
:class:`~sklearn.utils._param_validation.StrOptions`, ...) comes from
:data:`hourglass.estimators.params.PARAMS`, the table the CLI's options come from too: a value
outside a parameter's ``choices`` is refused by both. ``fit`` checks the choices before it reads
any data (:func:`check_choices`), with the message the checks further down have always given
(``loss='l7'; expected one of ('auto', 'mse', 'bce')``). The types are declared, not enforced
here: ``fit`` takes more than the annotations say (a ``Path`` for ``checkpoint_dir``, a list for
``hidden_layers``, ``1`` for ``True``), and the value checks of each part keep their own words.

Examples
--------
>>> loss = parameter_constraints("dense")["loss"]
>>> type(loss[0]).__name__, loss[0].is_satisfied_by("mse"), loss[0].is_satisfied_by("l7")
('StrOptions', True, False)
"""

from __future__ import annotations

import datetime
import inspect
import os
import types
import typing
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Options, StrOptions, make_constraint

from hourglass.estimators.params import BY_NAME, Param, params_of
from hourglass.exceptions import InvalidInputError

_SIMPLE: dict[Any, Any] = {
    bool: "boolean",
    int: Integral,
    float: Real,
    str: str,
    datetime.timedelta: datetime.timedelta,
    dict: dict,
}


def _members(hint: Any) -> tuple[Any, ...]:
    """The members of a union (``int | None``), or the hint alone."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return typing.get_args(hint)
    return (hint,)


def _takes_none(param: Param) -> bool:
    return type(None) in _members(param.type)


def _type_constraint(hint: Any) -> Any:
    if hint is type(None):
        return None
    if hint is Any:
        return "no_validation"
    if typing.get_origin(hint) is tuple:
        return "array-like"  # a list or an array of sizes serves as well as a tuple
    return _SIMPLE[hint]


def constraints_of(param: Param) -> list[Any]:
    """The scikit-learn constraints of one declared parameter.

    With ``choices``: the choices and their ``aliases`` (as ``StrOptions``, or ``Options`` of
    ints), and ``None`` where the type takes it; otherwise one constraint per member of its type.
    """
    if param.choices is not None:
        allowed = set(param.choices) | set(param.aliases)
        if all(isinstance(c, str) for c in allowed):
            options: Any = StrOptions(allowed)
        else:
            options = Options(Integral, allowed)
        return [options, None] if _takes_none(param) else [options]
    out: list[Any] = []
    for member in _members(param.type):
        constraint = _type_constraint(member)
        if constraint == "no_validation":
            # scikit-learn takes "no_validation" as the whole entry, never inside a list.
            return "no_validation"  # type: ignore[return-value]
        if constraint not in out:
            out.append(constraint)
    return out


def parameter_constraints(kind: str) -> dict[str, list[Any]]:
    """``_parameter_constraints`` of the estimator ``kind`` (``'dense'``, ``'conv'``, ``'vae'``, ``'vq'``)."""
    return {param.name: constraints_of(param) for param in params_of(kind)}


def _expected(param: Param) -> str:
    """What a refusal says was expected, as the checks of each part have always said it."""
    choices = param.choices or ()
    if _takes_none(param) and len(choices) == 1:
        return f"None or {choices[0]!r}"
    return f"one of {tuple(choices)}" + (" or None" if _takes_none(param) else "")


#: Parameters declared ``str`` that name a folder, where a ``pathlib.Path`` serves as well.
_PATH_PARAMS = ("checkpoint_dir",)


def _is_whole(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def _is_widths(value: Any) -> bool:
    """Layer widths: one whole number, or a sequence of them (a list or an array as well as a tuple)."""
    if _is_whole(value):
        return True
    if isinstance(value, (str, bytes)) or not np.iterable(value):
        return False
    return all(_is_whole(width) for width in value)


def _of_type(param: Param, member: Any, value: Any) -> bool:
    """Whether ``value`` is of one member of ``param``'s declared type."""
    if member is Any:
        return True
    if member is type(None):
        return value is None
    if member is bool:  # 0 and 1 serve, as for any flag scikit-learn takes
        return isinstance(value, (bool, np.bool_)) or (_is_whole(value) and value in (0, 1))
    if member is int:
        return _is_whole(value)
    if member is float:
        return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))
    if member is str:
        return isinstance(value, str) or (param.name in _PATH_PARAMS and isinstance(value, os.PathLike))
    if typing.get_origin(member) is tuple:
        return _is_widths(value)
    if member in (datetime.timedelta, dict):  # a time budget as Lightning takes it
        return isinstance(value, member)
    return True


def _own_default(estimator: Any, name: str) -> Any:
    """The default of ``estimator``'s parameter ``name`` in its own signature (None if it has none)."""
    parameter = inspect.signature(type(estimator).__init__).parameters.get(name)
    return None if parameter is None else parameter.default


def _type_words(param: Param) -> str:
    """What a refusal of a value's type says was expected: 'a whole number or 'auto'', ..."""
    words = []
    for member in _members(param.type):
        if member is str and param.name in _PATH_PARAMS:
            words.append("a folder path")
        elif member is str:
            words.append(repr(param.default) if isinstance(param.default, str) else "a string")
        else:
            words.append(_TYPE_WORDS.get(member, "layer widths such as (256, 128)"))
    words = list(dict.fromkeys(word for group in words for word in group.split(" | ")))
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


_TYPE_WORDS: dict[Any, str] = {
    int: "a whole number",
    float: "a number",
    bool: "True | False",
    type(None): "None",
    datetime.timedelta: "a datetime.timedelta",
    dict: "a dict",
}


def check_choices(estimator: Any) -> None:
    """Refuse a parameter of the wrong type or outside its choices, before data are read.

    A number where a flag belongs (``warm_start='yes'``), a flag where a number belongs
    (``code_size=True``, ``learning_rate=True``), a fraction where a count belongs (``topk=2.0``)
    or None where a value is needed (``hidden_layers=None``) would otherwise reach the code that
    uses it: a TypeError from deep in the training loop, or a silently different model.

    Raises
    ------
    InvalidInputError
        ``name=value; expected ...`` for the first parameter (in the declared order) whose type
        is wrong or that its ``_parameter_constraints`` refuse.
    """
    for name, constraints in getattr(type(estimator), "_parameter_constraints", {}).items():
        # A name outside the table (a detector's own ``quantile``) keeps the checks of its own rule.
        param = BY_NAME.get(name)
        if param is None:
            continue
        value = getattr(estimator, name)
        if name == "code_size" and isinstance(_own_default(estimator, name), int):
            # None is a convolutional model's spatial code and 'auto' its chosen width (None is
            # also a detector's width rule); a dense model's code is a number of units, and its
            # refusal should offer neither.
            if not _is_whole(value):
                raise InvalidInputError(f"{name}={value!r}; expected a whole number")
        if not any(_of_type(param, member, value) for member in _members(param.type)):
            raise InvalidInputError(f"{name}={value!r}; expected {_type_words(param)}")
        if param.choices is None:
            continue
        if not any(make_constraint(c).is_satisfied_by(value) for c in constraints):
            raise InvalidInputError(f"{name}={value!r}; expected {_expected(param)}")


__all__ = ["check_choices", "constraints_of", "parameter_constraints"]
