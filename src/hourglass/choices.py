"""The names an option takes, declared once where the library and the CLI's help both read them.

Each tuple is the set a parameter accepts, in the order ``hourglass fit --help`` lists it; the
modules that act on a name (activations, losses, scalers, noises, ...) import their tuple from
here, and so does :data:`hourglass.estimators.params.PARAMS` for its ``choices``. This module
imports nothing: the CLI's help reads it without loading PyTorch.

Examples
--------
>>> "gelu" in ACTIVATIONS, LOSSES
(True, ('auto', 'mse', 'bce'))
"""

#: Hidden-layer activations (:func:`hourglass.nn.activations.make_activation`).
ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid", "identity")
#: Reconstruction losses; 'auto' picks one from the data (:func:`hourglass.train.losses.choose_loss`).
LOSSES = ("auto", "mse", "bce")
#: Input scalings; 'auto' picks one from the data (:mod:`hourglass.data.scaling`).
SCALINGS = ("auto", "none", "standard", "minmax", "shrunk")
#: How conv blocks shrink and grow the grid: max-pool / upsample, or strided / transposed convs.
DOWNSAMPLINGS = ("pool", "stride")
#: Image colour modes: gray or colour (:mod:`hourglass.data.images`).
MODES = ("L", "RGB")
#: Input noise kinds (:mod:`hourglass.train.corruptions`).
NOISES = ("gaussian", "masking", "salt_pepper")
#: How the input noise evolves over training, the dense default first.
NOISE_SCHEDULES = ("cosine", "constant")
#: Training precisions; 'auto' is settled at run time (:func:`hourglass.train.precision.resolve_precision`).
PRECISIONS = ("auto", "fp32", "tf32", "bf16")
#: Code quantizers of :class:`~hourglass.VQAutoEncoder` (:mod:`hourglass.nn.vq_model`).
QUANTIZERS = ("vq", "fsq")
#: An anomaly detector's scores, its default first (:mod:`hourglass.estimators.code_distance`).
SCORE_KINDS = ("combined", "reconstruction")

__all__ = [
    "ACTIVATIONS",
    "DOWNSAMPLINGS",
    "LOSSES",
    "MODES",
    "NOISES",
    "NOISE_SCHEDULES",
    "PRECISIONS",
    "QUANTIZERS",
    "SCALINGS",
    "SCORE_KINDS",
]
