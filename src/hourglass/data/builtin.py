"""The built-in data sets, by name (read by :func:`hourglass.data.loading.load_data`).

Kept apart from the loaders so that the CLI can list them in ``--help``, and refuse a set whose
files are not installed while it reads its command line, without importing NumPy or pandas.
"""

from __future__ import annotations

from pathlib import Path

#: Where the Debian package ``dataset-fashion-mnist`` puts its files.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

BUILTIN_DATASETS = {
    "digits": "8x8 handwritten digits from scikit-learn (1797 images, 10 classes, pixels in [0, 1])",
    "fashion-mnist": "28x28 Zalando clothing images, training split (60000; needs dataset-fashion-mnist)",
    "fashion-mnist:test": "28x28 Zalando clothing images, test split (10000; needs dataset-fashion-mnist)",
}


def fashion_mnist_images(name: str, folder: Path | None = None) -> list[Path]:
    """The IDX images files of ``'fashion-mnist'`` or ``'fashion-mnist:test'`` present in ``folder``
    (default :data:`FASHION_MNIST_DIR`), compressed first."""
    split = "t10k" if name.endswith(":test") else "train"
    folder = FASHION_MNIST_DIR if folder is None else folder
    return [p for p in (folder / f"{split}-images-idx3-ubyte{gz}" for gz in (".gz", "")) if p.exists()]


def missing_builtin(name: str, folder: Path | None = None) -> str | None:
    """Why the built-in set ``name`` cannot be read here (its files are not installed), or None.

    Parameters
    ----------
    name : str
        A key of :data:`BUILTIN_DATASETS`.
    folder : Path, optional
        Where Fashion-MNIST's files are looked for (default :data:`FASHION_MNIST_DIR`).

    Returns
    -------
    str or None
    """
    if not name.startswith("fashion-mnist") or fashion_mnist_images(name, folder):
        return None
    shown = FASHION_MNIST_DIR if folder is None else folder
    return (
        f"{name!r} needs the IDX files in {str(shown)!r}: run "
        "'apt-get install dataset-fashion-mnist', or pass the path of a folder of IDX files"
    )
