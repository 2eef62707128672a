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

import types
import typing
from numbers import Integral, Real
from typing import Any

from sklearn.utils._param_validation import Options, StrOptions, make_constraint

from hourglass.estimators.params import BY_NAME, Param, params_of
from hourglass.exceptions import InvalidInputError

_SIMPLE: dict[Any, Any] = {bool: "boolean", int: Integral, float: Real, str: str}


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


def check_choices(estimator: Any) -> None:
    """Refuse a parameter outside its choices, naming it and its value, before data are read.

    Raises
    ------
    InvalidInputError
        ``name=value; expected one of (...)`` for the first parameter (in the declared order)
        that its ``_parameter_constraints`` refuse.
    """
    for name, constraints in getattr(type(estimator), "_parameter_constraints", {}).items():
        # A name outside the table (a detector's own ``quantile``) keeps the checks of its own rule.
        param = BY_NAME.get(name)
        if param is None or param.choices is None:
            continue
        value = getattr(estimator, name)
        if not any(make_constraint(c).is_satisfied_by(value) for c in constraints):
            raise InvalidInputError(f"{name}={value!r}; expected {_expected(param)}")


__all__ = ["check_choices", "constraints_of", "parameter_constraints"]
