"""Checks that hourglass runs on CUDA as it does on the CPU, with timings for information.

Run on a machine with an NVIDIA GPU (CI has none; this is run by hand or on a lent machine).
Each check records ``ok`` and its figures, or the error, and the script prints one JSON object:

* the default dense AutoEncoder on digits picks CUDA by itself and beats PCA;
* an interrupted run resumed from its checkpoint on CUDA ends at the uninterrupted weights;
* a model saved from CUDA loads on the CPU and encodes the same;
* bf16 autocast trains;
* a convolutional denoiser, the anomaly detector and latent clustering run on CUDA;
* throughput of the 784-1000-500-250-30 autoencoder on the GPU, hourglass vs a plain loop;
* DDP under torchrun ends at the weights of one process with the same global batch (to 1e-4):
  with two GPUs or more, one process per GPU over NCCL; with one GPU, two processes sharing it,
  over NCCL if it accepts two ranks on one device (it refuses them as duplicate GPUs), else over
  gloo with the tensors on the GPU; the JSON says which backend ran and why. Without CUDA (a dry
  run of this script) two CPU processes over gloo.

    python benchmarks/cuda_check.py [--skip CHECK ...]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

import hourglass
from hourglass import AutoEncoder

RESULTS: dict[str, dict] = {}
#: Checks left out with ``--skip NAME ...`` (e.g. throughput_gpu, which benchmarks/throughput.py times).
SKIP = set(sys.argv[sys.argv.index("--skip") + 1 :]) if "--skip" in sys.argv else set()


def check(name):
    def decorator(func):
        if name in SKIP:
            RESULTS[name] = {"skipped": "--skip"}
            return func
        tic = time.perf_counter()
        try:
            RESULTS[name] = {"ok": True, **(func() or {})}
        except Exception as exc:  # noqa: BLE001 - report every failure, go on with the rest
            RESULTS[name] = {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}",
                "trace": traceback.format_exc()[-1500:],
            }
        RESULTS[name]["seconds"] = round(time.perf_counter() - tic, 2)
        return func

    return decorator


DIGITS = load_digits()
X = (DIGITS.data / 16).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, DIGITS.target, test_size=0.2, random_state=0)
TMP = Path(tempfile.mkdtemp())


@check("dense_default_on_cuda")
def _():
    ae = AutoEncoder(code_size=8, random_state=0, verbose=0).fit(X_train)
    pca = PCA(8).fit(X_train)
    pca_mse = float(np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2))
    ratio = float(np.mean(ae.reconstruction_error(X_test))) / pca_mse
    assert ae.device_.startswith("cuda"), ae.device_
    assert ratio < 1, ratio
    return {"device": ae.device_, "ratio_vs_pca": round(ratio, 4), "fit_seconds": round(ae.fit_seconds_, 2)}


@check("resume_on_cuda")
def _():
    params = dict(
        code_size=4, hidden_layers=(64,), epochs=6, patience=0, random_state=0, verbose=0, device="cuda"
    )
    full = AutoEncoder(**params).fit(X_train)
    ckpt = TMP / "ckpt"
    from hourglass.train.trainer import Trainer

    original = Trainer.train_one_epoch

    def interrupt(self, data, epoch):
        if epoch == 4:
            raise KeyboardInterrupt
        return original(self, data, epoch)

    Trainer.train_one_epoch = interrupt
    try:
        AutoEncoder(**params, checkpoint_dir=str(ckpt)).fit(X_train)
    except KeyboardInterrupt:
        pass
    finally:
        Trainer.train_one_epoch = original
    resumed = AutoEncoder(**params, checkpoint_dir=str(ckpt)).fit(X_train, resume=True)
    a, b = full.module_.state_dict(), resumed.module_.state_dict()
    diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    return {"max_abs_weight_difference": diff, "identical": diff == 0.0}


@check("save_cuda_load_cpu")
def _():
    ae = AutoEncoder(code_size=4, hidden_layers=(64,), epochs=5, random_state=0, verbose=0).fit(X_train)
    ae.save(TMP / "model")
    cpu = hourglass.load(TMP / "model", device="cpu")
    diff = float(np.abs(ae.transform(X_test) - cpu.transform(X_test)).max())
    assert diff < 1e-4, diff
    return {"max_code_difference": diff}


@check("bf16_autocast")
def _():
    ae = AutoEncoder(code_size=8, precision="bf16", random_state=0, verbose=0, epochs=50).fit(X_train)
    return {"held_out_mse": float(np.mean(ae.reconstruction_error(X_test)))}


@check("conv_denoise")
def _():
    from hourglass import ConvAutoEncoder

    images = X.reshape(-1, 1, 8, 8)
    conv = ConvAutoEncoder(task="denoise", noise_level=0.2, epochs=10, random_state=0, verbose=0).fit(images)
    out = conv.apply(images[:16])
    return {"device": conv.device_, "output_shape": list(out.shape)}


@check("anomaly_and_cluster")
def _():
    from hourglass import AnomalyDetector, cluster

    det = AnomalyDetector(random_state=0).fit(X_train)
    pred = det.predict(X_test)
    ae = AutoEncoder(code_size=10, random_state=0, verbose=0).fit(X_train)
    result = cluster(ae, X_test, n_clusters=10, labels=y_test)
    return {"inlier_rate": float(np.mean(pred == 1)), "metrics": result.metrics.to_dict(orient="records")}


@check("throughput_gpu")
def _():
    import importlib.util

    spec = importlib.util.spec_from_file_location("throughput", Path(__file__).with_name("throughput.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    Xg, source = bench.load_images(30000)
    torch.manual_seed(0)
    model = bench.build_model(bench.config()).cuda()
    data = Xg.cuda()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(2):  # warm-up
        out = model(data[:256])
        torch.nn.functional.binary_cross_entropy_with_logits(out["logits"], data[:256]).backward()
        opt.step()
    torch.cuda.synchronize()
    tic = time.perf_counter()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(Xg), batch_size=256, shuffle=True)
    for (batch,) in loader:
        batch = batch.cuda(non_blocking=True)
        out = model(batch)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(out["logits"], batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.cuda.synchronize()
    plain = len(Xg) / (time.perf_counter() - tic)
    from hourglass.train.config import TrainConfig
    from hourglass.train.trainer import Trainer

    rates = {}
    for precision in ("fp32", "bf16", "auto"):
        torch.manual_seed(0)
        cfg = TrainConfig(
            epochs=3,
            batch_size=256,
            learning_rate=1e-3,
            patience=0,
            seed=0,
            device="cuda",
            precision=precision,
            verbose=0,
        )
        history = Trainer(bench.build_model(bench.config()), cfg, "bce").fit(data)
        rates[precision] = len(Xg) * 2 / sum(history.seconds[1:])
    flops = bench.flops_per_sample()
    return {
        "data": source,
        "plain_loop_samples_per_s": round(plain),
        "hourglass_fp32_samples_per_s": round(rates["fp32"]),
        "hourglass_bf16_samples_per_s": round(rates["bf16"]),
        "hourglass_bf16_tflops": round(rates["bf16"] * flops / 1e12, 2),
        "hourglass_auto_samples_per_s": round(rates["auto"]),
        "hourglass_auto_tflops": round(rates["auto"] * flops / 1e12, 2),
        "gpu": torch.cuda.get_device_name(0),
    }


#: Settings of the DDP check: fp32, so that the only difference between the runs is how the
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


#: The script each torchrun process runs. Where there are more processes than GPUs, they share
#: them: LOCAL_RANK and LOCAL_WORLD_SIZE are folded onto the GPUs there are (hourglass's own setup
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


def _torchrun(folder: Path, processes: int, settings: dict, backend: str, timeout: int):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node", str(processes)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("model", "model.lock"):
        target = folder / name
        if target.is_dir():
            shutil.rmtree(target)
    tic = time.perf_counter()
    try:
        done = subprocess.run(
            [*command, "train.py", json.dumps(settings), backend],
            cwd=folder, capture_output=True, text=True, timeout=timeout, env=env,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return False, f"{backend}: no result in {timeout} s", time.perf_counter() - tic
    ok = done.returncode == 0 and (folder / "model" / "weights.safetensors").exists()
    return ok, (done.stdout + done.stderr)[-1200:], time.perf_counter() - tic


@check("ddp_parity")
def _():
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    settings = dict(DDP_SETTINGS)
    # (backend, seconds allowed): the sure one first, so a hang of the other costs no result.
    if gpus == 0:  # a dry run of this script: two CPU processes
        settings["device"], backends, processes = "cpu", [("gloo", 150)], 2
        why = "no CUDA here: two CPU processes over gloo (a dry run of the script, not the GPU check)"
    elif gpus >= 2:
        backends, processes = [("nccl", 150)], gpus
        why = f"{gpus} GPUs: one process per GPU over NCCL"
    else:
        backends, processes = [("gloo", 100), ("nccl", 45)], 2
        why = "one GPU: two processes share it, over gloo (CUDA tensors) and over NCCL if it accepts them"
    folder = TMP / "ddp"
    folder.mkdir()
    np.save(folder / "data.npy", X_train)
    (folder / "train.py").write_text(DDP_SCRIPT)
    from safetensors.numpy import load_file

    single = AutoEncoder(**settings).fit(X_train)
    runs: dict[str, dict] = {}
    for backend, timeout in backends:
        ok, log, seconds = _torchrun(folder, processes, settings, backend, timeout)
        if not ok:
            runs[backend] = {"ok": False, "seconds": round(seconds, 1), "log": log[-700:]}
            continue
        parallel = load_file(str(folder / "model" / "weights.safetensors"))
        diff = 0.0
        for name, value in single.module_.state_dict().items():
            key = next(k for k in parallel if k.endswith(name))
            diff = max(diff, float(np.abs(parallel[key] - value.cpu().numpy()).max()))
        runs[backend] = {"ok": diff <= 1e-4, "max_abs_weight_difference": diff, "seconds": round(seconds, 1)}
    passed = [b for b, r in runs.items() if r["ok"]]
    assert passed, runs
    return {
        "processes": processes,
        "gpus": gpus,
        "device": settings["device"],
        "backend": "nccl" if "nccl" in passed else passed[0],
        "why": why,
        "runs": runs,
        "max_abs_weight_difference": max(runs[b]["max_abs_weight_difference"] for b in passed),
        "target": "<= 1e-4",
    }


print(
    json.dumps(
        {
            "benchmark": "cuda_check",
            "cuda": torch.cuda.is_available(),
            "torch": torch.__version__,
            "checks": RESULTS,
        },
        indent=2,
    )
)
