"""ONNX export parity: onnxruntime on raw input against the estimator, for every estimator kind.

For each kind (dense with each scaling, BCE/sigmoid and clip outputs, TopK, conv images and
series, the restoration tasks, the anomaly detector) a model is fitted on real data, every part
that makes sense is exported with ``export_onnx``, and onnxruntime's outputs on held-out raw data
are compared with ``transform`` / ``inverse_transform`` / ``reconstruct`` (``apply`` for tasks,
``reconstruction_error`` for the detector's score). The baseline, measured in the same run, is
what the issue found by hand: the bare network (``module_.encode``) on raw input, without the
scaling. Prints one JSON object.

Usage: python benchmarks/export_parity.py [--epochs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import skimage.data
import torch
from sklearn.datasets import load_breast_cancer, load_digits

from hourglass import AnomalyDetector, AutoEncoder, ConvAutoEncoder


def data() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(train, held-out) raw arrays: the breast-cancer table, digit images, astronaut patches."""
    cancer = load_breast_cancer().data
    digits = (load_digits().data / 16.0).reshape(-1, 1, 8, 8)
    photo = skimage.data.astronaut().astype(np.float32) / 255.0  # (512, 512, 3)
    tiles = [photo[i : i + 32, j : j + 32] for i in range(0, 480, 24) for j in range(0, 480, 24)]
    patches = np.stack(tiles).transpose(0, 3, 1, 2).copy()  # (400, 3, 32, 32)
    series = np.cumsum(cancer[:, None, :] - cancer.mean(axis=0), axis=2)  # (569, 1, 30)
    split = {"cancer": cancer, "digits": digits, "patches": patches, "series": series}
    rng = np.random.default_rng(0)
    out = {}
    for name, X in split.items():
        order = rng.permutation(len(X))
        cut = int(0.8 * len(X))
        out[name] = (X[order[:cut]], X[order[cut:]])
    return out


def kinds(epochs: int) -> dict[str, tuple[str, object]]:
    fast = {"epochs": epochs, "verbose": 0, "random_state": 0, "device": "cpu"}
    dense = {"code_size": 4, "hidden_layers": (64, 32), **fast}
    return {
        "dense standard": ("cancer", AutoEncoder(scaling="standard", **dense)),
        "dense minmax (clip output)": ("cancer", AutoEncoder(scaling="minmax", **dense)),
        "dense none": ("cancer", AutoEncoder(scaling="none", **dense)),
        "dense BCE (sigmoid output)": ("digits_flat", AutoEncoder(loss="bce", **dense)),
        "dense TopK": ("cancer", AutoEncoder(scaling="standard", **{**dense, "code_size": 16}, topk=4)),
        "conv 2-D images": ("digits", ConvAutoEncoder(channels=(8, 16), **fast)),
        "conv 1-D series": ("series", ConvAutoEncoder(channels=(8,), code_size=6, **fast)),
        "conv TopK": ("digits", ConvAutoEncoder(channels=(8, 16), topk=8, **fast)),
        "denoise (U-Net)": ("patches", ConvAutoEncoder(channels=(8, 16), task="denoise", **fast)),
        "colorize": ("patches", ConvAutoEncoder(channels=(8, 16), task="colorize", **fast)),
        "super_resolve x2": (
            "patches",
            ConvAutoEncoder(channels=(8, 16), task="super_resolve", skip_connections=False, **fast),
        ),
        "inpaint (U-Net)": ("patches", ConvAutoEncoder(channels=(8, 16), task="inpaint", **fast)),
        "anomaly detector": ("cancer", AnomalyDetector(AutoEncoder(**dense), random_state=0)),
    }


def differences(got: np.ndarray, want: np.ndarray) -> tuple[float, float]:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    diff = np.abs(got - want)
    return float(diff.max()), float((diff / np.maximum(1.0, np.abs(want))).max())


def run_onnx(path: Path, feed: np.ndarray) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {session.get_inputs()[0].name: feed}), strict=True))


def parity(estimator, part: str, X: np.ndarray, folder: Path) -> dict:
    path = folder / f"{part}.onnx"
    tic = time.perf_counter()
    result = estimator.export_onnx(path, part=part, force=True)
    seconds = time.perf_counter() - tic
    inner = getattr(estimator, "estimator_", estimator)
    task = getattr(inner, "task", "reconstruct")
    X = X.astype(np.float32)
    pairs = []
    if part == "decoder":
        codes = estimator.transform(X).astype(np.float32)
        pairs.append((run_onnx(path, codes)["reconstruction"], inner.inverse_transform(codes)))
    elif part == "encoder":
        pairs.append((run_onnx(path, X)["code"], estimator.transform(X)))
    else:
        feed = X
        if task == "super_resolve":
            feed = torch.nn.functional.avg_pool2d(torch.from_numpy(X), inner.scale_factor).numpy()
        out = run_onnx(path, feed)
        pairs.append(
            (out["reconstruction"], inner.apply(feed) if task != "reconstruct" else inner.reconstruct(X))
        )
        if task != "super_resolve":
            pairs.append((out["code"], inner.transform(inner._task_input(X) if task != "reconstruct" else X)))
        if "score" in out:
            pairs.append((out["score"], estimator.reconstruction_error(X)))
    diffs = [differences(g, w) for g, w in pairs]
    return {
        "max_abs_difference": max(d[0] for d in diffs),
        "max_relative_difference": max(d[1] for d in diffs),
        "bytes": result.n_bytes,
        "export_seconds": round(seconds, 2),
        "input": result.inputs,
        "outputs": result.outputs,
    }


def baseline(estimator, X: np.ndarray) -> float:
    """The hand export the issue tried: the bare network's code on raw input, against transform."""
    inner = getattr(estimator, "estimator_", estimator)
    with torch.no_grad():
        inner.module_.eval()
        raw = torch.from_numpy(X.astype(np.float32))
        code = inner.module_.encode(raw).reshape(len(X), -1).numpy()
    return float(np.abs(code - estimator.transform(X)).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    sets = data()
    sets["digits_flat"] = tuple(x.reshape(len(x), -1) for x in sets["digits"])
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (set_name, estimator) in kinds(args.epochs).items():
            train, held_out = sets[set_name]
            estimator.fit(train)
            inner = getattr(estimator, "estimator_", estimator)
            parts = ["autoencoder", "encoder"]
            if getattr(inner, "task", "reconstruct") == "reconstruct":
                parts.append("decoder")
            row = {"data": set_name, "held_out_rows": len(held_out)}
            if getattr(inner, "task", "reconstruct") == "reconstruct":
                row["baseline_bare_network_code_difference"] = baseline(estimator, held_out)
            row["parts"] = {part: parity(estimator, part, held_out, Path(tmp)) for part in parts}
            results[name] = row
    worst_abs = max(p["max_abs_difference"] for r in results.values() for p in r["parts"].values())
    worst_rel = max(p["max_relative_difference"] for r in results.values() for p in r["parts"].values())
    print(
        json.dumps(
            {
                "benchmark": "export_parity",
                "how": {
                    "device": "cpu",
                    "cores": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(),
                    "precision": "float32 (the exported graph's dtype; the estimators also scale in float32)",
                    "torch": torch.__version__,
                    "onnxruntime": ort.__version__,
                    "epochs": args.epochs,
                },
                "criterion": "|onnx - estimator| / max(1, |estimator|) <= 1e-4, on held-out raw input",
                "worst_max_abs_difference": worst_abs,
                "worst_max_relative_difference": worst_rel,
                "kinds": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
