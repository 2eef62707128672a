"""A 1-D convolutional autoencoder against PCA at the same code size, on real UCR series.

Uses the GunPoint and ItalyPowerDemand sets of the UCR archive as aeon ships them
(``pip install hourglass[bench]``; the ``.ts`` files are read directly, so aeon's own
dependencies need not import). Each model is fitted on the TRAIN split and scored by the mean
squared reconstruction error on the TEST split, with PCA fitted on the same TRAIN split in the
same run. CPU only; prints one JSON object.

Usage::

    python -m benchmarks series_conv [--data-dir DIR_HOLDING_GunPoint/] [--code-sizes 2 4 8]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np

from benchmarks.common import emit, output_path, parse, pca_reconstruction, pin, settings
from hourglass import ConvAutoEncoder

DATASETS = ("GunPoint", "ItalyPowerDemand")


def aeon_data_dir() -> Path | None:
    """aeon's bundled data folder, found without importing aeon (which needs numba)."""
    spec = importlib.util.find_spec("aeon")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


def read_ts(path: Path) -> np.ndarray:
    """Series of a univariate or multivariate ``.ts`` file as (n, channels, length)."""
    rows, in_data = [], False
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("@data"):
            in_data = True
            continue
        if in_data:
            *dims, _label = line.split(":")
            rows.append([[float(v) for v in dim.split(",")] for dim in dims])
    return np.asarray(rows, np.float32)


def evaluate(name: str, folder: Path, code_sizes: list[int], args) -> dict:
    train = read_ts(folder / name / f"{name}_TRAIN.ts")
    test = read_ts(folder / name / f"{name}_TEST.ts")
    flat_train, flat_test = train.reshape(len(train), -1), test.reshape(len(test), -1)
    rows = []
    for k in code_sizes:
        pca_recon = pca_reconstruction(flat_train, flat_test, k, random_state=0)
        pca_mse = float(np.mean((pca_recon - flat_test) ** 2))
        ae = ConvAutoEncoder(
            code_size=k,
            channels=tuple(args.channels),
            kernel_size=args.kernel_size,
            epochs=args.epochs,
            batch_size=16,
            learning_rate=args.lr,
            weight_decay=1e-4,
            validation_fraction=0.0,
            patience=0,
            random_state=0,
            device="cpu",
            verbose=0,
        )
        tic = time.perf_counter()
        ae.fit(train)
        seconds = time.perf_counter() - tic
        ae_mse = float(np.mean((ae.reconstruct(test) - test) ** 2))
        rows.append(
            {
                "code_size": k,
                "pca_mse": round(pca_mse, 5),
                "conv_ae_mse": round(ae_mse, 5),
                "ratio": round(ae_mse / pca_mse, 4),
                "conv_ae_beats_pca": ae_mse < pca_mse,
                "fit_seconds": round(seconds, 1),
            }
        )
    return {"n_train": len(train), "n_test": len(test), "shape": list(train.shape[1:]), "code_sizes": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--code-sizes", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--channels", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--kernel-size", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=2)
    args = parse(parser, argv, "series_conv")
    pin(threads=args.threads)
    folder = args.data_dir or aeon_data_dir()
    if folder is None or not (folder / DATASETS[0]).is_dir():
        raise SystemExit("no UCR data: pip install 'hourglass[bench]' (aeon) or pass --data-dir")
    out = {
        "benchmark": "series_conv",
        "device": "cpu",
        "threads": args.threads,
        "protocol": "fit on TRAIN, mean squared reconstruction error on TEST (UCR z-normalized series)",
        "data_source": "UCR archive files as bundled with aeon",
        "settings": settings(args, "data_dir"),
        "datasets": {name: evaluate(name, folder, args.code_sizes, args) for name in DATASETS},
        "target": "conv_ae_mse < pca_mse at the same code size",
    }
    emit(out, output_path(args, "series_conv"))


if __name__ == "__main__":
    main()
