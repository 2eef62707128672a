"""Griffe extension for the API reference: real estimator signatures, Sphinx roles as code.

Griffe reads the sources without running them. The estimators' ``__init__`` are plain, typed
``def``s that griffe reads as they are; a class whose ``__init__`` is assigned instead (built at
import time, with a real ``__signature__``) is imported and griffe is handed that signature:
the parameter names, kinds, defaults and types the rendered pages show. The docstrings also cross-reference in
Sphinx's manner (``:class:`~hourglass.AutoEncoder```), which Markdown would print verbatim;
each role becomes inline code (the last dotted part under ``~``, as Sphinx shows it).
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

import griffe

_KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: griffe.ParameterKind.positional_only,
    inspect.Parameter.POSITIONAL_OR_KEYWORD: griffe.ParameterKind.positional_or_keyword,
    inspect.Parameter.VAR_POSITIONAL: griffe.ParameterKind.var_positional,
    inspect.Parameter.KEYWORD_ONLY: griffe.ParameterKind.keyword_only,
    inspect.Parameter.VAR_KEYWORD: griffe.ParameterKind.var_keyword,
}

_ROLE = re.compile(r":(?:class|func|meth|attr|data|exc|mod|obj):`(~?)([\w.]+)`")


def _role_as_code(match: re.Match) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def _annotation(hint: Any) -> str | None:
    if hint is inspect.Parameter.empty:
        return None
    return inspect.formatannotation(hint).replace("typing.", "")


class GeneratedSignatures(griffe.Extension):
    """Replace an ``__init__ = ...`` attribute (a built function) by one with the runtime signature."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_role_as_code, obj.docstring.value)

    def on_class_members(self, *, cls: griffe.Class, **kwargs: Any) -> None:
        member = cls.members.get("__init__")
        if member is None or not isinstance(member, griffe.Attribute):
            return  # a plain def: griffe reads it from the source
        runtime = getattr(importlib.import_module(cls.module.path), cls.name)
        signature = inspect.signature(runtime.__init__)
        parameters = griffe.Parameters(
            *(
                griffe.Parameter(
                    p.name,
                    annotation=_annotation(p.annotation),
                    kind=_KINDS[p.kind],
                    default=None if p.default is inspect.Parameter.empty else repr(p.default),
                )
                for p in signature.parameters.values()
            )
        )
        init = griffe.Function(
            "__init__",
            lineno=member.lineno,
            endlineno=member.endlineno,
            parameters=parameters,
            returns="None",
            docstring=griffe.Docstring(runtime.__init__.__doc__ or "", parser="numpy"),
        )
        cls.set_member("__init__", init)
