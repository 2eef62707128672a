"""Arguments and options that several commands share, declared once so they read the same.

Each is a typed ``Annotated`` alias a command's signature uses as it is; a command that needs
other words (``fit``'s ``--report`` in its own help panel) declares its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hourglass.cli.inputs import DATA_HELP, existing_source

#: ``--out``, the older name of ``-o/--output`` on fit and demo: still accepted, not shown.
OldOut = Annotated[Path | None, typer.Option("--out", hidden=True)]
Force = Annotated[bool, typer.Option("--force", help="Overwrite outputs that exist already.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or messages.")]
Key = Annotated[str | None, typer.Option("--key", help="Array name inside a .npz file.")]
#: ``--threads`` of the commands that train several autoencoders (compare, demo).
Threads = Annotated[
    str,
    typer.Option(
        help="CPU threads of each autoencoder: auto (the CPUs this process may use that are not "
        "busy; 1 for small steps) or a number, for the same figures run to run.",
        metavar="INT|auto",
    ),
]
#: Help of every --report: one rule, so that a PATH means the same to every command.
REPORT_HELP = (
    "Also write an HTML report: to PATH itself when it ends in .html, else to PATH/report.html "
    "(the folder is made)."
)
ReportPath = Annotated[Path | None, typer.Option("--report", help=REPORT_HELP, metavar="PATH")]
Drop = Annotated[
    str | None,
    typer.Option(
        "--drop",
        metavar="COL[,COL]",
        help="Tables: columns that are not features (names from the header, or 0-based positions).",
    ),
]
Label = Annotated[
    str | None,
    typer.Option(
        "--label",
        metavar="COL",
        help="Tables: the column holding each row's label; it colours the code map and is never a feature.",
    ),
]
ModelArg = Annotated[Path, typer.Argument(help="A model folder written by 'hourglass fit'.", metavar="MODEL")]
DataArg = Annotated[str, typer.Argument(help=DATA_HELP, metavar="DATA", callback=existing_source)]
OutFile = Annotated[Path, typer.Option("--output", "-o", help="Output file: .npy, .npz, .csv or .parquet.")]
