"""Command-line interface: ``hourglass fit | encode | decode | reconstruct | compare | info | demo ...``.

A thin layer: parse, build the estimator, call the library. Each module registers its commands
on the shared Typer ``app``.
"""

from hourglass.cli import analysis, compression, core, export, generate, images  # noqa: F401  (registers commands)
from hourglass.cli.app import app, main

__all__ = ["app", "main"]
