"""hourglass on CUDA does what it does on the CPU (run on a machine with an NVIDIA GPU).

Every test carries the ``cuda`` marker, which skips it where torch sees no GPU (CI has none):
``pytest -m cuda tests/test_cuda.py`` on a lent machine (``benchmarks/gpu_session.sh`` does).
Each test prints one line ``{"check": NAME, ...}`` with its figures, for the session's summary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

import hourglass
from hourglass import AnomalyDetector, AutoEncoder, ConvAutoEncoder, cluster
from hourglass.train.trainer import Trainer

pytestmark = pytest.mark.cuda


def record(check: str, **figures) -> None:
    """One JSON line with the check's figures (``gpu_session.sh`` collects them)."""
    print(json.dumps({"check": check, **figures}, default=str), flush=True)


@pytest.fixture(scope="module")
def digits_split():
    """Digits in [0, 1] (float32): training and held-out images, and their labels."""
    digits = load_digits()
    X = (digits.data / 16).astype(np.float32)
    return train_test_split(X, digits.target, test_size=0.2, random_state=0)


def test_default_autoencoder_picks_cuda_and_beats_pca(digits_split):
    X_train, X_test, _, _ = digits_split
    ae = AutoEncoder(code_size=8, random_state=0, verbose=0).fit(X_train)
    pca = PCA(8).fit(X_train)
    pca_mse = float(np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2))
    ratio = float(np.mean(ae.reconstruction_error(X_test))) / pca_mse
    record("dense_default_on_cuda", device=ae.device_, ratio_vs_pca=ratio, fit_seconds=ae.fit_seconds_)
    assert ae.device_.startswith("cuda"), ae.device_
    assert ratio < 1


def test_resumed_run_on_cuda_ends_at_the_uninterrupted_weights(digits_split, tmp_path, monkeypatch):
    X_train = digits_split[0]
    params = dict(
        code_size=4, hidden_layers=(64,), epochs=6, patience=0, random_state=0, verbose=0, device="cuda"
    )
    full = AutoEncoder(**params).fit(X_train)
    original = Trainer.train_one_epoch

    def interrupt(self, data, epoch):
        if epoch == 4:
            raise KeyboardInterrupt
        return original(self, data, epoch)

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "train_one_epoch", interrupt)
        with pytest.raises(KeyboardInterrupt):
            AutoEncoder(**params, checkpoint_dir=str(tmp_path / "ckpt")).fit(X_train)
    resumed = AutoEncoder(**params, checkpoint_dir=str(tmp_path / "ckpt")).fit(X_train, resume=True)
    a, b = full.module_.state_dict(), resumed.module_.state_dict()
    diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    record("resume_on_cuda", max_abs_weight_difference=diff)
    assert diff <= 1e-6


def test_model_saved_on_cuda_loads_on_the_cpu_and_encodes_the_same(digits_split, tmp_path):
    X_train, X_test = digits_split[:2]
    ae = AutoEncoder(code_size=4, hidden_layers=(64,), epochs=5, random_state=0, verbose=0).fit(X_train)
    ae.save(tmp_path / "model")
    cpu = hourglass.load(tmp_path / "model", device="cpu")
    diff = float(np.abs(ae.transform(X_test) - cpu.transform(X_test)).max())
    record("save_cuda_load_cpu", device=ae.device_, max_code_difference=diff)
    assert ae.device_.startswith("cuda")
    assert diff < 1e-4


def test_bf16_autocast_trains_on_cuda(digits_split):
    X_train, X_test = digits_split[:2]
    ae = AutoEncoder(code_size=8, precision="bf16", random_state=0, verbose=0, epochs=50).fit(X_train)
    mse = float(np.mean(ae.reconstruction_error(X_test)))
    record("bf16_autocast", precision=ae.history_.recipe.get("precision"), held_out_mse=mse)
    assert ae.history_.recipe.get("precision") == "bf16"
    assert np.isfinite(mse) and mse < float(np.var(X_test, axis=0).sum() / X_test.shape[1])


def test_conv_denoiser_runs_on_cuda(digits_split):
    images = np.concatenate(digits_split[:2]).reshape(-1, 1, 8, 8)
    conv = ConvAutoEncoder(task="denoise", noise_level=0.2, epochs=10, random_state=0, verbose=0).fit(images)
    out = conv.apply(images[:16])
    record("conv_denoise", device=conv.device_, output_shape=list(out.shape))
    assert conv.device_.startswith("cuda")
    assert out.shape == (16, 1, 8, 8) and np.isfinite(out).all()


