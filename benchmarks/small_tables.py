"""Held-out error against PCA on tables of 20 to 100 rows, where PCA is hardest to beat.

Protocol: for each set and size, ``--draws`` random draws of that many rows train; every other row
of the set is held out. PCA at the same code size is fitted on the same rows in the same run;
both are scored in z-scores of the training rows (the manifolds, already in comparable units, as
they are). ``AutoEncoder(code_size=k)`` at its defaults, and beside it with ``--beside`` layers
(default 256,128: the layers the PCA path learnt its correction in before 64-32 replaced them
under 100 rows), with the same seeds. Each case reports the geometric mean of the ratio over its
draws and the mean fit seconds; ``summary`` the geometric mean over all cases, how many cases
each wins by more than 3 %, and the mean fit seconds. Prints one JSON object.

The sets: scikit-learn's iris, wine, diabetes and breast cancer (code 2, and 5 for the last three
at 40 and 80 rows), and the suite's swiss roll and S-curve in 30 noisy dimensions (codes 2 and 4).
On one core a full run takes about two minutes; run it alone.

    python -m benchmarks small_tables [--sizes 20,50,80,100] [--draws 5] [--beside 256,128] [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn import datasets
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from benchmarks.common import emit, machine, output_path, parse, pin
from benchmarks.suite import _embedded_manifold
from hourglass import AutoEncoder

#: Beating PCA by more than this share (either way) counts as a win.
MARGIN = 0.03


def sets() -> dict[str, tuple[np.ndarray, bool]]:
    """Each set's rows, and whether it is a table scored in z-scores (the manifolds are not)."""
    return {
        "iris": (datasets.load_iris().data, True),
        "wine": (datasets.load_wine().data, True),
        "diabetes": (datasets.load_diabetes().data, True),
        "breast_cancer": (datasets.load_breast_cancer().data, True),
        "swiss_roll_30d": (_embedded_manifold("swiss_roll"), False),
        "s_curve_30d": (_embedded_manifold("s_curve"), False),
    }


def cases(sizes: list[int]) -> list[tuple[str, int, int]]:
    """``(set, rows, code size)``: code 2 everywhere, and the wider codes at 40 and 80 rows."""
    out = [(name, n, 2) for n in sizes for name in sets()]
    out += [(name, n, 5) for n in (40, 80) for name in ("wine", "diabetes", "breast_cancer")]
    out += [(name, n, 4) for n in (40, 80) for name in ("swiss_roll_30d", "s_curve_30d")]
    return out


def ratio(X: np.ndarray, standardize: bool, n: int, k: int, seed: int, hidden) -> tuple[float, float]:
    """Held-out error of the autoencoder over PCA's, ``n`` rows of draw ``seed`` training both,
    and the autoencoder's fit seconds."""
    order = np.random.default_rng(seed).permutation(len(X))
    train, test = X[order[:n]], X[order[n:]]
    units = StandardScaler().fit(train) if standardize else None

    def scored(rows: np.ndarray) -> np.ndarray:
        return units.transform(rows) if units is not None else rows

    pca = PCA(k).fit(scored(train))
    pca_mse = np.mean((pca.inverse_transform(pca.transform(scored(test))) - scored(test)) ** 2)
    ae = AutoEncoder(code_size=k, hidden_layers=hidden, random_state=seed, verbose=0).fit(train)
    return float(np.mean((scored(ae.reconstruct(test)) - scored(test)) ** 2) / pca_mse), ae.fit_seconds_


def mean_seconds(rows: list[dict], label: str) -> float:
    """Mean fit seconds of ``label``'s autoencoders over all cases."""
    return round(float(np.mean([row[f"{label}_fit_seconds"] for row in rows])), 2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,50,80,100", help="comma-separated training-set sizes")
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--beside", default="256,128", help="layers compared with the default's")
    parser.add_argument("--core", type=int, default=None, help="pin to this CPU core")
    parser.add_argument("--quick", action="store_true", help="one size (30), two draws: a smoke run")
    args = parse(parser, argv, "small_tables")
    pin(args.core, threads=1)
    sizes = [30] if args.quick else [int(s) for s in args.sizes.split(",")]
    draws = 2 if args.quick else args.draws
    beside = tuple(int(w) for w in args.beside.split(","))
    data = sets()
    rows, tic = [], time.perf_counter()
    for name, n, k in cases(sizes):
        X, standardize = data[name]
        if n >= len(X):
            continue
        row: dict = {"set": name, "rows": n, "code_size": k}
        for label, hidden in (("default", "auto"), ("beside", beside)):
            runs = [ratio(X, standardize, n, k, seed, hidden) for seed in range(draws)]
            ratios, seconds = [r for r, _ in runs], [t for _, t in runs]
            row[label] = round(float(np.exp(np.mean(np.log(ratios)))), 4)
            row[f"{label}_fit_seconds"] = round(float(np.mean(seconds)), 2)
        rows.append(row)
        print(row, flush=True)
    default = np.array([r["default"] for r in rows])
    other = np.array([r["beside"] for r in rows])
    emit(
        {
            "benchmark": "small_tables",
            "machine": machine(),
            "draws": draws,
            "beside": list(beside),
            "rows": rows,
            "summary": {
                "cases": len(rows),
                "default_geomean_ratio": round(float(np.exp(np.mean(np.log(default)))), 4),
                "beside_geomean_ratio": round(float(np.exp(np.mean(np.log(other)))), 4),
                "default_better_by_3pct": int(np.sum(default < other * (1 - MARGIN))),
                "beside_better_by_3pct": int(np.sum(other < default * (1 - MARGIN))),
                "default_below_pca": int(np.sum(default < 1)),
                **{f"{label}_mean_fit_seconds": mean_seconds(rows, label) for label in ("default", "beside")},
                "seconds": round(time.perf_counter() - tic, 1),
            },
        },
        output_path(args, "small_tables"),
    )


if __name__ == "__main__":
    main()
