"""How wide a code is when the user does not say: a quarter of the input, at most 16.

One rule for the estimators that choose a code themselves: the anomaly detector's autoencoder
and ``ConvAutoEncoder(code_size='auto')``. A quarter of the input is narrow enough that the
network cannot learn the identity, and 16 numbers keep the codes of large inputs small enough
to compare with PCA at the same size and to cluster. Measured on held-out data, one seed, the
conv default at 16 against PCA-16: digits (8 x 8) 0.47x PCA's error, 2,000 Fashion-MNIST test
images (a model of 3,000) 0.61x. The spatial code it replaces (the last feature map, 4x a gray
image's pixels) learnt towards the identity, warned of it on every fit and had no PCA to compare.
"""

from __future__ import annotations

#: The widest code the rule gives.
MAX_AUTO_CODE = 16


def narrow_code(n_values: int) -> int:
    """The code width for inputs of ``n_values`` values each: a quarter of them, 1 to 16.

    Examples
    --------
    >>> narrow_code(64), narrow_code(784), narrow_code(3)
    (16, 16, 1)
    """
    return max(1, min(MAX_AUTO_CODE, int(n_values) // 4))


#: The code sizes ``compare`` sets beside PCA when none are given.
DEFAULT_CODE_SIZES = (2, 8, 16)


def default_code_sizes(n_values: int) -> tuple[int, ...]:
    """:data:`DEFAULT_CODE_SIZES` narrower than inputs of ``n_values`` values (a code as wide as
    the input is refused), or the widest code that is: wine's 13 columns get 2 and 8.

    Examples
    --------
    >>> default_code_sizes(13), default_code_sizes(64), default_code_sizes(2)
    ((2, 8), (2, 8, 16), (1,))
    """
    return tuple(k for k in DEFAULT_CODE_SIZES if k < n_values) or (max(1, int(n_values) - 1),)
