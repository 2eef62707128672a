"""Checks that hourglass runs on CUDA as it does on the CPU, with timings for information.

Run on a machine with an NVIDIA GPU (CI has none; this is run by hand or on a lent machine).
Each check records ``ok`` and its figures, or the error, and the script prints one JSON object:

* the default dense AutoEncoder on digits picks CUDA by itself and beats PCA;
* an interrupted run resumed from its checkpoint on CUDA ends at the uninterrupted weights;
* a model saved from CUDA loads on the CPU and encodes the same;
* bf16 autocast trains;
* a convolutional denoiser, the anomaly detector and latent clustering run on CUDA;
* throughput of the 784-1000-500-250-30 autoencoder on the GPU, hourglass vs a plain loop;
* with two GPUs or more, DDP under torchrun with one process per GPU (NCCL) ends at the weights
  of one process with the same global batch (skipped, with a note, on fewer GPUs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
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


def check(name):
    def decorator(func):
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


@check("ddp_one_process_per_gpu")
def _():
    gpus = torch.cuda.device_count()
    if gpus < 2:
        return {"skipped": f"needs at least 2 GPUs for one process per GPU; this machine has {gpus}"}
    folder = TMP / "ddp"
    folder.mkdir()
    np.save(folder / "data.npy", X_train)
    # A script of its own under torchrun, as a user would launch it; the processes must not
    # import this file, which runs every check at import.
    (folder / "train.py").write_text(
        textwrap.dedent(
            f"""
            import numpy as np, hourglass
            ae = hourglass.AutoEncoder(**{DDP_SETTINGS!r}).fit(np.load("data.npy"))
            ae.save("model")
            """
        )
    )
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(gpus)]
    tic = time.perf_counter()
    done = subprocess.run(
        [*command, "train.py"], cwd=folder, capture_output=True, text=True, timeout=900, env=dict(os.environ)
    )
    seconds = time.perf_counter() - tic
    assert done.returncode == 0, done.stderr[-1500:]
    from safetensors.numpy import load_file

    single = AutoEncoder(**DDP_SETTINGS).fit(X_train)
    parallel = load_file(str(folder / "model" / "weights.safetensors"))
    diff = 0.0
    for name, value in single.module_.state_dict().items():
        key = next(k for k in parallel if k.endswith(name))
        diff = max(diff, float(np.abs(parallel[key] - value.cpu().numpy()).max()))
    assert diff <= 1e-4, diff
    return {"processes": gpus, "max_abs_weight_difference": diff, "torchrun_seconds": round(seconds, 2)}


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
