"""Peak memory of fitting, encoding and reconstructing data larger than memory (issue 11).

Every measurement runs in a child process, and its peak resident memory is the kernel's own
count for that child (``os.wait4``'s ``ru_maxrss``), which includes the file pages a process
keeps mapped: reading a memory map page by page without releasing the pages would show here.
A child's count starts from its parent's resident memory at the fork, so this parent imports
neither torch nor hourglass, and even the data are written by a child.

* ``baseline``: ``python -c "import hourglass, torch"``, the interpreter's share of every run;
* ``cli_fit_streamed``: ``python -m hourglass fit BIG.npy --epochs 1`` on a 700,000 x 784 float32
  ``.npy`` (2.2 GB), streamed from the file; target <= 1.0 GB;
* ``python_fit_streamed``: ``AutoEncoder().fit(np.load(BIG, mmap_mode='r'))``, the same from Python;
* ``python_fit_in_memory``: ``fit(np.load(MID))`` of a ~600 MB array read into memory; target
  <= 1.5 x the data + the baseline;
* ``cli_encode_streamed`` / ``cli_reconstruct_streamed``: ``hourglass encode`` / ``reconstruct``
  of BIG to ``.npy``, written batch by batch;
* ``throughput``: training samples/s on MID's rows in memory and streamed from the file (the
  same rows, the same network): what streaming costs.

Data: Fashion-MNIST's training images repeated (pixels in [0, 1]) when the Debian package is
installed, else random low-rank data in [0, 1]; written in chunks with ``open_memmap`` and
deleted at the end. Prints one JSON object.

    taskset -c 1 env OMP_NUM_THREADS=1 python -m benchmarks memory [--rows 700000] [--folder DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import emit, output_path, parse

FEATURES = 784
#: A modest network, so that each run takes a minute or two on one core.
NETWORK = {"hidden": "256,128", "code_size": 32, "batch_size": 256}
#: Rows of the in-memory case: 190,000 x 784 float32 = 596 MB.
MID_ROWS = 190_000
CHUNK = 20_000


def make_data(path: Path, rows: int, seed: int = 0) -> str:
    """Write a ``(rows, 784)`` float32 ``.npy`` in chunks; return what it holds."""
    from hourglass.data.loading import FASHION_MNIST_DIR, load_data
    from hourglass.data.sources import release_pages

    images, what = None, "random rank-16 data in [0, 1]"
    if FASHION_MNIST_DIR.exists():
        images = load_data("fashion-mnist").X  # (60000, 784) in [0, 1]
        what = "Fashion-MNIST training images, repeated"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, FEATURES))
    rng = np.random.default_rng(seed)
    basis = rng.random((16, FEATURES)).astype(np.float32) / 16
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        if images is not None:
            out[start : start + n] = images[np.arange(start, start + n) % len(images)]
        else:
            out[start : start + n] = rng.random((n, 16), dtype=np.float32) @ basis
        release_pages(out)  # keep this process small too: it shares the machine with the runs
    out.flush()
    del out
    return what


def run_child(args: list[str], label: str) -> dict:
    """Run ``python ARGS``; return its peak RSS (GB), wall time and its JSON output, if any."""
    tic = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, *args], stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    result = {
        "peak_rss_gb": round(usage.ru_maxrss * 1024 / 1e9, 3),  # ru_maxrss is in KiB on Linux
        "seconds": round(time.perf_counter() - tic, 1),
    }
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed ({proc.returncode}): {stderr.strip()[-2000:]}")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if lines:
        result.update(json.loads(lines[-1]))
    return result


def child_fit(path: str, mmap: bool, epochs: int) -> None:
    """In a child: fit from Python and print samples/s as JSON."""
    from hourglass import AutoEncoder

    X = np.load(path, mmap_mode="r") if mmap else np.load(path)
    hidden = tuple(int(h) for h in NETWORK["hidden"].split(","))
    ae = AutoEncoder(
        hidden_layers=hidden,
        code_size=NETWORK["code_size"],
        batch_size=NETWORK["batch_size"],
        epochs=epochs,
        random_state=0,
        device="cpu",
        verbose=0,
    ).fit(X)
    n_train = len(X) - int(round(len(X) * ae.validation_fraction))
    print(
        json.dumps(
            {
                "samples_per_s": round(n_train * ae.n_epochs_ / ae.fit_seconds_),
                "fit_seconds": round(ae.fit_seconds_, 1),
                "data_gb": round(X.nbytes / 1e9, 3),
            }
        )
    )


def cli(*args: str) -> list[str]:
    return ["-m", "hourglass", *map(str, args)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=700_000)
    parser.add_argument("--mid-rows", type=int, default=MID_ROWS)
    parser.add_argument("--folder", type=Path, default=None, help="where the data go (default: TMPDIR)")
    parser.add_argument("--child", choices=["fit", "make"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--mmap", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=1)
    args = parse(parser, argv, "memory")
    if args.child == "fit":
        child_fit(args.data, args.mmap, args.epochs)
        return
    if args.child == "make":
        print(json.dumps({"what": make_data(Path(args.data), args.rows, seed=args.epochs)}))
        return

    folder = Path(tempfile.mkdtemp(prefix="hourglass-memory-", dir=args.folder))
    # This module again in each child (found from the same folder as this process found it),
    # without the runner: as little as can be loaded.
    me = ["-m", "benchmarks.memory"]
    try:
        big, mid = folder / "big.npy", folder / "mid.npy"
        make = [*me, "--child", "make", "--data"]
        what = run_child([*make, str(big), "--rows", str(args.rows), "--epochs", "0"], "data")["what"]
        run_child([*make, str(mid), "--rows", str(args.mid_rows), "--epochs", "1"], "data")
        fit_options = ["--epochs", args.epochs, "--hidden", NETWORK["hidden"], "--code-size"]
        fit_options += [NETWORK["code_size"], "--batch-size", NETWORK["batch_size"], "--device", "cpu"]
        results: dict = {
            "data": {
                "what": what,
                "big": {"shape": [args.rows, FEATURES], "gb": round(big.stat().st_size / 1e9, 3)},
                "mid": {"shape": [args.mid_rows, FEATURES], "gb": round(mid.stat().st_size / 1e9, 3)},
            },
            "network": f"784-{NETWORK['hidden'].replace(',', '-')}-{NETWORK['code_size']} "
            f"(mirrored decoder), batch {NETWORK['batch_size']}, {args.epochs} epoch(s), fp32, CPU",
            "threads": os.environ.get("OMP_NUM_THREADS"),
            "cpus": sorted(os.sched_getaffinity(0)),
        }
        results["baseline"] = run_child(["-c", "import hourglass, torch"], "baseline")
        base = results["baseline"]["peak_rss_gb"]
        results["cli_fit_streamed"] = run_child(
            cli("fit", big, "--out", folder / "model", "--quiet", *fit_options), "cli fit"
        )
        results["python_fit_streamed"] = run_child(
            [*me, "--child", "fit", "--data", str(big), "--mmap", "--epochs", str(args.epochs)], "python fit"
        )
        in_memory = run_child(
            [*me, "--child", "fit", "--data", str(mid), "--epochs", str(args.epochs)], "in-memory fit"
        )
        results["python_fit_in_memory"] = in_memory
        streamed_mid = run_child(
            [*me, "--child", "fit", "--data", str(mid), "--mmap", "--epochs", str(args.epochs)],
            "streamed fit",
        )
        results["cli_encode_streamed"] = run_child(
            cli("encode", folder / "model", big, "-o", folder / "codes.npy", "--quiet"), "encode"
        )
        results["cli_reconstruct_streamed"] = run_child(
            cli("reconstruct", folder / "model", big, "-o", folder / "recon.npy", "--quiet"), "reconstruct"
        )
        recon = np.load(folder / "recon.npy", mmap_mode="r")
        results["cli_reconstruct_streamed"]["output_shape"] = list(recon.shape)
        results["parent_peak_rss_gb"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9, 3
        )
        del recon
        results["throughput"] = {
            "rows": args.mid_rows,
            "in_memory_samples_per_s": in_memory["samples_per_s"],
            "streamed_samples_per_s": streamed_mid["samples_per_s"],
            "streamed_over_in_memory": round(streamed_mid["samples_per_s"] / in_memory["samples_per_s"], 3),
            "streamed_peak_rss_gb": streamed_mid["peak_rss_gb"],
        }
        limit_in_memory = round(1.5 * in_memory["data_gb"] + base, 3)
        results["targets"] = {
            "cli_fit_streamed <= 1.0 GB": results["cli_fit_streamed"]["peak_rss_gb"] <= 1.0,
            "python_fit_streamed <= 1.0 GB": results["python_fit_streamed"]["peak_rss_gb"] <= 1.0,
            f"python_fit_in_memory <= 1.5 x data + baseline = {limit_in_memory} GB": (
                in_memory["peak_rss_gb"] <= limit_in_memory
            ),
            "cli_encode_streamed <= 1.0 GB": results["cli_encode_streamed"]["peak_rss_gb"] <= 1.0,
            "cli_reconstruct_streamed <= 1.0 GB": results["cli_reconstruct_streamed"]["peak_rss_gb"] <= 1.0,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    emit(results, output_path(args, "memory"))


if __name__ == "__main__":
    main()
