"""The built-in data sets, by name (read by :func:`hourglass.data.loading.load_data`).

Kept apart from the loaders so that the CLI can list them in ``--help`` without importing
NumPy or pandas.
"""

BUILTIN_DATASETS = {
    "digits": "8x8 handwritten digits from scikit-learn (1797 images, 10 classes, pixels in [0, 1])",
    "fashion-mnist": "28x28 Zalando clothing images, training split (60000; needs dataset-fashion-mnist)",
    "fashion-mnist:test": "28x28 Zalando clothing images, test split (10000; needs dataset-fashion-mnist)",
}
