"""``fit`` is all or nothing: an estimator whose fit fails is left as it was before the call.

A fit that stops half way (a callback that raises, a training collapse, Ctrl-C, a signal turned
into an exception) would otherwise leave some fitted attributes set and others missing, so that
``check_is_fitted`` passes and ``transform`` fails later with an ``AttributeError``. The
decorator saves the estimator's attributes (and, when it is fitted already, its weights, which
``warm_start`` trains in place) and puts them back when the fit raises anything.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_ACTIVE = "_fit_in_progress"


def all_or_nothing(fit: F) -> F:
    """Decorate a ``fit`` (or ``partial_fit``) so that an exception leaves ``self`` unchanged.

    Nested calls (a subclass's ``fit`` calling ``super().fit``) save and restore once, at the
    outermost call.

    Examples
    --------
    >>> class Estimator:
    ...     @all_or_nothing
    ...     def fit(self, fail):
    ...         self.coef_ = 1
    ...         if fail:
    ...             raise ValueError("stop")
    ...         return self
    >>> e = Estimator()
    >>> try:
    ...     e.fit(fail=True)
    ... except ValueError:
    ...     pass
    >>> hasattr(e, "coef_")
    False
    """

    @functools.wraps(fit)
    def wrapper(self, *args: Any, **kwargs: Any):
        if self.__dict__.get(_ACTIVE):
            return fit(self, *args, **kwargs)
        saved = dict(self.__dict__)
        module = saved.get("module_")
        weights = None
        if module is not None and hasattr(module, "state_dict"):
            weights = {k: v.detach().clone() for k, v in module.state_dict().items()}
        self.__dict__[_ACTIVE] = True
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            if weights is not None:
                module.load_state_dict(weights)
            raise
        finally:
            self.__dict__.pop(_ACTIVE, None)

    return wrapper  # type: ignore[return-value]
