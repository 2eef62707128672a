"""Exceptions raised by hourglass.

Every error a user can cause derives from :class:`HourglassError`, so the CLI can turn
exactly these into a one-line message and exit code 2, and let real bugs surface.
"""

from __future__ import annotations


class HourglassError(Exception):
    """Base class of every error hourglass raises on purpose."""


class InvalidInputError(HourglassError, ValueError):
    """The data or a parameter is not what was expected (shape, dtype, range, value)."""


class DataFileError(HourglassError, ValueError):
    """A data file is missing, empty, unreadable or of an unsupported format."""


class ModelFileError(HourglassError, ValueError):
    """A saved model folder is missing, corrupt, or does not match what was asked."""


class OutputExistsError(HourglassError, FileExistsError):
    """An output path exists already and overwriting was not allowed (use ``force``)."""


class OutputError(HourglassError, OSError):
    """An output cannot be written: its folder is read-only, lies under a file, or is full."""


class OutputLockedError(OutputError):
    """Another run is writing the same output right now."""


class TrainingDivergedError(HourglassError, FloatingPointError):
    """The training loss became NaN or infinite."""


class CallbackError(HourglassError, RuntimeError):
    """A user's training callback raised; training stopped and the checkpoint was kept."""


class ExportError(HourglassError, RuntimeError):
    """A model cannot be exported: a part it lacks, or a layer the exporter cannot trace."""


class MissingDependencyError(HourglassError, ImportError):
    """A feature needs an optional package that is not installed (its extra names it)."""


class IdentifierColumnWarning(UserWarning):
    """A feature column looks like an identifier (``customer_id``, 0..n-1), which a model would
    learn as a measurement; filter this class to silence the warning for a table known to be right."""


class PosteriorCollapseWarning(UserWarning):
    """A fitted variational autoencoder's code carries almost no information (its KL from the
    prior is near zero), so its decoder ignores the code and reconstructs about the mean."""


class TimeBudgetWarning(UserWarning):
    """A time budget (``max_time``, ``--time``) shorter than one epoch: training still runs one whole
    epoch, so it took longer than the budget; give a larger budget, fewer samples or a smaller model."""


class TrainingRowsWarning(UserWarning):
    """A detector is calibrated on the very rows its autoencoder was fitted on, which it
    reconstructs better than new normal rows: the threshold comes out low and flags too many."""


def with_article(noun: str) -> str:
    """``noun`` with its indefinite article, for messages: 'an AutoEncoder', 'a VQAutoEncoder'."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"
