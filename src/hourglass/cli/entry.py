"""The process entry point of the ``hourglass`` command and ``python -m hourglass``."""

from __future__ import annotations

import atexit
import os
import sys

from hourglass.cli.app import main


def run() -> None:
    """The ``hourglass`` command and ``python -m hourglass``: :func:`main`, then a quick exit.

    Python's shutdown tears down every module that torch, scipy and pandas loaded: 0.9 s after
    each command had finished its work (one core: 3.5 s for ``import hourglass`` alone, 2.6 s
    without the teardown). The exit handlers still run (a table's temporary cache folder is
    removed, a torchrun process leaves its group), and the output is flushed; only the teardown
    is skipped. :func:`main` is what tests and embedding programs call: it returns.
    """
    code = main()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (| head): nothing more can be said
            pass
    os._exit(code if isinstance(code, int) else 0)
