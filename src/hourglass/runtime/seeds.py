"""Seeds: scikit-learn's ``random_state`` as the one int seed a run draws everything from.

Below the estimators so that each of their parts (the input part cuts patches with it, the base
seeds weights and splits, the VAE draws samples) reads ``random_state`` the same way.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from hourglass.exceptions import InvalidInputError


def as_seed(random_state: Any) -> int:
    """An int seed from sklearn's ``random_state`` (None, int or RandomState).

    Examples
    --------
    >>> as_seed(7)
    7
    """
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if not 0 <= random_state < 2**32:
            raise InvalidInputError(f"random_state={random_state}; expected an int in [0, 2**32 - 1]")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    raise InvalidInputError(f"random_state={random_state!r}; expected None, an int or a numpy RandomState")


__all__ = ["as_seed"]
