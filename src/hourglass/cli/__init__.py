"""Command-line interface: ``hourglass fit | encode | decode | reconstruct | compare | info | demo ...``.

A thin layer: parse, build the estimator, call the library. Each module registers its commands
on the shared Typer ``app``.
"""

# Each module registers its commands as it is imported: this order is the order of the commands
# in ``hourglass --help``, so it is kept as written rather than sorted.
# isort: off
from hourglass.cli import fitting, core, comparing  # noqa: F401  (registers commands)
from hourglass.cli import analysis, compression, export, generate, images  # noqa: F401  (registers commands)

# isort: on
from hourglass.cli.app import app, main
from hourglass.cli.entry import run

__all__ = ["app", "main", "run"]