def test_anomaly_detector_and_clustering_run_on_cuda(digits_split):
    X_train, X_test, _, y_test = digits_split
    detector = AnomalyDetector(random_state=0).fit(X_train)
    inliers = float(np.mean(detector.predict(X_test) == 1))
    ae = AutoEncoder(code_size=10, random_state=0, verbose=0).fit(X_train)
    result = cluster(ae, X_test, n_clusters=10, labels=y_test)
    codes = result.metrics.set_index("representation").loc["hourglass codes"]
    record("anomaly_and_cluster", inlier_rate=inliers, metrics=result.metrics.to_dict(orient="records"))
    # Held-out digits are of the training classes: most are inliers, and the codes cluster by digit.
    assert inliers > 0.5
    assert codes["NMI"] > 0.5


#: The DDP check's settings: fp32, so that the only difference between the runs is how the
#: gradient is summed (TF32 or bf16 would add rounding of their own to the comparison).
DDP_SETTINGS = {
    "code_size": 8,
    "hidden_layers": (64,),
    "epochs": 3,
    "batch_size": 256,
    "patience": 0,
    "random_state": 0,
    "verbose": 0,
    "device": "cuda",
    "precision": "fp32",
}
#: What each torchrun process runs. Where there are more processes than GPUs, they share them:
#: LOCAL_RANK and LOCAL_WORLD_SIZE are folded onto the GPUs there are (hourglass's own setup
#: refuses more processes than GPUs, since NCCL does) and the group is joined here, with the
#: backend asked for, before hourglass looks for one.
DDP_SCRIPT = """
import json, os, sys
import numpy as np, torch, torch.distributed as dist
import hourglass
settings, backend = json.loads(sys.argv[1]), sys.argv[2]
if settings["device"] == "cuda":
    gpus = torch.cuda.device_count()
    if int(os.environ["LOCAL_WORLD_SIZE"]) > gpus:
        os.environ["LOCAL_RANK"] = str(int(os.environ["LOCAL_RANK"]) % gpus)
        os.environ["LOCAL_WORLD_SIZE"] = str(gpus)
    torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
dist.init_process_group(backend=backend)
settings["hidden_layers"] = tuple(settings["hidden_layers"])
ae = hourglass.AutoEncoder(**settings).fit(np.load("data.npy"))
ae.save("model")
print("trained on", ae.device_, "backend", dist.get_backend(), "processes", dist.get_world_size())
dist.destroy_process_group()
"""


def _torchrun(folder, processes: int, backend: str, timeout: int) -> dict:
    """Train under torchrun in ``folder``: the largest weight difference to ``single.npz``, or the log."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node", str(processes)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run(
            [*command, "train.py", json.dumps(DDP_SETTINGS), backend],
            cwd=folder, capture_output=True, text=True, timeout=timeout, env=env,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"ok": False, "log": f"{backend}: no result in {timeout} s"}
    weights = folder / "model" / "weights.safetensors"
    if done.returncode != 0 or not weights.exists():
        return {"ok": False, "log": (done.stdout + done.stderr)[-700:]}
    parallel, single = load_file(str(weights)), np.load(folder / "single.npz")
    diff = 0.0
    for name in single.files:
        key = next(k for k in parallel if k.endswith(name))
        diff = max(diff, float(np.abs(parallel[key] - single[name]).max()))
    return {"ok": diff <= 1e-4, "max_abs_weight_difference": diff}


def test_ddp_under_torchrun_ends_at_the_weights_of_one_process(digits_split, tmp_path):
    """With two GPUs or more, one process per GPU over NCCL; with one GPU, two processes share
    it, over gloo with the tensors on the GPU (NCCL refuses two ranks on one device; tried
    after, for the record)."""
    X_train = digits_split[0]
    gpus = torch.cuda.device_count()
    if gpus >= 2:
        backends, processes = [("nccl", 150)], gpus
    else:
        backends, processes = [("gloo", 100), ("nccl", 45)], 2
    single = AutoEncoder(**DDP_SETTINGS).fit(X_train)
    weights = {k: v.cpu().numpy() for k, v in single.module_.state_dict().items()}
    runs = {}
    for backend, timeout in backends:
        folder = tmp_path / backend  # one folder per run: each saves its own model
        folder.mkdir()
        np.save(folder / "data.npy", X_train)
        np.savez(folder / "single.npz", **weights)
        (folder / "train.py").write_text(DDP_SCRIPT)
        runs[backend] = _torchrun(folder, processes, backend, timeout)
    passed = [b for b, r in runs.items() if r["ok"]]
    record("ddp_parity", processes=processes, gpus=gpus, passed=passed, runs=runs)
    assert passed, runs
