"""A table of an estimator's parts by kind, shared by the input and the bottleneck parts."""

from __future__ import annotations

from typing import Any

from hourglass.exceptions import InvalidInputError


class PartKinds(dict):
    """Part classes by their ``kind``; ``attribute`` is the estimator's name for the choice.

    Examples
    --------
    >>> kinds = PartKinds("input_kind")
    >>> kinds.part("rows")
    Traceback (most recent call last):
    ...
    hourglass.exceptions.InvalidInputError: input_kind='rows'; expected one of []
    """

    def __init__(self, attribute: str) -> None:
        super().__init__()
        self.attribute = attribute

    def register(self, cls: type) -> type:
        """Class decorator: make a part available under its ``kind``."""
        if not cls.kind or not isinstance(cls.kind, str):
            raise InvalidInputError(f"{cls.__name__}.kind={cls.kind!r}; expected a non-empty name")
        self[cls.kind] = cls
        return cls

    def part(self, kind: str) -> Any:
        """A part of the class registered as ``kind``."""
        if kind not in self:
            raise InvalidInputError(f"{self.attribute}={kind!r}; expected one of {sorted(self)}")
        return self[kind]()
